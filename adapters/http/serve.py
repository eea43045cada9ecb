"""Running the API with uvicorn: one process on SQLite, several worker processes on PostgreSQL.

Worker processes are started by uvicorn from an import string, so each opens the store for
itself; they find it, the key folder and the config as the CLI does (the parent passes its
choices on in REGIE_STORE, REGIE_KEY_DIR and REGIE_CONFIG).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from starlette.types import ASGIApp

from casusregie.adapters.config import Settings, resolve_settings
from casusregie.adapters.heap import settle_after_start
from casusregie.adapters.http.app import create_app
from casusregie.adapters.http.settings import ApiSettings, api_settings
from casusregie.adapters.http.wire import BoundedHttpToolsProtocol
from casusregie.adapters.location import parse_location
from casusregie.adapters.store import open_store
from casusregie.adapters.web.settings import WebSettings, web_settings
from casusregie.domain.errors import ValidationFailed


def load(settings: Settings) -> ApiSettings:
    source = str(settings.config_file) if settings.config_file else "the configuration"
    if settings.config_file is None:
        raise ValidationFailed("`regie serve` needs a config file with an [api] section (--config, REGIE_CONFIG)")
    api = api_settings(settings.api, source)
    relative = {}
    for name in ("tls_certificate", "tls_key"):
        path = getattr(api, name)
        if path is not None and not path.is_absolute():
            relative[name] = settings.config_file.parent / path
    return api.model_copy(update=relative) if relative else api


def load_web(settings: Settings, api: ApiSettings) -> WebSettings | None:
    """The ``[web]`` section (None: the API only)."""
    source = str(settings.config_file) if settings.config_file else "the configuration"
    base = settings.config_file.parent if settings.config_file else None
    return web_settings(settings.web, source, development=api.development, base=base)


def worker_app() -> ASGIApp:
    """The application of one worker (uvicorn's factory)."""
    settings = resolve_settings(store=None, key_dir=None, config=None)
    api = load(settings)
    app = create_app(settings, api, web=load_web(settings, api))
    settle_after_start()
    return app


def preflight(settings: Settings, api: ApiSettings) -> None:
    """What would stop the workers, found before anything says the service is up (one clear error)."""
    if settings.store is None:
        raise ValidationFailed("no store given: use --store PATH|DSN, REGIE_STORE or the config file")
    if api.workers > 1 and parse_location(settings.store).kind == "sqlite":
        raise ValidationFailed("a SQLite store is served by one process (workers = 1); use PostgreSQL for more")
    open_store(settings).close()  # the store and its key folder open, as every worker will open them


def run(settings: Settings, api: ApiSettings, announce: Callable[[], None] = lambda: None) -> None:
    """Check what would stop the workers, then ``announce`` that the service starts, then serve."""
    import uvicorn

    preflight(settings, api)
    announce()
    assert settings.store is not None
    os.environ["REGIE_STORE"] = settings.store
    os.environ["REGIE_KEY_DIR"] = str(settings.key_dir)
    os.environ["REGIE_CONFIG"] = str(settings.config_file)
    host, port = api.address
    uvicorn.run(
        "casusregie.adapters.http.serve:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=api.workers,
        ssl_certfile=str(api.tls_certificate) if api.tls_certificate else None,
        ssl_keyfile=str(api.tls_key) if api.tls_key else None,
        proxy_headers=False,  # the client address is worked out from trusted_proxies, by us
        server_header=False,
        date_header=True,
        access_log=False,  # our own access line has no paths with references in it
        # Longer than the idle expiry of common clients (httpx, browsers: 5 s and more), so that a
        # client never sends on a kept-alive connection at the moment the server closes it.
        timeout_keep_alive=75,
        timeout_graceful_shutdown=api.timeout_seconds,
        limit_concurrency=api.max_connections,
        http=BoundedHttpToolsProtocol,  # httptools, with a limit on the request's head (wire.py)
        log_level="warning",
    )

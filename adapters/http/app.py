"""The HTTP API (``/api/v1``): an adapter on the same commands and read side as the CLI.

Every call but the health checks carries a bearer access token from the municipality's
identity provider; its subject is mapped to a registered user, and from there authorisation,
need-to-know and the access log are exactly those of the CLI. Follows the NL GOV API Design
Rules 2.0: the major version in the path, ``API-Version`` on every answer, problem details
for errors, and the OpenAPI document at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casusregie.adapters.config import Settings
from casusregie.adapters.db_errors import explain, is_database_error
from casusregie.adapters.http import endpoints
from casusregie.adapters.http.problems import one_line, problem, status_of
from casusregie.adapters.http.service import Busy, Service
from casusregie.adapters.http.settings import ApiSettings
from casusregie.adapters.http.tokens import InvalidToken, ProviderUnavailable, TokenValidator
from casusregie.adapters.web.settings import WebSettings
from casusregie.domain.errors import RegieError

API_VERSION = "1.0.0"  # the API's own semantic version (ADR /core/version-header), apart from the package's
PREFIX = "/api/v1"
CONTACT = {"name": "casusregie", "email": "casusregie@example.org", "url": "https://github.com/casusregie/casusregie"}

SECURITY_HEADERS = {
    "API-Version": API_VERSION,
    "Cache-Control": "no-store",  # answers hold personal data: no cache may keep them
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}

access_logger = logging.getLogger("casusregie.http.access")


def create_app(
    settings: Settings, api: ApiSettings, validator: TokenValidator | None = None, web: WebSettings | None = None
) -> ASGIApp:
    """The application for one worker process, on the store ``settings`` name: the API, and with a
    ``[web]`` section the web application beside it, on the same service."""
    service = Service(settings, wait_seconds=api.timeout_seconds)
    app = build_app(api, service, validator)
    if web is None:
        return app
    from casusregie.adapters.web.app import create_web  # only a set-up with [web] loads the templates

    pages = create_web(service, api, web, app.state.proxies)
    pages.add_middleware(Perimeter, limit=api.max_body_bytes, tls=api.tls_certificate is not None)
    return Split(app, pages)


class Split:
    """``/api/...`` to the API, every other path to the web application; the lifespan is the API's
    (it closes the shared service). Routing apart, rather than mounting the pages at ``/`` inside the
    API, keeps the API's own answers for its unknown paths and methods (404 and 405 problem bodies)."""

    def __init__(self, api: ASGIApp, web: ASGIApp) -> None:
        self.api = api
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan" or path == "/api" or path.startswith("/api/"):
            await self.api(scope, receive, send)
        else:
            await self.web(scope, receive, send)


def build_app(api: ApiSettings, service: Service | None, validator: TokenValidator | None = None) -> FastAPI:
    """The application; without a service it only describes itself (the OpenAPI export)."""
    validator = validator or TokenValidator.from_settings(api)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if service is not None:
            service.close()

    app = FastAPI(
        lifespan=lifespan,
        title="casusregie API",
        version=API_VERSION,
        description=__doc__.split("\n\n", 1)[1].replace("\n", " ") if __doc__ else "",
        contact=CONTACT,
        license_info={"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        servers=[{"url": "/", "description": "this server"}],
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.service = service
    app.state.validator = validator
    app.state.api = api
    app.state.proxies = [ipaddress.ip_network(p, strict=False) for p in api.trusted_proxies]

    _errors(app)
    endpoints.register(app, PREFIX)
    app.openapi = lambda: endpoints.openapi_document(app, API_VERSION)  # type: ignore[method-assign]
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["API-Version", "ETag", "Location"],
        )
    app.add_middleware(Perimeter, limit=api.max_body_bytes, tls=api.tls_certificate is not None)
    if api.log_format == "json":
        app.add_middleware(AccessLog)
    return app


def _errors(app: FastAPI) -> None:
    """Every failure is a problem body with one line; nothing else leaves the process."""

    @app.exception_handler(RegieError)
    async def regie_error(request: Request, exc: RegieError) -> Response:
        retry = {"Retry-After": "5"} if isinstance(exc, Busy) else None
        return problem(status_of(exc), str(exc), request.url.path, retry)

    @app.exception_handler(ValidationError)
    async def invalid_model(request: Request, exc: ValidationError) -> Response:
        # A model built inside a command refused its input (the CLI says "invalid input" here):
        # the caller's input, so 422 and one line, never a server error.
        return problem(*endpoints.validation_problem(RequestValidationError(exc.errors())), request.url.path)

    @app.exception_handler(InvalidToken)
    async def invalid_token(request: Request, exc: InvalidToken) -> Response:
        detail = f"{exc}; send a valid bearer access token from the identity provider"
        header = f'Bearer error="invalid_token", error_description="{one_line(str(exc), 200)}"'
        return problem(401, detail, request.url.path, {"WWW-Authenticate": header})

    @app.exception_handler(ProviderUnavailable)
    async def provider_down(request: Request, exc: ProviderUnavailable) -> Response:
        return problem(503, f"{exc}; try again later", request.url.path, {"Retry-After": "30"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return problem(*endpoints.validation_problem(exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "the request cannot be served"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"there is no resource {request.url.path}; the API lives under {PREFIX}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
            headers["Allow"] = ", ".join(_allowed(request))  # every method of the path, not one route's
        return problem(exc.status_code, detail, request.url.path, headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_database_error(exc):
            return problem(503, f"the store could not be used: {explain(exc)}", request.url.path)
        reference = uuid.uuid4().hex[:12]
        access_logger.error("internal error %s: %s", reference, type(exc).__name__, exc_info=exc)
        return problem(500, f"an internal error occurred (reference {reference}); nothing more is shown", None)


def _allowed(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)  # PARTIAL: the path is the route's, the method is not
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", ()) or ())
    return sorted(methods)


class Perimeter:
    """What every request meets before the application, in one layer (each layer costs every request):

    - a query key given twice is refused (400): which one counts would otherwise be a guess, and a
      filter that one layer reads one way and another layer the other way is how parameter pollution works;
    - a body over the limit is refused (413) before the application sees it, declared or streamed; the
      body is read here, up to the limit, and handed on whole (an error raised while the framework reads
      it would turn into its own 400);
    - every answer, errors too, carries the ADR's API-Version header and the usual protections.
    """

    def __init__(self, app: ASGIApp, limit: int, tls: bool) -> None:
        self.app = app
        self.limit = limit
        extra = dict(SECURITY_HEADERS)
        if tls:
            extra["Strict-Transport-Security"] = "max-age=31536000"
        self.headers = [(k.lower().encode(), v.encode()) for k, v in extra.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.headers if k not in present
                ]
            await send(message)

        read = self._query_refusal(scope) or await self._body(scope, receive)
        if read is None:  # the client went away
            return
        if isinstance(read, Response):
            await read(scope, receive, with_headers)
            return
        handed: list[Message] = [{"type": "http.request", "body": read, "more_body": False}]

        async def whole() -> Message:
            return handed.pop() if handed else await receive()

        await self.app(scope, whole, with_headers)

    @staticmethod
    def _query_refusal(scope: Scope) -> Response | None:
        if not scope.get("query_string"):
            return None
        keys = [k for k, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if not twice:
            return None
        detail = f"query parameter {one_line(twice[0], 40)!r} is given more than once; give each once"
        return problem(400, detail, scope.get("path"))

    def _too_big(self) -> Response:
        return problem(413, f"the request body is larger than {self.limit} bytes; nothing was done")

    async def _body(self, scope: Scope, receive: Receive) -> bytes | Response | None:
        """The whole body, or the refusal of it; None when the client went away."""
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and not declared.isdigit():
            return problem(400, "the Content-Length header is not a number")
        if declared is not None and int(declared) > self.limit:
            return self._too_big()
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return self._too_big()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class AccessLog:
    """One JSON line per request on stdout: the route's template, never its values or any body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            route = scope.get("route")
            line = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "method": scope.get("method"),
                "route": getattr(route, "path", None) or "(no route)",
                "status": status[0],
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

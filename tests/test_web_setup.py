"""Setting up the web application: the ``[web]`` section refused with one clear line where it cannot work,
and the NL Design System stylesheets shipped exactly as their npm packages publish them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import make_world, skip_unless_required
from live_server import run_regie, toml_value, write_config
from oidc import NODE_MODULES

from casusregie.adapters.config import Settings

ISSUER = "http://127.0.0.1:9"  # never asked: these configurations fail before any provider is contacted
STATIC = Path(__file__).resolve().parent.parent / "adapters" / "web" / "static" / "vendor"
VENDORED = {  # shipped file -> (npm package, file in it)
    "utrecht-component-library.css": ("@utrecht/component-library-css", "dist/index.css"),
    "voorbeeld-theme.css": ("@nl-design-system-unstable/voorbeeld-design-tokens", "dist/theme.css"),
}


@pytest.fixture(scope="module")
def plain_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("plain-web")
    settings = Settings(store=str(folder / "store.db"), key_dir=folder / "keys", checkpoint_dir=None, config_file=None)
    make_world(settings).store.close()
    return settings


def _config(path: Path, store: Settings, web: dict[str, Any], development: bool = True) -> Path:
    api = {"issuer": ISSUER if development else "https://idp.example.org", "audience": "casusregie-api"}
    api |= {"development": True, "listen": "127.0.0.1:9"} if development else {"listen": "127.0.0.1:9"}
    write_config(path, store=store.store, key_dir=store.key_dir, api=api)
    with path.open("a", encoding="utf-8") as out:
        out.write("\n[web]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in web.items()))
    return path


def _secret(folder: Path, mode: int, text: str = "s3cr3t-value\n") -> Path:
    path = folder / f"secret-{mode:o}"
    path.write_text(text)
    path.chmod(mode)
    return path


GOOD = {"client_id": "casusregie-web", "public_url": "http://127.0.0.1:9"}
BAD: dict[str, tuple[dict[str, Any], bool, str]] = {
    "no public_url": ({"client_id": "casusregie-web"}, True, "[web] public_url: Field required"),
    "public_url not a URL": ({**GOOD, "public_url": "regie.example.nl"}, True, "public_url is the address"),
    "http public_url in production": (
        {**GOOD, "public_url": "http://regie.example.nl"},
        False,
        "public_url is not https",
    ),
    "development set in [web]": ({**GOOD, "development": True}, True, "development is set in [api]"),
    "unknown setting": ({**GOOD, "cookie_name": "x"}, True, "[web] cookie_name: Extra inputs are not permitted"),
    "scope without openid": ({**GOOD, "scope": "profile"}, True, "scope must contain openid"),
    "a secret file that is not there": ({**GOOD, "client_secret_file": "/nonexistent/secret"}, True, "cannot be read"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_web_section_that_cannot_work_is_one_clear_line(plain_store: Settings, tmp_path: Path, name: str) -> None:
    web, development, says = BAD[name]
    config = _config(tmp_path / "regie.toml", plain_store, web, development)
    result = run_regie("serve", "--check", config=config, timeout=60)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("regie: error: "), lines
    assert says in lines[0], lines


def test_a_client_secret_others_can_read_or_that_is_not_one_line_is_refused(
    plain_store: Settings, tmp_path: Path
) -> None:
    for path, says in (
        (_secret(tmp_path, 0o644), "readable by others; chmod 600 it"),
        (_secret(tmp_path, 0o600, "two\nlines\n"), "is empty or holds more than one line"),
    ):
        config = _config(tmp_path / "regie.toml", plain_store, {**GOOD, "client_secret_file": str(path)})
        result = run_regie("serve", "--check", config=config, timeout=60)
        assert result.returncode == 1, result.stderr
        assert says in result.stderr
        assert "s3cr3t" not in result.stderr  # the secret itself is never shown
    good = _config(tmp_path / "good.toml", plain_store, {**GOOD, "client_secret_file": str(_secret(tmp_path, 0o600))})
    result = run_regie("serve", "--check", config=good, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_shipped_stylesheets_are_the_npm_packages_own(tmp_path: Path) -> None:
    if not (NODE_MODULES / "@utrecht").is_dir():
        skip_unless_required(
            f"{NODE_MODULES} is not installed: run `make test`",
            os.environ.get("REGIE_REQUIRE_NODE") == "1",
            "REGIE_REQUIRE_NODE",
        )
    declared = json.loads((NODE_MODULES.parent / "package.json").read_text())["dependencies"]
    for shipped, (package, inside) in VENDORED.items():
        meta = json.loads((NODE_MODULES / package / "package.json").read_text())
        assert declared[package] == meta["version"], f"{package} is pinned to the version that was copied"
        assert meta["license"] == "EUPL-1.2", package
        assert (STATIC / shipped).read_bytes() == (NODE_MODULES / package / inside).read_bytes(), (
            f"{shipped} differs from {package}/{inside}: copy it again (see adapters/web/static/vendor/README.md)"
        )

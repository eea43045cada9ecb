"""Shared fixtures: a fresh store on SQLite and on PostgreSQL, users, and a CLI runner.

PostgreSQL is reached through REGIE_TEST_PG_DSN (default: the local server on
127.0.0.1:5432, database test). Where it is unreachable the PostgreSQL variants skip with
the reason, unless REGIE_REQUIRE_POSTGRES=1 (set by .ci/run), which turns that into a
failure: CI never passes with the production database untested.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from api_client import api, http_api  # noqa: F401 - fixtures of the API tests, for every module
from click.testing import CliRunner
from helpers import PG_DSN, CliResult, World, drop_schema, make_world, new_schema, require_postgres
from oidc_fixtures import make_provider, oidc_provider, second_provider  # noqa: F401

from casusregie.adapters.config import Settings
from casusregie.cli import main


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@pytest.fixture
def store_location(backend: str, tmp_path: Path) -> Iterator[str]:
    """Where a fresh store may be created: a file path or a DSN with a unique schema."""
    if backend == "sqlite":
        yield str(tmp_path / "store.db")
        return
    schema = new_schema()
    yield f"{PG_DSN}?schema={schema}"
    drop_schema(schema)


@pytest.fixture
def settings(store_location: str, tmp_path: Path) -> Settings:
    return Settings(store=store_location, key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None)


@pytest.fixture
def env(store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs against the store location (store not yet created)."""
    values = {"REGIE_STORE": store_location, "REGIE_KEY_DIR": str(tmp_path / "keys")}
    for key in ("REGIE_USER", "REGIE_CONFIG", "REGIE_CHECKPOINT_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    w = make_world(settings)
    yield w
    w.store.close()


@pytest.fixture
def cli(env: dict[str, str]) -> Any:
    """Run `regie` in-process the way a user would (same parsing, same exit codes)."""

    def run(*args: str, user: str | None = None) -> CliResult:
        argv = ([f"--as={user}"] if user else []) + [str(a) for a in args]
        runner = CliRunner()
        result = runner.invoke(_entry, argv, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    ctx.exit(main(list(ctx.args)))


_SHARED_SCOPES = frozenset({"module", "class", "package"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `make test` (pytest-xdist, ``--dist loadgroup``): a module whose tests share a module- or
    class-scoped fixture (a signed-in browser, a served store) runs on one worker, in order; the
    tests of every other module are spread one by one, which keeps both workers busy to the end."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        definitions = info.name2fixturedefs.values() if info is not None else ()
        if any(defs and defs[-1].scope in _SHARED_SCOPES for defs in definitions):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__ if item.module else item.nodeid))

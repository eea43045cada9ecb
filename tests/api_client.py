"""The API in a test: the application on a test store, callers with tokens from the real provider.

``ApiWorld.as_(user)`` calls as that user: their token comes from the OpenID Provider through
its real endpoints, for the subject the beheerder registered (the user id itself).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import USERS, World, make_world
from oidc import DEFAULT_AUDIENCE, Provider

from casusregie.adapters.config import Settings
from casusregie.adapters.http.app import create_app
from casusregie.adapters.http.settings import ApiSettings
from casusregie.commands.users import LinkSubject

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette asks for httpx2 in its test client; httpx is what we have
    from fastapi.testclient import TestClient

PREFIX = "/api/v1"


@dataclass
class Caller:
    client: TestClient
    token: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(PREFIX + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.post(PREFIX + path, json=body, headers=headers, **kwargs)


@dataclass
class ApiWorld:
    world: World
    provider: Provider
    client: TestClient
    settings: ApiSettings
    callers: dict[str, Caller] = field(default_factory=dict)

    def as_(self, user: str) -> Caller:
        if user not in self.callers:
            self.callers[user] = Caller(self.client, self.provider.token(user))
        return self.callers[user]

    def events(self) -> int:
        return self.world.count()

    def domain_events(self) -> int:
        return self.world.domain_count()


def link_everyone(world: World, issuer: str) -> None:
    for user in ["admin", *(u[0] for u in USERS)]:
        if world.app.setup().user(user) is not None:
            world.run("admin", LinkSubject(user_id=user, subject=user, issuer=issuer))


def api_settings(provider: Provider, **overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "issuer": provider.issuer,
        "audience": DEFAULT_AUDIENCE,
        "development": True,
        "log_format": "none",
    }
    return ApiSettings(**(values | overrides))


def _api(world: World, provider: Provider) -> Iterator[ApiWorld]:
    link_everyone(world, provider.issuer)
    settings = api_settings(provider)
    with TestClient(create_app(world.settings, settings), raise_server_exceptions=False) as client:
        yield ApiWorld(world, provider, client, settings)


@pytest.fixture
def api(world: World, oidc_provider: Provider) -> Iterator[ApiWorld]:
    """The API on a store of each backend: for what the API does with the store."""
    yield from _api(world, oidc_provider)


@pytest.fixture
def http_api(tmp_path: Path, oidc_provider: Provider) -> Iterator[ApiWorld]:
    """The API on an embedded store only: for the rules of the HTTP surface itself (tokens, headers,
    problem bodies, input checks), which do not depend on the backend behind it."""
    world = make_world(
        Settings(store=str(tmp_path / "store.db"), key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None)
    )
    try:
        yield from _api(world, oidc_provider)
    finally:
        world.store.close()

"""Pytest fixtures for a real OpenID Provider (see oidc.py), made available to every test module by
conftest.py (``from oidc_fixtures import make_provider, oidc_provider, second_provider``).

Where Node.js or tests/node/node_modules is missing the fixtures skip with the reason, unless
REGIE_REQUIRE_OIDC=1 (set by .ci/run), which makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import skip_unless_required
from oidc import DEFAULT_AUDIENCE, OTHER_AUDIENCE, Provider, node_problem

__all__ = ["OTHER_AUDIENCE", "make_provider", "oidc_provider", "require_oidc", "second_provider"]

REQUIRE_OIDC = os.environ.get("REGIE_REQUIRE_OIDC") == "1"


def require_oidc() -> None:
    """Skip (or fail under REGIE_REQUIRE_OIDC=1) where the provider cannot run."""
    problem = node_problem()
    if problem is not None:
        skip_unless_required(f"no OpenID Provider: {problem}", REQUIRE_OIDC, "REGIE_REQUIRE_OIDC")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """The API's trusted OpenID Provider for the whole run: audience ``casusregie-api``, RS256; it also
    issues tokens for OTHER_AUDIENCE (``token(subject, audience=OTHER_AUDIENCE)``)."""
    require_oidc()
    with Provider.start(audience=DEFAULT_AUDIENCE, extra_audiences=(OTHER_AUDIENCE,)) as provider:
        yield provider


@pytest.fixture(scope="session")
def second_provider() -> Iterator[Provider]:
    """Another, independent provider (own issuer, own keys, same audience): its tokens must be refused."""
    require_oidc()
    with Provider.start(audience=DEFAULT_AUDIENCE, extra_audiences=(OTHER_AUDIENCE,)) as provider:
        yield provider


@pytest.fixture
def make_provider() -> Iterator[Callable[..., Provider]]:
    """A factory for providers of one test (``make_provider(**Provider.start kwargs)``), stopped after
    it: for tests that restart, rotate keys or need other settings without disturbing the session ones."""
    require_oidc()
    started: list[Provider] = []

    def make(**kwargs: Any) -> Provider:
        provider = Provider.start(**kwargs)
        started.append(provider)
        return provider

    yield make
    for provider in started:
        provider.stop()

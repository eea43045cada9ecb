"""The test OpenID Provider is real: discovery, JWKS, and JWT access tokens from the code flow with PKCE.

The HTTP API's tests trust these tokens only because they come from an independent, certified
provider through its own endpoints; these tests pin what that provider hands out. The fixtures
(oidc_provider, second_provider, make_provider) come from oidc_fixtures, through conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry, Token
from oidc import CONFIDENTIAL_CLIENT, OTHER_AUDIENCE, SHORT_LIVED_CLIENT, SHORT_LIVED_TTL, Provider, ProviderError


def verify(token: str, jwks: dict[str, Any], algorithms: tuple[str, ...] = ("RS256", "ES256")) -> Token:
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=list(algorithms))


def test_discovery_document(oidc_provider: Provider) -> None:
    discovery = oidc_provider.discovery()
    issuer = oidc_provider.issuer
    assert issuer == f"http://127.0.0.1:{oidc_provider.port}"
    assert discovery["issuer"] == issuer
    assert discovery["jwks_uri"] == f"{issuer}/jwks"
    assert discovery["token_endpoint"] == f"{issuer}/token"
    assert discovery["authorization_endpoint"] == f"{issuer}/auth"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(discovery["grant_types_supported"])


def test_jwks_publishes_rs256_and_es256_public_keys_only(oidc_provider: Provider) -> None:
    keys = oidc_provider.jwks()["keys"]
    assert {(k["kid"], k["alg"], k["kty"]) for k in keys} == {
        (oidc_provider.kids[0], "RS256", "RSA"),
        (oidc_provider.kids[1], "ES256", "EC"),
    }
    private = {"d", "p", "q", "dp", "dq", "qi"}
    assert not any(private & set(k) for k in keys)


def test_access_token_is_a_jwt_for_the_subject_audience_and_issuer(oidc_provider: Provider) -> None:
    token = verify(oidc_provider.token("alice"), oidc_provider.jwks(), ("RS256",))
    assert token.header["alg"] == "RS256"
    assert token.header["typ"] == "at+jwt"
    assert token.header["kid"] == oidc_provider.kids[0]
    claims = token.claims
    assert claims["sub"] == "alice"
    assert claims["aud"] == "casusregie-api" == oidc_provider.audience
    assert claims["iss"] == oidc_provider.issuer
    assert claims["client_id"] == "casusregie-test"
    JWTClaimsRegistry(
        iss={"essential": True, "value": oidc_provider.issuer},
        aud={"essential": True, "value": "casusregie-api"},
        sub={"essential": True, "value": "alice"},
        exp={"essential": True},
    ).validate(claims)
    assert 500 < claims["exp"] - time.time() <= 600


def test_different_subjects_get_different_tokens(oidc_provider: Provider) -> None:
    alice = oidc_provider.token("alice")
    bob = oidc_provider.token("bob")
    assert alice != bob
    assert oidc_provider.token("alice") == alice  # cached within the run
    fresh = oidc_provider.token("alice", fresh=True)
    assert fresh != alice
    jwks = oidc_provider.jwks()
    assert [verify(t, jwks).claims["sub"] for t in (alice, bob, fresh)] == ["alice", "bob", "alice"]


def test_other_audience_confidential_client_and_refresh(oidc_provider: Provider) -> None:
    jwks = oidc_provider.jwks()
    other = verify(oidc_provider.token("alice", audience=OTHER_AUDIENCE), jwks).claims
    assert (other["aud"], other["sub"]) == (OTHER_AUDIENCE, "alice")

    response = oidc_provider.token_response("carol", CONFIDENTIAL_CLIENT)
    assert response["token_type"] == "Bearer"
    first = verify(response["access_token"], jwks).claims
    assert (first["sub"], first["client_id"]) == ("carol", CONFIDENTIAL_CLIENT)
    refreshed = oidc_provider.refresh(response["refresh_token"], CONFIDENTIAL_CLIENT)
    second = verify(refreshed["access_token"], jwks).claims
    assert (second["sub"], second["aud"], second["jti"] != first["jti"]) == ("carol", "casusregie-api", True)


def test_short_lived_client_tokens_expire_quickly(oidc_provider: Provider) -> None:
    claims = verify(oidc_provider.token("dave", SHORT_LIVED_CLIENT), oidc_provider.jwks()).claims
    assert claims["exp"] - claims["iat"] == SHORT_LIVED_TTL


def test_unknown_audience_and_client_are_refused(oidc_provider: Provider) -> None:
    with pytest.raises(ProviderError, match="invalid_target"):
        oidc_provider.token("alice", audience="not-an-api-of-this-provider", fresh=True)
    with pytest.raises(ProviderError, match="invalid_client|400"):
        oidc_provider.token("alice", client="no-such-client", fresh=True)


def test_token_endpoint_demands_the_pkce_verifier(oidc_provider: Provider) -> None:
    response = httpx.post(
        f"{oidc_provider.issuer}/token",
        data={"grant_type": "authorization_code", "code": "made-up", "client_id": "casusregie-test"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


def test_second_provider_is_a_different_issuer_with_different_keys(
    oidc_provider: Provider, second_provider: Provider
) -> None:
    assert second_provider.issuer != oidc_provider.issuer
    assert set(second_provider.kids).isdisjoint(oidc_provider.kids)
    foreign = second_provider.token("alice")
    assert verify(foreign, second_provider.jwks()).claims["iss"] == second_provider.issuer
    with pytest.raises(JoseError):  # no key of the trusted provider has its kid
        verify(foreign, oidc_provider.jwks())


def test_restart_rotates_the_keys_on_the_same_issuer(make_provider: Callable[..., Provider]) -> None:
    provider = make_provider()
    issuer, old_jwks = provider.issuer, provider.jwks()
    old_token = provider.token("alice")
    provider.restart(rotate_keys=True)
    assert provider.issuer == issuer
    new_jwks = provider.jwks()
    new_token = provider.token("alice")
    kid = jwt.decode(new_token, KeySet.import_key_set(new_jwks)).header["kid"]
    assert kid not in {k["kid"] for k in old_jwks["keys"]}
    assert verify(new_token, new_jwks).claims["sub"] == "alice"
    assert verify(old_token, old_jwks).claims["sub"] == "alice"
    with pytest.raises(JoseError):
        verify(old_token, new_jwks)


def test_es256_signing_can_be_chosen(make_provider: Callable[..., Provider]) -> None:
    provider = make_provider(signing_alg="ES256")
    token = verify(provider.token("erin"), provider.jwks(), ("ES256",))
    assert (token.header["alg"], token.header["kid"], token.claims["sub"]) == ("ES256", provider.kids[1], "erin")
    rsa_only = {"keys": [k for k in provider.jwks()["keys"] if k["kty"] == "RSA"]}
    with pytest.raises((JoseError, BadSignatureError)):
        verify(provider.token("erin"), rsa_only)

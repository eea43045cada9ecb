"""Attacks with tokens: each gets 401 with a problem body, and nothing is written.

The tokens of the happy path come from the real provider; the forged ones here are made by
hand from a real token (edited, re-signed with the wrong key or algorithm), as an attacker
who has seen one would make them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from api_client import ApiWorld, Caller, api_settings
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from oidc import OTHER_AUDIENCE, SHORT_LIVED_CLIENT, SHORT_LIVED_TTL, Provider

from casusregie.adapters.http.app import create_app
from casusregie.adapters.http.tokens import InvalidToken, ProviderUnavailable, TokenValidator


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))  # noqa: E731
    return decode(header), decode(payload), signature


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), signature])


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """By hand: a careful library (joserfc too) refuses to use a public key as an HMAC secret."""
    signing_input = unsigned(header, claims)[:-1]
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def forgeries(api: ApiWorld, second: Provider) -> dict[str, str]:
    real = api.provider.token("anna")
    header, claims, signature = parts(real)
    attacker = RSAKey.generate_key(2048)
    rsa_public = next(k for k in api.provider.jwks()["keys"] if k["kty"] == "RSA")
    public_pem = RSAKey.import_key(rsa_public).as_pem(private=False)
    return {
        "alg none": unsigned({"alg": "none", "typ": "JWT"}, claims),
        "alg none with the real kid": unsigned({"alg": "none", "kid": header["kid"]}, claims),
        "HS256 signed with the provider's public key": hs256(
            {"alg": "HS256", "kid": header["kid"]}, claims, public_pem
        ),
        "unknown kid": jwt.encode({"alg": "RS256", "kid": "not-a-key-of-theirs"}, claims, attacker),
        "the real kid, another key": jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, attacker),
        "tampered payload (sub changed)": unsigned(header, claims | {"sub": "admin"}, signature),
        "tampered payload (exp extended)": unsigned(header, claims | {"exp": claims["exp"] + 86400}, signature),
        "a token of a second provider": second.token("anna"),
        "the wrong audience (real signature)": api.provider.token("anna", audience=OTHER_AUDIENCE),
        "ES256 by the attacker without kid": jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256")),
        "not a JWT": "not-a-token",
        "two parts": ".".join(real.split(".")[:2]),
        "a JWE-shaped token": "a.b.c.d.e",
        "huge": "a" * 20_000 + "." + "b" * 20_000 + ".c",
    }


def test_forged_and_foreign_tokens_get_401_and_write_nothing(http_api: ApiWorld, second_provider: Provider) -> None:
    api = http_api
    case_ok = api.as_("anna").get("/cases")
    assert case_ok.status_code == 200  # the real token works
    before = api.events()
    for name, token in forgeries(api, second_provider).items():
        for method, path, body in (("get", "/cases", None), ("post", "/cases/CXXXXXX/take-on", {})):
            caller = Caller(api.client, token)
            response = caller.get(path) if method == "get" else caller.post(path, body)
            assert response.status_code == 401, (name, response.status_code, response.text)
            assert response.headers["content-type"] == "application/problem+json", name
            assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"'), name
            problem = response.json()
            assert problem["status"] == 401
            assert set(problem) <= {"type", "title", "status", "detail", "instance"}
            assert token[:40] not in response.text or len(token) < 40, name  # the token is never echoed
    assert api.events() == before


def test_missing_or_other_authorization_schemes_get_401(http_api: ApiWorld) -> None:
    api = http_api
    before = api.events()
    for headers in ({}, {"Authorization": "Basic YW5uYTpwdw=="}, {"Authorization": "Bearer"}, {"Authorization": ""}):
        response = api.client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert api.events() == before


def test_an_expired_token_from_the_provider_is_refused(http_api: ApiWorld) -> None:
    api = http_api
    from fastapi.testclient import TestClient

    strict = create_app(api.world.settings, api_settings(api.provider, leeway_seconds=0))
    token = api.provider.token("anna", SHORT_LIVED_CLIENT)
    with TestClient(strict, raise_server_exceptions=False) as client:
        assert Caller(client, token).get("/cases").status_code == 200
        time.sleep(SHORT_LIVED_TTL + 1.1)
        before = api.events()
        response = Caller(client, token).get("/cases")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert api.events() == before


def test_rotated_provider_keys_are_fetched_once_and_forged_kids_do_not_hammer_the_provider(
    http_api: ApiWorld, make_provider: Callable[..., Provider]
) -> None:
    api = http_api
    from fastapi.testclient import TestClient

    provider = make_provider()
    from api_client import link_everyone

    link_everyone(api.world, provider.issuer)  # anna now also signs in at this provider (another subject tie)
    validator = TokenValidator(
        issuer=provider.issuer,
        audience=provider.audience,
        algorithms=("RS256",),
        leeway=5,
        refetch_seconds=3600,
    )
    app = create_app(api.world.settings, api_settings(provider), validator)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert Caller(client, provider.token("anna")).get("/cases").status_code == 200
        assert validator.fetches == 1
        provider.restart(rotate_keys=True)
        rotated = provider.token("anna", fresh=True)
        assert Caller(client, rotated).get("/cases").status_code == 200  # an unknown kid: the keys are fetched again
        assert validator.fetches == 2
        _, claims, _ = parts(rotated)
        attacker = RSAKey.generate_key(2048)
        for n in range(5):
            forged = jwt.encode({"alg": "RS256", "kid": f"forged-{n}"}, claims, attacker)
            assert Caller(client, forged).get("/cases").status_code == 401
        assert validator.fetches == 2  # within refetch_seconds a forged kid costs the provider nothing


# --- the checks themselves, with a key the test holds (the clock and the claims vary) ---------------------

ISSUER = "https://idp.example.org"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def validator(clock: Callable[[], float] = time.time, leeway: int = 30) -> TokenValidator:
    documents = {
        f"{ISSUER}/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"},
        f"{ISSUER}/jwks": {"keys": [KEY.as_dict(private=False)]},
    }
    return TokenValidator(
        issuer=ISSUER,
        audience="casusregie-api",
        algorithms=("RS256",),
        leeway=leeway,
        refetch_seconds=60,
        fetch=documents.__getitem__,
        clock=clock,
    )


def signed(**claims: Any) -> str:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": "casusregie-api", "sub": "anna", "iat": now, "exp": now + 300}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, {k: v for k, v in (base | claims).items() if v is not None}, KEY)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": -60}, "expired"),
        ({"nbf": +60}, "not valid yet"),
        ({"aud": "another-api"}, "'aud'"),
        ({"iss": "https://evil.example.org"}, "'iss'"),
        ({"exp": None}, "'exp'"),
        ({"sub": None}, "'sub'"),
        ({"sub": ""}, "'sub'"),
        ({"sub": 42}, "'sub'"),
    ],
)
def test_claims_outside_the_rules_are_refused_with_the_reason(claims: dict[str, Any], reason: str) -> None:
    now = int(time.time())
    times = {k: now + v for k, v in claims.items() if k in ("exp", "nbf") and v is not None}  # seconds from now
    with pytest.raises(InvalidToken, match=reason):
        validator().verify(signed(**(claims | times)))


def test_the_leeway_allows_a_small_clock_difference_and_no_more() -> None:
    now = int(time.time())
    assert validator(leeway=30).verify(signed(exp=now - 20, nbf=now + 20)).subject == "anna"
    with pytest.raises(InvalidToken):
        validator(leeway=0).verify(signed(exp=now - 2))


def test_the_token_id_is_the_jti_or_a_digest_never_the_token() -> None:
    with_jti = validator().verify(signed(jti="abc-123"))
    assert with_jti.token_id == "abc-123"
    token = signed()
    without = validator().verify(token)
    assert without.token_id.startswith("sha256:")
    assert without.token_id[7:] not in token


def test_an_unreachable_provider_is_asked_once_per_retry_window_not_per_request() -> None:
    asked = []

    def down(url: str) -> dict[str, Any]:
        asked.append(url)
        raise ProviderUnavailable(f"the identity provider did not answer at {url}")

    now = [1000.0]
    checker = TokenValidator(
        issuer=ISSUER, audience="casusregie-api", algorithms=("RS256",), leeway=5, refetch_seconds=60,
        fetch=down, clock=lambda: now[0],
    )  # fmt: skip
    for _ in range(5):
        with pytest.raises(ProviderUnavailable):
            checker.verify(signed())
    assert len(asked) == 1
    now[0] += 11  # after the retry window the provider is asked again
    with pytest.raises(ProviderUnavailable):
        checker.verify(signed())
    assert len(asked) == 2


def test_keys_over_plain_http_are_refused_for_an_https_issuer() -> None:
    documents = {
        f"{ISSUER}/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": "http://idp.example.org/jwks"},
        "http://idp.example.org/jwks": {"keys": [KEY.as_dict(private=False)]},
    }
    checker = TokenValidator(
        issuer=ISSUER, audience="casusregie-api", algorithms=("RS256",), leeway=5, refetch_seconds=60,
        fetch=documents.__getitem__,
    )  # fmt: skip
    with pytest.raises(ProviderUnavailable, match="https"):
        checker.verify(signed())


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # still what many providers sign with
def test_eddsa_tokens_verify_when_allowed() -> None:
    from joserfc.jwk import OKPKey

    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "e1"})
    documents = {
        f"{ISSUER}/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"},
        f"{ISSUER}/jwks": {"keys": [ed.as_dict(private=False), KEY.as_dict(private=False)]},
    }
    checker = TokenValidator(
        issuer=ISSUER, audience="casusregie-api", algorithms=("EdDSA",), leeway=5, refetch_seconds=60,
        fetch=documents.__getitem__,
    )  # fmt: skip
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "casusregie-api", "sub": "anna", "exp": now + 60}
    token = jwt.encode({"alg": "EdDSA", "kid": "e1"}, claims, ed, algorithms=["EdDSA"])
    assert checker.verify(token).subject == "anna"


# --- tokens checked before: their signature holds, their times and the keys are checked again -------------


def test_the_same_token_is_signature_checked_once_and_its_expiry_on_every_call() -> None:
    now = [time.time()]
    checker = validator(clock=lambda: now[0], leeway=5)
    token = signed(exp=int(now[0]) + 60)
    for _ in range(3):
        assert checker.verify(token).subject == "anna"
    assert checker.signature_checks == 1
    now[0] += 70  # past exp and the leeway
    with pytest.raises(InvalidToken, match="expired"):
        checker.verify(token)
    with pytest.raises(InvalidToken, match="expired"):
        checker.verify(token)  # checked in full again: still expired
    assert checker.signature_checks == 2


def test_a_checked_token_lets_no_edited_copy_through() -> None:
    checker = validator()
    token = signed()
    assert checker.verify(token).subject == "anna"
    header, claims, signature = parts(token)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    edited = {
        "signature changed": unsigned(header, claims, flipped),
        "subject changed, signature kept": unsigned(header, claims | {"sub": "admin"}, signature),
        "expiry extended, signature kept": unsigned(header, claims | {"exp": claims["exp"] + 86400}, signature),
    }
    assert {name: refused(checker, forged) for name, forged in edited.items()} == dict.fromkeys(edited, True)
    assert checker.verify(token).subject == "anna"


def refused(checker: TokenValidator, token: str) -> bool:
    try:
        checker.verify(token)
    except InvalidToken:
        return True
    return False


def test_a_key_the_provider_withdraws_stops_the_tokens_checked_with_it() -> None:
    now = [time.time()]
    replacement = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    documents: dict[str, Any] = {
        f"{ISSUER}/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"},
        f"{ISSUER}/jwks": {"keys": [KEY.as_dict(private=False)]},
    }
    checker = TokenValidator(
        issuer=ISSUER, audience="casusregie-api", algorithms=("RS256",), leeway=5, refetch_seconds=60,
        fetch=documents.__getitem__, clock=lambda: now[0],
    )  # fmt: skip
    old = signed()
    assert checker.verify(old).subject == "anna"
    # The provider replaces k1 (compromised, say); a token signed with k2 makes us fetch the keys again.
    documents[f"{ISSUER}/jwks"] = {"keys": [replacement.as_dict(private=False)]}
    now[0] += 61
    base = {"iss": ISSUER, "aud": "casusregie-api", "sub": "piet", "exp": int(now[0]) + 300}
    assert checker.verify(jwt.encode({"alg": "RS256", "kid": "k2"}, base, replacement)).subject == "piet"
    assert checker.fetches == 2
    with pytest.raises(InvalidToken, match="does not publish"):
        checker.verify(old)

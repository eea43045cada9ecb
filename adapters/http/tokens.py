"""Bearer access tokens (JWT, RFC 9068) checked against the identity provider's own keys.

The provider is found through its discovery document; its signing keys (JWKS) are cached.
A token signed with a key we do not know makes us fetch the keys again, once, and not more
often than ``refetch_seconds``: the provider rotates its keys now and then, but a stream of
forged key ids must not turn into a stream of requests to the provider.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

MAX_TOKEN_BYTES = 16_384  # far above any real access token; a bigger one is not parsed at all
# Tokens whose signature was checked, kept until they expire: a client sends the same token with
# every call for its lifetime, and the signature check is most of the cost of a call's authentication.
CHECKED_TOKENS = 4096


class InvalidToken(Exception):
    """The token proves nothing (401); the message says why, without echoing the token."""


class KeysNeeded(Exception):
    """Checking this token needs the provider's keys fetched first (see ``verify(may_fetch=False)``)."""


class ProviderUnavailable(Exception):
    """The identity provider could not be asked for its keys (503)."""


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    issuer: str
    token_id: str
    claims: dict[str, Any]


Fetch = Callable[[str], dict[str, Any]]


def http_fetch(timeout: float = 5.0) -> Fetch:
    import httpx

    def fetch(url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=timeout, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"the identity provider did not answer at {url}: {type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"the identity provider answered {url} with something other than an object")
        return data

    return fetch


class TokenValidator:
    """Checks access tokens of one issuer for one audience."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...],
        leeway: int,
        refetch_seconds: float,
        subject_claim: str = "sub",
        fetch: Fetch | None = None,
        clock: Callable[[], float] = time.time,
        remembered: int = CHECKED_TOKENS,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.refetch_seconds = refetch_seconds
        self.subject_claim = subject_claim
        self._fetch = fetch or http_fetch()
        self._clock = clock
        self._fetch_lock = threading.Lock()
        self._keys: KeySet | None = None
        self._last_failure = float("-inf")
        self.retry_seconds = min(refetch_seconds, 10.0)
        self._jwks_uri: str | None = None
        self._last_refetch = float("-inf")
        self.fetches = 0  # how often the keys were fetched (for tests and the benchmark)
        self.signature_checks = 0  # how often a signature was checked (for tests and the benchmark)
        self._checked: dict[str, tuple[VerifiedToken, KeySet]] = {}
        self._remembered = remembered  # 0: every call checks the signature
        self._claims = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )

    @classmethod
    def from_settings(cls, api: Any, remembered: int = CHECKED_TOKENS) -> TokenValidator:
        """The validator an ``[api]`` section (``ApiSettings``) describes."""
        return cls(
            issuer=api.issuer,
            audience=api.audience,
            algorithms=api.algorithms,
            leeway=api.leeway_seconds,
            refetch_seconds=api.jwks_refetch_seconds,
            subject_claim=api.subject_claim,
            remembered=remembered,
        )

    # --- the provider's keys ---------------------------------------------------------------

    def _discover(self) -> str:
        if self._jwks_uri is None:
            document = self._fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if document.get("issuer") != self.issuer:
                raise ProviderUnavailable(
                    f"the discovery document of {self.issuer} names another issuer; refusing to trust it"
                )
            uri = document.get("jwks_uri")
            secure = self.issuer.startswith("https://")  # an http issuer is a development provider (settings)
            if not isinstance(uri, str) or not uri.startswith("https://" if secure else ("https://", "http://")):
                # keys fetched over plain http could be anyone's: then anyone could sign tokens
                raise ProviderUnavailable(f"the discovery document of {self.issuer} has no https jwks_uri")
            self._jwks_uri = uri
        return self._jwks_uri

    def _load_keys(self) -> KeySet:
        document = self._fetch(self._discover())
        try:
            # Only public keys of the kinds the allowed algorithms use: a symmetric ("oct") key
            # in a provider's set would otherwise open the door to HMAC-signed forgeries.
            keys = [k for k in document.get("keys", []) if isinstance(k, dict) and k.get("kty") in ("RSA", "EC", "OKP")]
            key_set = KeySet.import_key_set({"keys": keys})
        except (JoseError, ValueError, TypeError) as exc:
            raise ProviderUnavailable(f"the keys of {self.issuer} cannot be read: {type(exc).__name__}") from None
        self.fetches += 1
        return key_set

    def ready(self) -> None:
        """Fetch the keys now (at start-up, and for the readiness check); raises ProviderUnavailable."""
        with self._fetch_lock:
            if self._keys is None:
                self._load_first()

    def _load_first(self) -> None:
        """The first keys; after a failure, not tried again for a while (an outage is not hammered)."""
        if self._clock() - self._last_failure < self.retry_seconds:
            raise ProviderUnavailable(f"the identity provider {self.issuer} could not be reached moments ago")
        try:
            self._keys = self._load_keys()
        except ProviderUnavailable:
            self._last_failure = self._clock()
            raise

    def _key_for(self, kid: str | None, alg: str, may_fetch: bool) -> Any:
        keys = self._keys  # a reference read: the event loop never waits for a lock or the network
        key = None if keys is None else _pick(keys, kid, alg)
        if key is not None:
            return key
        due = keys is None or self._clock() - self._last_refetch >= self.refetch_seconds
        if not due:
            raise InvalidToken("the token is signed with a key the identity provider does not publish")
        if not may_fetch:
            raise KeysNeeded
        with self._fetch_lock:  # one fetch at a time; who waited uses its result
            if self._keys is None:
                self._load_first()
            elif _pick(self._keys, kid, alg) is None and self._clock() - self._last_refetch >= self.refetch_seconds:
                self._last_refetch = self._clock()
                self._keys = self._load_keys()
            key = _pick(self._keys, kid, alg) if self._keys is not None else None
        if key is None:
            raise InvalidToken("the token is signed with a key the identity provider does not publish")
        return key

    # --- tokens ------------------------------------------------------------------------------

    def verify(self, token: str, *, may_fetch: bool = True) -> VerifiedToken:
        """The token's subject, issuer and id, or InvalidToken saying why not.

        With ``may_fetch=False`` nothing waits on the network: where the provider's keys must be
        fetched first, KeysNeeded is raised instead (the caller then verifies off the event loop).
        """
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("the token is too large")
        known = self._checked.get(token)
        # The very same token (every byte: a changed one is checked in full) under the same keys: its
        # signature holds, so only its times are checked again. Keys fetched anew check it in full.
        if known is not None and known[1] is self._keys:
            try:
                self._check_claims(known[0].claims)
            except InvalidToken:
                self._checked.pop(token, None)
                raise
            return known[0]
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError, TypeError):
            raise InvalidToken("the token is not a signed JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"the token's algorithm is not accepted (accepted: {', '.join(self.algorithms)})")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the token's key id is not a string")
        key = self._key_for(kid, str(alg), may_fetch)
        try:
            decoded = jwt.decode(token, key, algorithms=list(self.algorithms))
        except JoseError:
            raise InvalidToken("the token's signature does not verify") from None
        self.signature_checks += 1
        claims = decoded.claims
        self._check_claims(claims)
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise InvalidToken(f"the token has no usable {self.subject_claim!r} claim")
        jti = claims.get("jti")
        token_id = jti if isinstance(jti, str) and 0 < len(jti) <= 128 else _digest(token)
        verified = VerifiedToken(subject=subject, issuer=self.issuer, token_id=token_id, claims=claims)
        if self._keys is not None and self._remembered:
            if len(self._checked) >= self._remembered:
                self._checked.clear()  # rare (thousands of live tokens): each is checked in full once more
            self._checked[token] = (verified, self._keys)
        return verified

    def _check_claims(self, claims: dict[str, Any]) -> None:
        """Issuer, audience, expiry and not-before (with the leeway), as of now."""
        try:
            self._claims.validate(claims)
        except JoseError as exc:
            raise InvalidToken(_claim_problem(exc)) from None


def _pick(keys: KeySet, kid: str | None, alg: str) -> Any:
    kty = "OKP" if alg.startswith("Ed") else "EC" if alg.startswith("ES") else "RSA"
    candidates = [k for k in keys.keys if k.key_type == kty and (kid is None or k.kid == kid)]
    if kid is None and len(candidates) != 1:
        return None  # without a key id only an unambiguous key will do
    return candidates[0] if candidates else None


def _claim_problem(exc: JoseError) -> str:
    name = type(exc).__name__
    claim = getattr(exc, "claim", "") or ""
    if name == "ExpiredTokenError":
        return "the token has expired"
    if claim == "nbf" or "nbf" in str(exc):
        return "the token is not valid yet"
    if claim:
        return f"the token's {claim!r} claim is missing or not accepted"
    return "the token's claims are not accepted"


def _digest(token: str) -> str:
    """A stable id for a token without ``jti``: never the token itself, which would be a credential in the log."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:32]

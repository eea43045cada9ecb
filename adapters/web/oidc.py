"""Signing in at the identity provider: the authorization-code flow with PKCE (OpenID Connect).

The browser is sent to the provider with a fresh ``state``, ``nonce`` and PKCE challenge;
the provider sends it back with a code, which the server exchanges for an ID token at the
provider's token endpoint. The ID token is checked as the API checks access tokens (the
provider's published keys, issuer, expiry), with this client as its audience and the nonce
of this very sign-in, so a token minted for another client or another sign-in opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from casusregie.adapters.http.settings import ApiSettings
from casusregie.adapters.http.tokens import InvalidToken, ProviderUnavailable, TokenValidator, http_fetch
from casusregie.adapters.web.settings import WebSettings

RETRY_SECONDS = 10.0


class SignInFailed(Exception):
    """The provider's answer does not sign anyone in; the message says why (shown to the user)."""


@dataclass(frozen=True)
class PendingSignIn:
    """What the server remembers between sending the browser to the provider and its return."""

    state: str
    nonce: str
    verifier: str
    next_path: str

    @classmethod
    def new(cls, next_path: str) -> PendingSignIn:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_path)

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SignedIn:
    subject: str
    issuer: str


class RelyingParty:
    def __init__(self, api: ApiSettings, web: WebSettings, timeout: float = 10.0) -> None:
        self.issuer = api.issuer
        self.web = web
        self.timeout = timeout
        self._secret = web.client_secret()
        self._document: dict[str, Any] | None = None
        self._failed_at = float("-inf")
        self._fetch = http_fetch(timeout)
        # ID tokens: the provider's keys as the API uses them, this client as the audience.
        self.id_tokens = TokenValidator(
            issuer=api.issuer,
            audience=web.client_id,
            algorithms=api.algorithms,
            leeway=api.leeway_seconds,
            refetch_seconds=api.jwks_refetch_seconds,
            subject_claim=api.subject_claim,
            remembered=0,
        )

    def _discovery(self) -> dict[str, Any]:
        if self._document is None:
            if time.monotonic() - self._failed_at < RETRY_SECONDS:  # an outage is not asked again at every click
                raise ProviderUnavailable(f"the identity provider {self.issuer} could not be reached moments ago")
            try:
                document = self._fetch(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
            except ProviderUnavailable:
                self._failed_at = time.monotonic()
                raise
            if document.get("issuer") != self.issuer:
                raise ProviderUnavailable(f"the discovery document of {self.issuer} names another issuer")
            for name in ("authorization_endpoint", "token_endpoint"):
                if not isinstance(document.get(name), str):
                    raise ProviderUnavailable(f"the discovery document of {self.issuer} has no {name}")
            self._document = document
        return self._document

    def authorization_url(self, pending: PendingSignIn) -> str:
        query = {
            "client_id": self.web.client_id,
            "redirect_uri": self.web.redirect_uri,
            "response_type": "code",
            "scope": self.web.scope,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._discovery()['authorization_endpoint']}?{urlencode(query)}"

    def end_session_url(self) -> str | None:
        """The provider's sign-out address (RP-initiated logout), coming back to the signed-out page."""
        endpoint = self._discovery().get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = {"client_id": self.web.client_id, "post_logout_redirect_uri": self.web.signed_out_uri}
        return f"{endpoint}?{urlencode(query)}"

    def finish(self, pending: PendingSignIn, params: dict[str, str]) -> SignedIn:
        """The callback's parameters checked against the pending sign-in, the code exchanged, the ID token checked."""
        if "error" in params:
            code = params["error"] if re.fullmatch(r"[a-z_]{1,40}", params["error"]) else "error"
            raise SignInFailed(f"the identity provider did not sign you in ({code})")  # never free text from a link
        if not _same(params.get("state", ""), pending.state):
            raise SignInFailed("this sign-in was not started in this browser, or it was started again since")
        if "iss" in params and params["iss"] != self.issuer:  # RFC 9207: an answer from another provider
            raise SignInFailed("the answer came from another identity provider")
        code = params.get("code", "")
        if not code or len(code) > 2048:
            raise SignInFailed("the identity provider sent no code")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.web.redirect_uri,
            "code_verifier": pending.verifier,
        }
        auth = None
        if self._secret is None:
            form["client_id"] = self.web.client_id
        else:
            auth = httpx.BasicAuth(self.web.client_id, self._secret)
        try:
            response = httpx.post(self._discovery()["token_endpoint"], data=form, auth=auth, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"the identity provider's token endpoint did not answer: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise SignInFailed(f"the identity provider refused the code ({response.status_code})")
        try:
            id_token = response.json()["id_token"]
        except (ValueError, KeyError, TypeError):
            raise SignInFailed("the identity provider's answer holds no ID token") from None
        try:
            verified = self.id_tokens.verify(str(id_token))
        except InvalidToken as exc:
            raise SignInFailed(f"the ID token is not accepted: {exc}") from None
        if not _same(str(verified.claims.get("nonce", "")), pending.nonce):
            raise SignInFailed("the ID token belongs to another sign-in")
        return SignedIn(verified.subject, verified.issuer)


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))

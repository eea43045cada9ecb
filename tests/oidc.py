"""A real, independent OpenID Provider for the tests: panva's certified ``oidc-provider`` run by Node.

``Provider.start()`` runs ``tests/node/provider.mjs`` on 127.0.0.1 and waits for its ready line.
``Provider.token("alice")`` walks the real authorization-code flow with PKCE through the provider's
own endpoints (``/auth``, the login and consent interactions, ``/token`` with ``resource=``) and
returns the access token: a JWT for the provider's audience, ``sub`` = the login name, signed with
a key published in the provider's JWKS. Nothing here signs or fakes a token.

``restart(rotate_keys=True)`` starts the provider again on the same port (same issuer) with fresh
keys under new key ids, so a relying party that cached the old JWKS sees an unknown ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc.jwk import ECKey, RSAKey

NODE_DIR = Path(__file__).resolve().parent / "node"
PROVIDER_SCRIPT = NODE_DIR / "provider.mjs"
NODE_MODULES = NODE_DIR / "node_modules"

DEFAULT_AUDIENCE = "casusregie-api"
# Another API of the same issuer: its tokens carry this audience and must not open casusregie.
OTHER_AUDIENCE = "casusregie-other-api"
DEFAULT_CLIENT = "casusregie-test"
CONFIDENTIAL_CLIENT = "casusregie-test-confidential"
SHORT_LIVED_CLIENT = "casusregie-test-short"
WEB_CLIENT = "casusregie-web"  # the web application: a confidential client signing people in with their browser
SHORT_LIVED_TTL = 2
REDIRECT_URI = "http://127.0.0.1/cb"
RESOURCE_PREFIX = "urn:audience:"
START_TIMEOUT = 60.0  # a start takes 1-2 s; on a loaded shared two-core machine one took over 20 s


class ProviderError(RuntimeError):
    """The provider did not start, or a step of the token flow did not go as the protocol says."""


def node_problem() -> str | None:
    """Why the provider cannot run here (None when it can): no ``node``, or no installed node_modules."""
    if shutil.which("node") is None:
        return "Node.js (node) is not installed: the OpenID Provider and Spectral run on it"
    if not (NODE_MODULES / "oidc-provider" / "package.json").is_file():
        return f"{NODE_MODULES} is not installed: run `make test` or `npm ci --prefix tests/node`"
    return None


def resource_for(audience: str) -> str:
    """The resource indicator (RFC 8707: an absolute URI) under which ``audience`` is requested; the
    token's ``aud`` is ``audience`` itself (provider.mjs maps it back)."""
    scheme, colon, _ = audience.partition(":")
    if colon and scheme and scheme[0].isalpha() and all(c.isalnum() or c in "+.-" for c in scheme):
        return audience
    return RESOURCE_PREFIX + audience


def signing_keys(kid_prefix: str) -> dict[str, Any]:
    """Fresh private keys for one start of the provider (never stored): made here rather than by Node, whose
    key generation has been seen to hang at start-up on a loaded machine."""
    rsa = RSAKey.generate_key(2048, private=True).as_dict(private=True)
    ec = ECKey.generate_key("P-256", private=True).as_dict(private=True)
    return {
        "keys": [
            {**rsa, "kid": f"{kid_prefix}-rs256", "alg": "RS256", "use": "sig"},
            {**ec, "kid": f"{kid_prefix}-es256", "alg": "ES256", "use": "sig"},
        ]
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def default_clients(secret: str, web_base: str | None = None) -> list[dict[str, Any]]:
    """A public PKCE client, a confidential one (client_secret_basic) and a public one whose access
    tokens live ``SHORT_LIVED_TTL`` seconds (for expiry tests); with ``web_base`` (the web application's
    public URL) also the web application's client, which comes back there after signing in and out."""
    common = {
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    }
    return [
        {"client_id": DEFAULT_CLIENT, "token_endpoint_auth_method": "none", **common},
        {
            "client_id": CONFIDENTIAL_CLIENT,
            "client_secret": secret,
            "token_endpoint_auth_method": "client_secret_basic",
            **common,
        },
        {
            "client_id": SHORT_LIVED_CLIENT,
            "token_endpoint_auth_method": "none",
            "access_token_ttl": SHORT_LIVED_TTL,
            **common,
        },
        *(
            [
                {
                    "client_id": WEB_CLIENT,
                    "client_secret": secret,
                    "token_endpoint_auth_method": "client_secret_basic",
                    "redirect_uris": [f"{web_base}/aanmelden/terug"],
                    "post_logout_redirect_uris": [f"{web_base}/afgemeld"],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                }
            ]
            if web_base
            else []
        ),
    ]


@dataclass
class Provider:
    """A running ``oidc-provider``; use as a context manager or call :meth:`stop`.

    ``audience`` is the default resource; ``audiences`` all resources the provider issues JWT access
    tokens for (the default one first). ``kids`` are the key ids of the current keys.
    """

    port: int
    audience: str
    audiences: tuple[str, ...]
    signing_alg: str
    access_token_ttl: int
    client_secret: str
    web_base: str | None = None
    issuer: str = ""
    kids: tuple[str, ...] = ()
    kid_prefix: str = ""
    _process: subprocess.Popen[str] | None = field(default=None, repr=False)
    _stderr: list[str] = field(default_factory=list, repr=False)
    _tokens: dict[tuple[str, str, str], tuple[str, float]] = field(default_factory=dict, repr=False)

    # -- life cycle ---------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        port: int = 0,
        audience: str = DEFAULT_AUDIENCE,
        *,
        extra_audiences: tuple[str, ...] = (),
        signing_alg: str = "RS256",
        access_token_ttl: int = 600,
        kid_prefix: str | None = None,
        web_base: str | None = None,
    ) -> Provider:
        """Start a provider on 127.0.0.1:``port`` (0: a free port) and wait until it serves; with
        ``web_base`` it also knows the web application served there as a client."""
        provider = cls(
            port=port,
            audience=audience,
            audiences=(audience, *extra_audiences),
            signing_alg=signing_alg,
            access_token_ttl=access_token_ttl,
            client_secret=secrets.token_urlsafe(24),
            web_base=web_base,
        )
        provider._launch(kid_prefix or secrets.token_hex(6))
        return provider

    def _launch(self, kid_prefix: str) -> None:
        problem = node_problem()
        if problem is not None:
            raise ProviderError(problem)
        config = {
            "audiences": list(self.audiences),
            "signing_alg": self.signing_alg,
            "kid_prefix": kid_prefix,
            "jwks": signing_keys(kid_prefix),
            "access_token_ttl": self.access_token_ttl,
            "clients": default_clients(self.client_secret, self.web_base),
        }
        env = {**os.environ, "OIDC_PROVIDER_CONFIG": json.dumps(config)}
        # stdin stays open: the provider stops by itself when it closes (this process died).
        process = subprocess.Popen(
            ["node", str(PROVIDER_SCRIPT), str(self.port)],
            cwd=NODE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._process = process
        self._stderr = []
        assert process.stderr is not None
        assert process.stdout is not None
        threading.Thread(target=_drain, args=(process.stderr, self._stderr), daemon=True).start()
        ready = _read_line(process.stdout, START_TIMEOUT)
        if ready is None:
            ended = process.poll() is not None  # it ended by itself (a busy port, say) rather than hanging
            where = "" if ended else _where(process.pid)
            self.stop()
            what = "ended before it printed" if ended else f"did not print within {START_TIMEOUT:.0f} s"
            raise ProviderError(
                f"the OpenID Provider (port {self.port}) {what} its ready line; "
                f"exit code {process.returncode}; {where}stderr:\n{self.stderr()}"
            )
        info = json.loads(ready)
        self.issuer = info["issuer"]
        self.port = int(info["port"])
        self.kids = tuple(info["kids"])
        self.kid_prefix = kid_prefix
        self._tokens.clear()

    def restart(self, rotate_keys: bool = True) -> None:
        """Stop and start again on the same port (same issuer); with ``rotate_keys`` under new key ids.

        The provider keeps its grants in memory, so tokens and refresh tokens of the previous run are
        unknown to the new one (JWT access tokens stay verifiable only with the old keys)."""
        self.stop()
        deadline = time.monotonic() + 5
        while True:
            try:
                self._launch(secrets.token_hex(6) if rotate_keys else self.kid_prefix)
                return
            except ProviderError:
                if time.monotonic() > deadline:  # the port may take a moment to be free again
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr(self) -> str:
        """What the provider wrote to stderr so far (warnings and protocol errors)."""
        return "".join(self._stderr)

    # -- what a relying party reads -----------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict[str, Any]:
        return httpx.get(self.discovery_url, timeout=5).raise_for_status().json()

    def jwks(self) -> dict[str, Any]:
        return httpx.get(self.discovery()["jwks_uri"], timeout=5).raise_for_status().json()

    # -- tokens -------------------------------------------------------------------------------------------

    def token(
        self,
        subject: str,
        client: str = DEFAULT_CLIENT,
        *,
        audience: str | None = None,
        fresh: bool = False,
    ) -> str:
        """A JWT access token for ``subject`` (the login name = ``sub``), issued to ``client`` for
        ``audience`` (default: the provider's), through the authorization-code flow with PKCE.

        Tokens are cached per (subject, client, audience) for this run of the provider while they have
        more than a minute left; ``fresh=True`` always runs the flow (and the short-lived client's
        tokens are never cached)."""
        audience = audience or self.audience
        key = (subject, client, audience)
        cached = self._tokens.get(key)
        if not fresh and cached is not None and cached[1] - time.time() > 60:
            return cached[0]
        response = self.token_response(subject, client, audience=audience)
        access_token = str(response["access_token"])
        self._tokens[key] = (access_token, time.time() + float(response.get("expires_in", 0)))
        return access_token

    def token_response(
        self,
        subject: str,
        client: str = DEFAULT_CLIENT,
        *,
        audience: str | None = None,
        scope: str = "openid api",
    ) -> dict[str, Any]:
        """The whole token-endpoint response (access_token, token_type, expires_in, id_token,
        refresh_token, scope) of one fresh authorization-code flow with PKCE."""
        audience = audience or self.audience
        verifier = _b64url(secrets.token_bytes(32))
        challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        state = secrets.token_urlsafe(16)
        with httpx.Client(base_url=self.issuer, timeout=10, follow_redirects=False) as http:
            response = http.get(
                "/auth",
                params={
                    "client_id": client,
                    "redirect_uri": REDIRECT_URI,
                    "response_type": "code",
                    "scope": scope,
                    "state": state,
                    "nonce": secrets.token_urlsafe(16),
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "resource": resource_for(audience),
                },
            )
            code = self._interact(http, response, subject, state)
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                "resource": resource_for(audience),
            }
            auth = None
            if client == CONFIDENTIAL_CLIENT:
                auth = httpx.BasicAuth(client, self.client_secret)
            else:
                form["client_id"] = client
            token = http.post("/token", data=form, auth=auth)
            if token.status_code != 200:
                raise ProviderError(f"token endpoint: {token.status_code} {token.text}\n{self.stderr()}")
            return dict(token.json())

    def refresh(
        self, refresh_token: str, client: str = DEFAULT_CLIENT, *, audience: str | None = None
    ) -> dict[str, Any]:
        """Use a refresh token (from :meth:`token_response`) at the token endpoint."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "resource": resource_for(audience or self.audience),
        }
        auth = None
        if client == CONFIDENTIAL_CLIENT:
            auth = httpx.BasicAuth(client, self.client_secret)
        else:
            form["client_id"] = client
        response = httpx.post(f"{self.issuer}/token", data=form, auth=auth, timeout=10)
        if response.status_code != 200:
            raise ProviderError(f"token endpoint: {response.status_code} {response.text}\n{self.stderr()}")
        return dict(response.json())

    def _interact(self, http: httpx.Client, response: httpx.Response, subject: str, state: str) -> str:
        """Follow the redirects of the authorization endpoint, logging in as ``subject`` and confirming
        consent when asked, until the provider redirects to the client with the code."""
        for _ in range(10):
            if response.status_code not in (302, 303):
                raise ProviderError(f"{response.request.url}: {response.status_code} {response.text}\n{self.stderr()}")
            location = response.headers["location"]
            if location.startswith(REDIRECT_URI):
                query = parse_qs(urlsplit(location).query)
                if "error" in query:
                    raise ProviderError(f"authorization refused: {query}")
                if query.get("state") != [state] or query.get("iss") != [self.issuer]:
                    raise ProviderError(f"callback with the wrong state or issuer: {location}")
                return query["code"][0]
            path = urlsplit(location).path
            if path.startswith("/interaction/"):
                prompt = http.get(path).raise_for_status().json()["prompt"]
                if prompt == "login":
                    response = http.post(f"{path}/login", data={"login": subject, "password": "any"})
                elif prompt == "consent":
                    response = http.post(f"{path}/confirm")
                else:
                    raise ProviderError(f"unexpected interaction prompt {prompt!r}")
            else:
                response = http.get(location)
        raise ProviderError("the authorization flow did not reach the client's redirect URI in 10 steps")


def _where(pid: int) -> str:
    """What a process that does not answer is doing, as far as /proc tells (for the error message)."""
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State"))
    except (OSError, StopIteration):
        return ""
    return f"it was waiting in {wchan or '-'} ({state}); "


def _drain(stream: IO[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)


def _read_line(stream: IO[str], timeout: float) -> str | None:
    """The first line of ``stream``, or None when none comes within ``timeout`` (or it closes first)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0].strip():
        return None
    return lines[0]

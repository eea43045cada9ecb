"""The ``[web]`` section of the config file: the web application's client at the identity provider.

The web application signs people in at the same provider the API trusts (``[api] issuer``),
as its own client: an authorization-code flow with PKCE, and a client secret where the
provider registered one (read from a file of its own, never from the config, which is
shared more widely than a secret should be). ``public_url`` is the address the browser
uses; the provider sends people back to it after signing in and out.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from casusregie.domain.errors import ValidationFailed

CALLBACK = "/aanmelden/terug"  # where the provider sends the browser back with the code
SIGNED_OUT = "/afgemeld"  # where the provider's end-session sends it after signing out


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    client_secret_file: Path | None = None
    public_url: str = Field(max_length=255)
    session_idle_minutes: int = Field(default=30, ge=1, le=480)
    session_max_hours: int = Field(default=10, ge=1, le=24)
    scope: str = Field(default="openid", pattern=r"^[\x21-\x7e]+( [\x21-\x7e]+)*$", max_length=255)
    development: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"public_url is the address of the web application, such as https://regie.example.nl, "
                f"not {self.public_url!r}"
            )
        if parts.scheme == "http" and not self.development:
            raise ValueError("public_url is not https; session cookies travel only over https outside development")
        if "scope" in self.model_fields_set and "openid" not in self.scope.split():
            raise ValueError("scope must contain openid: sign-in is OpenID Connect")
        return self

    @property
    def base(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return self.base + CALLBACK

    @property
    def signed_out_uri(self) -> str:
        return self.base + SIGNED_OUT

    @property
    def secure(self) -> bool:
        return self.public_url.startswith("https://")

    def client_secret(self) -> str | None:
        """The secret, read from its file (which only its owner may read), or None for a public client."""
        if self.client_secret_file is None:
            return None
        path = self.client_secret_file
        try:
            mode = path.stat().st_mode
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"the web client secret file {path} cannot be read: {exc}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValidationFailed(f"the web client secret file {path} is readable by others; chmod 600 it")
        if not secret or any(ord(c) < 0x21 or ord(c) > 0x7E for c in secret):
            raise ValidationFailed(f"the web client secret file {path} is empty or holds more than one line")
        return secret


def web_settings(section: dict[str, Any], source: str, *, development: bool, base: Path | None) -> WebSettings | None:
    """The ``[web]`` table, checked (None: no web application); one clear line when something is wrong.

    ``development`` is the ``[api]`` section's: a development provider makes a development web client."""
    if not section:
        return None
    if "development" in section:
        raise ValidationFailed(f"{source} [web]: development is set in [api], for both")
    try:
        settings = WebSettings.model_validate({**section, "development": development})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ValidationFailed(f"{source} [web]{' ' + where if where else ''}: {message}") from None
    path = settings.client_secret_file
    if path is not None and not path.is_absolute() and base is not None:
        settings = settings.model_copy(update={"client_secret_file": base / path})
    settings.client_secret()  # a secret file that cannot be used stops the start, not the first sign-in
    return settings

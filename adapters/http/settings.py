"""The ``[api]`` section of the config file: who vouches for callers, and how the service listens.

The identity provider's issuer is the one setting nothing can default: casusregie trusts
exactly one issuer, named by the municipality. A provider on plain http is a development
provider; it is accepted only with ``development = true``, and such a service listens on
the loopback address only, so that production configuration never trusts one.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from casusregie.commands.users import checked_issuer
from casusregie.domain.errors import ValidationFailed

# Asymmetric signatures only: an HMAC algorithm would let anyone who knows the provider's
# public key (everyone) sign tokens with it, and "none" signs nothing.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class ApiSettings(BaseModel):
    """What ``regie serve`` needs beyond the store (see the README, "Running the service")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(max_length=255)
    audience: str = Field(min_length=1, max_length=255)
    subject_claim: str = Field(default="sub", min_length=1, max_length=64)
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwks_refetch_seconds: float = Field(default=60.0, ge=5, le=86400)  # at most one refetch per this many s
    listen: str = "127.0.0.1:8400"
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=50_000_000)
    workers: int = Field(default=1, ge=1, le=64)
    timeout_seconds: int = Field(default=30, ge=1, le=600)
    max_connections: int = Field(default=200, ge=1, le=10_000)
    development: bool = False
    log_format: Literal["json", "none"] = "json"

    _issuer_url = field_validator("issuer")(lambda v: checked_issuer(v))

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [a for a in value if a not in ALGORITHMS]
        if wrong or not value:
            raise ValueError(f"algorithms are asymmetric signature algorithms ({', '.join(ALGORITHMS)}), not {wrong}")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"trusted proxy {item!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        host, _ = self.address
        insecure = urlsplit(self.issuer).scheme != "https"
        if insecure and not self.development:
            raise ValueError(
                f"the issuer {self.issuer} is not https; only a development set-up (development = true) trusts a "
                "provider on plain http"
            )
        if self.development and host not in LOOPBACK:
            raise ValueError("a development set-up (development = true) listens on the loopback address only")
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ValueError("give both tls_certificate and tls_key, or neither")
        return self

    @property
    def address(self) -> tuple[str, int]:
        host, sep, port = self.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
            raise ValueError(f"listen is HOST:PORT, such as 127.0.0.1:8400, not {self.listen!r}")
        return host.strip("[]"), int(port)


def api_settings(section: dict[str, Any], source: str) -> ApiSettings:
    """The ``[api]`` table, checked; one clear line when something is missing or wrong."""
    if not section:
        raise ValidationFailed(f"{source} has no [api] section: `regie serve` needs at least issuer and audience")
    try:
        settings = ApiSettings.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ValidationFailed(f"{source} [api]{' ' + where if where else ''}: {message}") from None
    for path in (settings.tls_certificate, settings.tls_key):
        if path is not None and not path.is_file():
            raise ValidationFailed(f"{source} [api]: {path} does not exist")
    return settings

"""Errors as RFC 9457 problem details (``application/problem+json``), as the NL GOV ADR require.

One clear line in ``detail``; never a stack trace, a key, a token or personal data. The
members are ``type``, ``title``, ``status``, ``detail`` and ``instance`` only.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from casusregie.domain.errors import (
    AccessDenied,
    Conflict,
    DomainRuleViolation,
    NotFound,
    PreconditionFailed,
    RegieError,
    StoreProblem,
    ValidationFailed,
)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default="about:blank", description="a URI naming the kind of problem")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="one line saying what went wrong and what was (not) done")
    instance: str | None = Field(default=None, description="the request path")


def status_of(exc: BaseException) -> int:
    """The HTTP status of an error meant for the user."""
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PreconditionFailed):
        return 412
    if isinstance(exc, Conflict | DomainRuleViolation):
        return 409
    if isinstance(exc, ValidationFailed):
        return 422
    if isinstance(exc, StoreProblem):
        return 503
    assert isinstance(exc, RegieError)
    return 400


def problem(
    status: int, detail: str, instance: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": one_line(detail),
    }
    if instance is not None:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def one_line(text: str, limit: int = 500) -> str:
    """What the caller is shown: one line of printable text, not too long."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

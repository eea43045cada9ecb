"""Safe retries: a command given a request id is carried out at most once.

A client that lost the answer (a dropped connection, a killed script) runs the command
again with the same request id and gets the first answer back; nothing is done twice.
The same id with another command, or by another user, is refused: it is a client's
mistake, and guessing which was meant could do the wrong thing. The CLI's
``--request-id`` and the API's ``Idempotency-Key`` are this one mechanism.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from casusregie.commands.base import Command, Result
from casusregie.domain.errors import ValidationFailed

_FORM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass(frozen=True)
class Earlier:
    """A request id as the store remembers it."""

    actor: str
    fingerprint: str
    stored_at: str
    answer: str | None  # the first answer as JSON; None if the process ended before keeping it


class RequestMemory(Protocol):
    """Where request ids are kept (the store; see ``adapters.request_ids``)."""

    def find(self, request_id: str) -> Earlier | None: ...
    def claim(self, request_id: str, actor: str, fingerprint: str) -> Callable[[Any], None]: ...
    def answer(self, request_id: str, answer: str) -> None: ...


def checked_request_id(value: str) -> str:
    if not _FORM.fullmatch(value):
        raise ValidationFailed(
            "a request id is 1 to 128 characters: letters, digits and . _ : - (a UUID will do), "
            "starting with a letter or digit"
        )
    return value


def fingerprint(command: Command, actor: str, on_behalf_of: str | None) -> str:
    """What makes two attempts the same command: who, which command, and the input as given.

    Only the fields given count (``exclude_unset``): a retry the next day without ``--on``
    is the same command, though its default date would differ.
    """
    given = command.model_dump(mode="json", exclude_unset=True)
    text = json.dumps([command.name, actor, on_behalf_of, given], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def answer_text(result: Result) -> str:
    return json.dumps({"message": result.message, "data": result.data}, sort_keys=True, default=str)


def replay(request_id: str, earlier: Earlier, print_: str) -> Result:
    """The first answer to ``request_id``, for a retry whose fingerprint is ``print_``."""
    if earlier.fingerprint != print_:
        raise ValidationFailed(
            f"request id {request_id} was already used for another command or by another user; nothing was done "
            "(give each new command a new request id)"
        )
    if earlier.answer is None:
        return Result(
            f"request {request_id} was already carried out (at {earlier.stored_at}); its answer was not kept; "
            "nothing was done again",
            {"request_id": request_id, "repeated": True},
        )
    first = json.loads(earlier.answer)
    return Result(str(first["message"]), dict(first.get("data") or {}))

"""A command that fails after its access record was committed leaves the failure in the log too (CLI and API alike).

Audit first: a read or an export is logged before its data leaves the process, so a failure
while the data is being written out (a full disk, a record that no longer opens halfway
through an export) comes after an "ok" record. That record is an event in a tamper-evident
log and is never changed; a second record follows it, same name, action and case, with
outcome "error" and the line the user was shown. So the log ends with the outcome the user
saw. Input is checked before the first record is written, so bad input leaves neither.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from uuid import UUID

from casusregie.commands.session import Session
from casusregie.domain.access import Action, Outcome
from casusregie.domain.errors import RegieError

_REASON_CHARS = 300


def failure_reason(exc: BaseException) -> str:
    """The first line of what the user is told, kept short (a path in it may be long)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if not isinstance(exc, RegieError):
        line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 1] + "…"


@contextmanager
def failure_recorded(
    session: Session,
    name: str,
    activity: str,
    action: Action,
    case_id: UUID | None = None,
    subjects: Iterable[UUID | str] = (),
    prefix: str = "",
) -> Iterator[None]:
    """Run the work that follows an access record; if it fails, record that, then let the error go on.

    Recording the failure is best effort: when the store cannot take it either, the user still
    gets the error that stopped the command, not this one.
    """
    try:
        yield
    except BaseException as exc:
        with contextlib.suppress(Exception):
            session.record_outcome(
                name, activity, action, prefix + failure_reason(exc), case_id, subjects, Outcome.ERROR
            )
        raise

"""Writing the access log, audit first (eerst loggen, dan pas gegevens).

A command's access records go into the same transaction as its domain events; a read's
records are committed before any data is handed back. If the write fails, the caller
gets an error and no data (fail closed). Denied attempts are logged as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from casusregie.domain.access import AccessTrace, Action, Outcome, new_span_id
from casusregie.domain.roles import Actor

PERSON = "person"  # dpl.core.data_subject_id_type for our random person ids


def build_trace(
    *,
    actor: Actor,
    name: str,
    action: Action | str,
    activity: str,
    case_id: UUID | None,
    subjects: Iterable[UUID | str],
    outcome: Outcome = Outcome.OK,
    reason: str = "",
    started_at: datetime | None = None,
) -> AccessTrace:
    """An access trace: the root record carries the first data subject, a child record each further one."""
    now = datetime.now(UTC)
    distinct = list(dict.fromkeys(str(s) for s in subjects))
    trace = AccessTrace(
        span_id=new_span_id(),
        name=name,
        actor=actor.user_id,
        on_behalf_of=actor.on_behalf_of,
        role=str(actor.role),
        organisation=actor.organisation,
        action=str(action),
        activity=activity,
        case_id=case_id,
        outcome=str(outcome),
        reason=reason,
        started_at=started_at or now,
        ended_at=now,
        subject_id=distinct[0] if distinct else None,
        subject_type=PERSON if distinct else "",
    )
    for subject in distinct[1:]:
        trace.touch(span_id=new_span_id(), subject_id=subject, subject_type=PERSON)
    return trace

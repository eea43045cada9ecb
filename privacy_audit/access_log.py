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
from casusregie.domain.roles import Actor, Authentication

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
    auth = actor.authentication
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
        **({} if auth is None else authentication_fields(auth)),
    )
    for subject in distinct[1:]:
        trace.touch(span_id=new_span_id(), subject_id=subject, subject_type=PERSON)
    return trace


def authentication_fields(auth: Authentication) -> dict[str, str]:
    return {
        "authenticated_subject": auth.subject,
        "issuer": auth.issuer,
        "token_id": auth.token_id,
        "client_address": auth.client_address,
    }


def unknown_subject_trace(name: str, auth: Authentication, reason: str) -> AccessTrace:
    """The refusal of a caller the identity provider knows but this store does not (no user to name)."""
    now = datetime.now(UTC)
    return AccessTrace(
        span_id=new_span_id(),
        name=name,
        actor="",
        on_behalf_of=None,
        role="",
        organisation="",
        action=str(Action.ACCESS),
        activity="beheer",
        case_id=None,
        outcome=str(Outcome.DENIED),
        reason=reason,
        started_at=now,
        ended_at=now,
        **authentication_fields(auth),
    )

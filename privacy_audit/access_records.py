"""The access log read from its own records (de geverifieerde toegangslog), not from a view.

What the privacy officer and the auditor are told about who processed what must come from
the tamper-evident records themselves: every AccessTrace event in the event store is
authenticated on decryption (AES-GCM bound to its row) and covered by the Merkle tree. The
queryable view (``projections.access``) is a cache for looking things up; someone with write
access to the database could edit or delete its rows without a key. So `log show` and the
LDV export read the records, and :func:`view_differences` tells `audit verify` where the
view no longer matches them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import astuple
from datetime import datetime
from typing import Any
from uuid import UUID

from casusregie.domain.access import AccessTrace
from casusregie.domain.errors import StoreProblem
from casusregie.projections.access import AccessLogProjection, AccessRow
from casusregie.projections.runner import read_position

STARTED = f"{AccessTrace.__module__}:AccessTrace.Started"
TOUCHED = f"{AccessTrace.__module__}:AccessTrace.SubjectTouched"
_WINDOW = 5000  # notification ids read per query
_PENDING = 1000  # traces held back in a forward scan while their subject records may still follow

Subjects = list[tuple[str, str, str]]  # (span id, subject id, subject type)
Trace = tuple[AccessRow, Subjects]


def _decode(app: Any, notification: Any) -> Any:
    try:
        return app.mapper.to_domain_event(notification)
    except StoreProblem as exc:
        raise StoreProblem(
            f"an access-log record (notification {notification.id}) does not open as written: {exc}; "
            "run `regie audit verify`"
        ) from None


def _window(app: Any, start: int, stop: int) -> list[Any]:
    return list(app.recorder.select_notifications(start=start, stop=stop, limit=_WINDOW, topics=(STARTED, TOUCHED)))


def newest_first(app: Any) -> Iterator[Trace]:
    """Every trace, newest first; each subject record is met before the trace that it belongs to."""
    for event, kids in newest_first_events(app):
        yield AccessRow.of(event), kids


def authentication_of(started: Any) -> dict[str, str] | None:
    """How the actor of a trace was authenticated; None for the operator's CLI (and older records)."""
    if not getattr(started, "issuer", ""):
        return None
    return {
        "subject": started.authenticated_subject,
        "issuer": started.issuer,
        "token_id": started.token_id,
        "client_address": started.client_address,
    }


def newest_first_events(app: Any) -> Iterator[tuple[Any, Subjects]]:
    """As :func:`newest_first`, with the Started event itself rather than its row."""
    top = int(app.recorder.max_notification_id() or 0)
    children: dict[Any, Subjects] = {}
    while top > 0:
        start = max(1, top - _WINDOW + 1)
        for notification in reversed(_window(app, start, top)):
            event = _decode(app, notification)
            if notification.topic == TOUCHED:
                children.setdefault(event.originator_id, []).insert(
                    0, (event.span_id, event.subject_id, event.subject_type)
                )
                continue
            kids = children.pop(event.originator_id, [])
            if event.subject_id is not None:
                kids.insert(0, (event.span_id, event.subject_id, event.subject_type))
            yield event, kids
        top = start - 1


def _forward(app: Any) -> Iterator[tuple[int, Any, Subjects]]:
    """(notification id, Started event, subjects) of every trace, oldest first."""
    pending: OrderedDict[Any, tuple[int, Any, Subjects]] = OrderedDict()
    head = int(app.recorder.max_notification_id() or 0)
    start = 1
    while start <= head:
        for notification in _window(app, start, start + _WINDOW - 1):
            event = _decode(app, notification)
            if notification.topic == TOUCHED:
                found = pending.get(event.originator_id)
                if found is not None:
                    found[2].append((event.span_id, event.subject_id, event.subject_type))
                continue
            kids = [] if event.subject_id is None else [(event.span_id, event.subject_id, event.subject_type)]
            pending[event.originator_id] = (notification.id, event, kids)
            while len(pending) > _PENDING:  # a trace's subject records follow it in its own commit
                yield pending.popitem(last=False)[1]
        start += _WINDOW
    while pending:
        yield pending.popitem(last=False)[1]


def oldest_first(app: Any, since: datetime | None = None) -> Iterator[Trace]:
    """Every trace, oldest first (for exports); ``since`` keeps those started at or after it."""
    for _, event, kids in _forward(app):
        if since is None or event.started_at >= since:
            yield AccessRow.of(event), kids


def authenticated(app: Any, rows: list[tuple[AccessRow, str]]) -> list[tuple[AccessRow, str]]:
    """View rows replaced by what their records say; a row with no record behind it fails closed."""
    out = []
    for viewed, span in rows:
        try:
            trace = app.repository.get(UUID(viewed.trace_id))
        except Exception:
            raise StoreProblem(
                f"the access-log view lists record {viewed.trace_id}, which the log does not hold as written; "
                "run `regie audit verify` and `regie projections rebuild`"
            ) from None
        out.append((AccessRow.of(trace, trace.id), span))
    return out


def view_differences(app: Any, limit: int = 10) -> list[str]:
    """Where the access-log view does not match the records it was built from (empty: it matches).

    Only records the view has caught up with are compared, so a view that is merely behind
    is not reported.
    """
    with app.store.db.transaction(commit=False) as tx:
        position = read_position(tx)
        viewed = AccessLogProjection.rows(tx)
        viewed_subjects = AccessLogProjection.subject_rows(tx)
    recorded: dict[str, tuple[Any, ...]] = {}
    recorded_subjects: set[tuple[Any, ...]] = set()
    for notification_id, event, kids in _forward(app):
        if notification_id > position:
            continue  # the view has not caught up with it yet
        row = AccessRow.of(event)
        recorded[row.trace_id] = astuple(row)
        recorded_subjects |= {(row.trace_id, *kid) for kid in kids}
    out = []
    for trace_id in sorted(set(recorded) | set(viewed)):
        mine, theirs = recorded.get(trace_id), viewed.get(trace_id)
        if mine != theirs:
            what = "is missing from the view" if theirs is None else "is not in the log" if mine is None else "differs"
            out.append(f"access record {trace_id} {what}")
    for subject in sorted(viewed_subjects ^ recorded_subjects):
        out.append(f"subject span {subject[1]} of access record {subject[0]} differs between the view and the log")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])

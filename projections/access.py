"""The access log as a queryable table (toegangslog), built from the AccessTrace events.

The events are the record (encrypted, in the Merkle tree); these tables index them so
that an inzage can list a person's consultations, an auditor can search the log, and the
LDV export can stream it, without decrypting the whole log each time. Rows hold user ids
and random person ids, never names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from casusregie.adapters.sql import Tx
from casusregie.domain.access import AccessTrace
from casusregie.projections.runner import TableProjection

DDL = (
    """CREATE TABLE IF NOT EXISTS regie_access_traces (
        trace_id TEXT PRIMARY KEY,
        span_id TEXT NOT NULL,
        name TEXT NOT NULL,
        actor TEXT NOT NULL,
        on_behalf_of TEXT,
        role TEXT NOT NULL,
        organisation TEXT NOT NULL,
        action TEXT NOT NULL,
        activity TEXT NOT NULL,
        case_id TEXT,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS regie_access_traces_case ON regie_access_traces (case_id)",
    """CREATE TABLE IF NOT EXISTS regie_access_subjects (
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        subject_type TEXT NOT NULL,
        PRIMARY KEY (trace_id, span_id))""",
    "CREATE INDEX IF NOT EXISTS regie_access_subjects_subject ON regie_access_subjects (subject_id)",
    # How the actor of an API call was authenticated (NEN 7513): only traces that have it.
    """CREATE TABLE IF NOT EXISTS regie_access_authentication (
        trace_id TEXT PRIMARY KEY,
        authenticated_subject TEXT NOT NULL,
        issuer TEXT NOT NULL,
        token_id TEXT NOT NULL,
        client_address TEXT NOT NULL)""",
)

_TRACE_COLUMNS = (
    "trace_id, span_id, name, actor, on_behalf_of, role, organisation, action, activity, case_id, outcome, reason, "
    "started_at, ended_at"
)


@dataclass(frozen=True)
class AccessRow:
    """One processing (root record) of the access log."""

    trace_id: str
    span_id: str
    name: str
    actor: str
    on_behalf_of: str | None
    role: str
    organisation: str
    action: str
    activity: str
    case_id: str | None
    outcome: str
    reason: str
    started_at: str
    ended_at: str

    @classmethod
    def of(cls, started: Any, trace_id: UUID | None = None) -> AccessRow:
        """From a Started event, or an AccessTrace aggregate (which holds the same fields) and its id."""
        return cls(
            trace_id=(trace_id or started.originator_id).hex,
            span_id=started.span_id,
            name=started.name,
            actor=started.actor,
            on_behalf_of=started.on_behalf_of,
            role=started.role,
            organisation=started.organisation,
            action=started.action,
            activity=started.activity,
            case_id=str(started.case_id) if started.case_id else None,
            outcome=started.outcome,
            reason=started.reason,
            started_at=started.started_at.isoformat(),
            ended_at=started.ended_at.isoformat(),
        )


def _trace_row(started: Any) -> tuple[Any, ...]:
    """``astuple(AccessRow.of(started))`` without the intermediate object and its deep copy (once per trace)."""
    case_id = started.case_id
    return (
        started.originator_id.hex,
        started.span_id,
        started.name,
        started.actor,
        started.on_behalf_of,
        started.role,
        started.organisation,
        started.action,
        started.activity,
        str(case_id) if case_id else None,
        started.outcome,
        started.reason,
        started.started_at.isoformat(),
        started.ended_at.isoformat(),
    )


class AccessLogProjection(TableProjection):
    ddl = DDL
    tables = ("regie_access_traces", "regie_access_subjects", "regie_access_authentication")
    name = "access"

    def __init__(self, app: Any) -> None:
        self.app = app

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        traces, subjects, authentications = [], [], []
        for _, event in events:
            if isinstance(event, AccessTrace.Started):
                traces.append(_trace_row(event))
                if getattr(event, "issuer", ""):
                    authentications.append(
                        (
                            event.originator_id.hex,
                            event.authenticated_subject,
                            event.issuer,
                            event.token_id,
                            event.client_address,
                        )
                    )
                if event.subject_id is not None:  # the root record carries the first person touched
                    subjects.append((event.originator_id.hex, event.span_id, event.subject_id, event.subject_type))
            elif isinstance(event, AccessTrace.SubjectTouched):
                subjects.append((event.originator_id.hex, event.span_id, event.subject_id, event.subject_type))
        tx.executemany(
            f"INSERT INTO regie_access_traces ({_TRACE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (trace_id) DO NOTHING",
            traces,
        )
        tx.executemany(
            "INSERT INTO regie_access_subjects (trace_id, span_id, subject_id, subject_type) VALUES (?,?,?,?) "
            "ON CONFLICT (trace_id, span_id) DO NOTHING",
            subjects,
        )
        tx.executemany(
            "INSERT INTO regie_access_authentication (trace_id, authenticated_subject, issuer, token_id, "
            "client_address) VALUES (?,?,?,?,?) ON CONFLICT (trace_id) DO NOTHING",
            authentications,
        )

    # --- queries ---------------------------------------------------------------------

    @staticmethod
    def consultations(tx: Tx, subject: UUID) -> list[tuple[AccessRow, str]]:
        """Every processing that touched one person, with the child span id."""
        rows = tx.execute(
            f"SELECT {', '.join('t.' + c.strip() for c in _TRACE_COLUMNS.split(','))}, s.span_id AS subject_span "
            "FROM regie_access_subjects s JOIN regie_access_traces t ON t.trace_id = s.trace_id "
            "WHERE s.subject_id = ? ORDER BY t.started_at",
            (str(subject),),
        ).fetchall()
        return [(AccessRow(*r[:14]), r[14]) for r in rows]

    @staticmethod
    def stream(tx: Tx, since: str | None = None) -> list[tuple[AccessRow, list[tuple[str, str, str]]]]:
        """Traces with their subject spans, oldest first (for exports)."""
        where = "WHERE started_at >= ?" if since else ""
        traces = tx.execute(
            f"SELECT {_TRACE_COLUMNS} FROM regie_access_traces {where} ORDER BY started_at, trace_id",
            (since,) if since else (),
        ).fetchall()
        children: dict[str, list[tuple[str, str, str]]] = {}
        for trace_id, span_id, subject_id, subject_type in tx.execute(
            "SELECT trace_id, span_id, subject_id, subject_type FROM regie_access_subjects ORDER BY trace_id, span_id"
        ).fetchall():
            children.setdefault(trace_id, []).append((span_id, subject_id, subject_type))
        return [(AccessRow(*t), children.get(t[0], [])) for t in traces]

    @staticmethod
    def rows(tx: Tx) -> dict[str, tuple[Any, ...]]:
        """Every root record of the view, by trace id, as a tuple in ``AccessRow`` field order."""
        return {r[0]: tuple(r) for r in tx.execute(f"SELECT {_TRACE_COLUMNS} FROM regie_access_traces").fetchall()}

    @staticmethod
    def subject_rows(tx: Tx) -> set[tuple[Any, ...]]:
        """Every (trace id, span id, subject id, subject type) of the view."""
        return {
            tuple(r)
            for r in tx.execute(
                "SELECT trace_id, span_id, subject_id, subject_type FROM regie_access_subjects"
            ).fetchall()
        }

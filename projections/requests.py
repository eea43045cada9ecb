"""Requests of data subjects as a worklist for privacy officers: deadlines and art. 19 tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from casusregie.adapters.sql import Tx
from casusregie.domain.subject_request import SubjectRequest
from casusregie.projections.runner import TableProjection

DDL = (
    """CREATE TABLE IF NOT EXISTS regie_requests (
        request_id TEXT PRIMARY KEY,
        reference TEXT NOT NULL,
        kind TEXT NOT NULL,
        person_id TEXT,
        received_on TEXT NOT NULL,
        due_on TEXT NOT NULL,
        extended INTEGER NOT NULL,
        status TEXT NOT NULL,
        decided_on TEXT,
        outcome TEXT)""",
    """CREATE TABLE IF NOT EXISTS regie_request_tasks (
        request_id TEXT NOT NULL,
        organisation TEXT NOT NULL,
        since TEXT NOT NULL,
        done_on TEXT,
        PRIMARY KEY (request_id, organisation))""",
)


class RequestProjection(TableProjection):
    ddl = DDL
    tables = ("regie_requests", "regie_request_tasks")
    name = "requests"

    def __init__(self, app: Any) -> None:
        self.app = app

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _, event in events:
            if not isinstance(event, SubjectRequest.Event):
                continue
            key = str(event.originator_id)
            if isinstance(event, SubjectRequest.Registered):
                tx.execute(
                    "INSERT INTO regie_requests (request_id, reference, kind, person_id, received_on, due_on, "
                    "extended, status) VALUES (?,?,?,?,?,?,0,'open') ON CONFLICT (request_id) DO NOTHING",
                    (
                        key,
                        event.reference,
                        event.kind,
                        str(event.person_id) if event.person_id else None,
                        event.received_on.isoformat(),
                        event.due_on.isoformat(),
                    ),
                )
            elif isinstance(event, SubjectRequest.Extended):
                tx.execute(
                    "UPDATE regie_requests SET due_on = ?, extended = 1 WHERE request_id = ?",
                    (event.due_on.isoformat(), key),
                )
            elif isinstance(event, SubjectRequest.Decided):
                tx.execute(
                    "UPDATE regie_requests SET status = 'decided', decided_on = ?, outcome = ? WHERE request_id = ?",
                    (event.on.isoformat(), event.outcome, key),
                )
                tx.executemany(
                    "INSERT INTO regie_request_tasks (request_id, organisation, since) VALUES (?,?,?) "
                    "ON CONFLICT (request_id, organisation) DO NOTHING",
                    [(key, org, event.on.isoformat()) for org in event.tasks],
                )
            elif isinstance(event, SubjectRequest.RecipientInformed):
                tx.execute(
                    "UPDATE regie_request_tasks SET done_on = ? WHERE request_id = ? AND organisation = ?",
                    (event.on.isoformat(), key, event.organisation),
                )

    @staticmethod
    def due(tx: Tx, until: str) -> list[tuple[Any, ...]]:
        """Open requests due by ``until`` and open art. 19 tasks: (kind, reference, due, what)."""
        rows = [
            ("request", r[0], r[1], f"{r[2]} request" + (" (extended)" if r[3] else ""))
            for r in tx.execute(
                "SELECT reference, due_on, kind, extended FROM regie_requests WHERE status = 'open' AND due_on <= ? "
                "ORDER BY due_on",
                (until,),
            ).fetchall()
        ]
        rows += [
            ("art19-task", r[0], r[1], f"inform {r[2]} (art. 19 AVG)")
            for r in tx.execute(
                "SELECT q.reference, t.since, t.organisation FROM regie_request_tasks t JOIN regie_requests q "
                "ON q.request_id = t.request_id WHERE t.done_on IS NULL ORDER BY t.since"
            ).fetchall()
        ]
        return rows

    @staticmethod
    def all(tx: Tx) -> list[tuple[Any, ...]]:
        return tx.execute(
            "SELECT reference, kind, person_id, received_on, due_on, extended, status, decided_on, outcome "
            "FROM regie_requests ORDER BY received_on, reference"
        ).fetchall()

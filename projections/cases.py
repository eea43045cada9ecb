"""The case projection: current state per case, its worklist items, and its persons.

Each case's current state is kept as an encrypted snapshot of the aggregate, advanced by
applying each new event to it (the same ``mutate`` the event store uses), so the view can
never drift from what replaying the events gives. Personal fields stay sealed under the
persons' own keys: the projection is not a plaintext copy, and erasing a person's key
erases them here too. Queryable columns hold no personal data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from casusregie.adapters.sql import Tx
from casusregie.domain.case import Case
from casusregie.domain.erasure import Erasure
from casusregie.projections.runner import TableProjection
from casusregie.projections.worklist import items_for

DDL = (
    """CREATE TABLE IF NOT EXISTS regie_case_views (
        case_id TEXT PRIMARY KEY,
        case_number TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        director TEXT,
        team TEXT NOT NULL,
        referred_on TEXT NOT NULL,
        involved TEXT NOT NULL,
        escalated INTEGER NOT NULL,
        version {bigint} NOT NULL,
        topic TEXT NOT NULL,
        state {blob} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS regie_worklist (
        case_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        due_on TEXT NOT NULL,
        owner TEXT NOT NULL,
        director TEXT,
        team TEXT NOT NULL,
        what TEXT NOT NULL,
        PRIMARY KEY (case_id, kind, ref))""",
    "CREATE INDEX IF NOT EXISTS regie_worklist_due ON regie_worklist (due_on)",
    """CREATE TABLE IF NOT EXISTS regie_persons (
        person_id TEXT PRIMARY KEY,
        ref TEXT NOT NULL,
        case_id TEXT NOT NULL,
        erased INTEGER NOT NULL,
        restricted INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS regie_persons_case ON regie_persons (case_id)",
)


class CaseProjection(TableProjection):
    """Case states, worklist items and persons, from Case events."""

    ddl = DDL
    tables = ("regie_case_views", "regie_worklist", "regie_persons")
    name = "cases"

    def __init__(self, app: Any, followers: Sequence[Any] = ()) -> None:
        self.app = app
        # Views that need the case state right after each event (the trail) follow this one.
        self.followers = list(followers)

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        touched: dict[UUID, Case] = {}
        erased: list[UUID] = []
        for notification_id, event in events:
            if isinstance(event, Erasure.Recorded):
                erased.extend(event.persons)
            if not isinstance(event, Case.Event):
                continue
            case = touched.get(event.originator_id)
            if case is None and event.originator_version > 1:
                case = self.load(tx, event.originator_id)
            touched[event.originator_id] = case = event.mutate(case)
            for follower in self.followers:
                follower.follow(tx, notification_id, event, case)
        for case in touched.values():
            self._store(tx, case)
        tx.executemany("UPDATE regie_persons SET erased = 1 WHERE person_id = ?", [(str(p),) for p in erased])

    # --- state ------------------------------------------------------------------------

    def load(self, tx: Tx, case_id: UUID) -> Case | None:
        row = tx.execute(
            "SELECT version, topic, state FROM regie_case_views WHERE case_id = ?", (str(case_id),)
        ).fetchone()
        if row is None:
            return None
        return self._decode(case_id, row)

    def _decode(self, case_id: UUID, row: tuple[Any, ...]) -> Case:
        version, topic, state = row
        snapshot = self.app.mapper.to_domain_event(
            StoredEvent(originator_id=case_id, originator_version=int(version), topic=topic, state=bytes(state))
        )
        case = snapshot.mutate(None)
        assert isinstance(case, Case)
        return case

    def _store(self, tx: Tx, case: Case) -> None:
        stored = self.app.mapper.to_stored_event(Case.Snapshot.take(case))
        key = str(case.id)
        tx.execute(
            "INSERT INTO regie_case_views (case_id, case_number, status, director, team, referred_on, involved, "
            "escalated, version, topic, state) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, director = excluded.director, "
            "team = excluded.team, involved = excluded.involved, escalated = excluded.escalated, "
            "version = excluded.version, topic = excluded.topic, state = excluded.state",
            (
                key,
                case.case_number,
                str(case.status),
                case.director,
                case.team or "",
                case.referred_on.isoformat(),
                json.dumps(sorted(case.involved)),
                1 if case.escalations else 0,
                case.version,
                stored.topic,
                stored.state,
            ),
        )
        tx.execute("DELETE FROM regie_worklist WHERE case_id = ?", (key,))
        tx.executemany(
            "INSERT INTO regie_worklist (case_id, kind, ref, due_on, owner, director, team, what) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [
                (key, i.kind, i.ref, i.due_on.isoformat(), i.owner, case.director, case.team or "", i.what)
                for i in items_for(case, self.app.profile.organisation_id)
            ],
        )
        tx.executemany(
            "INSERT INTO regie_persons (person_id, ref, case_id, erased, restricted) VALUES (?,?,?,0,?) "
            "ON CONFLICT (person_id) DO UPDATE SET restricted = excluded.restricted",
            [(str(m.person_id), m.ref, key, int(m.restricted)) for m in case.members.values()],
        )

    # --- queries ------------------------------------------------------------------------

    def get(self, tx: Tx, case_id: UUID) -> Case | None:
        return self.load(tx, case_id)

    def all_states(self, tx: Tx, where: str = "", params: tuple[Any, ...] = ()) -> list[Case]:
        """Case states, optionally narrowed by a condition on the plain columns (decoding is the cost)."""
        rows = tx.execute(
            f"SELECT case_id, version, topic, state FROM regie_case_views {where} ORDER BY referred_on", params
        ).fetchall()
        return [self._decode(UUID(r[0]), r[1:]) for r in rows]

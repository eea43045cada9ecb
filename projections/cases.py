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
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from casusregie.adapters.sql import IN_BATCH, Tx
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


@dataclass(frozen=True)
class _Derived:
    worklist: tuple[tuple[Any, ...], ...]
    persons: tuple[tuple[Any, ...], ...]


class CaseProjection(TableProjection):
    """Case states, worklist items and persons, from Case events."""

    ddl = DDL
    tables = ("regie_case_views", "regie_worklist", "regie_persons")
    name = "cases"

    def __init__(self, app: Any, followers: Sequence[Any] = ()) -> None:
        self.app = app
        # Views that need the case state right after each event (the trail) follow this one:
        # ``follow(notification_id, event, case)`` per event, then ``flush(tx)`` once per batch.
        self.followers = list(followers)

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        """Advance every case the events touch; each is loaded and stored once per batch.

        The states a batch continues are read in one query, the new states written in one
        statement, and a case's worklist and persons rows are rewritten only when what they
        derive from changed (most events change neither): a catch-up before each read costs
        a few statements, whatever the number of cases it touches.
        """
        case_events = [(n, e) for n, e in events if isinstance(e, Case.Event)]
        erased = [p for _, e in events if isinstance(e, Erasure.Recorded) for p in e.persons]
        first: dict[UUID, int] = {}
        for _, event in case_events:
            first.setdefault(event.originator_id, event.originator_version)
        touched = self.load_many(tx, [case_id for case_id, version in first.items() if version > 1])
        before = {case_id: self._derived(case) for case_id, case in touched.items()}
        try:
            for notification_id, event in case_events:
                touched[event.originator_id] = case = event.mutate(touched.get(event.originator_id))
                for follower in self.followers:
                    follower.follow(notification_id, event, case)
            for follower in self.followers:
                follower.flush(tx)
        finally:
            for follower in self.followers:
                follower.discard()  # nothing a failed batch followed is written by the next one
        self._store(tx, [touched[case_id] for case_id in first], before)
        tx.executemany("UPDATE regie_persons SET erased = 1 WHERE person_id = ?", [(str(p),) for p in erased])

    # --- state ------------------------------------------------------------------------

    def load(self, tx: Tx, case_id: UUID) -> Case | None:
        return self.load_many(tx, [case_id]).get(case_id)

    def load_many(self, tx: Tx, case_ids: Sequence[UUID]) -> dict[UUID, Case]:
        """The stored states of the given cases (those that have one), in as few queries as it takes."""
        rows = tx.fetch_in(
            "SELECT case_id, version, topic, state FROM regie_case_views WHERE case_id {values}",
            [str(c) for c in case_ids],
        )
        return {UUID(case_id): self._decode(UUID(case_id), tuple(row)) for case_id, *row in rows}

    def _decode(self, case_id: UUID, row: tuple[Any, ...]) -> Case:
        version, topic, state = row
        snapshot = self.app.mapper.to_domain_event(
            StoredEvent(originator_id=case_id, originator_version=int(version), topic=topic, state=bytes(state))
        )
        case = snapshot.mutate(None)
        assert isinstance(case, Case)
        return case

    def _derived(self, case: Case) -> _Derived:
        """The worklist and persons rows a case state gives (compared to skip unchanged rows)."""
        key = str(case.id)
        return _Derived(
            worklist=tuple(
                (key, i.kind, i.ref, i.due_on.isoformat(), i.owner, case.director, case.team or "", i.what)
                for i in items_for(case, self.app.profile.organisation_id)
            ),
            persons=tuple((str(m.person_id), m.ref, key, int(m.restricted)) for m in case.members.values()),
        )

    def _store(self, tx: Tx, cases: Sequence[Case], before: dict[UUID, _Derived]) -> None:
        """Write the new states; of the worklist and persons rows only what changed.

        A worklist row is deleted when its item is gone and written when it is new or its
        due date or text changed; the rest stay as they are. Every row rewritten is a dead
        row in PostgreSQL until VACUUM comes by, and a case usually changes one item at a time.
        """
        rows, cleared, gone, items, persons = [], [], [], [], []
        for case in cases:
            stored = self.app.mapper.to_stored_event(Case.Snapshot.take(case))
            key = str(case.id)
            rows.append(
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
                )
            )
            now, then = self._derived(case), before.get(case.id)
            if then is None:  # a new case (or one the views never had): whatever it had goes
                cleared.append(key)
                items.extend(now.worklist)
            elif now.worklist != then.worklist:
                kept = {row[:3] for row in now.worklist}
                gone.extend(row[:3] for row in then.worklist if row[:3] not in kept)
                items.extend(set(now.worklist) - set(then.worklist))
            if then is None or now.persons != then.persons:
                persons.extend(now.persons)
        tx.executemany(
            "INSERT INTO regie_case_views (case_id, case_number, status, director, team, referred_on, involved, "
            "escalated, version, topic, state) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, director = excluded.director, "
            "team = excluded.team, involved = excluded.involved, escalated = excluded.escalated, "
            "version = excluded.version, topic = excluded.topic, state = excluded.state",
            rows,
        )
        for start in range(0, len(cleared), IN_BATCH):
            part = cleared[start : start + IN_BATCH]
            tx.execute(f"DELETE FROM regie_worklist WHERE case_id IN ({','.join('?' * len(part))})", part)
        tx.executemany("DELETE FROM regie_worklist WHERE case_id = ? AND kind = ? AND ref = ?", gone)
        tx.executemany(
            "INSERT INTO regie_worklist (case_id, kind, ref, due_on, owner, director, team, what) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (case_id, kind, ref) DO UPDATE SET due_on = excluded.due_on, "
            "owner = excluded.owner, director = excluded.director, team = excluded.team, what = excluded.what",
            items,
        )
        tx.executemany(
            "INSERT INTO regie_persons (person_id, ref, case_id, erased, restricted) VALUES (?,?,?,0,?) "
            "ON CONFLICT (person_id) DO UPDATE SET restricted = excluded.restricted",
            persons,
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

"""The case projection: current state per case, its worklist items, and its persons.

Each case's current state is kept as an encrypted snapshot of the aggregate, advanced by
applying each new event to it (the same ``mutate`` the event store uses), so the view can
never drift from what replaying the events gives. Personal fields stay sealed under the
persons' own keys: the projection is not a plaintext copy, and erasing a person's key
erases them here too. Queryable columns hold no personal data.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


# A case's state is compressed once per batch that touches it, and read back only by this view:
# zlib's fastest level (the log's own records keep level 6, written once and kept for ever).
VIEW_COMPRESSION = 1
# Case states kept in memory from one batch of a catch-up to the next (a rebuild's batches above all):
# ~40 kB each for a case of 100 events; sealed fields stay sealed (no plaintext), dropped when it ends.
WARM_CASES = 2_000


@dataclass(frozen=True)
class _Derived:
    worklist: tuple[tuple[Any, ...], ...]
    persons: tuple[tuple[Any, ...], ...]


@dataclass
class _Batch:
    """The cases one transaction advances, as they are now and as the views hold them."""

    warm: Mapping[UUID, tuple[Case, _Derived]]  # states kept from the batch before, at this batch's start
    touched: dict[UUID, Case] = field(default_factory=dict)
    before: dict[UUID, _Derived] = field(default_factory=dict)  # the derived rows the views hold
    order: dict[UUID, None] = field(default_factory=dict)  # cases in the order first touched
    erased: list[UUID] = field(default_factory=list)
    stored: dict[UUID, tuple[Case, _Derived]] = field(default_factory=dict)  # filled when written


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
        # The states (and their derived rows) as the last batch of this catch-up left them, at
        # position ``_warm_at``: the next batch continues them instead of reading and decrypting
        # them again, as long as nobody else moved the views in between (the runner says where a
        # batch starts). A failed batch may have advanced them part way: then they are dropped.
        self._warm: OrderedDict[UUID, tuple[Case, _Derived]] = OrderedDict()
        self._warm_at: int | None = None
        self._batch: _Batch | None = None  # the batch the runner announced with ``begin``

    # --- batches: the runner announces each transaction ---------------------------------
    #
    # ``begin(start)``, then ``apply`` once per page of events, ``finish(tx)`` before the commit,
    # then ``committed(end)`` or ``abandoned()``. A case touched on many pages of a batch is
    # advanced in memory and encrypted and stored once, at ``finish``. Without ``begin``,
    # ``apply`` is a batch of its own.

    def begin(self, start: int) -> None:
        """A batch of the events after position ``start`` follows; the kept states serve if they are at ``start``."""
        if start != self._warm_at:
            self._warm.clear()
            self._warm_at = None
        self._batch = _Batch(warm=self._warm)

    def finish(self, tx: Tx) -> None:
        """Store what the batch changed (in its transaction, before the commit)."""
        if self._batch is not None:
            self._write(tx, self._batch)

    def committed(self, end: int) -> None:
        """The batch is stored: its states are the views' at ``end`` (the least recently touched go first)."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        for case_id, entry in batch.stored.items():
            self._warm[case_id] = entry
            self._warm.move_to_end(case_id)
        while len(self._warm) > WARM_CASES:
            self._warm.popitem(last=False)
        self._warm_at = end

    def abandoned(self) -> None:
        """The batch failed or lost the race (rolled back): nothing kept can be trusted any more."""
        self._warm.clear()
        self._warm_at, self._batch = None, None
        for follower in self.followers:
            follower.discard()  # nothing a failed batch followed is written by the next one

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        """Advance every case the events touch; each is loaded and stored once per batch.

        The states a batch continues are read in one query per page (or continued from the
        previous batch's, see ``begin``), the new states written in one statement, and a
        case's worklist and persons rows are rewritten only when what they derive from
        changed (most events change neither): a catch-up before each read costs a few
        statements, whatever the number of cases it touches.
        """
        if self._batch is not None:
            self._advance(tx, events, self._batch)
            return
        batch = _Batch(warm={})
        try:
            self._advance(tx, events, batch)
        except BaseException:
            for follower in self.followers:
                follower.discard()
            raise
        self._write(tx, batch)

    def _advance(self, tx: Tx, events: Sequence[tuple[int, Any]], batch: _Batch) -> None:
        """Apply one page of events to the batch's states; the trail follows each event."""
        case_events = [(n, e) for n, e in events if isinstance(e, Case.Event)]
        batch.erased += [p for _, e in events if isinstance(e, Erasure.Recorded) for p in e.persons]
        touched, first = batch.touched, {}
        for _, event in case_events:
            if event.originator_id not in touched:
                first.setdefault(event.originator_id, event.originator_version)
        missing = []
        for case_id, version in first.items():
            kept = batch.warm.get(case_id) if version > 1 else None
            if kept is not None and kept[0].version == version - 1:
                touched[case_id], batch.before[case_id] = kept
            elif version > 1:
                missing.append(case_id)
        for case_id, case in self.load_many(tx, missing).items():
            touched[case_id], batch.before[case_id] = case, self._derived(case)
        for case_id in first:
            batch.order[case_id] = None
        try:
            for notification_id, event in case_events:
                touched[event.originator_id] = case = event.mutate(touched.get(event.originator_id))
                for follower in self.followers:
                    follower.follow(notification_id, event, case)
            for follower in self.followers:
                follower.flush(tx)
        finally:
            for follower in self.followers:
                follower.discard()  # nothing a failed page followed is written by the next one

    def _write(self, tx: Tx, batch: _Batch) -> None:
        self._store(tx, [batch.touched[case_id] for case_id in batch.order], batch.before, batch.stored)
        tx.executemany("UPDATE regie_persons SET erased = 1 WHERE person_id = ?", [(str(p),) for p in batch.erased])

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

    def _store(
        self,
        tx: Tx,
        cases: Sequence[Case],
        before: dict[UUID, _Derived],
        written: dict[UUID, tuple[Case, _Derived]] | None = None,
    ) -> None:
        """Write the new states; of the worklist and persons rows only what changed.

        A worklist row is deleted when its item is gone and written when it is new or its
        due date or text changed; the rest stay as they are. Every row rewritten is a dead
        row in PostgreSQL until VACUUM comes by, and a case usually changes one item at a time.
        """
        rows, cleared, gone, items, persons = [], [], [], [], []
        for case in cases:
            stored = self.app.mapper.to_stored_event(Case.Snapshot.take(case), level=VIEW_COMPRESSION)
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
            if written is not None:
                written[case.id] = (case, now)
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

"""Short references (zaaknummers, persoonsreferenties) kept with the events that create them.

Case directors type ``C7KQ2MX`` or ``P3KQ7PA``, not UUIDs. The table maps a reference to the
aggregate it names and is written in the same transaction as the event that creates the
reference, so a command can resolve it at once, without waiting for a projection. Refs are
random, never derived from personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from casusregie.adapters.sql import Database, Tx

DDL = """CREATE TABLE IF NOT EXISTS regie_refs (
    ref TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    case_id TEXT NOT NULL)"""


KNOWN_MAX = 4096  # resolved refs kept per process; a long-running process must not grow with the store


class RefIndex:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Refs never change once made, so resolving one is cached; the least recently used go first.
        # (kind, value) -> the two ids as text: tuples of strings are untracked by the garbage
        # collector, so a full cache costs a long-running process's full collections nothing.
        self._known: dict[tuple[str, str], tuple[str, str]] = {}

    @staticmethod
    def create_table(tx: Tx) -> None:
        tx.execute(DDL)
        tx.execute("CREATE INDEX IF NOT EXISTS regie_refs_by_id ON regie_refs (aggregate_id)")

    @staticmethod
    def insert_op(ref: str, kind: str, aggregate_id: UUID, case_id: UUID) -> Callable[[Tx], None]:
        def insert(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO regie_refs (ref, kind, aggregate_id, case_id) VALUES (?,?,?,?)",
                (ref, kind, str(aggregate_id), str(case_id)),
            )

        return insert

    def resolve(self, value: str, kind: str) -> tuple[UUID, UUID] | None:
        """(aggregate id, case id) for a ref or an id of the given kind, or None."""
        value = value.strip()
        if not value.isascii() or not value.isprintable():
            return None  # refs and ids are printable ASCII; anything else (a NUL, a lone surrogate) is no ref
        known = self._known.pop((kind, value), None)
        if known is not None:
            self._known[(kind, value)] = known  # most recently used last
            return UUID(known[0]), UUID(known[1])
        with self.db.transaction(commit=False) as tx:
            row = tx.execute(
                "SELECT aggregate_id, case_id FROM regie_refs WHERE kind = ? AND (ref = ? OR aggregate_id = ?)",
                (kind, value.upper(), value.lower()),
            ).fetchone()
        if row is None:
            return None
        ids = self._known[(kind, value)] = (str(row[0]), str(row[1]))
        if len(self._known) > KNOWN_MAX:
            del self._known[next(iter(self._known))]
        return UUID(ids[0]), UUID(ids[1])

    def exists(self, ref: str) -> bool:
        with self.db.transaction(commit=False) as tx:
            return tx.scalar("SELECT count(*) FROM regie_refs WHERE ref = ?", (ref,)) > 0

    def refs_of_kind(self, kind: str) -> list[tuple[str, UUID, UUID]]:
        with self.db.transaction(commit=False) as tx:
            rows = tx.execute(
                "SELECT ref, aggregate_id, case_id FROM regie_refs WHERE kind = ? ORDER BY ref", (kind,)
            ).fetchall()
        return [(r[0], UUID(r[1]), UUID(r[2])) for r in rows]

"""A blind index (blinde index) to find persons without storing searchable plaintext.

Each identifying value (``domain.findable.terms``) is normalised and keyed with HMAC-SHA256 under the store's index
key (a data key like any other, wrapped by the master key). The database only ever holds
the digests; finding a person means computing the digest of what the privacy officer
typed. Erasing a person deletes their rows, so not even a digest of their BSN remains.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from uuid import UUID

from casusregie.adapters.sql import Database, Tx

INDEX_KEY_ID = "index-1"
DDL = """CREATE TABLE IF NOT EXISTS regie_person_index (
    person_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (person_id, kind, digest))"""


class PersonIndex:
    def __init__(self, db: Database, key: Callable[[], bytes]) -> None:
        self.db = db
        self._key = key

    @staticmethod
    def create_table(tx: Tx) -> None:
        tx.execute(DDL)
        tx.execute("CREATE INDEX IF NOT EXISTS regie_person_index_digest ON regie_person_index (digest)")

    def digest(self, kind: str, value: str) -> str:
        return hmac.new(self._key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def insert_op(self, person_id: UUID, pairs: list[tuple[str, str]]) -> Callable[[Tx], None]:
        rows = [(str(person_id), kind, self.digest(kind, value)) for kind, value in pairs]

        def insert(tx: Tx) -> None:
            tx.executemany(
                "INSERT INTO regie_person_index (person_id, kind, digest) VALUES (?,?,?) "
                "ON CONFLICT (person_id, kind, digest) DO NOTHING",
                rows,
            )

        return insert

    @staticmethod
    def forget_op(person_id: UUID, kinds: list[str] | None = None) -> Callable[[Tx], None]:
        """Delete a person's digests (all of them on erasure; some on rectification)."""

        def forget(tx: Tx) -> None:
            if kinds is None:
                tx.execute("DELETE FROM regie_person_index WHERE person_id = ?", (str(person_id),))
            else:
                for kind in kinds:
                    tx.execute(
                        "DELETE FROM regie_person_index WHERE person_id = ? AND kind = ?", (str(person_id), kind)
                    )

        return forget

    def find(self, pairs: list[tuple[str, str]]) -> list[UUID]:
        """Persons matching ALL given terms."""
        if not pairs:
            return []
        matches: set[str] | None = None
        with self.db.transaction(commit=False) as tx:
            for kind, value in pairs:
                rows = tx.execute(
                    "SELECT person_id FROM regie_person_index WHERE kind = ? AND digest = ?",
                    (kind, self.digest(kind, value)),
                ).fetchall()
                found = {r[0] for r in rows}
                matches = found if matches is None else matches & found
        return sorted(UUID(p) for p in matches or set())

"""Wrapped data keys in the store's database (table ``regie_keys``).

A key row holds the data key wrapped by the master key. Shredding a key blanks the
wrapped bytes and keeps a tombstone (when, on which ground), so the key can never be
created again for the same person. SQLite overwrites the old bytes (secure_delete);
PostgreSQL needs a ``VACUUM FULL`` of this small table afterwards (see ``purge``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from casusregie.adapters.sql import Database, Tx
from casusregie.domain.errors import StoreProblem
from casusregie.privacy_audit.key_generations import RETIRED_AT
from casusregie.privacy_audit.key_hierarchy import MasterKeyReplaced

DDL = """
CREATE TABLE IF NOT EXISTS regie_keys (
    key_id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    subject TEXT NOT NULL,
    master_key_id TEXT,
    wrapped {blob},
    created_at TEXT NOT NULL,
    shredded_at TEXT,
    shred_ground TEXT
)
"""


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    purpose: str
    subject: str
    master_key_id: str | None
    wrapped: bytes | None
    created_at: str
    shredded_at: str | None = None
    shred_ground: str | None = None

    @property
    def is_shredded(self) -> bool:
        return self.shredded_at is not None


# Other processes ask which keys were shredded lately (``shredded_since``): a short index lookup.
INDEX_DDL = "CREATE INDEX IF NOT EXISTS regie_keys_shredded ON regie_keys (shredded_at)"

# Tables from which an erasure deletes or blanks rows: the keys, and the search digests.
SHREDDED_TABLES = ("regie_keys", "regie_person_index")
_COLUMNS = "key_id, purpose, subject, master_key_id, wrapped, created_at, shredded_at, shred_ground"


class SqlKeyStorage:
    """Key rows on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_table(self, tx: Tx) -> None:
        tx.execute(self.db.ddl(DDL))
        tx.execute(INDEX_DDL)

    def shredded_since(self, at: str) -> list[str]:
        """Ids of keys shredded at or after ``at`` (a ``moment()`` string), by any process."""
        with self.db.transaction(commit=False) as tx:
            rows = tx.execute("SELECT key_id FROM regie_keys WHERE shredded_at >= ?", (at,)).fetchall()
        return [str(row[0]) for row in rows]

    def get(self, key_id: str) -> KeyRecord | None:
        with self.db.transaction(commit=False) as tx:
            row = tx.execute(f"SELECT {_COLUMNS} FROM regie_keys WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else KeyRecord(*row)

    def get_many(self, key_ids: list[str]) -> dict[str, KeyRecord]:
        found: dict[str, KeyRecord] = {}
        with self.db.transaction(commit=False) as tx:
            for start in range(0, len(key_ids), 500):
                chunk = key_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in tx.execute(f"SELECT {_COLUMNS} FROM regie_keys WHERE key_id IN ({marks})", chunk).fetchall():
                    found[row[0]] = KeyRecord(*row)
        return found

    def all(self) -> list[KeyRecord]:
        with self.db.transaction(commit=False) as tx:
            rows = tx.execute(f"SELECT {_COLUMNS} FROM regie_keys ORDER BY key_id").fetchall()
        return [KeyRecord(*r) for r in rows]

    @staticmethod
    def insert_op(record: KeyRecord) -> Callable[[Tx], None]:
        """An extra for ``app.save``: store a new key in the same transaction as the events."""

        def insert(tx: Tx) -> None:
            tx.execute(
                f"INSERT INTO regie_keys ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    record.key_id,
                    record.purpose,
                    record.subject,
                    record.master_key_id,
                    record.wrapped,
                    record.created_at,
                    None,
                    None,
                ),
            )
            # A key wrapped by a master key that a rotation elsewhere has retired would be lost with
            # it. The rotation locks this table first (PostgreSQL) or holds the one write lock
            # (SQLite), so it either sees this key or is seen here.
            if tx.scalar("SELECT 1 FROM regie_meta WHERE name = ?", (RETIRED_AT.format(record.master_key_id),)):
                raise MasterKeyReplaced(str(record.master_key_id))

        return insert

    @staticmethod
    def shred_op(key_id: str, at: str, ground: str) -> Callable[[Tx], None]:
        """An extra for ``app.save``: destroy a key in the same transaction as the erasure event."""

        def shred(tx: Tx) -> None:
            tx.execute(
                "UPDATE regie_keys SET wrapped = NULL, master_key_id = NULL, shredded_at = ?, "
                "shred_ground = ? WHERE key_id = ? AND shredded_at IS NULL",
                (at, ground, key_id),
            )

        return shred

    def master_key_of(self, key_id: str, *, wait: bool = False) -> str | None:
        """Which master key wraps a key now (None: no such key, or shredded).

        ``wait``: on PostgreSQL, first wait for any transaction still changing that row, such
        as a rotation whose process died after sending its commit: the answer is then final.
        """
        lock = " FOR SHARE" if wait and self.db.dialect == "postgres" else ""
        with self.db.transaction(commit=False) as tx:
            return tx.scalar(f"SELECT master_key_id FROM regie_keys WHERE key_id = ?{lock}", (key_id,))

    def rewrap(self, rewrapped: dict[str, bytes], new_master_key_id: str, meta: dict[str, str] | None = None) -> None:
        """Replace wrapped keys in one transaction (master key rotation), with the store metadata that records it.

        A key shredded meanwhile stays shredded. If any live key is then not wrapped by the new
        master key (one made by another process meanwhile), nothing is changed: otherwise that
        key would stay wrapped by a master key the store no longer keeps in place.
        """
        with self.db.transaction(commit=True) as tx:
            if tx.dialect == "postgres":  # no key is made while this runs, nor does this run while one is made
                tx.execute("LOCK TABLE regie_keys IN SHARE ROW EXCLUSIVE MODE")
            tx.executemany(
                "UPDATE regie_keys SET wrapped = ?, master_key_id = ? WHERE key_id = ? AND shredded_at IS NULL",
                [(w, new_master_key_id, k) for k, w in rewrapped.items()],
            )
            behind = tx.scalar(
                "SELECT count(*) FROM regie_keys WHERE shredded_at IS NULL "
                "AND (master_key_id IS NULL OR master_key_id <> ?)",
                (new_master_key_id,),
            )
            if behind:
                raise StoreProblem(
                    f"{behind} data key(s) were made while the master key was being replaced; nothing was "
                    "changed: run `regie keys rotate` again"
                )
            tx.executemany(
                "INSERT INTO regie_meta (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                list((meta or {}).items()),
            )

    def purge(self, wait_seconds: float = 10.0) -> bool:
        """Make shredded keys and deleted search digests physically gone, not just logically deleted.

        SQLite overwrites deleted cells (secure_delete); a WAL checkpoint then also empties
        the log file. PostgreSQL keeps an updated row's old version as a dead tuple while any
        transaction that started earlier might still see it, so we wait for those to end,
        then rewrite the table. Returns False if older transactions were still running after
        ``wait_seconds``: the bytes then remain until a later purge (`regie keys purge`).
        """
        if self.db.dialect == "sqlite":
            with self.db.datastore.get_connection(commit=True) as conn:
                conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return True
        with self.db.datastore.get_connection() as conn:
            horizon = conn.execute("SELECT pg_current_snapshot()").fetchone()
            xmax = next(iter(horizon.values())) if isinstance(horizon, dict) else horizon[0]
            deadline = time.monotonic() + wait_seconds
            clear = False
            while True:
                row = conn.execute(
                    "SELECT count(*) AS older FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) "
                    "AND LEAST(backend_xmin::text::bigint, backend_xid::text::bigint) "
                    "< pg_snapshot_xmax(%s::pg_snapshot)::text::bigint %% 4294967296",
                    (str(xmax),),
                ).fetchone()
                older = row["older"] if isinstance(row, dict) else row[0]
                if older == 0 or time.monotonic() > deadline:
                    clear = older == 0
                    break
                time.sleep(0.1)
            for table in SHREDDED_TABLES:
                conn.execute(f"VACUUM FULL {table}")
        return clear

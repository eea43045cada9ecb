"""The Merkle tree's tables, kept in step with the event log inside each insert transaction.

* ``regie_merkle_leaves``: dense position 0..n-1 -> the record's notification id and leaf
  hash. Positions are dense even where the database's own sequence skips (PostgreSQL
  sequences do on rollback), and a row without a position is an inserted row.
* ``regie_merkle_nodes``: every completed perfect subtree (level >= 1), so any inclusion
  or consistency proof needs O(log n) lookups instead of rehashing the log.
* ``regie_merkle_head``: the tree size and its right-edge frontier, one row.

The leaf hashes the stored *ciphertext*, never plaintext: shredding a key changes nothing
here, so erasure never breaks verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from casusregie.adapters.sql import Database, Tx
from casusregie.privacy_audit.envelope import DecryptionFailed, key_id_of
from casusregie.privacy_audit.merkle import Frontier, encode_leaf, leaf_hash

DDL = (
    """CREATE TABLE IF NOT EXISTS regie_merkle_leaves (
        position {bigint} PRIMARY KEY,
        notification_id {bigint} NOT NULL UNIQUE,
        leaf {blob} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS regie_merkle_nodes (
        level INTEGER NOT NULL,
        idx {bigint} NOT NULL,
        hash {blob} NOT NULL,
        PRIMARY KEY (level, idx))""",
    """CREATE TABLE IF NOT EXISTS regie_merkle_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        size {bigint} NOT NULL,
        frontier {blob} NOT NULL)""",
)


def create_tables(db: Database, tx: Tx) -> None:
    for statement in DDL:
        tx.execute(db.ddl(statement))


def record_key_id(state: bytes) -> str:
    """The key id a stored ciphertext names; '?' when the header itself is unreadable."""
    try:
        return key_id_of(state)
    except DecryptionFailed:
        return "?"


def leaf_for(position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The leaf hash of one stored record at one position."""
    return leaf_hash(
        encode_leaf(
            position,
            str(originator_id),
            version,
            topic,
            record_key_id(state),
            hashlib.sha256(state).digest(),
        )
    )


def read_head(tx: Tx) -> Frontier:
    row = tx.execute("SELECT size, frontier FROM regie_merkle_head WHERE id = 1").fetchone()
    return Frontier() if row is None else Frontier.from_bytes(bytes(row[1]))


def append(tx: Tx, stored_events: Sequence[StoredEvent], notification_ids: Sequence[int]) -> int:
    """Give each newly inserted record its position, leaf and completed nodes; returns the new tree size."""
    frontier = read_head(tx)
    leaves: list[tuple[int, int, bytes]] = []
    nodes: list[tuple[int, int, bytes]] = []
    for stored, notification_id in zip(stored_events, notification_ids, strict=True):
        position = frontier.size
        leaf = leaf_for(position, stored.originator_id, stored.originator_version, stored.topic, stored.state)
        nodes.extend(frontier.append(leaf))
        leaves.append((position, notification_id, leaf))
    tx.executemany("INSERT INTO regie_merkle_leaves (position, notification_id, leaf) VALUES (?,?,?)", leaves)
    tx.executemany("INSERT INTO regie_merkle_nodes (level, idx, hash) VALUES (?,?,?)", nodes)
    tx.execute(
        "INSERT INTO regie_merkle_head (id, size, frontier) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier",
        (frontier.size, frontier.to_bytes()),
    )
    return frontier.size


class MerkleReader:
    """Read access to the stored tree for proofs and verification."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def head(self) -> Frontier:
        with self.db.transaction(commit=False) as tx:
            return read_head(tx)

    def nodes(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Fetch perfect-subtree hashes (level 0 = leaves) in as few queries as possible."""
        found: dict[tuple[int, int], bytes] = {}
        leaves = [idx for level, idx in wanted if level == 0]
        inner = [(level, idx) for level, idx in wanted if level > 0]
        with self.db.transaction(commit=False) as tx:
            if leaves:
                marks = ",".join("?" * len(leaves))
                for position, leaf in tx.execute(
                    f"SELECT position, leaf FROM regie_merkle_leaves WHERE position IN ({marks})", leaves
                ).fetchall():
                    found[(0, position)] = bytes(leaf)
            if inner:
                clause = " OR ".join("(level = ? AND idx = ?)" for _ in inner)
                params = [v for pair in inner for v in pair]
                for level, idx, value in tx.execute(
                    f"SELECT level, idx, hash FROM regie_merkle_nodes WHERE {clause}", params
                ).fetchall():
                    found[(level, idx)] = bytes(value)
        return found

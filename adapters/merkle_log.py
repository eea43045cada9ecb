"""The Merkle tree's tables, kept in step with the event log inside each insert transaction.

* ``regie_merkle_leaves``: dense position 0..n-1 -> the record's notification id and leaf
  hash. Positions are dense even where the database's own sequence skips (PostgreSQL
  sequences do on rollback), and a row without a position is an inserted row.
* ``regie_merkle_nodes``: every completed perfect subtree (level >= 1), so any inclusion
  or consistency proof needs O(log n) lookups instead of rehashing the log.
* ``regie_merkle_head``: the tree size and its right-edge frontier, one row.
* ``regie_merkle_cases``: position -> the case a record belongs to (a Case event, an access
  trace about the case, an erasure in it), written with the leaf. It is not evidence (the
  verifier checks it against the authenticated rows); it lets a report name the case of a
  damaged or deleted record, which the record itself can then no longer tell.

The leaf hashes the stored *ciphertext*, never plaintext: shredding a key changes nothing
here, so erasure never breaks verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from casusregie.adapters.sql import Database, Tx
from casusregie.privacy_audit.envelope import DecryptionFailed, key_id_of
from casusregie.privacy_audit.merkle import Frontier, encode_leaf, leaf_hash
from casusregie.privacy_audit.verify import (
    ACCESS_STARTED,
    ACCESS_TOUCHED,
    CASE_NAMED_IN_BODY,
    CASE_TOPIC_PREFIX,
    LogTampered,
)

CASES_DDL = """CREATE TABLE IF NOT EXISTS regie_merkle_cases (
        position {bigint} PRIMARY KEY,
        case_id {text} NOT NULL)"""

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
    CASES_DDL,
)


def create_tables(db: Database, tx: Tx) -> None:
    """Create the tree's tables; idempotent, so it also adds the case index to an older store."""
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


def _head_to_extend(tx: Tx) -> Frontier:
    """The head new records go on; a damaged one refuses every write, so the evidence stays as it is."""
    row = tx.execute("SELECT size, frontier FROM regie_merkle_head WHERE id = 1").fetchone()
    if row is None:
        return Frontier()
    try:
        frontier = Frontier.from_bytes(bytes(row[1]))
    except (TypeError, ValueError):
        frontier = None
    if frontier is None or row[0] != frontier.size:
        _refuse_write(tx, "the stored tree head is damaged; nothing was written; run `regie audit verify`")
    assert frontier is not None
    return frontier


def _refuse_write(tx: Tx, message: str) -> None:
    """Abort the insert transaction with ``message`` (the recorder rolls it back on both backends)."""
    del tx
    raise LogTampered(message)


def case_of(stored: StoredEvent, traces: dict[Any, UUID | None]) -> UUID | str | None:
    """The case a record belongs to, or None; ``traces`` carries a save's trace -> case.

    A Case event is its case's own record; an access trace's first record and an erasure
    record name their case (the mapper hands it over); a trace's further records belong to
    the case of its first, which is always written in the same save.
    """
    topic = stored.topic
    if topic.startswith(CASE_TOPIC_PREFIX):
        return stored.originator_id
    if topic in CASE_NAMED_IN_BODY:
        case_id = getattr(stored, "case_id", None)
        if topic == ACCESS_STARTED:
            traces[stored.originator_id] = case_id
        return case_id
    if topic == ACCESS_TOUCHED:
        return traces.get(stored.originator_id)
    return None


def append(tx: Tx, stored_events: Sequence[StoredEvent], notification_ids: Sequence[int]) -> int:
    """Give each newly inserted record its position, leaf and completed nodes; returns the new tree size."""
    frontier = _head_to_extend(tx)
    leaves: list[tuple[int, int, bytes]] = []
    nodes: list[tuple[int, int, bytes]] = []
    cases: list[tuple[int, str]] = []
    traces: dict[Any, UUID | None] = {}
    for stored, notification_id in zip(stored_events, notification_ids, strict=True):
        position = frontier.size
        leaf = leaf_for(position, stored.originator_id, stored.originator_version, stored.topic, stored.state)
        nodes.extend(frontier.append(leaf))
        leaves.append((position, notification_id, leaf))
        case_id = case_of(stored, traces)
        if case_id is not None:
            cases.append((position, str(case_id)))
    head = (frontier.size, frontier.to_bytes())
    if tx.dialect == "postgres":
        _write_in_one_statement(tx, leaves, nodes, cases, head)
        return frontier.size
    tx.executemany("INSERT INTO regie_merkle_leaves (position, notification_id, leaf) VALUES (?,?,?)", leaves)
    tx.executemany("INSERT INTO regie_merkle_nodes (level, idx, hash) VALUES (?,?,?)", nodes)
    if cases:  # every store has the table: made at init, added by the migration to format 2
        tx.executemany("INSERT INTO regie_merkle_cases (position, case_id) VALUES (?,?)", cases)
    tx.execute(_HEAD_UPSERT, head)
    return frontier.size


_HEAD_UPSERT = (
    "INSERT INTO regie_merkle_head (id, size, frontier) VALUES (1, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier"
)


def _write_in_one_statement(
    tx: Tx,
    leaves: list[tuple[int, int, bytes]],
    nodes: list[tuple[int, int, bytes]],
    cases: list[tuple[int, str]],
    head: tuple[int, bytes],
) -> None:
    """Leaves, nodes, case index and head as one PostgreSQL statement (writable CTEs).

    On PostgreSQL every statement is a round of work on the server; a command appends a
    handful of tree rows to four tables, so one statement instead of four or more keeps the
    audit trail's cost per command small. SQLite, in process, does not need this.
    """
    parts: list[str] = []
    params: list[Any] = []

    def rows(table: str, columns: str, types: tuple[str, ...], values: list[tuple[Any, ...]]) -> None:
        if not values:
            return
        one = "(" + ", ".join(f"?::{t}" for t in types) + ")"
        parts.append(f"{table[6:]} AS (INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(values))})")
        params.extend(v for row in values for v in row)

    rows("regie_merkle_leaves", "position, notification_id, leaf", ("bigint", "bigint", "bytea"), leaves)
    rows("regie_merkle_nodes", "level, idx, hash", ("integer", "bigint", "bytea"), nodes)
    rows("regie_merkle_cases", "position, case_id", ("bigint", "text"), cases)
    prefix = ("WITH " + ", ".join(parts) + " ") if parts else ""
    tx.execute(prefix + _HEAD_UPSERT, [*params, *head])


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

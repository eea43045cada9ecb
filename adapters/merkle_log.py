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
import threading
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


def _head_to_extend(tx: Tx) -> tuple[Frontier, bytes]:
    """The head new records go on, and its stored bytes; a damaged one refuses every write, so the evidence stays."""
    row = tx.execute("SELECT size, frontier FROM regie_merkle_head WHERE id = 1").fetchone()
    if row is None:
        return Frontier(), Frontier().to_bytes()
    try:
        frontier = Frontier.from_bytes(bytes(row[1]))
    except (TypeError, ValueError):
        frontier = None
    if frontier is None or row[0] != frontier.size:
        _refuse_write(tx, "the stored tree head is damaged; nothing was written; run `regie audit verify`")
    assert frontier is not None
    return frontier, bytes(row[1])


class HeadCache:
    """The tree head as this process last committed it, so that a command need not read it back.

    One per recorder (one store in one process), shared by its threads. ``fresh`` hands the
    cached head out only when the records being appended come straight after the ones it
    was cached with (first new notification id = last cached id + 1). Appends are serialised
    (PostgreSQL: the library's EXCLUSIVE lock on the events table, held until commit;
    SQLite: the write lock of ``BEGIN IMMEDIATE``), and every append takes its ids from one
    increasing sequence while it holds that lock; so a record appended by anyone else after
    our last commit would sit between the two ids, and the cache is then not used. A gap for
    any other reason (a rolled-back insert, an id the sequence skipped) only costs a read.

    The cache is a hint, never trusted alone: the head is written with a compare-and-swap on
    the stored size and frontier (see ``append``), so a stale cache cannot write a wrong tree.

    A head computed in a transaction is only *staged* (per thread); the recorder promotes it
    after the commit succeeded (``commit``) and throws everything away when it did not
    (``drop``): a rolled-back append must never be extended.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._head: tuple[Frontier, int] | None = None  # the committed head and the last notification id in it
        self._staged = threading.local()
        # Appends that used the cache / read the head; cached heads the stored one had moved past.
        self.hits = self.misses = self.stale = 0  # (for tests and benchmarks)

    def begin(self) -> None:
        """An insert attempt starts (this thread): it has not used the cache yet."""
        self._staged.hit = False

    def took_cached(self) -> bool:
        """Whether this thread's last insert attempt extended the cached head."""
        return bool(getattr(self._staged, "hit", False))

    def fresh(self, first_id: int) -> Frontier | None:
        """A copy of the cached head if the records from ``first_id`` on follow it directly, else None."""
        with self._lock:
            head = self._head
            if head is None or head[1] + 1 != first_id:
                self.misses += 1
                self._staged.hit = False
                return None
            self.hits += 1
        self._staged.hit = True
        return head[0].copy()

    def stage(self, frontier: Frontier, last_id: int) -> None:
        self._staged.head = (frontier.copy(), last_id)

    def commit(self) -> None:
        """The transaction that staged a head has committed: it is now the head to extend."""
        staged = getattr(self._staged, "head", None)
        self._staged.head = None
        if staged is None:
            return
        with self._lock:
            # Threads may report their commits out of order: the larger tree is the later one.
            if self._head is None or staged[0].size > self._head[0].size:
                self._head = staged

    def drop(self, *, stale: bool = False) -> None:
        """A transaction failed, or (``stale``) the stored head was not the cached one: forget both."""
        self._staged.head = None
        with self._lock:
            self._head = None
            self.stale += stale


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
    """Give each newly inserted record its position, leaf and completed nodes; returns the new tree size.

    The head comes from the recorder's ``HeadCache`` when it is fresh, else from the table.
    Either way the new head is written only over the head it was computed from:

    * PostgreSQL: one statement writes the rows and swaps the head; if the stored head is not
      the expected one the statement fails, the transaction with it, and the recorder runs
      the insert again with the head read from the table (``PostgresEventRecorder``). Knowing
      whether the swap took would cost a round trip before the commit; failing it costs none.
    * SQLite: the swap's row count is known at once (in process), so a miss re-reads the head
      and appends again inside the same transaction, which holds the write lock.
    """
    cache: HeadCache | None = tx.tree_head
    cached = cache.fresh(min(notification_ids)) if cache is not None and notification_ids else None
    if tx.dialect == "postgres":
        if cached is None:
            start, stored = _head_to_extend(tx)
        else:
            start, stored = cached, cached.to_bytes()
        expected = (start.size, stored)
        frontier, leaves, nodes, cases = _extend(start, stored_events, notification_ids)
        _write_in_one_statement(tx, leaves, nodes, cases, (frontier.size, frontier.to_bytes()), expected)
    else:
        frontier = None
        if cached is not None:
            expected = (cached.size, cached.to_bytes())
            frontier, leaves, nodes, cases = _extend(cached, stored_events, notification_ids)
            if tx.execute(_HEAD_SWAP, (frontier.size, frontier.to_bytes(), *expected)).rowcount != 1:
                frontier = None  # another process appended (or the head was changed): start from the stored one
                cache.drop(stale=True)
        if frontier is None:
            frontier, leaves, nodes, cases = _extend(_head_to_extend(tx)[0], stored_events, notification_ids)
            tx.execute(_HEAD_UPSERT, (frontier.size, frontier.to_bytes()))
        _insert_rows(tx, "regie_merkle_leaves", "position, notification_id, leaf", leaves)
        _insert_rows(tx, "regie_merkle_nodes", "level, idx, hash", nodes)
        _insert_rows(tx, "regie_merkle_cases", "position, case_id", cases)  # every store has it (format 2 on)
    if cache is not None:
        cache.stage(frontier, max(notification_ids))
    return frontier.size


Rows = list[tuple[Any, ...]]


def _extend(
    start: Frontier, stored_events: Sequence[StoredEvent], notification_ids: Sequence[int]
) -> tuple[Frontier, Rows, Rows, Rows]:
    """The head after appending the records to ``start`` (a copy), and the leaf, node and case rows to write."""
    frontier = start.copy()
    leaves: Rows = []
    nodes: Rows = []
    cases: Rows = []
    traces: dict[Any, UUID | None] = {}
    for stored, notification_id in zip(stored_events, notification_ids, strict=True):
        position = frontier.size
        leaf = leaf_for(position, stored.originator_id, stored.originator_version, stored.topic, stored.state)
        nodes.extend(frontier.append(leaf))
        leaves.append((position, notification_id, leaf))
        case_id = case_of(stored, traces)
        if case_id is not None:
            cases.append((position, str(case_id)))
    return frontier, leaves, nodes, cases


_HEAD_UPSERT = (
    "INSERT INTO regie_merkle_head (id, size, frontier) VALUES (1, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier"
)
_HEAD_SWAP = "UPDATE regie_merkle_head SET size = ?, frontier = ? WHERE id = 1 AND size = ? AND frontier = ?"

# The head written only over the expected one, failing the statement otherwise. When the
# UPDATE matched nothing, the INSERT adds a head: the first one (id 1) when an empty tree was
# expected, else a row with id 0, which the table's CHECK (id = 1) refuses; and an id 1 where a
# head already stands clashes with the primary key. Only an empty table takes the first head.
_HEAD_SWAP_OR_FAIL = (
    "moved AS (UPDATE regie_merkle_head SET size = ?::bigint, frontier = ?::bytea "
    "WHERE id = 1 AND size = ?::bigint AND frontier = ?::bytea RETURNING id) "
    "INSERT INTO regie_merkle_head (id, size, frontier) "
    "SELECT CASE WHEN ?::bigint = 0 THEN 1 ELSE 0 END, ?::bigint, ?::bytea WHERE NOT EXISTS (SELECT FROM moved)"
)


def _write_in_one_statement(
    tx: Tx,
    leaves: Rows,
    nodes: Rows,
    cases: Rows,
    head: tuple[int, bytes],
    expected: tuple[int, bytes],
) -> None:
    """Leaves, nodes, case index and the head's compare-and-swap as one PostgreSQL statement (writable CTEs).

    On PostgreSQL every statement is a round of work on the server; a command appends a
    handful of tree rows to four tables, so one statement instead of four or more keeps the
    audit trail's cost per command small. It needs no answer before the commit: psycopg's
    pipeline sends it with the commit, and a failure aborts the transaction there.

    The rows go as one array per column (``unnest``), so the statement's text and its eleven
    parameters are the same for every append, however many rows: psycopg prepares it on the
    server after a few uses, and no batch comes near PostgreSQL's limit on parameters.
    """
    params: list[Any] = []
    for rows, width in ((leaves, 3), (nodes, 3), (cases, 2)):
        params.extend([row[i] for row in rows] for i in range(width))
    tx.execute(_TREE_ROWS_AND_HEAD, [*params, *head, *expected, expected[0], *head])


_TREE_ROWS_AND_HEAD = (
    "WITH merkle_leaves AS (INSERT INTO regie_merkle_leaves (position, notification_id, leaf) "
    "SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bytea[])), "
    "merkle_nodes AS (INSERT INTO regie_merkle_nodes (level, idx, hash) "
    "SELECT * FROM unnest(?::integer[], ?::bigint[], ?::bytea[])), "
    "merkle_cases AS (INSERT INTO regie_merkle_cases (position, case_id) "
    "SELECT * FROM unnest(?::bigint[], ?::text[])), " + _HEAD_SWAP_OR_FAIL
)

SQLITE_ROWS = 100  # rows per INSERT on SQLite: 300 values, within the oldest limit on parameters (999)


def _insert_rows(tx: Tx, table: str, columns: str, rows: Rows) -> None:
    """Rows as multi-row INSERTs (SQLite): one statement for a command's few rows instead of one per row."""
    width = len(columns.split(","))
    one = "(" + ",".join("?" * width) + ")"
    for start in range(0, len(rows), SQLITE_ROWS):
        part = rows[start : start + SQLITE_ROWS]
        values = ",".join([one] * len(part))
        tx.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", [v for row in part for v in row])


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

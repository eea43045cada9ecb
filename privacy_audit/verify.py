"""Verifying the audit log: every stored record against its leaf, the tree, the head, the checkpoints.

The verifier trusts nothing it reads. For every position it recomputes the leaf hash from
the stored row itself (position, originator id, version, topic, the key id the ciphertext
names and SHA-256 of the ciphertext) and compares it with the stored leaf; it rebuilds the
tree from the stored leaves and compares every stored interior node and the stored head;
and it computes the root at each signed checkpoint's size from the *recomputed* leaves and
compares it with the signed root. Nothing is decrypted, so crypto-shredding never breaks
verification.

What each kind of tampering looks like here:

* a changed byte, or two rows whose contents were swapped or reordered: the row at that
  position no longer hashes to its leaf (``altered``);
* a row inserted outside the application: a row without a position (``unindexed``),
  located where it sits in notification order;
* a deleted row: a position whose row is gone (``missing``);
* a removed tail or a restore from an older backup: the log is shorter than the last
  checkpoint (``truncated``); if the attacker also rewrote the tree, the recomputed root
  at a checkpoint's size differs from the signed one (``diverged``);
* edits to the tree tables themselves: ``node`` and ``head``.

The core (:class:`LogVerifier`) is pure logic over row iterators, so it runs without a
database in tests; :class:`SqlLog` streams the rows of a SQLite or PostgreSQL store in
batches inside one read transaction (one consistent snapshot).

Speed: the hot loop hashes each ciphertext once with hashlib and builds the leaf bytes
from cached per-topic/per-key pieces; the tree is rebuilt level by level per batch; a
batch whose rows and leaves line up is compared with one list comparison, and only a
batch that does not is walked row by row to name the first bad position.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from itertools import count as counter
from typing import Any
from uuid import UUID

from casusregie.domain.errors import RegieError
from casusregie.privacy_audit.checkpoint import Checkpoint
from casusregie.privacy_audit.envelope import FORMAT, NONCE_SIZE, DecryptionFailed, key_id_of
from casusregie.privacy_audit.merkle import EMPTY_ROOT, HASH_SIZE, LEAF_ENCODING_TAG, Frontier, encode_leaf, leaf_hash

__all__ = [
    "ALTERED",
    "DIVERGED",
    "HEAD",
    "LEAF_TABLE",
    "MISSING",
    "NODE",
    "TRUNCATED",
    "UNINDEXED",
    "CheckpointCheck",
    "LogTampered",
    "LogVerifier",
    "Problem",
    "RecordRef",
    "SqlLog",
    "VerifyReport",
    "leaf_of_row",
    "open_log",
    "record_key_id",
    "short_topic",
    "verify_log",
    "verify_store",
]


class LogTampered(RegieError):
    """The log, its tree or its checkpoints disagree: evidence of tampering (exit code 1)."""


# --- problem kinds --------------------------------------------------------------------------

ALTERED = "altered"  # the row at a position no longer hashes to its leaf
UNINDEXED = "unindexed"  # a stored row without a position in the tree
MISSING = "missing"  # a position whose row is gone
LEAF_TABLE = "leaf-table"  # the leaf table itself has gaps or is out of order
TRUNCATED = "truncated"  # the log is shorter than its head or a signed checkpoint
DIVERGED = "diverged"  # the recomputed root at a checkpoint's size is not the signed root
NODE = "node"  # a stored interior node does not match its children
HEAD = "head"  # the stored tree head does not match the tree

#: Problems that name a record: they decide the first bad position.
RECORD_LEVEL = frozenset({ALTERED, UNINDEXED, MISSING, LEAF_TABLE, TRUNCATED})

EXPLAIN = {
    ALTERED: "the stored record no longer matches its leaf hash (content changed, or rows swapped or reordered)",
    UNINDEXED: "a stored record has no position in the tree (inserted outside the application)",
    MISSING: "the record at this position is gone (deleted)",
    LEAF_TABLE: "the tree's leaf table has a gap or is out of order",
    TRUNCATED: "records are missing at the end (tail removed, or restored from an older backup)",
    DIVERGED: "the log no longer hashes to a signed checkpoint (rewritten)",
    NODE: "a stored tree node does not match the records below it",
    HEAD: "the stored tree head does not match the tree",
}


def short_topic(topic: str | None) -> str:
    """``casusregie.domain.case:Case.Referred`` -> ``Case.Referred``."""
    if not topic:
        return "?"
    return topic.rpartition(":")[2] or topic


@dataclass(frozen=True)
class RecordRef:
    """Which stored record a problem is about, as far as the row tells (never decrypted)."""

    notification_id: int | None
    originator_id: str | None = None
    version: int | None = None
    topic: str | None = None

    def label(self) -> str:
        if self.originator_id is None:
            return f"notification id {self.notification_id}"
        return f"{short_topic(self.topic)} v{self.version} of {self.originator_id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "originator_id": self.originator_id,
            "version": self.version,
            "topic": self.topic,
            "record": short_topic(self.topic),
        }


@dataclass(frozen=True)
class Problem:
    """One disagreement. ``position`` is the first position it concerns; ``end`` (exclusive)
    when only a range can be named (a rewritten log checked against a checkpoint)."""

    kind: str
    position: int | None
    message: str
    record: RecordRef | None = None
    end: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "position": self.position,
            "end": self.end,
            "message": self.message,
            "record": None if self.record is None else self.record.to_json(),
        }


@dataclass(frozen=True)
class CheckpointCheck:
    checkpoint: Checkpoint
    ok: bool
    message: str
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "size": cp.size,
            "root": base64.b64encode(cp.root).decode(),
            "timestamp": cp.timestamp.isoformat(),
            "origin": cp.origin,
            "ok": self.ok,
            "message": self.message,
            "file": self.source,
        }


def _problem_order(problem: Problem) -> tuple[int, int]:
    rank = 0 if problem.kind in RECORD_LEVEL else 1 if problem.kind == DIVERGED else 2
    return rank, problem.position if problem.position is not None else 1 << 64


@dataclass
class VerifyReport:
    """The outcome of one verification run."""

    records: int  # stored rows scanned
    size: int  # positions covered by the leaf table
    head_size: int | None
    root: bytes  # root over the stored leaves: what proofs are built from
    recomputed_root: bytes  # root over the leaves recomputed from the rows
    checkpoints: list[CheckpointCheck]
    problems: list[Problem]
    problem_count: int
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first(self) -> Problem | None:
        """The first bad position: record-level problems first, by position; then the rest."""
        return min(self.problems, key=_problem_order) if self.problems else None

    def ordered_problems(self) -> list[Problem]:
        """Record-level problems first, by position; then checkpoint and tree problems."""
        return sorted(self.problems, key=_problem_order)

    @property
    def rate(self) -> float:
        return self.size / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "records": self.records,
            "tree_size": self.size,
            "head_size": self.head_size,
            "root": base64.b64encode(self.root).decode(),
            "recomputed_root": base64.b64encode(self.recomputed_root).decode(),
            "checkpoints": [c.to_json() for c in self.checkpoints],
            "first_bad": None if first is None else first.to_json(),
            "problem_count": self.problem_count,
            "problems": [p.to_json() for p in self.ordered_problems()],
            "elapsed_s": round(self.elapsed, 3),
            "records_per_s": round(self.rate),
        }


# --- the leaf of one row ------------------------------------------------------------------------

EventRow = tuple[int, Any, Any, Any, Any]  # notification id, originator id, version, topic, state
LeafRow = tuple[int, int, bytes]  # position, notification id, leaf hash

_U64 = struct.Struct(">Q").pack
_LEAF_PREFIX = b"\x00" + LEAF_ENCODING_TAG
_LP_UUID = _U64(36)
_LP_DIGEST = _U64(HASH_SIZE)
_MIN_TAIL = NONCE_SIZE + 16  # key_id_of's "truncated" check: nonce and GCM tag after the key id
_UNENCODABLE = b""  # never equal to a stored 32-byte leaf


def _uuid_text(value: Any) -> str:
    """The originator id as ``str(UUID)`` has it; a 32-digit hex string keeps its letters' case."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value if isinstance(value, str) else str(value)


def record_key_id(state: bytes) -> str:
    try:
        return key_id_of(state)
    except DecryptionFailed:
        return "?"


def leaf_of_row(position: int, originator_id: Any, version: Any, topic: Any, state: Any) -> bytes:
    """Reference leaf of one row, exactly as ``adapters.merkle_log.leaf_for`` computes it.

    A row that cannot even be encoded (a version that is not a 64-bit count, a topic that
    is not text, a state that is not bytes) gets an impossible leaf, so it shows as altered.
    """
    try:
        if not isinstance(state, bytes):
            raise TypeError("state is not bytes")
        return leaf_hash(
            encode_leaf(
                position,
                _uuid_text(originator_id),
                version,
                topic,
                record_key_id(state),
                hashlib.sha256(state).digest(),
            )
        )
    except (TypeError, ValueError, OverflowError):
        return _UNENCODABLE


def _tail_of(topic: str, state: bytes) -> bytes:
    """The leaf bytes after the version: LP(topic), LP(key id) and the digest's length prefix."""
    kid = record_key_id(state).encode()
    tb = topic.encode()
    return _U64(len(tb)) + tb + _U64(len(kid)) + kid + _LP_DIGEST


class _LeafHasher:
    """Recomputes leaves for a batch of rows, caching what repeats (topic and key id)."""

    def __init__(self) -> None:
        self._tails: dict[tuple[str, bytes], bytes] = {}
        self._by_topic: dict[str, tuple[bytes, bytes, int]] = {}  # topic -> (header, tail, minimum length)

    def _tail(self, topic: str, state: bytes) -> bytes:
        tail = _tail_of(topic, state)
        if len(self._tails) < 4096:
            self._tails[(topic, state[2 : 2 + state[1]])] = tail
        return tail

    def leaves(self, start: int, rows: Sequence[EventRow]) -> list[bytes]:
        try:
            return self._fast(start, rows)
        except Exception:
            return [leaf_of_row(start + i, r[1], r[2], r[3], r[4]) for i, r in enumerate(rows)]

    def _fast(self, start: int, rows: Sequence[EventRow]) -> list[bytes]:
        sha = hashlib.sha256
        pack = _U64
        join = b"".join
        prefix, lp_uuid, tails, tail_of, by_topic = _LEAF_PREFIX, _LP_UUID, self._tails, self._tail, self._by_topic
        out: list[bytes] = []
        append = out.append
        position = start
        for _nid, oid, version, topic, state in rows:
            if oid.__class__ is str and len(oid) == 32:  # SQLite's hex form: add the dashes, keep the case
                ob = f"{oid[:8]}-{oid[8:12]}-{oid[12:16]}-{oid[16:20]}-{oid[20:]}".encode()
            else:
                ob = (oid if oid.__class__ is str else _uuid_text(oid)).encode()
            # The usual row: same topic and key id as the last row of that topic; no slicing needed.
            known = by_topic.get(topic)
            if known is not None and state.startswith(known[0]) and len(state) >= known[2]:
                tail = known[1]
            elif state[0] == FORMAT and len(state) >= state[1] + 2 + _MIN_TAIL:
                header = state[: 2 + state[1]]
                tail = tails.get((topic, header[2:]))
                if tail is None:
                    tail = tail_of(topic, state)
                by_topic[topic] = (header, tail, len(header) + _MIN_TAIL)
            else:
                tail = _tail_of(topic, state)
            if version < 0:
                raise ValueError("negative version")
            append(
                sha(
                    join(
                        (
                            prefix,
                            pack(position),
                            lp_uuid if len(ob) == 36 else pack(len(ob)),
                            ob,
                            pack(version),
                            tail,
                            sha(state).digest(),
                        )
                    )
                ).digest()
            )
            position += 1
        return out


# --- rebuilding the tree -------------------------------------------------------------------------


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Perfect subtree roots, largest first, into one root (RFC 6962 MTH)."""
    if not hashes:
        return EMPTY_ROOT
    sha = hashlib.sha256
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = sha(b"\x01" + left + result).digest()
    return result


NodeCheck = Callable[[int, int, list[bytes]], None]


class _Tree:
    """The tree rebuilt level by level, batch by batch, with roots noted at watched sizes.

    After every batch each level holds at most one unpaired node, so the state is the
    frontier: O(log n) hashes. ``check(level, first_index, nodes)`` sees every completed
    interior node, in order, to compare it with the stored one.
    """

    def __init__(self, watch: Iterable[int], check: NodeCheck | None = None) -> None:
        self.pending: list[list[bytes]] = []
        self.count = 0
        self.watch = sorted(set(watch))
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in self.watch else {}
        self.check = check

    def copy(self) -> _Tree:
        twin = _Tree(self.watch)
        twin.pending = [list(p) for p in self.pending]
        twin.count = self.count
        twin.roots = dict(self.roots)
        return twin

    def frontier(self) -> list[bytes]:
        return [p[0] for p in reversed(self.pending) if p]

    def root(self) -> bytes:
        return _fold(self.frontier())

    def extend(self, leaves: list[bytes]) -> None:
        while leaves:
            i = bisect.bisect_right(self.watch, self.count)
            target = self.watch[i] if i < len(self.watch) else None
            if target is None or self.count + len(leaves) < target:
                self._extend(leaves)
                return
            cut = target - self.count
            self._extend(leaves[:cut])
            self.roots[target] = self.root()
            leaves = leaves[cut:]

    def _extend(self, nodes: list[bytes]) -> None:
        if not nodes:
            return
        sha = hashlib.sha256
        old = self.count
        self.count += len(nodes)
        level = 0
        while True:
            if level == len(self.pending):
                self.pending.append([])
            waiting = self.pending[level]
            if waiting:
                nodes = waiting + nodes
            even = len(nodes) & ~1
            if not even:
                self.pending[level] = nodes
                return
            pairs = iter(nodes[:even])
            parents = [sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
            self.pending[level] = nodes[even:]
            level += 1
            if self.check is not None:
                self.check(level, old >> level, parents)
            nodes = parents


class _StoredLevel:
    """The stored nodes of one level, consumed in index order, with push-back."""

    def __init__(self, rows: Iterable[tuple[int, bytes]]) -> None:
        self.rows = iter(rows)
        self.back: deque[tuple[int, bytes]] = deque()

    def take(self, start: int, count: int) -> list[tuple[int, bytes]]:
        got: list[tuple[int, bytes]] = []
        while self.back and len(got) < count:
            got.append(self.back.popleft())
        if len(got) < count:
            got.extend(islice(self.rows, count - len(got)))
        if got and got[-1][0] >= start + count:
            keep = [row for row in got if row[0] < start + count]
            self.back.extendleft(reversed(got[len(keep) :]))
            got = keep
        return got

    def rest(self) -> Iterator[tuple[int, bytes]]:
        yield from self.back
        yield from self.rows


# --- the verifier ------------------------------------------------------------------------------


class LogVerifier:
    """Checks a log given as row iterators; see :func:`verify_log`."""

    def __init__(
        self,
        *,
        nodes: Callable[[int], Iterable[tuple[int, bytes]]] | None = None,
        max_node_level: int = 0,
        head: Frontier | None = None,
        checkpoints: Sequence[Checkpoint] = (),
        checkpoint_sources: Sequence[str | None] = (),
        progress: Callable[[int], None] | None = None,
        batch: int = 4096,
        limit: int = 50,
    ) -> None:
        self._nodes_of = nodes
        self._max_node_level = max_node_level
        self._head = head
        order = sorted(range(len(checkpoints)), key=lambda i: checkpoints[i].size)
        self._checkpoints = [checkpoints[i] for i in order]
        sources = list(checkpoint_sources) + [None] * len(checkpoints)
        self._sources = [sources[i] for i in order]
        self._progress = progress
        self._batch = max(2, batch)
        self._limit = limit
        self._hasher = _LeafHasher()
        self._levels: dict[int, _StoredLevel] = {}
        self.problems: list[Problem] = []
        self.problem_count = 0

    # --- bookkeeping ---

    def _report(
        self, kind: str, position: int | None, message: str, record: RecordRef | None = None, end: int | None = None
    ) -> None:
        self.problem_count += 1
        if len(self.problems) < self._limit or (
            kind in RECORD_LEVEL and not any(p.kind in RECORD_LEVEL for p in self.problems)
        ):
            self.problems.append(Problem(kind, position, message, record, end))

    @staticmethod
    def _ref(row: EventRow) -> RecordRef:
        nid, oid, version, topic, _state = row
        return RecordRef(
            nid,
            _uuid_text(oid) if oid is not None else None,
            version if isinstance(version, int) else None,
            topic if isinstance(topic, str) else None,
        )

    def _level(self, level: int) -> _StoredLevel:
        stored = self._levels.get(level)
        if stored is None:
            rows = self._nodes_of(level) if self._nodes_of is not None else ()
            stored = self._levels[level] = _StoredLevel(rows)
        return stored

    def _check_nodes(self, level: int, start: int, computed: list[bytes]) -> None:
        if self._nodes_of is None:
            return
        got = self._level(level).take(start, len(computed))
        n = len(computed)
        if len(got) == n and got[0][0] == start and got[-1][0] == start + n - 1 and [h for _, h in got] == computed:
            return
        stored = {idx: bytes(h) for idx, h in got}
        for idx in sorted(i for i in stored if i < start):
            self._report(NODE, idx << level, f"stored tree node (level {level}, index {idx}) is out of order")
        for offset, want in enumerate(computed):
            idx = start + offset
            have = stored.get(idx)
            if have is None:
                self._report(NODE, idx << level, f"tree node (level {level}, index {idx}) is missing from the store")
            elif have != want:
                self._report(
                    NODE,
                    idx << level,
                    f"stored tree node (level {level}, index {idx}) does not match the records below it",
                )

    # --- the scan ---

    def run(self, events: Iterable[EventRow], leaves: Iterable[LeafRow]) -> VerifyReport:
        started = time.perf_counter()
        watch = {cp.size for cp in self._checkpoints}
        self._stored_tree = _Tree(watch, self._check_nodes)
        self._recomputed: _Tree | None = None
        self._position = 0
        self._last_nid: int | None = None
        self._pending: list[EventRow] = []
        self._records = 0
        ev_iter, leaf_iter = iter(events), iter(leaves)
        batch = self._batch
        while True:
            chunk = list(islice(leaf_iter, batch))
            if not chunk:
                break
            rows = self._take_events(ev_iter, max(c[1] for c in chunk), len(chunk))
            self._records += len(rows)
            self._batch_of(chunk, rows)
            if self._progress is not None:
                self._progress(self._position)
        rest = self._pending + list(ev_iter)
        self._pending = []
        self._records += len(rest)
        for row in rest:
            self._report(
                UNINDEXED,
                self._position,
                f"record {self._ref(row).label()} has no position in the tree",
                self._ref(row),
            )
        return self._finish(started)

    def _take_events(self, rows: Iterator[EventRow], last_nid: int, expected: int) -> list[EventRow]:
        """The events with notification id <= ``last_nid``, taken in blocks (rows are in id order)."""
        block = self._pending
        if len(block) < expected:
            block.extend(islice(rows, expected - len(block)))
        while block and block[-1][0] <= last_nid:  # rows inserted in between: read until past the batch
            row = next(rows, None)
            if row is None:
                break
            block.append(row)
        cut = bisect.bisect_right([r[0] for r in block], last_nid)
        self._pending = block[cut:]
        return block[:cut]

    def _batch_of(self, chunk: list[LeafRow], rows: list[EventRow]) -> None:
        p = self._position
        n = len(chunk)
        nids = [c[1] for c in chunk]
        if (
            len(rows) == n
            and [c[0] for c in chunk] == list(range(p, p + n))
            and (self._last_nid is None or nids[0] > self._last_nid)
            and [r[0] for r in rows] == nids
        ):
            stored = [c[2] for c in chunk]
            computed = self._hasher.leaves(p, rows)
            if computed == stored:
                self._feed(stored, stored)
                self._position = p + n
                self._last_nid = nids[-1]
                return
        self._merge(chunk, rows)

    def _merge(self, chunk: list[LeafRow], rows: list[EventRow]) -> None:
        """Walk one batch row by row: name each disagreement at its position."""
        stored_leaves: list[bytes] = []
        computed_leaves: list[bytes] = []
        i = j = 0
        seen_j = -1
        while j < len(chunk) or i < len(rows):
            if j < len(chunk) and seen_j != j:
                seen_j = j
                position, nid = chunk[j][0], chunk[j][1]
                if position < self._position:
                    self._report(LEAF_TABLE, position, f"position {position} appears again in the leaf table")
                    j += 1
                    continue
                if position > self._position:
                    self._report(
                        LEAF_TABLE,
                        self._position,
                        f"positions {self._position}..{position - 1} are missing from the leaf table",
                    )
                    self._position = position
                if self._last_nid is not None and nid <= self._last_nid:
                    self._report(
                        LEAF_TABLE,
                        position,
                        f"the leaf table puts notification id {nid} out of order at position {position}",
                    )
            if i < len(rows) and (j >= len(chunk) or rows[i][0] < chunk[j][1]):
                ref = self._ref(rows[i])
                self._report(UNINDEXED, self._position, f"record {ref.label()} has no position in the tree", ref)
                i += 1
                continue
            position, nid, stored = chunk[j][0], chunk[j][1], bytes(chunk[j][2])
            if i >= len(rows) or rows[i][0] > nid:
                self._report(
                    MISSING,
                    position,
                    f"the record at position {position} (notification id {nid}) is gone",
                    RecordRef(nid),
                )
                computed = stored
            else:
                computed = self._hasher.leaves(position, [rows[i]])[0]
                if computed != stored:
                    ref = self._ref(rows[i])
                    self._report(
                        ALTERED,
                        position,
                        f"record {ref.label()} at position {position} does not match its leaf hash",
                        ref,
                    )
                i += 1
            stored_leaves.append(stored)
            computed_leaves.append(computed)
            self._position = position + 1
            self._last_nid = nid if self._last_nid is None else max(self._last_nid, nid)
            j += 1
        self._feed(stored_leaves, computed_leaves)

    def _feed(self, stored: list[bytes], computed: list[bytes]) -> None:
        if self._recomputed is not None:
            self._stored_tree.extend(stored)
            self._recomputed.extend(computed)
            return
        if computed is stored or computed == stored:
            self._stored_tree.extend(stored)
            return
        k = next(i for i, (a, b) in enumerate(zip(stored, computed, strict=True)) if a != b)
        self._stored_tree.extend(stored[:k])
        self._recomputed = self._stored_tree.copy()
        self._stored_tree.extend(stored[k:])
        self._recomputed.extend(computed[k:])

    # --- after the scan ---

    def _finish(self, started: float) -> VerifyReport:
        tree = self._stored_tree
        size = self._position
        self._check_leftover_nodes(tree.count)
        head_size = None
        if self._head is not None:
            head_size = self._head.size
            if head_size > size:
                self._report(
                    TRUNCATED,
                    size,
                    f"the tree head counts {head_size} records but the log ends at {size}: "
                    f"records {size}..{head_size - 1} are gone",
                    end=head_size,
                )
            elif head_size < size:
                self._report(
                    HEAD, head_size, f"the tree head counts {head_size} records but the leaf table holds {size}"
                )
            elif list(self._head.hashes) != tree.frontier():
                self._report(HEAD, None, "the stored tree head (frontier) does not match the stored nodes")
        recomputed = self._recomputed or tree
        checks = self._check_checkpoints(size, recomputed)
        return VerifyReport(
            records=self._records,
            size=size,
            head_size=head_size,
            root=tree.root(),
            recomputed_root=recomputed.root(),
            checkpoints=checks,
            problems=self.problems,
            problem_count=self.problem_count,
            elapsed=time.perf_counter() - started,
        )

    def _check_leftover_nodes(self, leaf_count: int) -> None:
        if self._nodes_of is None:
            return
        top = max(leaf_count.bit_length(), self._max_node_level)
        for level in range(1, top + 1):
            complete = leaf_count >> level
            for idx, _hash in self._level(level).rest():
                if idx >= complete:
                    self._report(
                        NODE,
                        idx << level,
                        f"stored tree node (level {level}, index {idx}) lies beyond the tree of {leaf_count} records",
                    )

    def _check_checkpoints(self, size: int, recomputed: _Tree) -> list[CheckpointCheck]:
        checks: list[CheckpointCheck] = []
        matched = 0
        longest = max((cp for cp in self._checkpoints if cp.size > size), key=lambda cp: cp.size, default=None)
        for cp, source in zip(self._checkpoints, self._sources, strict=True):
            when = cp.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
            if cp.size > size:
                message = (
                    f"the log ends at {size} records but the checkpoint of {when} signed {cp.size}: "
                    f"records {size}..{cp.size - 1} are missing (tail removed or restored from an older backup)"
                )
                if cp is longest:
                    self._report(TRUNCATED, size, message, end=cp.size)
                checks.append(CheckpointCheck(cp, False, message, source))
                continue
            root = recomputed.roots.get(cp.size)
            if root == cp.root:
                matched = max(matched, cp.size)
                checks.append(
                    CheckpointCheck(cp, True, f"the first {cp.size} records hash to the root signed at {when}", source)
                )
                continue
            message = (
                f"the first {cp.size} records no longer hash to the root signed at {when}: the first "
                f"difference lies in positions {matched}..{cp.size - 1}"
            )
            self._report(DIVERGED, matched, message, end=cp.size)
            checks.append(CheckpointCheck(cp, False, message, source))
        return checks


def verify_log(
    events: Iterable[EventRow],
    leaves: Iterable[LeafRow],
    *,
    nodes: Callable[[int], Iterable[tuple[int, bytes]]] | None = None,
    max_node_level: int = 0,
    head: Frontier | None = None,
    checkpoints: Sequence[Checkpoint] = (),
    checkpoint_sources: Sequence[str | None] = (),
    progress: Callable[[int], None] | None = None,
    batch: int = 4096,
    limit: int = 50,
) -> VerifyReport:
    """Verify a log given as row iterators (pure: no database needed).

    * ``events``: ``(notification id, originator id, version, topic, state)`` ascending by
      notification id; the originator id as a UUID or its text;
    * ``leaves``: ``(position, notification id, leaf hash)`` ascending by position;
    * ``nodes(level)``: the stored ``(index, hash)`` of one level (>= 1), ascending; omit
      to skip the check of stored nodes; ``max_node_level`` the highest stored level;
    * ``head``: the stored tree head; ``checkpoints``: signed checkpoints to check against
      (already signature-checked by the caller).
    """
    verifier = LogVerifier(
        nodes=nodes,
        max_node_level=max_node_level,
        head=head,
        checkpoints=checkpoints,
        checkpoint_sources=checkpoint_sources,
        progress=progress,
        batch=batch,
        limit=limit,
    )
    return verifier.run(events, leaves)


# --- reading a store ------------------------------------------------------------------------------------

# SQLite keeps the originator id as 32 hex digits; the verifier adds the dashes itself (keeping the
# letters' case, so an id rewritten in upper case shows as altered).
_SQLITE_EVENTS = "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
_PG_EVENTS = (
    "SELECT notification_id, originator_id::text, originator_version, topic, state "
    "FROM stored_events ORDER BY notification_id"
)
_LEAVES = "SELECT position, notification_id, leaf FROM regie_merkle_leaves ORDER BY position"
_NODES = "SELECT idx, hash FROM regie_merkle_nodes WHERE level = {p} ORDER BY idx"


class SqlLog:
    """Streams one store's rows from one open connection, inside the caller's transaction.

    ``conn`` is a ``sqlite3.Connection`` or a ``psycopg.Connection``; every query runs on it,
    so the caller decides the snapshot (and may, in tests, tamper in the same transaction).
    """

    def __init__(self, conn: Any, dialect: str, batch: int = 5000) -> None:
        if dialect not in ("sqlite", "postgres"):
            raise ValueError(f"unknown dialect {dialect!r}")
        self.conn = conn
        self.dialect = dialect
        self.batch = batch
        self._names = counter()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        if self.dialect == "sqlite":  # batches flattened in C: no Python frame per row
            cursor = self.conn.execute(sql, tuple(params))
            return chain.from_iterable(iter(lambda: cursor.fetchmany(self.batch), []))
        return self._server_rows(sql, params)

    def _server_rows(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        sql = sql.replace("{p}", "%s")
        with self.conn.cursor(name=f"regie_audit_{next(self._names)}", binary=True, row_factory=tuple_row) as cur:
            cur.itersize = self.batch
            cur.execute(sql, tuple(params))
            yield from cur

    def _one(self, sql: str) -> tuple[Any, ...] | None:
        if self.dialect == "sqlite":
            return self.conn.execute(sql).fetchone()
        from psycopg.rows import tuple_row

        with self.conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(sql).fetchone()

    def events(self) -> Iterator[EventRow]:
        return self._rows(_SQLITE_EVENTS if self.dialect == "sqlite" else _PG_EVENTS)  # type: ignore[return-value]

    def states(self) -> Iterator[tuple[bytes]]:
        """``SELECT state FROM stored_events``, streamed the same way: the raw-scan baseline."""
        return self._rows("SELECT state FROM stored_events")  # type: ignore[return-value]

    def leaves(self) -> Iterator[LeafRow]:
        return self._rows(_LEAVES)  # type: ignore[return-value]

    def nodes(self, level: int) -> Iterator[tuple[int, bytes]]:
        sql = _NODES.replace("{p}", "?") if self.dialect == "sqlite" else _NODES
        return self._rows(sql, (level,))  # type: ignore[return-value]

    def max_node_level(self) -> int:
        row = self._one("SELECT max(level) FROM regie_merkle_nodes")
        return int(row[0]) if row and row[0] is not None else 0

    def head(self) -> Frontier | None:
        """The stored head, or None if there is none; a damaged head is a size-0 frontier."""
        row = self._one("SELECT size, frontier FROM regie_merkle_head WHERE id = 1")
        if row is None:
            return None
        try:
            return Frontier.from_bytes(bytes(row[1]))
        except ValueError:
            return Frontier()

    def head_size(self) -> int:
        row = self._one("SELECT size FROM regie_merkle_head WHERE id = 1")
        return int(row[0]) if row else 0

    def verify(
        self,
        checkpoints: Sequence[Checkpoint] = (),
        checkpoint_sources: Sequence[str | None] = (),
        progress: Callable[[int], None] | None = None,
        limit: int = 50,
    ) -> VerifyReport:
        """Verify everything stored, against the given (signature-checked) checkpoints."""
        head = self.head()
        return verify_log(
            self.events(),
            self.leaves(),
            nodes=self.nodes,
            max_node_level=self.max_node_level(),
            head=head,
            checkpoints=checkpoints,
            checkpoint_sources=checkpoint_sources,
            progress=progress,
            batch=self.batch,
            limit=limit,
        )


@contextmanager
def open_log(location: Any, batch: int = 5000) -> Iterator[SqlLog]:
    """A dedicated read-only snapshot of a store's log (``location``: a StoreLocation).

    SQLite: one deferred read transaction (a WAL snapshot); PostgreSQL: one REPEATABLE READ,
    READ ONLY transaction, so events, leaves, nodes and head all come from one moment even
    while the application keeps writing.
    """
    if location.is_postgres:
        import psycopg
        from psycopg import IsolationLevel
        from psycopg.sql import SQL, Identifier

        conn = psycopg.connect(location.dsn, connect_timeout=10)
        try:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.execute(SQL("SET search_path TO {}").format(Identifier(location.schema)))
            yield SqlLog(conn, "postgres", batch)
        finally:
            conn.rollback()
            conn.close()
        return
    import sqlite3

    conn = sqlite3.connect(str(location.path), isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN")
        yield SqlLog(conn, "sqlite", batch)
    finally:
        conn.rollback()
        conn.close()


def verify_store(
    store: Any,
    checkpoints: Sequence[Checkpoint] = (),
    checkpoint_sources: Sequence[str | None] = (),
    progress: Callable[[int], None] | None = None,
    limit: int = 50,
) -> VerifyReport:
    """Verify an opened store's whole log in one consistent snapshot."""
    with open_log(store.location) as log:
        return log.verify(checkpoints, checkpoint_sources, progress, limit)

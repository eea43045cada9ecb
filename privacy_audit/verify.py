"""Verifying the audit log: every stored record against its leaf, its key, the tree, the head, the checkpoints.

The verifier trusts nothing it reads. For every position it recomputes the leaf hash from
the stored row itself (position, originator id, version, topic, the key id the ciphertext
names and SHA-256 of the ciphertext) and compares it with the stored leaf; it checks the
row's AES-GCM tag with the store's row key (the tag covers the row's place: store,
originator id, version, topic), so a row made without the key fails even when its leaf,
the nodes and the head were recomputed to match; it rebuilds the tree from the stored
leaves and compares every stored interior node and the stored head (size and frontier);
and it computes the root at each signed checkpoint's size from the *recomputed* leaves and
compares it with the signed root. Checking a tag opens only the row body, whose personal
fields stay sealed under their own keys; crypto-shredding never breaks verification.

What each kind of tampering looks like here:

* a changed byte, or two rows whose contents were swapped or reordered: the row at that
  position no longer hashes to its leaf (``altered``);
* a row made outside the application whose leaf, nodes and head were recomputed (which
  needs no key): it does not authenticate (``unauthentic``);
* a row inserted outside the application: a row without a position (``unindexed``),
  located where it sits in notification order;
* a deleted row: a position whose row is gone (``missing``);
* a removed tail or a restore from an older backup: the log is shorter than the last
  checkpoint (``truncated``); if the attacker also rewrote the tree, the recomputed root
  at a checkpoint's size differs from the signed one (``diverged``);
* edits to the tree tables themselves: ``node``, ``head`` and ``leaf-table``; to the
  position -> case index (which only names cases in reports): ``case-index``.

A value stored with the wrong type (SQLite lets any column hold anything) reads as NULL:
it never hashes to a leaf, so it is reported at its position instead of failing to decode.

The core (:class:`LogVerifier`) is pure logic over row iterators, so it runs without a
database in tests; :class:`SqlLog` streams the rows of a SQLite or PostgreSQL store in
batches inside one read transaction (one consistent snapshot).

Speed: the hot loop hashes each ciphertext once with hashlib, builds the leaf bytes and the
row's associated data from cached per-topic/per-key pieces, and checks the tag with the
prepared AES-GCM key; the tree is rebuilt level by level per batch; a batch whose rows and
leaves line up is compared with one list comparison, and only a batch that does not is
walked row by row to name the first bad position.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import os
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from itertools import count as counter
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag

from casusregie.domain.errors import RegieError
from casusregie.privacy_audit.checkpoint import Checkpoint
from casusregie.privacy_audit.envelope import FORMAT, NONCE_SIZE, DecryptionFailed, canonical, key_id_of
from casusregie.privacy_audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_ENCODING_TAG,
    Frontier,
    NodeID,
    ProofError,
    consistency_proof,
    consistency_proof_nodes,
    tree_root_nodes,
    verify_consistency,
)

__all__ = [
    "ACCESS_STARTED",
    "ACCESS_TOPIC_PREFIX",
    "ACCESS_TOUCHED",
    "ALTERED",
    "CASE_INDEX",
    "CASE_NAMED_IN_BODY",
    "CASE_TOPIC_PREFIX",
    "DIVERGED",
    "ERASURE_RECORDED",
    "HEAD",
    "LEAF_TABLE",
    "MISSING",
    "NODE",
    "TRUNCATED",
    "UNAUTHENTIC",
    "UNINDEXED",
    "CheckpointCheck",
    "LogTampered",
    "LogVerifier",
    "Problem",
    "RecordRef",
    "RowAuthenticator",
    "SqlLog",
    "StoredHead",
    "VerifyReport",
    "authenticate_tail",
    "leaf_of_row",
    "open_log",
    "record_key_id",
    "short_topic",
    "store_authenticator",
    "verify_log",
    "verify_store",
]


class LogTampered(RegieError):
    """The log, its tree or its checkpoints disagree: evidence of tampering (exit code 1)."""


# --- problem kinds --------------------------------------------------------------------------

ALTERED = "altered"  # the row at a position no longer hashes to its leaf
UNAUTHENTIC = "unauthentic"  # the row hashes to its leaf but was not sealed with the store's row key
UNINDEXED = "unindexed"  # a stored row without a position in the tree
MISSING = "missing"  # a position whose row is gone
LEAF_TABLE = "leaf-table"  # the leaf table itself has gaps, is out of order or is damaged
TRUNCATED = "truncated"  # the log is shorter than its head or a signed checkpoint
DIVERGED = "diverged"  # the recomputed root at a checkpoint's size is not the signed root
NODE = "node"  # a stored interior node does not match its children
HEAD = "head"  # the stored tree head does not match the tree
CASE_INDEX = "case-index"  # the position -> case index does not match the record there

#: Problems that name a record: they decide the first bad position.
RECORD_LEVEL = frozenset({ALTERED, UNAUTHENTIC, UNINDEXED, MISSING, LEAF_TABLE, TRUNCATED})

EXPLAIN = {
    ALTERED: "the stored record no longer matches its leaf hash (content changed, or rows swapped or reordered)",
    UNAUTHENTIC: "the stored record was not sealed with the store's row key (forged outside the application, "
    "or moved or copied from another place)",
    UNINDEXED: "a stored record has no position in the tree (inserted outside the application)",
    MISSING: "the record at this position is gone (deleted)",
    LEAF_TABLE: "the tree's leaf table has a gap, is out of order or is damaged",
    TRUNCATED: "records are missing at the end (tail removed, or restored from an older backup)",
    DIVERGED: "the log no longer hashes to a signed checkpoint (rewritten)",
    NODE: "a stored tree node does not match the records below it",
    HEAD: "the stored tree head does not match the tree",
    CASE_INDEX: "the index of which case each position belongs to does not match the record there",
}

# --- which records belong to a case ----------------------------------------------------------

CASE_TOPIC_PREFIX = "casusregie.domain.case:Case."
ACCESS_TOPIC_PREFIX = "casusregie.domain.access:AccessTrace."
ACCESS_STARTED = ACCESS_TOPIC_PREFIX + "Started"
ACCESS_TOUCHED = ACCESS_TOPIC_PREFIX + "SubjectTouched"
ERASURE_RECORDED = "casusregie.domain.erasure:Erasure.Recorded"
#: Records whose (encrypted) body names the case they belong to, as ``case_id``.
CASE_NAMED_IN_BODY = frozenset({ACCESS_STARTED, ERASURE_RECORDED})

_CASE_PREFIX_B = CASE_TOPIC_PREFIX.encode()
_STARTED_B = ACCESS_STARTED.encode()
_TOUCHED_B = ACCESS_TOUCHED.encode()
_NAMED_B = frozenset(t.encode() for t in CASE_NAMED_IN_BODY)


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
            "timestamp": None if cp.timestamp is None else cp.timestamp.isoformat(),
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
    authenticated: bool = False  # every row's tag was checked with the store's row key
    verified_from: Checkpoint | None = None  # incremental: the earlier verification this run built on
    base_refused: bool = False  # an incremental run was asked for, but the log no longer extends its base
    segments: int = 1  # a full pass split into subtrees checked side by side (verify_parallel)

    @property
    def mode(self) -> str:
        return "full" if self.verified_from is None else "incremental"

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
        """Records checked per second (an incremental run checks those after its base)."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "records": self.records,
            "tree_size": self.size,
            "head_size": self.head_size,
            "root": base64.b64encode(self.root).decode(),
            "recomputed_root": base64.b64encode(self.recomputed_root).decode(),
            "authenticated": self.authenticated,
            "mode": self.mode,
            "verified_from": None
            if self.verified_from is None
            else {
                "size": self.verified_from.size,
                "timestamp": None if self.verified_from.timestamp is None else self.verified_from.timestamp.isoformat(),
            },
            "base_refused": self.base_refused,
            "checkpoints": [c.to_json() for c in self.checkpoints],
            "first_bad": None if first is None else first.to_json(),
            "problem_count": self.problem_count,
            "problems": [p.to_json() for p in self.ordered_problems()],
            "elapsed_s": round(self.elapsed, 3),
            "records_per_s": round(self.rate),
        }


@dataclass(frozen=True)
class StoredHead:
    """The stored tree head as read: ``size`` column and ``frontier``, each None when damaged."""

    size: int | None
    frontier: Frontier | None

    @classmethod
    def of(cls, frontier: Frontier) -> StoredHead:
        return cls(frontier.size, frontier)

    @classmethod
    def parse(cls, size: Any, frontier: Any) -> StoredHead:
        size = size if isinstance(size, int) and not isinstance(size, bool) else None
        try:
            parsed = Frontier.from_bytes(bytes(frontier)) if isinstance(frontier, (bytes, memoryview)) else None
        except ValueError:
            parsed = None
        return cls(size, parsed)


# --- the leaf of one row ------------------------------------------------------------------------

EventRow = tuple[int, Any, Any, Any, Any]  # notification id, originator id, version, topic, state
LeafRow = tuple[int, Any, Any]  # position, notification id, leaf hash (None where damaged)

_U64 = struct.Struct(">Q").pack
_U32 = struct.Struct(">I").pack
_LEAF_PREFIX = b"\x00" + LEAF_ENCODING_TAG
_LP_UUID = _U64(36)
_LP_DIGEST = _U64(HASH_SIZE)
_AAD_UUID = b"s" + _U32(36)
_MIN_TAIL = NONCE_SIZE + 16  # key_id_of's "truncated" check: nonce and GCM tag after the key id
_UNENCODABLE = b""  # never equal to a stored 32-byte leaf
_U64_LIMIT = 1 << 64


def _dashed(hex32: bytes) -> bytes:
    return b"-".join((hex32[:8], hex32[8:12], hex32[12:16], hex32[16:20], hex32[20:]))  # as in _fast, inlined there


def _oid_bytes(value: Any) -> bytes | None:
    """The originator id as the leaf and the row's associated data hold it: ``str(UUID)`` in UTF-8.

    SQLite keeps 32 hex digits: the dashes are added back, keeping the letters' case, so an id
    rewritten in upper case no longer matches. None when it cannot be an id at all.
    """
    if isinstance(value, UUID):
        return str(value).encode()
    if isinstance(value, str):
        try:
            value = value.encode()
        except UnicodeEncodeError:
            return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        return _dashed(value) if len(value) == 32 else value
    return None


def _text_bytes(value: Any) -> bytes | None:
    if isinstance(value, str):
        try:
            return value.encode()
        except UnicodeEncodeError:
            return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return None


def _shown(value: Any) -> str | None:
    """Text read as bytes, for reports: never fails, whatever the bytes are."""
    raw = _text_bytes(value)
    return None if raw is None else raw.decode("utf-8", "backslashreplace")


def record_key_id(state: bytes) -> str:
    try:
        return key_id_of(state)
    except DecryptionFailed:
        return "?"


def _tail(topic: bytes, key_id: bytes) -> bytes:
    """The leaf bytes after the version: LP(topic), LP(key id) and the digest's length prefix."""
    return _U64(len(topic)) + topic + _U64(len(key_id)) + key_id + _LP_DIGEST


def _leaf(position: int, oid: bytes | None, version: Any, topic: bytes | None, state: Any) -> bytes:
    """Exactly ``leaf_hash(encode_leaf(...))``, from the row's bytes; impossible leaf if unencodable."""
    if (
        oid is None
        or topic is None
        or not isinstance(state, bytes)
        or isinstance(version, bool)
        or not isinstance(version, int)
        or not 0 <= version < _U64_LIMIT
        or not 0 <= position < _U64_LIMIT
    ):
        return _UNENCODABLE
    kid = record_key_id(state).encode()
    data = (_LEAF_PREFIX, _U64(position), _U64(len(oid)), oid, _U64(version), _tail(topic, kid))
    return hashlib.sha256(b"".join((*data, hashlib.sha256(state).digest()))).digest()


def leaf_of_row(position: int, originator_id: Any, version: Any, topic: Any, state: Any) -> bytes:
    """Reference leaf of one row, exactly as ``adapters.merkle_log.leaf_for`` computes it.

    A row that cannot even be encoded (a version that is not a 64-bit count, a topic that
    is not text, a state that is not bytes) gets an impossible leaf, so it shows as altered.
    """
    return _leaf(position, _oid_bytes(originator_id), version, _text_bytes(topic), state)


# --- authenticating a row -----------------------------------------------------------------------

_NOT_CIPHERTEXT = "is not a casusregie ciphertext"
_BAD_TAG = (
    "does not authenticate under the store's row key (made or changed without the key, or moved from another row)"
)


def _not_row_key(key_id: str) -> str:
    return f"names key id {key_id!r}, which is not the store's row key"


def _ciphertext_end(state: Any) -> int | None:
    """Where a ciphertext's header ends (format byte, key id), or None if it is not one."""
    if not isinstance(state, bytes) or len(state) < 2 or state[0] != FORMAT:
        return None
    end = 2 + state[1]
    return end if len(state) >= end + _MIN_TAIL else None


class RowAuthenticator:
    """Checks a stored row's AES-GCM tag with the store's row key, the way the mapper sealed it.

    The tag covers the ciphertext header (format, key id), the row body and the row's place
    (store, originator id, version, topic): a row made without the key, moved to another
    row, or copied to another version fails. A row naming any other key id is not the
    application's. Opening the body reveals no personal data: those fields stay sealed under
    their own keys, and nothing here opens them.
    """

    def __init__(self, store_id: str, row_keys: Mapping[str, Any]) -> None:
        self.prefix = canonical("regie-row-v1", store_id)
        self.keys = {key_id.encode("ascii"): aead for key_id, aead in row_keys.items()}

    def aad(self, oid: bytes, version: int, topic: bytes) -> bytes:
        """``adapters.mapper.row_aad``, from the row's bytes."""
        digits = b"%d" % version
        return b"".join(
            (self.prefix, b"s", _U32(len(oid)), oid, b"i", _U32(len(digits)), digits, b"s", _U32(len(topic)), topic)
        )

    def open(self, oid: bytes, version: int, topic: bytes, state: bytes) -> tuple[bytes | None, str | None]:
        """``(body, None)`` when the row authenticates (body still compressed), else ``(None, why)``."""
        end = _ciphertext_end(state)
        if end is None:
            return None, _NOT_CIPHERTEXT
        aead = self.keys.get(state[2:end])
        if aead is None:
            return None, _not_row_key(record_key_id(state))
        try:
            body = aead.decrypt(
                state[end : end + NONCE_SIZE], state[end + NONCE_SIZE :], state[:end] + self.aad(oid, version, topic)
            )
        except (InvalidTag, ValueError):
            return None, _BAD_TAG
        return body, None


@dataclass
class _Checked:
    """One batch of rows checked: recomputed leaves; rows whose tag fails, with why; bodies wanted."""

    leaves: list[bytes]
    failures: dict[int, str]
    bodies: dict[int, bytes]


class _RowChecker:
    """Recomputes leaves and checks tags for a batch of rows, caching what repeats (topic, key id)."""

    def __init__(self, authenticator: RowAuthenticator | None = None) -> None:
        self.auth = authenticator
        self._tails: dict[tuple[bytes, bytes], bytes] = {}
        # topic -> (header, leaf tail, minimum length, header end, AES-GCM key or None, topic's AAD part)
        self._by_topic: dict[bytes, tuple[bytes, bytes, int, int, Any, bytes]] = {}

    def leaves(self, start: int, rows: Sequence[EventRow]) -> list[bytes]:
        return self.check(start, rows).leaves

    def check(self, start: int, rows: Sequence[EventRow], bodies: bool = False) -> _Checked:
        """``bodies``: also hand back the opened bodies of records that name their case."""
        try:
            return self._fast(start, rows, bodies)
        except Exception:  # an odd row anywhere: redo the batch one row at a time, exactly
            return self._slow(start, rows, bodies)

    def _learn(self, topic: bytes, state: bytes) -> tuple[bytes, bytes, int, int, Any, bytes]:
        end = _ciphertext_end(state)
        if end is None:
            raise ValueError("not a ciphertext")  # the slow path says so for this row
        header = state[:end]
        tail = self._tails.get((topic, header))
        if tail is None:
            tail = _tail(topic, record_key_id(state).encode())
            if len(self._tails) < 4096:
                self._tails[(topic, header)] = tail
        aead = self.auth.keys.get(header[2:]) if self.auth is not None else None
        known = (header, tail, end + _MIN_TAIL, end, aead, b"s" + _U32(len(topic)) + topic)
        if len(self._by_topic) < 4096:
            self._by_topic[topic] = known
        return known

    def _fast(self, start: int, rows: Sequence[EventRow], want_bodies: bool) -> _Checked:
        # Rows as SqlLog reads them (id and topic as bytes); anything else raises on the way (a
        # str or UUID id in a bytes join, a text topic in a bytes tail, a None anywhere) and the
        # batch is redone by the slow path.
        sha = hashlib.sha256
        pack, u32, join = _U64, _U32, b"".join
        prefix, lp_uuid = _LEAF_PREFIX, _LP_UUID
        by_topic, learn, auth, named = self._by_topic, self._learn, self.auth, _NAMED_B
        row_prefix = auth.prefix if auth is not None else b""
        aad_uuid = row_prefix + _AAD_UUID
        leaves: list[bytes] = []
        failures: dict[int, str] = {}
        bodies: dict[int, bytes] = {}
        append = leaves.append
        position = start
        for _nid, oid, version, topic, state in rows:
            ob = b"-".join((oid[:8], oid[8:12], oid[12:16], oid[16:20], oid[20:])) if len(oid) == 32 else oid
            # The usual row: same topic and key id as the last row of that topic; no slicing needed.
            known = by_topic.get(topic)
            if known is None or not state.startswith(known[0]) or len(state) < known[2]:
                known = learn(topic, state)
            header, tail, _minimum, end, aead, topic_aad = known
            uuid_sized = len(ob) == 36
            append(
                sha(
                    join(
                        (
                            prefix,
                            pack(position),
                            lp_uuid if uuid_sized else pack(len(ob)),
                            ob,
                            pack(version),
                            tail,
                            sha(state).digest(),
                        )
                    )
                ).digest()
            )
            if aead is not None:
                digits = b"%d" % version
                aad = join(
                    (
                        header,
                        aad_uuid if uuid_sized else row_prefix + b"s" + u32(len(ob)),
                        ob,
                        b"i",
                        u32(len(digits)),
                        digits,
                        topic_aad,
                    )
                )
                try:
                    body = aead.decrypt(state[end : end + 12], state[end + 12 :], aad)
                except InvalidTag:
                    failures[position - start] = _BAD_TAG
                else:
                    if want_bodies and topic in named:
                        bodies[position - start] = body
            elif auth is not None:
                failures[position - start] = _not_row_key(record_key_id(state))
            position += 1
        return _Checked(leaves, failures, bodies)

    def _slow(self, start: int, rows: Sequence[EventRow], want_bodies: bool) -> _Checked:
        checked = _Checked([], {}, {})
        for i, (_nid, oid, version, topic, state) in enumerate(rows):
            ob, tb = _oid_bytes(oid), _text_bytes(topic)
            leaf = _leaf(start + i, ob, version, tb, state)
            checked.leaves.append(leaf)
            if self.auth is None or leaf is _UNENCODABLE:
                continue  # an unencodable row never matches its leaf: it is reported as altered
            assert ob is not None
            assert tb is not None
            body, why = self.auth.open(ob, version, tb, state)
            if why is not None:
                checked.failures[i] = why
            elif want_bodies and tb in _NAMED_B and body is not None:
                checked.bodies[i] = body
        return checked


# --- the position -> case index --------------------------------------------------------------------

_UNKNOWN = b"?"  # a case that cannot be told from here: not checked
_CASE_KEY = b'"case_id":'
_UUID_VALUE = b'{"_type_":"uuid_hex","_data_":"'


def _case_in_body(body: bytes | None) -> bytes | None:
    """The case an access trace's first record or an erasure record names, as ``str(UUID)`` bytes.

    The body is authenticated and written by the mapper's JSON transcoder, so its ``case_id``
    is found by its key (``case_id`` is a flat top-level field of both records, and a quote
    inside a JSON string is always escaped); anything unexpected is parsed in full.
    """
    if body is None:
        return _UNKNOWN
    try:
        raw = zlib.decompress(body)
    except zlib.error:
        return _UNKNOWN
    at = raw.find(_CASE_KEY)
    if at >= 0:
        value = at + len(_CASE_KEY)
        digits = value + len(_UUID_VALUE)
        if raw.startswith(_UUID_VALUE, value) and raw.startswith(b'"}', digits + 32):
            return _dashed(raw[digits : digits + 32])  # as the transcoder writes UUID.hex: lower-case digits
        if raw.startswith(b"null", value) and raw[value + 4 : value + 5] in (b",", b"}"):
            return None
    return _case_in_json(raw)


def _case_in_json(raw: bytes) -> bytes | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return _UNKNOWN
    value = data.get("case_id", _UNKNOWN) if isinstance(data, dict) else _UNKNOWN
    if value is None:
        return None
    if isinstance(value, dict) and value.get("_type_") == "uuid_hex" and isinstance(value.get("_data_"), str):
        try:
            return str(UUID(hex=value["_data_"])).encode()
        except ValueError:
            return _UNKNOWN
    return _UNKNOWN


class _CaseIndex:
    """The stored position -> case entries, consumed in position order; ``first``: where indexing began.

    A store made before the index has none for its older records, so only positions from
    the first entry on must all be indexed.
    """

    def __init__(self, rows: Iterable[tuple[int, Any]], first: int | None) -> None:
        self.rows = iter(rows)
        self.first = first
        self._next: tuple[int, Any] | None = None

    def upto(self, end: int) -> dict[int, bytes]:
        """The entries below position ``end`` not yet taken; a damaged value reads as ``b""``."""
        found: dict[int, bytes] = {}
        rows = self.rows
        entry = self._next if self._next is not None else next(rows, None)
        while entry is not None and entry[0] < end:
            position, case = entry
            found[position] = case if case.__class__ is bytes else _text_bytes(case) or b""
            entry = next(rows, None)
        self._next = entry
        return found

    def rest(self) -> Iterator[tuple[int, Any]]:
        if self._next is not None:
            yield self._next
        yield from self.rows


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
        self.frontiers: dict[int, list[bytes]] = {0: []} if 0 in self.watch else {}  # beside each watched root
        self.check = check

    @classmethod
    def starting_at(cls, start: Frontier, watch: Iterable[int], check: NodeCheck | None = None) -> _Tree:
        """A tree that already holds ``start.size`` leaves, known only by their frontier.

        Each perfect subtree of the frontier waits at its level, as after a batch; the nodes
        completed from here on are checked from index ``start.size >> level`` on.
        """
        tree = cls(watch, check)
        hashes = list(start.hashes)  # largest subtree first: the highest set bit of the size
        for level in range(start.size.bit_length()):
            tree.pending.append([hashes.pop()] if start.size >> level & 1 else [])
        tree.count = start.size
        if start.size in tree.watch:
            tree.frontiers[start.size] = tree.frontier()
            tree.roots[start.size] = tree.root()
        return tree

    @classmethod
    def segment(cls, offset: int, watch: Iterable[int], check: NodeCheck | None = None) -> _Tree:
        """The part of a tree from position ``offset`` (a multiple of the segment's size) on, alone:
        its nodes are checked at their true indexes, and its frontier stands for positions
        ``offset`` and later only (the caller joins it to the part before)."""
        tree = cls(watch, check)
        tree.count = offset
        return tree

    def copy(self) -> _Tree:
        twin = _Tree(self.watch)
        twin.pending = [list(p) for p in self.pending]
        twin.count = self.count
        twin.roots = dict(self.roots)
        twin.frontiers = {size: list(hashes) for size, hashes in self.frontiers.items()}
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
            self.frontiers[target] = self.frontier()
            self.roots[target] = _fold(self.frontiers[target])
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

_MAX_LEVEL = 64  # a tree of at most 2**64 records has no node above this level
_PLACEHOLDER = bytes(HASH_SIZE)  # stands in for a leaf that is neither stored readably nor recomputable

Progress = Callable[[int, int], None]  # (positions done, positions in all)


def _signed(cp: Checkpoint) -> str:
    return f"the checkpoint of {cp.when()}" if cp.timestamp is not None else f"the checkpoint of size {cp.size}"


class LogVerifier:
    """Checks a log given as row iterators; see :func:`verify_log`."""

    def __init__(
        self,
        *,
        nodes: Callable[[int], Iterable[tuple[int, Any]]] | None = None,
        max_node_level: int = 0,
        head: Frontier | StoredHead | None = None,
        checkpoints: Sequence[Checkpoint] = (),
        checkpoint_sources: Sequence[str | None] = (),
        progress: Progress | None = None,
        batch: int = 4096,
        limit: int = 50,
        authenticator: RowAuthenticator | None = None,
        cases: Iterable[tuple[int, Any]] | None = None,
        cases_from: int | None = None,
        damaged_nodes: Iterable[str] = (),
        total: int = 0,
        start: Frontier | None = None,
        start_nid: Any = None,
        offset: int = 0,
        trace: tuple[Any, bytes | None] | None = None,
        watch: Iterable[int] = (),
    ) -> None:
        self._start = start or Frontier()
        self._start_nid = start_nid
        self._offset = offset  # a segment of a parallel run: its first position, no frontier before it
        self._watch = set(watch)
        self._nodes_of = nodes
        self._max_node_level = min(max_node_level, _MAX_LEVEL)
        self._head = StoredHead.of(head) if isinstance(head, Frontier) else head
        order = sorted(range(len(checkpoints)), key=lambda i: checkpoints[i].size)
        self._checkpoints = [checkpoints[i] for i in order]
        sources = list(checkpoint_sources) + [None] * len(checkpoints)
        self._sources = [sources[i] for i in order]
        self._progress = progress
        self._total = total
        self._batch = max(2, batch)
        self._limit = limit
        self._checker = _RowChecker(authenticator)
        self._cases = None if cases is None else _CaseIndex(cases, cases_from)
        self._want_bodies = authenticator is not None and self._cases is not None and cases_from is not None
        self._trace: tuple[Any, bytes | None] | None = trace  # the last access trace's id (as read) and case
        self._damaged_nodes = list(damaged_nodes)
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
        shown = _oid_bytes(oid)
        return RecordRef(
            nid,
            None if shown is None else shown.decode("utf-8", "backslashreplace"),
            version if isinstance(version, int) and not isinstance(version, bool) else None,
            _shown(topic),
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
        stored = {idx: h if isinstance(h, bytes) else b"" for idx, h in got}
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
        self.scan(events, leaves)
        return self._finish(started)

    def scan(self, events: Iterable[EventRow], leaves: Iterable[LeafRow]) -> None:
        """Every row against its leaf and key, the tree rebuilt over them; the checks at the end aside."""
        for what in self._damaged_nodes:
            self._report(NODE, None, f"a stored tree node row is damaged ({what})")
        watch = {cp.size for cp in self._checkpoints} | self._watch
        if self._offset:
            self._stored_tree = _Tree.segment(self._offset, watch, self._check_nodes)
        else:
            self._stored_tree = _Tree.starting_at(self._start, watch, self._check_nodes)
        self._recomputed: _Tree | None = None
        self._position = self._offset or self._start.size
        self._last_nid: Any = self._start_nid
        self._pending: list[EventRow] = []
        self._records = 0
        ev_iter, leaf_iter = iter(events), iter(leaves)
        batch = self._batch
        while True:
            chunk = list(islice(leaf_iter, batch))
            if not chunk:
                break
            known = [c[1] for c in chunk if c[1] is not None]
            rows = self._take_events(ev_iter, max(known) if known else None, len(chunk))
            self._records += len(rows)
            self._batch_of(chunk, rows)
            if self._progress is not None:
                self._progress(self._position, max(self._total, self._position))
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

    def _take_events(self, rows: Iterator[EventRow], last_nid: Any, expected: int) -> list[EventRow]:
        """The events with notification id <= ``last_nid``, taken in blocks (rows are in id order).

        With no readable notification id in the batch (a damaged leaf table), rows are paired by order.
        """
        block = self._pending
        if len(block) < expected:
            block.extend(islice(rows, expected - len(block)))
        if last_nid is None:
            self._pending = block[expected:]
            return block[:expected]
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
            and [r[0] for r in rows] == nids
            and [c[0] for c in chunk] == list(range(p, p + n))
            and (self._last_nid is None or nids[0] > self._last_nid)
        ):
            stored = [c[2] for c in chunk]
            checked = self._checker.check(p, rows, self._want_bodies)
            if checked.leaves == stored:
                for i, why in checked.failures.items():
                    self._unauthentic(p + i, rows[i], why)
                self._check_cases(p, rows, checked)
                self._feed(stored, stored)
                self._position = p + n
                self._last_nid = nids[-1]
                return
        self._merge(chunk, rows)

    def _unauthentic(self, position: int, row: EventRow, why: str) -> None:
        ref = self._ref(row)
        self._report(UNAUTHENTIC, position, f"record {ref.label()} at position {position} {why}", ref)

    @staticmethod
    def _next_nid(chunk: list[LeafRow], j: int) -> Any:
        return next((c[1] for c in chunk[j + 1 :] if c[1] is not None), None)

    def _merge(self, chunk: list[LeafRow], rows: list[EventRow]) -> None:
        """Walk one batch row by row: name each disagreement at its position."""
        stored_leaves: list[bytes] = []
        computed_leaves: list[bytes] = []
        i = j = 0
        seen_j = -1
        while j < len(chunk) or i < len(rows):
            nid = chunk[j][1] if j < len(chunk) else None
            if j < len(chunk) and seen_j != j:
                seen_j = j
                position = chunk[j][0]
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
                if nid is None:
                    self._report(
                        LEAF_TABLE, position, f"the leaf table's entry at position {position} has a damaged record id"
                    )
                elif self._last_nid is not None and nid <= self._last_nid:
                    self._report(
                        LEAF_TABLE,
                        position,
                        f"the leaf table puts notification id {nid} out of order at position {position}",
                    )
            if i < len(rows) and (j >= len(chunk) or (nid is not None and rows[i][0] < nid)):
                ref = self._ref(rows[i])
                self._report(UNINDEXED, self._position, f"record {ref.label()} has no position in the tree", ref)
                i += 1
                continue
            position, stored = chunk[j][0], chunk[j][2]
            readable = isinstance(stored, bytes) and len(stored) == HASH_SIZE
            if nid is None:  # a damaged entry: it stands for the next row no later entry claims
                following = self._next_nid(chunk, j)
                row = rows[i] if i < len(rows) and (following is None or rows[i][0] < following) else None
            else:
                row = rows[i] if i < len(rows) and rows[i][0] == nid else None
                if row is None:
                    self._report(
                        MISSING,
                        position,
                        f"the record at position {position} (notification id {nid}) is gone",
                        RecordRef(nid),
                    )
            if row is None:
                computed = stored if readable else _PLACEHOLDER
            else:
                computed = self._check_one(position, row, stored if readable else None)
                i += 1
            stored_leaves.append(stored if readable else computed)
            computed_leaves.append(computed)
            self._position = position + 1
            if nid is not None:
                self._last_nid = nid if self._last_nid is None else max(self._last_nid, nid)
            j += 1
        self._feed(stored_leaves, computed_leaves)

    def _check_one(self, position: int, row: EventRow, stored: bytes | None) -> bytes:
        """One row against its stored leaf (None: unreadable) and its key; returns the recomputed leaf."""
        checked = self._checker.check(position, [row], self._want_bodies)
        computed = checked.leaves[0]
        ref = self._ref(row)
        if stored is None:
            self._report(
                LEAF_TABLE, position, f"the leaf of record {ref.label()} at position {position} is damaged", ref
            )
        elif computed != stored:
            self._report(
                ALTERED, position, f"record {ref.label()} at position {position} does not match its leaf hash", ref
            )
        elif checked.failures:
            self._unauthentic(position, row, checked.failures[0])
        else:
            self._check_cases(position, [row], checked)
            return computed
        self._trace = None  # a trace's further records cannot be told apart from a forged one now
        return computed

    # --- the case index ---

    def _check_cases(self, start: int, rows: Sequence[EventRow], checked: _Checked) -> None:
        """Rows that matched their leaves and key: does the index name the case each belongs to?

        Per row only a topic test and a dictionary look-up, except where the case is named in
        the body (an access trace's first record, an erasure record), which is decompressed.
        """
        index = self._cases
        if index is None:
            return
        end = start + len(rows)
        entries = index.upto(end)
        first = index.first
        if not entries and (first is None or end <= first):
            return
        required_from = end if first is None else first  # from here on every case record has an entry
        failures, bodies, get = checked.failures, checked.bodies, entries.get
        trace_oid, trace_case = self._trace or (None, None)
        position = start - 1
        for i, (_nid, oid, _version, topic, _state) in enumerate(rows):
            position += 1
            if topic.__class__ is not bytes:
                topic = _text_bytes(topic) or b""
            if i in failures:
                trace_oid = trace_case = None
                continue
            if topic.startswith(_CASE_PREFIX_B):
                expected = _oid_bytes(oid)
            elif topic in _NAMED_B:
                expected = _case_in_body(bodies.get(i))
                if topic == _STARTED_B:
                    trace_oid, trace_case = oid, expected
            elif topic == _TOUCHED_B:
                expected = trace_case if trace_oid == oid else _UNKNOWN
            else:
                expected = None
            have = get(position)
            if have == expected or expected == _UNKNOWN or (have is None and position < required_from):
                continue
            self._report(CASE_INDEX, position, self._case_mismatch(position, have, expected), self._ref(rows[i]))
        self._trace = (trace_oid, trace_case)

    @staticmethod
    def _case_mismatch(position: int, have: bytes | None, expected: bytes | None) -> str:
        if have is None:
            return f"position {position} belongs to case {_shown(expected)}, but the case index has no entry for it"
        if expected is None:
            return f"the case index puts position {position} in case {_shown(have)}, but that record belongs to no case"
        return (
            f"the case index puts position {position} in case {_shown(have)}, "
            f"but the record belongs to case {_shown(expected)}"
        )

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
        head_size = self._check_head(size, tree)
        if self._cases is not None:
            for position, case in self._cases.rest():
                if position >= size:
                    self._report(
                        CASE_INDEX,
                        position,
                        f"the case index names case {_shown(case)} at position {position}, "
                        f"beyond the end of the log ({size} records)",
                    )
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
            authenticated=self._checker.auth is not None,
        )

    def _check_head(self, size: int, tree: _Tree) -> int | None:
        """The stored head against the tree: its frontier, and its size column against both."""
        head = self._head
        if head is None:
            return None
        frontier = head.frontier
        if frontier is None:
            self._report(HEAD, None, "the stored tree head is damaged: its frontier cannot be read")
            if head.size != size:
                shown = "an unreadable number of" if head.size is None else str(head.size)
                self._report(HEAD, None, f"the tree head counts {shown} records but the leaf table holds {size}")
            return head.size
        head_size = frontier.size
        if head_size > size:
            self._report(
                TRUNCATED,
                size,
                f"the tree head counts {head_size} records but the log ends at {size}: "
                f"records {size}..{head_size - 1} are gone",
                end=head_size,
            )
        elif head_size < size:
            self._report(HEAD, head_size, f"the tree head counts {head_size} records but the leaf table holds {size}")
        elif list(frontier.hashes) != tree.frontier():
            self._report(HEAD, None, "the stored tree head (frontier) does not match the stored nodes")
        if head.size != head_size:
            shown = "an unreadable number of" if head.size is None else str(head.size)
            self._report(HEAD, None, f"the tree head's size says {shown} records but its frontier holds {head_size}")
        return head_size

    def _check_leftover_nodes(self, leaf_count: int) -> None:
        if self._nodes_of is None:
            return
        top = min(max(leaf_count.bit_length(), self._max_node_level), _MAX_LEVEL)
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
            if cp.size > size:
                message = (
                    f"the log ends at {size} records but {_signed(cp)} signed {cp.size}: "
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
                    CheckpointCheck(cp, True, f"the first {cp.size} records hash to the root of {_signed(cp)}", source)
                )
                continue
            message = (
                f"the first {cp.size} records no longer hash to the root of {_signed(cp)}: the first "
                f"difference lies in positions {matched}..{cp.size - 1}"
            )
            self._report(DIVERGED, matched, message, end=cp.size)
            checks.append(CheckpointCheck(cp, False, message, source))
        return checks


def verify_log(
    events: Iterable[EventRow],
    leaves: Iterable[LeafRow],
    *,
    nodes: Callable[[int], Iterable[tuple[int, Any]]] | None = None,
    max_node_level: int = 0,
    head: Frontier | StoredHead | None = None,
    checkpoints: Sequence[Checkpoint] = (),
    checkpoint_sources: Sequence[str | None] = (),
    progress: Progress | None = None,
    batch: int = 4096,
    limit: int = 50,
    authenticator: RowAuthenticator | None = None,
    cases: Iterable[tuple[int, Any]] | None = None,
    cases_from: int | None = None,
    damaged_nodes: Iterable[str] = (),
    total: int = 0,
    start: Frontier | None = None,
    start_nid: Any = None,
) -> VerifyReport:
    """Verify a log given as row iterators (pure: no database needed).

    * ``events``: ``(notification id, originator id, version, topic, state)`` ascending by
      notification id; the originator id as a UUID, its text or its bytes, the topic as text
      or bytes; a value that is None reads as damaged;
    * ``leaves``: ``(position, notification id, leaf hash)`` ascending by position (None
      where a value is damaged);
    * ``nodes(level)``: the stored ``(index, hash)`` of one level (>= 1), ascending; omit
      to skip the check of stored nodes; ``max_node_level`` the highest stored level;
      ``damaged_nodes``: node rows that could not be read, described;
    * ``head``: the stored tree head; ``checkpoints``: signed checkpoints to check against
      (already signature-checked by the caller);
    * ``authenticator``: checks every row's tag with the store's row key (omit: leaves only);
    * ``cases``: the stored ``(position, case id)`` index, ascending, with ``cases_from`` its
      first position; omit to skip the index check;
    * ``progress(done, total)`` is called after every batch;
    * ``start``: verify only from position ``start.size`` on, over a tree already holding the
      positions before it (their frontier, trusted); ``start_nid`` is then the notification id
      of the last of them, and every iterator begins past them (events after ``start_nid``,
      leaves and case entries from ``start.size``, level ``l``'s nodes from ``start.size >> l``).
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
        authenticator=authenticator,
        cases=cases,
        cases_from=cases_from,
        damaged_nodes=damaged_nodes,
        total=total,
        start=start,
        start_nid=start_nid,
    )
    return verifier.run(events, leaves)


# --- what the checkpoint writer checks before it signs ---------------------------------------------


def authenticate_tail(log: SqlLog, start: Frontier, authenticator: RowAuthenticator) -> Frontier:
    """Every record from position ``start.size`` on, against its leaf and the store's row key.

    The checkpoint writer has proven the log up to its newest checkpoint consistent with it;
    what it is about to sign beyond that must be records the application made. Returns the
    frontier rebuilt over the recomputed leaves (the caller compares it with the stored
    head); ``LogTampered`` at the first record that does not check out.
    """
    frontier = start.copy()
    checker = _RowChecker(authenticator)
    with log.reading():
        rows = log.records_from(start.size)
        while chunk := list(islice(rows, log.batch)):
            first = frontier.size
            events: list[EventRow] = []
            for offset, (position, nid, _leaf, row_nid, *row) in enumerate(chunk):
                expected = first + offset
                if position != expected:
                    _refuse(f"position {expected} is missing from the leaf table")
                if nid is None:
                    _refuse(f"the leaf table's entry at position {position} is damaged")
                if row_nid is None:
                    _refuse(f"the record at position {position} (notification id {nid}) is gone")
                events.append((row_nid, *row))  # type: ignore[arg-type]
            checked = checker.check(first, events)
            for offset, (entry, computed) in enumerate(zip(chunk, checked.leaves, strict=True)):
                if entry[2] != computed:
                    _refuse(f"record {_label(events[offset])} at position {entry[0]} does not match its leaf hash")
                if offset in checked.failures:
                    _refuse(f"record {_label(events[offset])} at position {entry[0]} {checked.failures[offset]}")
                frontier.append(computed)
    return frontier


def _label(row: EventRow) -> str:
    return LogVerifier._ref(row).label()


def _refuse(why: str) -> None:
    raise LogTampered(f"{why}; refusing to sign a checkpoint over it; run `regie audit verify`")


# --- reading a store ------------------------------------------------------------------------------------

# The queries are put together from fixed fragments only (S608): every value is a bound parameter.

# SQLite stores any value in any column: a value of the wrong type reads as NULL (CASE ... END), so
# it never hashes to a leaf and is reported at its position, instead of failing to decode. Text is
# read as bytes (the connection's text_factory), so no stored byte can fail to decode either.
# SQLite keeps the originator id as 32 hex digits; the verifier adds the dashes itself (keeping the
# letters' case, so an id rewritten in upper case shows as altered).
_SQLITE_ROW = (
    "CASE WHEN typeof({e}originator_id) = 'text' THEN {e}originator_id END, "
    "CASE WHEN typeof({e}originator_version) = 'integer' THEN {e}originator_version END, "
    "CASE WHEN typeof({e}topic) = 'text' THEN {e}topic END, "
    "CASE WHEN typeof({e}state) = 'blob' THEN {e}state END"
)
_PG_ROW = "convert_to({e}originator_id::text, 'UTF8'), {e}originator_version, convert_to({e}topic, 'UTF8'), {e}state"
_SQL = {
    "sqlite": {
        "events": f"SELECT rowid, {_SQLITE_ROW.format(e='')} FROM stored_events ORDER BY rowid",  # noqa: S608
        "leaves": (
            "SELECT position, CASE WHEN typeof(notification_id) = 'integer' THEN notification_id END, "
            "CASE WHEN typeof(leaf) = 'blob' THEN leaf END FROM regie_merkle_leaves ORDER BY position"
        ),
        "records_from": (
            "SELECT l.position, CASE WHEN typeof(l.notification_id) = 'integer' THEN l.notification_id END, "  # noqa: S608
            f"CASE WHEN typeof(l.leaf) = 'blob' THEN l.leaf END, e.rowid, {_SQLITE_ROW.format(e='e.')} "
            "FROM regie_merkle_leaves l LEFT JOIN stored_events e ON e.rowid = l.notification_id "
            "WHERE l.position >= ? ORDER BY l.position"
        ),
        "nodes": (
            "SELECT idx, CASE WHEN typeof(hash) = 'blob' THEN hash END FROM regie_merkle_nodes "
            "WHERE level = ? AND typeof(level) = 'integer' AND typeof(idx) = 'integer' ORDER BY idx"
        ),
        "max_level": (
            "SELECT max(level) FROM regie_merkle_nodes WHERE typeof(level) = 'integer' AND level BETWEEN 1 AND 64"
        ),
        "damaged_nodes": (
            "SELECT quote(level), quote(idx) FROM regie_merkle_nodes WHERE NOT "
            "(typeof(level) = 'integer' AND typeof(idx) = 'integer' AND level BETWEEN 1 AND 64) LIMIT 50"
        ),
        "head": (
            "SELECT CASE WHEN typeof(size) = 'integer' THEN size END, "
            "CASE WHEN typeof(frontier) = 'blob' THEN frontier END FROM regie_merkle_head WHERE id = 1"
        ),
        "has_cases": "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'regie_merkle_cases'",
        "cases": (
            "SELECT position, CASE WHEN typeof(case_id) = 'text' THEN case_id END "
            "FROM regie_merkle_cases ORDER BY position"
        ),
        "leaf_at": (
            "SELECT position, leaf FROM regie_merkle_leaves WHERE typeof(leaf) = 'blob' AND position IN ({marks})"
        ),
        "node_at": "SELECT level, idx, hash FROM regie_merkle_nodes WHERE typeof(hash) = 'blob' AND ({pairs})",
    },
    "postgres": {
        "events": f"SELECT notification_id, {_PG_ROW.format(e='')} FROM stored_events ORDER BY notification_id",  # noqa: S608
        "leaves": "SELECT position, notification_id, leaf FROM regie_merkle_leaves ORDER BY position",
        "records_from": (
            f"SELECT l.position, l.notification_id, l.leaf, e.notification_id, {_PG_ROW.format(e='e.')} "  # noqa: S608
            "FROM regie_merkle_leaves l LEFT JOIN stored_events e ON e.notification_id = l.notification_id "
            "WHERE l.position >= ? ORDER BY l.position"
        ),
        "nodes": "SELECT idx, hash FROM regie_merkle_nodes WHERE level = ? ORDER BY idx",
        "max_level": "SELECT max(level) FROM regie_merkle_nodes WHERE level BETWEEN 1 AND 64",
        "damaged_nodes": (
            "SELECT level::text, idx::text FROM regie_merkle_nodes WHERE NOT (level BETWEEN 1 AND 64) LIMIT 50"
        ),
        "head": "SELECT size, frontier FROM regie_merkle_head WHERE id = 1",
        "has_cases": "SELECT count(*) FROM pg_class WHERE oid = to_regclass('regie_merkle_cases')",
        "cases": "SELECT position, convert_to(case_id, 'UTF8') FROM regie_merkle_cases ORDER BY position",
        "leaf_at": "SELECT position, leaf FROM regie_merkle_leaves WHERE position IN ({marks})",
        "node_at": "SELECT level, idx, hash FROM regie_merkle_nodes WHERE {pairs}",
    },
}


def _from(sql: str, condition: str) -> str:
    """``sql`` with ``condition`` added before its ORDER BY (as WHERE, or AND to a WHERE)."""
    head, _, order = sql.rpartition(" ORDER BY ")
    joiner = " AND " if " WHERE " in head else " WHERE "
    return f"{head}{joiner}{condition} ORDER BY {order}"


for _dialect, _nid in (("sqlite", "rowid"), ("postgres", "notification_id")):
    _q = _SQL[_dialect]
    # An incremental run reads only what lies past the verified part of the log.
    _q["events_after"] = _from(_q["events"], f"{_nid} > ?")
    _q["leaves_from"] = _from(_q["leaves"], "position >= ?")
    _q["nodes_from"] = _from(_q["nodes"], "idx >= ?")
    _q["cases_from"] = _from(_q["cases"], "position >= ?")
    _q["leaf_nid"] = "SELECT notification_id FROM regie_merkle_leaves WHERE position = ?"
    _q["rows_upto"] = f"SELECT count(*) FROM stored_events WHERE {_nid} <= ?"  # noqa: S608 - fixed names
    # A segment of a parallel run reads one range of positions (and of notification ids) only.
    _q["events_upto"] = _from(_q["events"], f"{_nid} <= ?")
    _q["events_between"] = _from(_q["events"], f"{_nid} > ? AND {_nid} <= ?")
    _q["leaves_between"] = _from(_q["leaves"], "position >= ? AND position < ?")
    _q["nodes_between"] = _from(_q["nodes"], "idx >= ? AND idx < ?")
    _q["cases_between"] = _from(_q["cases"], "position >= ? AND position < ?")
    _q["records_between"] = _from(_q["records_from"], "l.position < ?")
    _q["rows_after"] = f"SELECT count(*) FROM stored_events WHERE {_nid} > ?"  # noqa: S608 - fixed names
    _q["leaf_count"] = "SELECT count(*) FROM regie_merkle_leaves"
    _q["cases_beyond"] = "SELECT count(*) FROM regie_merkle_cases WHERE position >= ?"
    _q["nodes_beyond"] = "SELECT count(*) FROM regie_merkle_nodes WHERE level = ? AND idx >= ?"
_SQL["sqlite"]["leaf_nids"] = (
    "SELECT position, CASE WHEN typeof(notification_id) = 'integer' THEN notification_id END "
    "FROM regie_merkle_leaves WHERE position IN ({marks})"
)
_SQL["postgres"]["leaf_nids"] = "SELECT position, notification_id FROM regie_merkle_leaves WHERE position IN ({marks})"
_NODE_BATCH = 100  # (level, idx) pairs per query: SQLite limits expression depth


class SqlLog:
    """Streams one store's rows from one open connection, inside the caller's transaction.

    ``conn`` is a ``sqlite3.Connection`` or a ``psycopg.Connection``; every query runs on it,
    so the caller decides the snapshot (and may, in tests, tamper in the same transaction).
    ``authenticator`` checks every row's tag (see :func:`store_authenticator`).
    """

    def __init__(self, conn: Any, dialect: str, batch: int = 5000, authenticator: RowAuthenticator | None = None):
        if dialect not in _SQL:
            raise ValueError(f"unknown dialect {dialect!r}")
        self.conn = conn
        self.dialect = dialect
        self.batch = batch
        self.authenticator = authenticator
        self._sql = _SQL[dialect]
        self._names = counter()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """SQLite: text comes back as bytes meanwhile, so no stored value can fail to decode."""
        if self.dialect != "sqlite":
            yield
            return
        before = self.conn.text_factory
        self.conn.text_factory = bytes
        try:
            yield
        finally:
            self.conn.text_factory = before

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        if self.dialect == "sqlite":  # batches flattened in C: no Python frame per row
            cursor = self.conn.execute(sql, tuple(params))
            return chain.from_iterable(iter(lambda: cursor.fetchmany(self.batch), []))
        return self._server_rows(sql, params)

    def _server_rows(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        with self.conn.cursor(name=f"regie_audit_{next(self._names)}", binary=True, row_factory=tuple_row) as cur:
            cur.itersize = self.batch
            cur.execute(sql.replace("?", "%s"), tuple(params))
            yield from cur

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            return self.conn.execute(sql, tuple(params)).fetchall()
        from psycopg.rows import tuple_row

        with self.conn.cursor(row_factory=tuple_row) as cur:
            return cur.execute(sql.replace("?", "%s"), tuple(params)).fetchall()

    def _one(self, sql: str) -> tuple[Any, ...] | None:
        rows = self._all(sql)
        return rows[0] if rows else None

    def events(self) -> Iterator[EventRow]:
        return self._rows(self._sql["events"])  # type: ignore[return-value]

    def states(self) -> Iterator[tuple[bytes]]:
        """``SELECT state FROM stored_events``, streamed the same way: the raw-scan baseline."""
        return self._rows("SELECT state FROM stored_events")  # type: ignore[return-value]

    def leaves(self) -> Iterator[LeafRow]:
        return self._rows(self._sql["leaves"])  # type: ignore[return-value]

    def records_from(self, position: int) -> Iterator[tuple[Any, ...]]:
        """``(position, notification id, leaf, the row's notification id, originator id, version, topic, state)``."""
        return self._rows(self._sql["records_from"], (position,))

    def nodes(self, level: int) -> Iterator[tuple[int, Any]]:
        return self._rows(self._sql["nodes"], (level,))  # type: ignore[return-value]

    def node_hashes(self, wanted: Sequence[NodeID]) -> dict[NodeID, bytes]:
        """Stored hashes of the given nodes (level 0: leaves); unreadable ones are left out."""
        ids = list(dict.fromkeys(wanted))
        found: dict[NodeID, bytes] = {}
        for start in range(0, len(ids), _NODE_BATCH):
            part = ids[start : start + _NODE_BATCH]
            leaves = [idx for level, idx in part if level == 0]
            inner = [(level, idx) for level, idx in part if level > 0]
            if leaves:
                sql = self._sql["leaf_at"].format(marks=",".join("?" * len(leaves)))
                found.update(((0, p), bytes(h)) for p, h in self._all(sql, leaves))
            if inner:
                sql = self._sql["node_at"].format(pairs=" OR ".join("(level = ? AND idx = ?)" for _ in inner))
                found.update(((lv, i), bytes(h)) for lv, i, h in self._all(sql, [v for pair in inner for v in pair]))
        return found

    def frontier_at(self, size: int) -> Frontier:
        """The tree's frontier at ``size`` from stored nodes (KeyError if one is missing)."""
        return Frontier.from_nodes(size, self.node_hashes(tree_root_nodes(size)))

    def max_node_level(self) -> int:
        row = self._one(self._sql["max_level"])
        return int(row[0]) if row and row[0] is not None else 0

    def damaged_nodes(self) -> list[str]:
        return [f"level {_shown(level)}, index {_shown(idx)}" for level, idx in self._all(self._sql["damaged_nodes"])]

    def head(self) -> StoredHead | None:
        """The stored head, or None if there is none."""
        row = self._one(self._sql["head"])
        return None if row is None else StoredHead.parse(row[0], row[1])

    def head_size(self) -> int:
        head = self.head()
        return head.size or 0 if head is not None else 0

    def size_hint(self) -> int:
        row = self._one("SELECT max(position) FROM regie_merkle_leaves")
        return int(row[0]) + 1 if row and row[0] is not None else 0

    def has_case_index(self) -> bool:
        row = self._one(self._sql["has_cases"])
        return bool(row and row[0])

    def cases(self) -> Iterator[tuple[int, Any]]:
        return self._rows(self._sql["cases"])  # type: ignore[return-value]

    def cases_from(self) -> int | None:
        row = self._one("SELECT min(position) FROM regie_merkle_cases")
        return None if row is None or row[0] is None else int(row[0])

    def _scalar(self, key: str, value: Any) -> Any:
        rows = self._all(self._sql[key], (value,))
        return rows[0][0] if rows else None

    def verify_from(
        self,
        base: Checkpoint,
        checkpoints: Sequence[Checkpoint] = (),
        checkpoint_sources: Sequence[str | None] = (),
        progress: Progress | None = None,
        limit: int = 50,
    ) -> VerifyReport | None:
        """Verify only what was added since ``base``, a signed head an earlier verification found whole.

        Proves, in this snapshot: the stored tree at ``base.size`` still hashes to ``base.root``;
        the rows up to the base's last record are as many as it had (none deleted or slipped
        in); every record since is the application's, in its place, and builds, on top of the
        base's frontier, the stored nodes and head; each checkpoint up to the base is consistent
        with it (O(log n) stored nodes) and each later one matches the rebuilt root. What it
        does not do is re-read the rows below the base: a row altered in place since then is
        found by the full pass (:meth:`verify`). Returns None when any of it fails, so that
        the caller runs the full pass, which names the first bad position exactly.
        """
        size = base.size
        with self.reading():
            head = self.head()
            if head is None or head.frontier is None or head.frontier.size < size:
                return None
            try:
                start = self.frontier_at(size)
            except KeyError:
                return None
            if start.root() != base.root:
                return None
            last_nid = self._scalar("leaf_nid", size - 1) if size else None
            if size and (not isinstance(last_nid, int) or self._scalar("rows_upto", last_nid) != size):
                return None
            named = list(zip(checkpoints, _padded(checkpoint_sources, checkpoints), strict=True))
            earlier = [(cp, source) for cp, source in named if cp.size <= size]
            proven = [_consistent(self, cp, source, base) for cp, source in earlier]
            if not all(check.ok for check in proven):
                return None
            later = [(cp, source) for cp, source in named if cp.size > size]
            indexed = self.has_case_index()
            report = verify_log(
                self.events() if last_nid is None else self._rows(self._sql["events_after"], (last_nid,)),
                self._rows(self._sql["leaves_from"], (size,)),
                nodes=lambda level: self._rows(self._sql["nodes_from"], (level, size >> level)),
                max_node_level=self.max_node_level(),
                head=head,
                checkpoints=[cp for cp, _ in later],
                checkpoint_sources=[source for _, source in later],
                progress=progress,
                batch=self.batch,
                limit=limit,
                authenticator=self.authenticator,
                cases=self._rows(self._sql["cases_from"], (size,)) if indexed else None,
                cases_from=self.cases_from() if indexed else None,
                damaged_nodes=self.damaged_nodes(),
                total=self.size_hint(),
                start=start,
                start_nid=last_nid,
            )
        if not report.ok:
            return None
        report.checkpoints = sorted(proven + report.checkpoints, key=lambda check: check.checkpoint.size)
        report.verified_from = base
        return report

    def verify(
        self,
        checkpoints: Sequence[Checkpoint] = (),
        checkpoint_sources: Sequence[str | None] = (),
        progress: Progress | None = None,
        limit: int = 50,
    ) -> VerifyReport:
        """Verify everything stored, against the given (signature-checked) checkpoints."""
        with self.reading():
            indexed = self.has_case_index()
            return verify_log(
                self.events(),
                self.leaves(),
                nodes=self.nodes,
                max_node_level=self.max_node_level(),
                head=self.head(),
                checkpoints=checkpoints,
                checkpoint_sources=checkpoint_sources,
                progress=progress,
                batch=self.batch,
                limit=limit,
                authenticator=self.authenticator,
                cases=self.cases() if indexed else None,
                cases_from=self.cases_from() if indexed else None,
                damaged_nodes=self.damaged_nodes(),
                total=self.size_hint(),
            )


def _padded(sources: Sequence[str | None], checkpoints: Sequence[Checkpoint]) -> list[str | None]:
    return [*sources, *[None] * (len(checkpoints) - len(sources))][: len(checkpoints)]


def _consistent(log: SqlLog, cp: Checkpoint, source: str | None, base: Checkpoint) -> CheckpointCheck:
    """A checkpoint no newer than ``base``, proven consistent with it through the stored nodes."""
    try:
        nodes = log.node_hashes(consistency_proof_nodes(cp.size, base.size))
        verify_consistency(cp.size, base.size, cp.root, base.root, consistency_proof(cp.size, base.size, nodes))
    except (KeyError, ProofError) as exc:
        return CheckpointCheck(cp, False, f"{_signed(cp)} is not consistent with the verified log: {exc}", source)
    return CheckpointCheck(
        cp,
        True,
        f"the first {cp.size} records hash to the root of {_signed(cp)} "
        f"(proven consistent with the verified tree of {base.size} records)",
        source,
    )


@contextmanager
def open_log(
    location: Any, batch: int = 5000, authenticator: RowAuthenticator | None = None, snapshot: str | None = None
) -> Iterator[SqlLog]:
    """A dedicated read-only snapshot of a store's log (``location``: a StoreLocation).

    SQLite: one deferred read transaction (a WAL snapshot); PostgreSQL: one REPEATABLE READ,
    READ ONLY transaction, so events, leaves, nodes and head all come from one moment even
    while the application keeps writing; ``snapshot`` (PostgreSQL): the moment another such
    transaction exported (``pg_export_snapshot()``), so that several processes read one.
    """
    if location.is_postgres:
        import psycopg
        from psycopg import IsolationLevel
        from psycopg.sql import SQL, Identifier, Literal

        conn = psycopg.connect(location.dsn, connect_timeout=10)
        try:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            if snapshot is not None:  # must come first in the transaction
                conn.execute(SQL("SET TRANSACTION SNAPSHOT {}").format(Literal(snapshot)))
            conn.execute(SQL("SET search_path TO {}").format(Identifier(location.schema)))
            yield SqlLog(conn, "postgres", batch, authenticator)
        finally:
            conn.rollback()
            conn.close()
        return
    import sqlite3

    conn = sqlite3.connect(str(location.path), isolation_level=None, timeout=10)
    conn.text_factory = bytes
    try:
        conn.execute("BEGIN")
        yield SqlLog(conn, "sqlite", batch, authenticator)
    finally:
        conn.rollback()
        conn.close()


def store_authenticator(store: Any) -> RowAuthenticator:
    """Checks rows with an opened store's row key (its master key unwraps it)."""
    return RowAuthenticator(store.keyring.store_id, {store.row_key_id: store.keyring.cipher(store.row_key_id)})


def verify_store(
    store: Any,
    checkpoints: Sequence[Checkpoint] = (),
    checkpoint_sources: Sequence[str | None] = (),
    progress: Progress | None = None,
    limit: int = 50,
    *,
    base: Checkpoint | None = None,
    workers: int | None = None,
) -> VerifyReport:
    """Verify an opened store's log, every row's key included, in one consistent snapshot.

    With ``base`` (a signed head an earlier verification found whole) only what was added
    since is read (:meth:`SqlLog.verify_from`); should that not hold, the whole log is
    verified instead, to name the first bad position (``report.base_refused``). The whole log
    is read by ``workers`` processes (default: one per core; see ``verify_parallel``).
    """
    with open_log(store.location, authenticator=store_authenticator(store)) as log:
        if base is not None:
            report = log.verify_from(base, checkpoints, checkpoint_sources, progress, limit)
            if report is not None:
                return report
        report = _full(store, log, checkpoints, checkpoint_sources, progress, limit, workers or os.cpu_count() or 1)
        report.base_refused = base is not None
        return report


def _full(
    store: Any,
    log: SqlLog,
    checkpoints: Sequence[Checkpoint],
    sources: Sequence[str | None],
    progress: Progress | None,
    limit: int,
    workers: int,
) -> VerifyReport:
    if workers < 2:
        return log.verify(checkpoints, sources, progress, limit)
    from casusregie.privacy_audit.verify_parallel import process_runner, verify_parallel  # it builds on this module

    snapshot = log._one("SELECT pg_export_snapshot()")[0] if log.dialect == "postgres" else None  # type: ignore[index]
    keys = {store.row_key_id: store.keyring.key(store.row_key_id)}
    runner = process_runner(store.location, store.keyring.store_id, keys, workers, snapshot)
    return verify_parallel(log, checkpoints, sources, progress, limit, runner=runner, workers=workers)

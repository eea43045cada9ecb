"""Proofs from the stored tree, and the offline bundle an outside auditor verifies.

* Inclusion: "the record at position i is in the log of size n whose root a checkpoint
  signed" (RFC 6962 audit path, O(log n) stored nodes).
* Consistency: "the log at an older checkpoint is a prefix of the log at a newer one"
  (O(log n) stored nodes). This is what catches a removed tail or a restored backup.
* Bundle: everything needed to check one case's records without the store: for each
  record its position, originator id, version, topic, key id, SHA-256 of its ciphertext,
  leaf hash and inclusion proof, plus the signed checkpoint and the verifier key. The
  verifier recomputes every leaf with ``encode_leaf`` and checks every proof with
  ``verify_inclusion``: the same functions the log itself is built and checked with.

Hashes are base64 (as in C2SP checkpoints), except the ciphertext digest, which is hex
(as ``sha256sum`` prints it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from casusregie.domain.errors import NotFound, ValidationFailed
from casusregie.privacy_audit.checkpoint import Checkpoint, CheckpointError, parse_and_verify
from casusregie.privacy_audit.merkle import (
    HASH_SIZE,
    NodeID,
    ProofError,
    consistency_proof,
    consistency_proof_nodes,
    encode_leaf,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from casusregie.privacy_audit.verify import LogTampered, leaf_of_row, record_key_id, short_topic

__all__ = [
    "ACCESS_TOPIC_PREFIX",
    "BUNDLE_FORMAT",
    "CASE_TOPIC_PREFIX",
    "BundleReport",
    "ConsistencyProof",
    "InclusionProof",
    "StoredRecord",
    "b64",
    "build_bundle",
    "bundle_record",
    "case_records",
    "check_inclusion_b64",
    "fetch_nodes",
    "prove_consistency",
    "prove_inclusion",
    "record_at",
    "resolve_record",
    "verify_bundle",
]

BUNDLE_FORMAT = "casusregie-audit-bundle/v1"
CASE_TOPIC_PREFIX = "casusregie.domain.case:Case."
ACCESS_TOPIC_PREFIX = "casusregie.domain.access:AccessTrace."
ACCESS_STARTED = ACCESS_TOPIC_PREFIX + "Started"
_NODE_BATCH = 100  # (level, idx) pairs per query: SQLite limits expression depth
_PAGE = 2000  # access-log rows decrypted per page

NodeFetcher = Callable[[Sequence[NodeID]], Mapping[NodeID, bytes]]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str, size: int | None = HASH_SIZE) -> bytes:
    """Strict, canonical base64 of exactly ``size`` bytes; ProofError otherwise."""
    if not isinstance(text, str):
        raise ProofError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not valid base64") from None
    if b64(raw) != text:
        raise ProofError(f"{what} is not canonical base64")
    if size is not None and len(raw) != size:
        raise ProofError(f"{what} is not a {size}-byte hash")
    return raw


# --- proofs from the stored tree ---------------------------------------------------------------


def fetch_nodes(fetch: NodeFetcher, wanted: Iterable[NodeID]) -> dict[NodeID, bytes]:
    """Fetch stored nodes (level 0 = leaves) in a few bounded queries."""
    ids = list(dict.fromkeys(wanted))
    found: dict[NodeID, bytes] = {}
    for start in range(0, len(ids), _NODE_BATCH):
        found.update(fetch(ids[start : start + _NODE_BATCH]))
    return found


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``index`` is in the tree of ``size`` leaves with ``root``."""

    index: int
    size: int
    leaf: bytes
    proof: list[bytes]
    root: bytes

    def verify(self) -> None:
        verify_inclusion(self.index, self.size, self.leaf, self.proof, self.root)

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.index,
            "tree_size": self.size,
            "leaf_hash": b64(self.leaf),
            "proof": [b64(p) for p in self.proof],
            "root": b64(self.root),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``size1`` leaves with ``root1`` is a prefix of the one of ``size2`` with ``root2``."""

    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: list[bytes]

    def verify(self) -> None:
        verify_consistency(self.size1, self.size2, self.root1, self.root2, self.proof)

    def to_json(self) -> dict[str, Any]:
        return {
            "size1": self.size1,
            "size2": self.size2,
            "root1": b64(self.root1),
            "root2": b64(self.root2),
            "proof": [b64(p) for p in self.proof],
        }


def prove_inclusion(fetch: NodeFetcher, index: int, leaf: bytes, checkpoint: Checkpoint) -> InclusionProof:
    """Build the proof for ``index`` from stored nodes and check it against the signed root."""
    if index >= checkpoint.size:
        raise ValidationFailed(
            f"position {index} is not covered by the checkpoint of size {checkpoint.size}: write a newer checkpoint"
        )
    try:
        nodes = fetch_nodes(fetch, inclusion_proof_nodes(index, checkpoint.size))
        path = inclusion_proof(index, checkpoint.size, nodes)
    except KeyError as exc:
        raise LogTampered(f"cannot build the inclusion proof of position {index}: {exc.args[0]}") from None
    proof = InclusionProof(index, checkpoint.size, leaf, path, checkpoint.root)
    try:
        proof.verify()
    except ProofError as exc:
        raise LogTampered(
            f"position {index} does not prove into the root signed at size {checkpoint.size}: {exc}"
        ) from None
    return proof


def prove_consistency(fetch: NodeFetcher, old: Checkpoint, new: Checkpoint) -> ConsistencyProof:
    """Prove from stored nodes that ``old`` is a prefix of ``new``; LogTampered if not."""
    if old.size > new.size:
        old, new = new, old
    try:
        path = consistency_proof(old.size, new.size, fetch_nodes(fetch, consistency_proof_nodes(old.size, new.size)))
    except KeyError as exc:
        raise LogTampered(
            f"cannot build the consistency proof {old.size} -> {new.size}: {exc.args[0]} "
            "(the log was truncated or its tree damaged)"
        ) from None
    except ValueError as exc:
        raise LogTampered(f"no consistency proof {old.size} -> {new.size}: {exc}") from None
    proof = ConsistencyProof(old.size, new.size, old.root, new.root, path)
    try:
        proof.verify()
    except ProofError as exc:
        raise LogTampered(
            f"the checkpoint of size {old.size} is not a prefix of the one of size {new.size}: {exc}"
        ) from None
    return proof


# --- stored records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredRecord:
    """One stored row with its place in the tree (position and leaf may be None: no position)."""

    notification_id: int
    originator_id: str
    version: int
    topic: str
    state: bytes
    position: int | None
    leaf: bytes | None

    def recomputed_leaf(self) -> bytes:
        assert self.position is not None
        return leaf_of_row(self.position, self.originator_id, self.version, self.topic, self.state)

    @property
    def record(self) -> str:
        return short_topic(self.topic)


def _nid(db: Any) -> str:
    return "rowid" if db.dialect == "sqlite" else "notification_id"


def _oid_param(db: Any, originator_id: UUID) -> Any:
    return originator_id.hex if db.dialect == "sqlite" else originator_id


def _record(row: Sequence[Any]) -> StoredRecord:
    nid, oid, version, topic, state, position, leaf = row
    oid_text = str(UUID(oid)) if isinstance(oid, str) else str(oid)
    return StoredRecord(
        int(nid),
        oid_text,
        int(version),
        str(topic),
        bytes(state),
        None if position is None else int(position),
        None if leaf is None else bytes(leaf),
    )


def _select(db: Any) -> str:
    nid = _nid(db)  # a fixed column name per dialect; values are always bound
    return (
        f"SELECT e.{nid}, e.originator_id, e.originator_version, e.topic, e.state, l.position, l.leaf "  # noqa: S608
        f"FROM stored_events e LEFT JOIN regie_merkle_leaves l ON l.notification_id = e.{nid} "
    )


def record_at(db: Any, position: int) -> StoredRecord | None:
    """The stored row at a tree position, or None if the position or its row is missing."""
    with db.transaction(commit=False) as tx:
        row = tx.execute(_select(db) + "WHERE l.position = ?", (position,)).fetchone()
    return None if row is None else _record(row)


def resolve_record(db: Any, spec: str) -> StoredRecord:
    """``RECORD``: a position number, or ``<originator-id>:<version>``."""
    spec = spec.strip()
    if spec.isdigit():
        found = record_at(db, int(spec))
        if found is None:
            raise NotFound(f"no record at position {spec}")
        return found
    oid_text, sep, version_text = spec.rpartition(":")
    try:
        originator = UUID(oid_text)
        version = int(version_text)
    except ValueError:
        raise ValidationFailed(f"record {spec!r}: give a position number or <originator-id>:<version>") from None
    if not sep:
        raise ValidationFailed(f"record {spec!r}: give a position number or <originator-id>:<version>")
    with db.transaction(commit=False) as tx:
        row = tx.execute(
            _select(db) + "WHERE e.originator_id = ? AND e.originator_version = ?",
            (_oid_param(db, originator), version),
        ).fetchone()
    if row is None:
        raise NotFound(f"no stored record {originator} version {version}")
    return _record(row)


def records_of(db: Any, originator_ids: Sequence[UUID]) -> list[StoredRecord]:
    """Every stored row of the given aggregates, with their positions."""
    out: list[StoredRecord] = []
    ids = list(dict.fromkeys(originator_ids))
    for start in range(0, len(ids), 200):
        part = ids[start : start + 200]
        marks = ",".join("?" * len(part))
        with db.transaction(commit=False) as tx:
            rows = tx.execute(
                _select(db) + f"WHERE e.originator_id IN ({marks})", [_oid_param(db, i) for i in part]
            ).fetchall()
        out.extend(_record(r) for r in rows)
    return out


def access_traces_of_case(db: Any, decrypt: Callable[[Any], Any], case_id: UUID) -> tuple[list[UUID], int]:
    """The access-log traces whose case is ``case_id`` (decrypts every trace's first event).

    Returns (trace ids, number of traces that could not be decrypted).
    """
    from eventsourcing.persistence import StoredEvent

    found: list[UUID] = []
    failed = 0
    nid = _nid(db)
    last = -1
    while True:  # in pages, so a long access log never sits in memory at once
        with db.transaction(commit=False) as tx:
            rows = tx.execute(
                f"SELECT {nid}, originator_id, originator_version, topic, state FROM stored_events "  # noqa: S608
                f"WHERE topic = ? AND {nid} > ? ORDER BY {nid} LIMIT ?",
                (ACCESS_STARTED, last, _PAGE),
            ).fetchall()
        if not rows:
            return found, failed
        last = rows[-1][0]
        for _nid_value, oid, version, topic, state in rows:
            trace_id = UUID(oid) if isinstance(oid, str) else oid
            try:
                event = decrypt(
                    StoredEvent(
                        originator_id=trace_id, originator_version=int(version), topic=topic, state=bytes(state)
                    )
                )
            except Exception:  # damaged or foreign rows are counted, not fatal
                failed += 1
                continue
            if getattr(event, "case_id", None) == case_id:
                found.append(trace_id)


def case_records(db: Any, decrypt: Callable[[Any], Any], case_id: UUID) -> tuple[list[StoredRecord], int]:
    """The case's own events and the access-log records about it, in log order."""
    traces, failed = access_traces_of_case(db, decrypt, case_id)
    records = records_of(db, [case_id, *traces])
    records.sort(key=lambda r: (r.position is None, r.position if r.position is not None else r.notification_id))
    return records, failed


# --- bundles -----------------------------------------------------------------------------------------

_RECORD_KEYS = (
    "position",
    "originator_id",
    "version",
    "topic",
    "key_id",
    "ciphertext_sha256",
    "leaf_hash",
    "inclusion_proof",
)
_BUNDLE_KEYS = ("format", "case_id", "checkpoint", "verifier_key", "records", "about")


def bundle_record(record: StoredRecord, proof: InclusionProof) -> dict[str, Any]:
    return {
        "position": record.position,
        "originator_id": record.originator_id,
        "version": record.version,
        "topic": record.topic,
        "key_id": record_key_id(record.state),
        "ciphertext_sha256": hashlib.sha256(record.state).hexdigest(),
        "leaf_hash": b64(proof.leaf),
        "inclusion_proof": [b64(p) for p in proof.proof],
    }


def build_bundle(
    records: Sequence[StoredRecord],
    fetch: NodeFetcher,
    *,
    case_id: UUID,
    checkpoint_text: str,
    verifier_key: str,
    about: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An offline-verifiable bundle of ``records`` against a signed checkpoint.

    Every record must have a position below the checkpoint's size and a stored leaf that
    its row still hashes to; anything else is ``LogTampered``. The bundle is checked with
    :func:`verify_bundle` before it is returned.
    """
    try:
        checkpoint = parse_and_verify(checkpoint_text, verifier_key)
    except CheckpointError as exc:
        raise LogTampered(f"the checkpoint does not verify: {exc}") from None
    wanted: list[NodeID] = []
    for record in records:
        if record.position is None:
            raise LogTampered(
                f"record {record.record} v{record.version} of {record.originator_id} has no position "
                "in the tree (inserted outside the application); run `regie audit verify`"
            )
        if record.position >= checkpoint.size:
            raise ValidationFailed(
                f"record at position {record.position} is newer than the checkpoint (size {checkpoint.size})"
            )
        if record.leaf != record.recomputed_leaf():
            raise LogTampered(
                f"record {record.record} v{record.version} of {record.originator_id} at position "
                f"{record.position} does not match its leaf hash; run `regie audit verify`"
            )
        wanted.extend(inclusion_proof_nodes(record.position, checkpoint.size))
    nodes = fetch_nodes(fetch, wanted)
    entries = []
    for record in records:
        assert record.position is not None
        assert record.leaf is not None
        try:
            path = inclusion_proof(record.position, checkpoint.size, nodes)
        except KeyError as exc:
            raise LogTampered(f"cannot build the proof of position {record.position}: {exc.args[0]}") from None
        proof = InclusionProof(record.position, checkpoint.size, record.leaf, path, checkpoint.root)
        try:
            proof.verify()
        except ProofError as exc:
            raise LogTampered(f"position {record.position} does not prove into the signed root: {exc}") from None
        entries.append(bundle_record(record, proof))
    bundle = {
        "format": BUNDLE_FORMAT,
        "case_id": str(case_id),
        "checkpoint": checkpoint_text,
        "verifier_key": verifier_key,
        "records": entries,
        "about": dict(about or {}),
    }
    report = verify_bundle(bundle)
    if not report.ok:
        raise LogTampered(f"the bundle does not verify: {report.problems[0]}")
    return bundle


def check_inclusion_b64(index: Any, size: int, leaf_b64: Any, proof_b64: Any, root: bytes) -> bytes:
    """Check one inclusion proof given in base64 (as a bundle carries it); returns the leaf.

    Strict about shapes (canonical base64, 32-byte hashes, a list) and then exactly
    ``merkle.verify_inclusion``. Raises ``ProofError``.
    """
    if isinstance(index, bool) or not isinstance(index, int):
        raise ProofError("leaf index is not an integer")
    if not isinstance(proof_b64, list):
        raise ProofError("inclusion proof is not a list")
    leaf = _unb64(leaf_b64, "leaf hash")
    proof = [_unb64(p, f"proof element {i}") for i, p in enumerate(proof_b64)]
    verify_inclusion(index, size, leaf, proof, root)
    return leaf


@dataclass
class BundleReport:
    """What ``verify-bundle`` found; ``ok`` only if every check passed."""

    problems: list[str] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    case_id: str | None = None
    case_events: int = 0
    access_records: int = 0
    about: dict[str, Any] = field(default_factory=dict)
    key: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "ok": self.ok,
            "case_id": self.case_id,
            "case_events": self.case_events,
            "access_records": self.access_records,
            "checkpoint": None
            if cp is None
            else {"origin": cp.origin, "size": cp.size, "root": b64(cp.root), "timestamp": cp.timestamp.isoformat()},
            "verifier_key": self.key,
            "problems": self.problems,
            "unverified_labels": self.about,
        }


def _canonical_uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return value if str(UUID(value)) == value else None
    except ValueError:
        return None


def _check_record(i: int, entry: Any, checkpoint: Checkpoint) -> tuple[str, str, int] | str:
    """One bundled record: (originator id, topic, version) if it checks out, else the problem."""
    where = f"record {i}"
    if not isinstance(entry, dict) or set(entry) != set(_RECORD_KEYS):
        return f"{where}: must have exactly the fields {', '.join(_RECORD_KEYS)}"
    position, oid, version, topic = entry["position"], entry["originator_id"], entry["version"], entry["topic"]
    key_id, digest_hex = entry["key_id"], entry["ciphertext_sha256"]
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        return f"{where}: position is not a non-negative integer"
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        return f"{where}: version is not a non-negative integer"
    if _canonical_uuid(oid) is None:
        return f"{where}: originator_id is not a UUID in canonical form"
    if not isinstance(topic, str) or not isinstance(key_id, str):
        return f"{where}: topic and key_id must be text"
    if not isinstance(digest_hex, str) or len(digest_hex) != 64 or digest_hex != digest_hex.lower():
        return f"{where}: ciphertext_sha256 must be 64 lowercase hex digits"
    try:
        digest = bytes.fromhex(digest_hex)
        leaf = leaf_hash(encode_leaf(position, oid, version, topic, key_id, digest))
    except ValueError as exc:
        return f"{where}: {exc}"
    try:
        given = check_inclusion_b64(
            position, checkpoint.size, entry["leaf_hash"], entry["inclusion_proof"], checkpoint.root
        )
    except ProofError as exc:
        return f"{where} (position {position}): inclusion proof fails: {exc}"
    if given != leaf:
        return f"{where} (position {position}): its fields do not hash to its leaf hash"
    return oid, topic, version


def verify_bundle(data: Any, pinned_key: str | None = None) -> BundleReport:
    """Check a bundle offline: signature, every leaf, every proof, and the case's completeness."""
    report = BundleReport()
    if not isinstance(data, dict):
        report.problems.append("a bundle is a JSON object")
        return report
    unknown = sorted(set(data) - set(_BUNDLE_KEYS))
    missing = [k for k in _BUNDLE_KEYS if k not in data]
    if unknown or missing:
        report.problems.append(
            f"bundle fields: missing {', '.join(missing) or '-'}, unknown {', '.join(unknown) or '-'}"
        )
        return report
    if data["format"] != BUNDLE_FORMAT:
        report.problems.append(f"format must be {BUNDLE_FORMAT!r}")
    report.about = data["about"] if isinstance(data["about"], dict) else {}
    key = data["verifier_key"]
    if not isinstance(key, str):
        report.problems.append("verifier_key is not text")
        return report
    if pinned_key is not None and pinned_key.strip() != key:
        report.problems.append("the bundled verifier key is not the pinned key (--key)")
        key = pinned_key.strip()
    report.key = key
    try:
        checkpoint = parse_and_verify(data["checkpoint"], key) if isinstance(data["checkpoint"], str) else None
    except CheckpointError as exc:
        checkpoint = None
        report.problems.append(f"checkpoint: {exc}")
    else:
        if checkpoint is None:
            report.problems.append("checkpoint is not text")
    if checkpoint is None:
        return report
    report.checkpoint = checkpoint
    if checkpoint.origin != key.split("+", 1)[0]:
        report.problems.append(f"checkpoint origin {checkpoint.origin!r} is not the verifier key's name")
    case_id = _canonical_uuid(data["case_id"])
    report.case_id = data["case_id"] if isinstance(data["case_id"], str) else None
    if case_id is None:
        report.problems.append("case_id is not a UUID in canonical form")
    records = data["records"]
    if not isinstance(records, list) or not records:
        report.problems.append("records must be a non-empty list")
        return report
    positions: set[int] = set()
    versions: dict[str, list[int]] = {}
    for i, entry in enumerate(records):
        checked = _check_record(i, entry, checkpoint)
        if isinstance(checked, str):
            report.problems.append(checked)
            continue
        oid, topic, version = checked
        if entry["position"] in positions:
            report.problems.append(f"record {i}: position {entry['position']} is listed twice")
        positions.add(entry["position"])
        if topic.startswith(CASE_TOPIC_PREFIX):
            report.case_events += 1
            if oid != case_id:
                report.problems.append(f"record {i}: a Case event of {oid}, not of case {data['case_id']}")
        elif topic.startswith(ACCESS_TOPIC_PREFIX):
            report.access_records += 1
            if oid == case_id:
                report.problems.append(f"record {i}: an access-log record cannot have the case's id")
        else:
            report.problems.append(f"record {i}: {short_topic(topic)} is neither a Case event nor an access record")
        versions.setdefault(oid, []).append(version)
    for oid, seen in versions.items():
        if sorted(seen) != list(range(1, len(seen) + 1)):
            what = "the case" if oid == case_id else f"access trace {oid}"
            report.problems.append(f"{what}: versions {sorted(seen)} are not complete from 1 (a record is left out)")
    if case_id is not None and case_id not in versions:
        report.problems.append("the bundle holds no event of the case itself")
    return report

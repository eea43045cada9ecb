"""Proofs from the stored tree, and the offline bundle an outside auditor verifies.

* Inclusion: "the record at position i is in the log of size n whose root a checkpoint
  signed" (RFC 6962 audit path, O(log n) stored nodes).
* Consistency: "the log at an older checkpoint is a prefix of the log at a newer one"
  (O(log n) stored nodes). This is what catches a removed tail or a restored backup.
* Bundle: everything needed to check one case's records without the store: for each
  record its position, originator id, version, topic, key id, SHA-256 of its ciphertext,
  leaf hash and inclusion proof, plus a signed checkpoint and the verifier key. The
  verifier recomputes every leaf with ``encode_leaf`` and checks every proof with
  ``verify_inclusion``: the same functions the log itself is built and checked with.

  Completeness: the bundle's checkpoint is made at export, with the same origin, size and
  root as the checkpoint it proves against, and one more signed line, the case statement
  ``casusregie-case <case id> <record count> <base64 SHA-256 of the sorted positions, each
  as 8-byte big-endian>``. The exporter signs it only after a full verification of the log,
  so a record left out of (or deleted from) the bundle no longer matches what was signed.
  Who signed it is only known when the verifier key is pinned: a key taken from the bundle
  itself proves nothing (anyone can make a key and sign with it).

Hashes are base64 (as in C2SP checkpoints), except the ciphertext digest, which is hex
(as ``sha256sum`` prints it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from casusregie.domain.errors import NotFound, RegieError, ValidationFailed
from casusregie.privacy_audit.checkpoint import Checkpoint, CheckpointError, parse_and_verify, sign
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
from casusregie.privacy_audit.verify import (
    ACCESS_STARTED,
    ACCESS_TOPIC_PREFIX,
    CASE_TOPIC_PREFIX,
    ERASURE_RECORDED,
    LogTampered,
    leaf_of_row,
    record_key_id,
    short_topic,
    verify_store,
)

__all__ = [
    "ACCESS_TOPIC_PREFIX",
    "BUNDLE_FORMAT",
    "CASE_EXTENSION",
    "CASE_TOPIC_PREFIX",
    "ERASURE_TOPIC_PREFIX",
    "BundleKeyNotPinned",
    "BundleReport",
    "ConsistencyProof",
    "InclusionProof",
    "StoredRecord",
    "b64",
    "build_bundle",
    "bundle_record",
    "case_records",
    "case_statement",
    "check_inclusion_b64",
    "export_bundle",
    "fetch_nodes",
    "positions_digest",
    "prove_consistency",
    "prove_inclusion",
    "record_at",
    "resolve_record",
    "verify_bundle",
]

BUNDLE_FORMAT = "casusregie-audit-bundle/v2"  # v2: the checkpoint carries the signed case statement
ERASURE_TOPIC_PREFIX = ERASURE_RECORDED.rpartition(".")[0] + "."
CASE_EXTENSION = "casusregie-case"  # the checkpoint extension line that states a case's records
_CASE_STATEMENT_RE = re.compile(r"(\S+) (0|[1-9][0-9]*) (\S+)")
_NODE_BATCH = 100  # (level, idx) pairs per query: SQLite limits expression depth
_PAGE = 2000  # access-log rows decrypted per page

NodeFetcher = Callable[[Sequence[NodeID]], Mapping[NodeID, bytes]]


class BundleKeyNotPinned(RegieError):
    """A bundle checked only against the key it carries itself: that proves nothing about who signed it."""


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


_LARGEST = 1 << 63  # a signed 64-bit column holds nothing at or beyond this


def resolve_record(db: Any, spec: str) -> StoredRecord:
    """``RECORD``: a position number, or ``<originator-id>:<version>``."""
    spec = spec.strip()
    if spec.isdigit():
        if int(spec) >= _LARGEST:  # beyond any column's range: no such record, and no driver error either
            raise NotFound(f"no record at position {spec}")
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
    if not 0 <= version < _LARGEST:
        raise NotFound(f"no stored record {originator} version {version}")
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


def _aggregates_naming_case(
    db: Any, decrypt: Callable[[Any], Any], case_id: UUID, topic: str
) -> tuple[list[UUID], int]:
    """The aggregates whose ``topic`` record names ``case_id`` (decrypts every such record).

    Returns (their ids, number of records that could not be decrypted).
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
                (topic, last, _PAGE),
            ).fetchall()
        if not rows:
            return found, failed
        last = rows[-1][0]
        for _nid_value, oid, version, row_topic, state in rows:
            try:
                aggregate_id = UUID(oid) if isinstance(oid, str) else oid
                event = decrypt(
                    StoredEvent(
                        originator_id=aggregate_id, originator_version=int(version), topic=row_topic, state=bytes(state)
                    )
                )
            except Exception:  # damaged or foreign rows are counted, not fatal
                failed += 1
                continue
            if getattr(event, "case_id", None) == case_id:
                found.append(aggregate_id)


def access_traces_of_case(db: Any, decrypt: Callable[[Any], Any], case_id: UUID) -> tuple[list[UUID], int]:
    """The access-log traces whose case is ``case_id`` (decrypts every trace's first event).

    Returns (trace ids, number of traces that could not be decrypted).
    """
    return _aggregates_naming_case(db, decrypt, case_id, ACCESS_STARTED)


def case_records(db: Any, decrypt: Callable[[Any], Any], case_id: UUID) -> tuple[list[StoredRecord], int]:
    """The case's own events, the access-log records about it and its erasure records, in log order."""
    traces, failed = access_traces_of_case(db, decrypt, case_id)
    erasures, failed_erasures = _aggregates_naming_case(db, decrypt, case_id, ERASURE_RECORDED)
    records = records_of(db, [case_id, *traces, *erasures])
    records.sort(key=lambda r: (r.position is None, r.position if r.position is not None else r.notification_id))
    return records, failed + failed_erasures


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


def positions_digest(positions: Iterable[int]) -> bytes:
    """SHA-256 of the sorted positions, each as 8-byte big-endian: what a case statement commits to."""
    return hashlib.sha256(b"".join(p.to_bytes(8, "big") for p in sorted(positions))).digest()


def case_statement(case_id: UUID | str, positions: Sequence[int]) -> str:
    """The checkpoint extension line stating exactly which positions hold the case's records."""
    return f"{CASE_EXTENSION} {case_id} {len(positions)} {b64(positions_digest(positions))}"


def _parse_statement(text: str) -> tuple[str, int, bytes]:
    """``<case id> <count> <digest>`` of a case statement (ProofError if malformed)."""
    match = _CASE_STATEMENT_RE.fullmatch(text)
    if match is None or _canonical_uuid(match.group(1)) is None:
        raise ProofError("the case statement must be '<case id> <record count> <base64 SHA-256>'")
    return match.group(1), int(match.group(2)), _unb64(match.group(3), "the case statement's digest")


def build_bundle(
    records: Sequence[StoredRecord],
    fetch: NodeFetcher,
    *,
    case_id: UUID,
    checkpoint_text: str,
    verifier_key: str,
    signer_key: str,
    about: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An offline-verifiable bundle of ``records`` against a signed checkpoint.

    Every record must have a position below the checkpoint's size and a stored leaf that
    its row still hashes to; anything else is ``LogTampered``. The bundle carries a new
    checkpoint, signed with ``signer_key``: the same tree head plus the case statement over
    exactly these records. Call it through :func:`export_bundle`, which first verifies the
    whole log: only then do these records stand for all of the case's. The bundle is checked
    with :func:`verify_bundle` before it is returned.
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
    statement = Checkpoint(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root=checkpoint.root,
        timestamp=datetime.now(UTC),
        extensions=(case_statement(case_id, [e["position"] for e in entries]),),
    )
    try:
        note = sign(statement, signer_key)
    except CheckpointError as exc:
        raise LogTampered(f"cannot sign the case statement: {exc}") from None
    bundle = {
        "format": BUNDLE_FORMAT,
        "case_id": str(case_id),
        "checkpoint": note,
        "verifier_key": verifier_key,
        "records": entries,
        "about": dict(about or {}),
    }
    report = verify_bundle(bundle, verifier_key)
    if not report.ok:
        raise LogTampered(f"the bundle does not verify: {report.problems[0]}")
    return bundle


def export_bundle(
    store: Any,
    *,
    case_id: UUID,
    case_number: str,
    decrypt: Callable[[Any], Any],
    fetch: NodeFetcher,
    checkpoint: Any,
    known_checkpoints: Sequence[Any],
    verifier_key: str,
    signer_key: str,
    about: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """The bundle of a case's records, signed as complete only after the whole log verifies.

    ``checkpoint`` (a signature-checked checkpoint file: ``.text``, ``.checkpoint``, ``.label``)
    is what the records are proven against; the log is first verified against it and
    ``known_checkpoints`` (every row's leaf and key, the tree, the head): a store whose case
    records were deleted, altered or forged is never attested complete. Returns (bundle,
    number of the case's records newer than the checkpoint, left out).
    """
    against = list({c.label: c for c in [*known_checkpoints, checkpoint]}.values())
    report = verify_store(store, [c.checkpoint for c in against], [c.label for c in against])
    first = report.first
    if first is not None:
        where = "the tree" if first.position is None else f"position {first.position}"
        raise LogTampered(
            f"the log does not verify ({first.kind} at {where}); refusing to attest the records of case "
            f"{case_number} as complete; run `regie audit verify`"
        )
    records, undecryptable = case_records(store.db, decrypt, case_id)
    if undecryptable:
        raise LogTampered(
            f"{undecryptable} access or erasure record(s) cannot be read, so the records of case {case_number} "
            "cannot be told complete; run `regie audit verify`"
        )
    size = checkpoint.checkpoint.size
    covered = [r for r in records if r.position is None or r.position < size]
    bundle = build_bundle(
        covered,
        fetch,
        case_id=case_id,
        checkpoint_text=checkpoint.text,
        verifier_key=verifier_key,
        signer_key=signer_key,
        about=about,
    )
    return bundle, len(records) - len(covered)


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
    """What ``verify-bundle`` found; ``ok`` only if every check passed.

    ``key_pinned`` says whether the verifier key was given by the caller; if not, the
    signature only shows that whoever made the bundle also made its key.
    """

    problems: list[str] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    case_id: str | None = None
    case_events: int = 0
    access_records: int = 0
    erasure_records: int = 0
    stated_records: int | None = None
    about: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    key_pinned: bool = False

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
            "erasure_records": self.erasure_records,
            "stated_records": self.stated_records,
            "checkpoint": None
            if cp is None
            else {
                "origin": cp.origin,
                "size": cp.size,
                "root": b64(cp.root),
                "timestamp": None if cp.timestamp is None else cp.timestamp.isoformat(),
            },
            "verifier_key": self.key,
            "key_source": "pinned" if self.key_pinned else "bundle",
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
    """Check a bundle offline: signature, every leaf, every proof, and the case's completeness.

    Complete means: the bundle's records sit at exactly the positions the signed case
    statement counts and digests. Without ``pinned_key`` the bundle's own key is used, and
    ``key_pinned`` is False: the caller must say that this proves nothing about the signer.
    """
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
    if pinned_key is not None:
        report.key_pinned = True
        if pinned_key.strip() != key:
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
    statement = _statement_of(checkpoint, case_id, report)
    records = data["records"]
    if not isinstance(records, list) or not records:
        report.problems.append("records must be a non-empty list")
        return report
    positions = _check_records(records, checkpoint, case_id, report)
    if statement is not None:
        _check_complete(statement, positions, len(records), report)
    return report


def _statement_of(checkpoint: Checkpoint, case_id: str | None, report: BundleReport) -> tuple[int, bytes] | None:
    """(record count, positions digest) the checkpoint signs for the bundle's case, or None."""
    lines = checkpoint.extension(CASE_EXTENSION)
    if len(lines) != 1:
        report.problems.append(
            "the signed checkpoint carries no single case statement, so nothing says the records are complete"
        )
        return None
    try:
        stated_case, count, digest = _parse_statement(lines[0])
    except ProofError as exc:
        report.problems.append(f"checkpoint: {exc}")
        return None
    if stated_case != case_id:
        report.problems.append(f"the signed case statement is about case {stated_case}, not this bundle's case")
    report.stated_records = count
    return count, digest


def _check_records(records: list[Any], checkpoint: Checkpoint, case_id: str | None, report: BundleReport) -> list[int]:
    """Every record on its own and as one of the case's; returns the positions listed."""
    positions: list[int] = []
    versions: dict[str, list[int]] = {}
    for i, entry in enumerate(records):
        checked = _check_record(i, entry, checkpoint)
        if isinstance(checked, str):
            report.problems.append(checked)
            continue
        oid, topic, version = checked
        if entry["position"] in positions:
            report.problems.append(f"record {i}: position {entry['position']} is listed twice")
        positions.append(entry["position"])
        if topic.startswith(CASE_TOPIC_PREFIX):
            report.case_events += 1
            if oid != case_id:
                report.problems.append(f"record {i}: a Case event of {oid}, not of case {case_id}")
        elif topic.startswith(ACCESS_TOPIC_PREFIX) or topic.startswith(ERASURE_TOPIC_PREFIX):
            if topic.startswith(ACCESS_TOPIC_PREFIX):
                report.access_records += 1
            else:
                report.erasure_records += 1
            if oid == case_id:
                report.problems.append(f"record {i}: an access-log or erasure record cannot have the case's id")
        else:
            report.problems.append(
                f"record {i}: {short_topic(topic)} is neither a Case event nor an access or erasure record"
            )
        versions.setdefault(oid, []).append(version)
    for oid, seen in versions.items():
        if sorted(seen) != list(range(1, len(seen) + 1)):
            what = "the case" if oid == case_id else f"access trace or erasure {oid}"
            report.problems.append(f"{what}: versions {sorted(seen)} are not complete from 1 (a record is left out)")
    if case_id is not None and case_id not in versions:
        report.problems.append("the bundle holds no event of the case itself")
    return positions


def _check_complete(statement: tuple[int, bytes], positions: list[int], listed: int, report: BundleReport) -> None:
    count, digest = statement
    if listed != count:
        report.problems.append(
            f"the signed case statement counts {count} records but the bundle lists {listed}: "
            "records were left out or added"
        )
    elif len(positions) == listed and positions_digest(positions) != digest:
        report.problems.append("the bundle's positions are not the ones the signed case statement names")

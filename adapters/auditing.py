"""What auditors run on the server: the log's verification, and a case's bundle to verify offline.

One function each for every adapter that offers them (the CLI, the API, the auditor's pages of
the web application), so that each checks, logs and signs alike.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casusregie.adapters.checkpoint_files import (
    CheckpointFile,
    CheckpointInvalid,
    read_checkpoint,
    read_signer_key,
    read_verified,
    read_verifier_key,
    record_verified,
    store_checkpoints,
    write_checkpoint,
)
from casusregie.adapters.merkle_log import MerkleReader
from casusregie.commands.outcome import failure_recorded
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.errors import StoreProblem, ValidationFailed
from casusregie.domain.roles import Role
from casusregie.privacy_audit.proofs import export_bundle
from casusregie.privacy_audit.replay import AUDIT_ACTIVITY, require_auditor, resolve_case
from casusregie.privacy_audit.verify import Progress, VerifyReport, verify_store


@dataclass(frozen=True)
class CaseBundle:
    case: str
    bundle: dict[str, Any]
    checkpoint_size: int
    newer_than_checkpoint: int


def case_bundle(
    session: Session,
    case_ref: str,
    checkpoint_file: Path | None = None,
    deliver: Callable[[dict[str, Any]], None] = lambda _: None,
) -> CaseBundle:
    """The bundle of ``case_ref`` (auditors; logged as an export), proven against ``checkpoint_file`` or a
    checkpoint signed now. The whole log is verified by ``export_bundle`` first. ``deliver`` (writing the
    file, say) runs inside the export's record, so that its failure is recorded as the export's."""
    app = session.app
    store = app.store
    case = resolve_case(session, case_ref)  # no decryption: a damaged case still gets a clear verdict
    require_auditor(session, "audit.bundle", case)
    key, signer = read_verifier_key(store), read_signer_key(store)
    given = None if checkpoint_file is None else read_checkpoint(checkpoint_file, key, store.origin)
    session.log_read("audit.bundle", AUDIT_ACTIVITY, Action.EXPORT, case.id, [])
    with failure_recorded(session, "audit.bundle", AUDIT_ACTIVITY, Action.EXPORT, case.id):
        checkpoint = given or read_checkpoint(write_checkpoint(store, app), key, store.origin)
        bundle, newer = export_bundle(
            store,
            case_id=case.id,
            case_number=case.case_number,
            decrypt=app.mapper.to_domain_event,
            fetch=MerkleReader(store.db).nodes,
            checkpoint=checkpoint,
            known_checkpoints=store_checkpoints(store),
            verifier_key=key,
            signer_key=signer,
            about={
                "case": case.case_number,
                "store": store.origin,
                "exported_by": session.actor.user_id,
                "note": "labels in 'about' are not signed; everything else is checked by `regie audit verify-bundle`",
            },
        )
        deliver(bundle)
    return CaseBundle(case.case_number, bundle, checkpoint.size, newer)


@dataclass
class LogVerification:
    """A verification's report, what it built on, and what could not be kept for the next one."""

    report: VerifyReport
    base: CheckpointFile | None
    warnings: list[str]


def verify_log(
    store: Any, checkpoints: list[CheckpointFile], *, full: bool = False, progress: Progress | None = None
) -> LogVerification:
    """Verify the store's log against ``checkpoints``; incrementally unless ``full`` or never verified before.

    The incremental run builds on the head the last successful verification signed (its note
    beside the checkpoints); a full run checks the log against that note like a checkpoint.
    A run that finds the log whole signs its head as the next run's base.
    """
    warnings: list[str] = []
    try:
        base = read_verified(store)
    except (CheckpointInvalid, ValidationFailed) as exc:
        if not full:
            raise CheckpointInvalid(f"{exc}; run `regie audit verify --full`") from None
        warnings.append(f"the note of the last verification is not usable ({exc}); it is replaced")
        base = None
    against = list(checkpoints) + ([base] if full and base is not None else [])
    report = verify_store(
        store,
        [c.checkpoint for c in against],
        [c.label for c in against],
        progress,
        base=None if full or base is None else base.checkpoint,
    )
    if report.ok and report.head_size == report.size:
        try:
            record_verified(store, report.size, report.root, report.mode)
        except (StoreProblem, ValidationFailed) as exc:
            warnings.append(f"this verification could not be noted for the next incremental run: {exc}")
    return LogVerification(report, base if report.verified_from is not None else None, warnings)


def verification(session: Session, *, full: bool = False) -> dict[str, Any]:
    """The log checked now against every signed checkpoint (auditors; logged): what was added since the
    last verification, or with ``full`` every record.

    The newest checkpoint is named; ``unsigned_records`` are those newer than it, which no signature
    covers yet (their removal could not be detected).
    """
    if session.actor.role != Role.AUDITOR:
        session.deny("audit.verify", AUDIT_ACTIVITY, Action.READ, "only auditors verify the log here")
    store = session.app.store
    checkpoints = store_checkpoints(store)
    done = verify_log(store, checkpoints, full=full)
    report = done.report
    session.log_read("audit.verify", AUDIT_ACTIVITY, Action.READ, None, [])
    newest = max(checkpoints, key=lambda c: c.size, default=None)
    data = report.to_json()
    data["problems"] = [p.to_json() for p in report.ordered_problems()[:50]]
    data["unsigned_records"] = max(report.size - (newest.size if newest else 0), 0)
    data["warnings"] = done.warnings
    data["latest_checkpoint"] = None
    if newest is not None:
        cp = newest.checkpoint
        data["latest_checkpoint"] = {
            "size": cp.size,
            "timestamp": cp.timestamp.isoformat() if cp.timestamp else None,
            "root": base64.b64encode(cp.root).decode(),
        }
    return data

"""A case's audit bundle: what an outside auditor needs to verify the case's records offline.

One function for every adapter that hands out bundles (``regie audit bundle``, the auditor's
page of the web application), so that each checks, logs and signs alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from casusregie.adapters.checkpoint_files import (
    read_checkpoint,
    read_signer_key,
    read_verifier_key,
    store_checkpoints,
    write_checkpoint,
)
from casusregie.adapters.merkle_log import MerkleReader
from casusregie.commands.outcome import failure_recorded
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.privacy_audit.proofs import export_bundle
from casusregie.privacy_audit.replay import AUDIT_ACTIVITY, require_auditor, resolve_case


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

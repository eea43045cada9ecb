"""Inclusion and consistency proofs from the stored tree, and offline bundles (#6)."""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import World
from test_audit_verify import flip, refer, set_state_at, state_at, story

from casusregie.adapters.checkpoint_files import (
    read_checkpoint,
    read_key_file,
    read_signer_key,
    read_verifier_key,
    store_checkpoints,
    write_checkpoint,
)
from casusregie.adapters.merkle_log import MerkleReader
from casusregie.domain.errors import ValidationFailed
from casusregie.privacy_audit import merkle, proofs
from casusregie.privacy_audit.merkle import MerkleTree, ProofError
from casusregie.privacy_audit.proofs import (
    case_records,
    check_inclusion_b64,
    export_bundle,
    prove_consistency,
    prove_inclusion,
    record_at,
    resolve_record,
    verify_bundle,
)
from casusregie.privacy_audit.verify import LogTampered


def _vectors() -> Path:
    override = os.environ.get("REGIE_VECTORS_DIR")
    if override:
        return Path(override)
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "rfc6962"
    return shared if (shared / "inclusion.json").is_file() else Path(__file__).resolve().parent / "vectors" / "rfc6962"


def stored_leaves(world: World) -> list[bytes]:
    with world.store.db.transaction(commit=False) as tx:
        return [bytes(h) for (h,) in tx.execute("SELECT leaf FROM regie_merkle_leaves ORDER BY position").fetchall()]


# --- proofs from the stored tree -------------------------------------------------------------------------


def test_inclusion_proof_of_every_position_verifies_against_the_checkpoint(world: World) -> None:
    story(world)
    cp = read_checkpoint(write_checkpoint(world.store, world.app), read_verifier_key(world.store)).checkpoint
    reader = MerkleReader(world.store.db)
    reference = MerkleTree(stored_leaves(world))
    assert reference.root() == cp.root
    for position in range(cp.size):
        record = record_at(world.store.db, position)
        assert record is not None
        assert record.leaf == record.recomputed_leaf()
        proof = prove_inclusion(reader.nodes, position, record.leaf, cp)
        assert proof.proof == reference.inclusion_proof(position)
        merkle.verify_inclusion(position, cp.size, record.leaf, proof.proof, cp.root)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(position, cp.size, flip(record.leaf, 0), proof.proof, cp.root)


def test_consistency_proofs_between_checkpoints_verify(world: World) -> None:
    refer(world)
    key = read_verifier_key(world.store)
    first = read_checkpoint(write_checkpoint(world.store, world.app), key).checkpoint
    story(world)
    second = read_checkpoint(write_checkpoint(world.store, world.app), key).checkpoint
    reader = MerkleReader(world.store.db)
    proof = prove_consistency(reader.nodes, first, second)
    merkle.verify_consistency(first.size, second.size, first.root, second.root, proof.proof)
    assert prove_consistency(reader.nodes, second, first).proof == proof.proof  # order does not matter
    # every pair of sizes agrees with an in-memory tree over the same leaves
    reference = MerkleTree(stored_leaves(world))
    for size1 in range(1, second.size + 1, 3):
        stored = proofs.consistency_proof(
            size1, second.size, proofs.fetch_nodes(reader.nodes, merkle.consistency_proof_nodes(size1, second.size))
        )
        assert stored == reference.consistency_proof(size1, second.size)


def test_resolve_record_by_position_and_by_originator_version(world: World) -> None:
    numbers = story(world)
    case_id = world.session("anna").case(numbers["case"]).id
    by_id = resolve_record(world.store.db, f"{case_id}:2")
    assert (by_id.originator_id, by_id.version, by_id.record) == (str(case_id), 2, "Case.IntakeAssessed")
    by_position = resolve_record(world.store.db, str(by_id.position))
    assert by_position == by_id


# --- bundles ---------------------------------------------------------------------------------------------------


def make_bundle(world: World, case: str, checkpoint: Path | None = None) -> dict[str, Any]:
    """A bundle as `regie audit bundle` makes it: the log verified first, the case statement signed."""
    store, app = world.store, world.app
    case_id = world.session("anna").refs.resolve(case, "case")[0]
    key = read_verifier_key(store)
    cp = read_checkpoint(checkpoint or write_checkpoint(store, app), key)
    bundle, newer = export_bundle(
        store,
        case_id=case_id,
        case_number=case,
        decrypt=app.mapper.to_domain_event,
        fetch=MerkleReader(store.db).nodes,
        checkpoint=cp,
        known_checkpoints=store_checkpoints(store),
        verifier_key=key,
        signer_key=read_signer_key(store),
        about={"case": case},
    )
    assert newer == 0
    return bundle


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _paths(v, (*prefix, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _paths(v, (*prefix, i))]
    return [prefix]


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def _one_byte_changes(value: Any) -> list[Any]:
    """A few ways to change exactly one byte (character) of a field's value."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value ^ 1, value + 1]
    assert isinstance(value, str)
    out = []
    for index in {0, len(value) // 2, len(value) - 2, len(value) - 1} - {-1, -2}:
        char = value[index]
        other = "A" if char != "A" else "B"
        if char == "\n":
            other = " "
        out.append(value[:index] + other + value[index + 1 :])
    return out


def test_bundle_holds_the_case_events_and_its_access_records(world: World) -> None:
    numbers = story(world)
    other = refer(world, "bram")
    bundle = make_bundle(world, numbers["case"])
    case_id = str(world.session("anna").case(numbers["case"]).id)
    topics = [r["topic"].rpartition(":")[2] for r in bundle["records"]]
    case_events = [r for r in bundle["records"] if r["originator_id"] == case_id]
    assert [r["version"] for r in sorted(case_events, key=lambda r: r["version"])] == [1, 2, 3, 4, 5]
    assert "AccessTrace.Started" in topics
    assert "AccessTrace.SubjectTouched" in topics
    other_id = str(world.session("bram").case(other).id)
    assert all(r["originator_id"] != other_id for r in bundle["records"])
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert (report.case_events, report.access_records) == (5, len(bundle["records"]) - 5)
    assert json.dumps(bundle).count("Karel") == 0  # no personal data: hashes and ids only


def test_bundle_fails_after_changing_one_byte_of_any_field(world: World) -> None:
    numbers = story(world)
    bundle = make_bundle(world, numbers["case"])
    assert verify_bundle(bundle).ok
    checked = 0
    for path in _paths(bundle):
        if path[0] == "about":
            continue  # labels, documented as unsigned and shown as such
        for changed in _one_byte_changes(_get(bundle, path)):
            forged = copy.deepcopy(bundle)
            _set(forged, path, changed)
            report = verify_bundle(forged)
            assert not report.ok, f"changing {path} to {changed!r} went unnoticed"
            checked += 1
    assert checked > 100
    # structure changes fail too: a dropped record (the case's versions no longer complete) or field
    dropped = copy.deepcopy(bundle)
    case_id = bundle["case_id"]
    dropped["records"] = [r for r in dropped["records"] if not (r["originator_id"] == case_id and r["version"] == 3)]
    assert any("not complete" in p for p in verify_bundle(dropped).problems)
    extra = copy.deepcopy(bundle)
    extra["records"][0]["note"] = "x"
    assert not verify_bundle(extra).ok
    # the labels are reported, but as unverified
    labelled = copy.deepcopy(bundle)
    labelled["about"]["case"] = "CFORGED"
    report = verify_bundle(labelled)
    assert report.ok
    assert report.to_json()["unverified_labels"] == {"case": "CFORGED"}


def test_bundle_verifier_uses_the_log_s_own_functions(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert proofs.verify_inclusion is merkle.verify_inclusion
    assert proofs.encode_leaf is merkle.encode_leaf
    assert proofs.leaf_hash is merkle.leaf_hash
    bundle = make_bundle(world, refer(world))
    calls = {"inclusion": 0, "encode": 0}

    def counting_inclusion(*args: Any) -> None:
        calls["inclusion"] += 1
        return merkle.verify_inclusion(*args)

    def counting_encode(*args: Any) -> bytes:
        calls["encode"] += 1
        return merkle.encode_leaf(*args)

    monkeypatch.setattr(proofs, "verify_inclusion", counting_inclusion)
    monkeypatch.setattr(proofs, "encode_leaf", counting_encode)
    assert verify_bundle(bundle).ok
    assert calls == {"inclusion": len(bundle["records"]), "encode": len(bundle["records"])}


def _vector_entries() -> list[Any]:
    path = _vectors() / "inclusion.json"
    if not path.is_file():
        return [pytest.param(None, id="inclusion.json-missing")]
    return [pytest.param(e, id=e["file"]) for e in json.loads(path.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("entry", _vector_entries())
def test_bundle_proof_check_accepts_exactly_the_valid_vectors(entry: dict[str, Any] | None) -> None:
    if entry is None:
        pytest.fail(f"RFC 6962 vectors not found in {_vectors()} (set REGIE_VECTORS_DIR)", pytrace=False)
    args = (
        entry["leafIdx"],
        entry["treeSize"],
        entry["leafHash"],
        entry["proof"] or [],
        base64.b64decode(entry["root"]),
    )
    if entry["wantErr"]:
        with pytest.raises(ProofError):
            check_inclusion_b64(*args)
    else:
        assert check_inclusion_b64(*args) == base64.b64decode(entry["leafHash"])


def test_bundle_refuses_a_tampered_record(world: World) -> None:
    numbers = story(world)
    case_id = world.session("anna").case(numbers["case"]).id
    store = world.store
    records, _ = case_records(store.db, world.app.mapper.to_domain_event, case_id)
    target = next(r for r in records if r.version == 2 and r.originator_id == str(case_id))
    signed = write_checkpoint(store, world.app)  # before the tampering: the writer would refuse to sign after
    set_state_at(world, target.position, flip(state_at(world, target.position), 9))
    with pytest.raises(LogTampered, match=f"altered at position {target.position}.*refusing to attest"):
        make_bundle(world, numbers["case"], signed)
    with pytest.raises(LogTampered, match=f"altered at position {target.position}.*refusing to attest"):
        make_bundle(world, numbers["case"])  # the head is already signed: the full verification refuses


# --- the command line -----------------------------------------------------------------------------------------------


def test_cli_prove_and_consistency(world: World, cli: Any, tmp_path: Path) -> None:
    numbers = story(world)
    missing = cli("audit", "prove", "0", user="aud")
    assert missing.code == 1
    assert "no checkpoint" in missing.err
    first = Path(cli("audit", "checkpoint", user="admin").out.strip())
    case_id = world.session("anna").case(numbers["case"]).id
    proved = cli("audit", "prove", f"{case_id}:4", "--json", user="aud")
    assert proved.code == 0, proved.err
    data = proved.json()
    assert data["record"]["version"] == 4
    assert data["verified"] is True
    merkle.verify_inclusion(
        data["leaf_index"],
        data["tree_size"],
        base64.b64decode(data["leaf_hash"]),
        [base64.b64decode(p) for p in data["proof"]],
        base64.b64decode(data["root"]),
    )
    text = cli("audit", "prove", str(data["leaf_index"]), user="admin")
    assert text.code == 0
    assert "verified" in text.out
    assert cli("audit", "prove", "0", user="piet").code == 1  # refused

    refer(world, "bram")
    second = Path(cli("audit", "checkpoint", "--out", str(tmp_path / "later"), user="aud").out.strip())
    assert second.parent == tmp_path / "later"
    consistent = cli("audit", "consistency", str(second), str(first), "--json", user="aud")
    assert consistent.code == 0, consistent.err
    proof = consistent.json()
    merkle.verify_consistency(
        proof["size1"],
        proof["size2"],
        base64.b64decode(proof["root1"]),
        base64.b64decode(proof["root2"]),
        [base64.b64decode(p) for p in proof["proof"]],
    )

    position = data["leaf_index"]
    set_state_at(world, position, flip(state_at(world, position), 5))
    tampered = cli("audit", "prove", str(position), user="aud")
    assert tampered.code == 1
    assert "does not match its leaf hash" in tampered.err


def test_cli_bundle_verifies_offline_without_a_store(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    numbers = story(world)
    out = tmp_path / "bundle.json"
    refused = cli("audit", "bundle", numbers["case"], "--out", str(out), user="admin")
    assert refused.code == 1
    assert "refused" in refused.err
    made = cli("audit", "bundle", numbers["case"], "--out", str(out), "--json", user="aud")
    assert made.code == 0, made.err
    summary = made.json()
    assert summary["records"] == len(json.loads(out.read_text())["records"])
    assert summary["newer_than_checkpoint"] == 0
    key = read_verifier_key(world.store)
    other_key = tmp_path / "other.vkey"
    other_key.write_text(key.rsplit("+", 1)[0] + "+AQ" + "A" * 41 + "=\n")

    for name in ("REGIE_STORE", "REGIE_KEY_DIR", "REGIE_USER", "REGIE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    unpinned = cli("audit", "verify-bundle", str(out))  # the bundle's own key proves nothing about the signer
    assert unpinned.code == 1
    assert unpinned.out == ""
    assert len(unpinned.err.strip().splitlines()) == 1
    assert "taken from the bundle itself" in unpinned.err
    assert "--key" in unpinned.err
    trusted = cli("audit", "verify-bundle", str(out), "--trust-bundle-key")
    assert trusted.code == 0, trusted.err
    assert "bundle verified" in trusted.out
    assert "taken from the bundle itself" in trusted.err
    ok = cli("audit", "verify-bundle", str(out), "--key", key)
    assert ok.code == 0, ok.err
    assert "bundle verified" in ok.out
    assert ok.err == ""
    pinned = cli("audit", "verify-bundle", str(out), "--key", key, "--json")
    assert pinned.code == 0, pinned.err
    assert pinned.json()["ok"] is True
    wrong = cli("audit", "verify-bundle", str(out), "--key", str(other_key))
    assert wrong.code == 1
    data = json.loads(out.read_text())
    data["records"][0]["ciphertext_sha256"] = "0" + data["records"][0]["ciphertext_sha256"][1:]
    if data["records"][0]["ciphertext_sha256"] == json.loads(out.read_text())["records"][0]["ciphertext_sha256"]:
        data["records"][0]["ciphertext_sha256"] = "1" + data["records"][0]["ciphertext_sha256"][1:]
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    bad = cli("audit", "verify-bundle", str(forged), "--key", key)
    assert bad.code == 1
    assert "bundle does not verify: record 0" in bad.err
    as_json = cli("audit", "verify-bundle", str(forged), "--json", "--key", key)
    assert as_json.code == 1
    assert as_json.json()["ok"] is False


def test_a_pinned_key_is_taken_verbatim_or_read_from_its_file(tmp_path: Path) -> None:
    key = "casusregie/st-0011+0a1b2c3d+AQ//AB+/CD=="  # base64 may hold '//', which a path would fold
    assert read_key_file(key) == key
    stored = tmp_path / "signing.vkey"
    stored.write_text(key + "\n")
    assert read_key_file(str(stored)) == key
    with pytest.raises(ValidationFailed):
        read_key_file(str(tmp_path / "missing.vkey"))

"""Bundles prove completeness and do not trust their own key; checkpoints by time; C2SP extensions (issue 9).

* a bundle carries a signed statement of exactly which positions hold the case's records,
  so leaving any record out fails, and the exporter signs it only after the whole log
  verifies (C);
* `verify-bundle` says loudly when the key came from the bundle itself (C);
* checkpoints without a timestamp, or with other extension lines, are read everywhere (D3);
* an automatic checkpoint is due by records or by time, per profile (D4).
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from helpers import World
from test_audit_hardening_log import attacker, rows_of, size_of, verify
from test_audit_verify import refer, story

from casusregie.adapters.checkpoint_files import (
    auto_checkpoint,
    list_checkpoints,
    read_signer_key,
    read_verifier_key,
    write_checkpoint,
)
from casusregie.privacy_audit.checkpoint import Checkpoint, generate_signing_key, parse_and_verify, sign
from casusregie.privacy_audit.proofs import verify_bundle

# --- C: bundles ------------------------------------------------------------------------------------------------


def _bundle(cli: Any, case: str, out: Path, *extra: str) -> dict[str, Any]:
    made = cli("audit", "bundle", case, "--out", str(out), *extra, user="aud")
    assert made.code == 0, made.err
    return json.loads(out.read_text())


def _save(tmp_path: Path, data: dict[str, Any], name: str) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_leaving_out_the_last_events_and_every_access_record_fails(world: World, cli: Any, tmp_path: Path) -> None:
    numbers = story(world)
    key = read_verifier_key(world.store)
    bundle = _bundle(cli, numbers["case"], tmp_path / "bundle.json")
    assert cli("audit", "verify-bundle", str(tmp_path / "bundle.json"), "--key", key).code == 0
    case_id = bundle["case_id"]
    own = sorted((r for r in bundle["records"] if r["originator_id"] == case_id), key=lambda r: r["version"])
    trimmed = copy.deepcopy(bundle)
    trimmed["records"] = [r for r in own[:-2]]  # the last two events gone, and every access record
    result = cli("audit", "verify-bundle", str(_save(tmp_path, trimmed, "trimmed.json")), "--key", key)
    assert result.code == 1
    assert "records were left out or added" in result.err


def test_removing_any_single_record_from_a_bundle_fails(world: World) -> None:
    from test_audit_proofs import make_bundle

    numbers = story(world)
    key = read_verifier_key(world.store)
    bundle = make_bundle(world, numbers["case"])
    assert verify_bundle(bundle, key).ok
    for i in range(len(bundle["records"])):
        fewer = copy.deepcopy(bundle)
        del fewer["records"][i]
        report = verify_bundle(fewer, key)
        assert not report.ok, i
        assert any("left out" in p for p in report.problems), (i, report.problems)
    # the statement is signed: changing its count or digest breaks the signature
    lines = bundle["checkpoint"].split("\n")
    statement = next(i for i, line in enumerate(lines) if line.startswith("casusregie-case "))
    parts = lines[statement].split(" ")
    for forged in (
        [*parts[:2], str(int(parts[2]) - 1), parts[3]],
        [*parts[:3], base64.b64encode(bytes(32)).decode()],
    ):
        changed = copy.deepcopy(bundle)
        changed["checkpoint"] = "\n".join([*lines[:statement], " ".join(forged), *lines[statement + 1 :]])
        assert any("does not verify" in p for p in verify_bundle(changed, key).problems)


def test_a_bundle_statement_names_the_case_size_and_root_of_its_checkpoint(world: World) -> None:
    from test_audit_proofs import make_bundle

    numbers = story(world)
    key = read_verifier_key(world.store)
    signed = write_checkpoint(world.store, world.app)
    bundle = make_bundle(world, numbers["case"], signed)
    proven = parse_and_verify(signed.read_text(), key)
    carried = parse_and_verify(bundle["checkpoint"], key)
    assert (carried.origin, carried.size, carried.root) == (proven.origin, proven.size, proven.root)
    assert carried.timestamp is not None
    (statement,) = carried.extension("casusregie-case")
    case_id, count, digest = statement.split(" ")
    assert case_id == bundle["case_id"]
    assert int(count) == len(bundle["records"])
    positions = sorted(r["position"] for r in bundle["records"])
    from hashlib import sha256

    assert base64.b64decode(digest) == sha256(b"".join(p.to_bytes(8, "big") for p in positions)).digest()


def test_a_store_with_a_deleted_case_record_is_never_attested_complete(world: World, cli: Any, tmp_path: Path) -> None:
    numbers = story(world)
    refer(world, "bram")
    signed = write_checkpoint(world.store, world.app)
    case_id = world.session("anna").case(numbers["case"]).id
    last = max(p for p, oid, _v, _t in rows_of(world, "%Case.%") if oid == case_id)
    with attacker(world) as db:
        db.q(f"DELETE FROM stored_events WHERE {db.nid} = ?", (db.row_at(last)[0],))
    out = tmp_path / "bundle.json"
    refused = cli("audit", "bundle", numbers["case"], "--out", str(out), "--checkpoint", str(signed), user="aud")
    assert refused.code == 1
    assert "refusing to attest" in refused.err
    assert "regie audit verify" in refused.err
    assert not out.exists()


def test_a_bundle_re_signed_with_another_key_passes_only_when_that_key_is_trusted(
    world: World, cli: Any, tmp_path: Path
) -> None:
    """An attacker drops records and signs a fresh statement with a key of their own: only pinning catches it."""
    numbers = story(world)
    key = read_verifier_key(world.store)
    bundle = _bundle(cli, numbers["case"], tmp_path / "bundle.json")
    origin = parse_and_verify(bundle["checkpoint"], key).origin
    signer, impostor = generate_signing_key(origin)
    kept = bundle["records"][:3]
    honest = parse_and_verify(bundle["checkpoint"], key)
    from casusregie.privacy_audit.proofs import case_statement

    forged = copy.deepcopy(bundle)
    forged["records"] = kept
    forged["verifier_key"] = impostor
    forged["checkpoint"] = sign(
        Checkpoint(
            honest.origin,
            honest.size,
            honest.root,
            datetime.now(UTC),
            (case_statement(bundle["case_id"], [r["position"] for r in kept]),),
        ),
        signer,
    )
    path = _save(tmp_path, forged, "forged.json")
    unpinned = cli("audit", "verify-bundle", str(path))
    assert unpinned.code == 1
    assert "proves nothing about who signed it" in unpinned.err
    trusted = cli("audit", "verify-bundle", str(path), "--trust-bundle-key", "--json")
    assert trusted.code == 0  # it is what it says: consistent with the key it carries, nothing more
    assert trusted.json()["key_source"] == "bundle"
    assert "proves nothing" in trusted.err
    pinned = cli("audit", "verify-bundle", str(path), "--key", key)
    assert pinned.code == 1
    assert "not the pinned key" in pinned.err


def test_a_bundle_includes_the_case_s_erasure_records(world: World) -> None:
    import random

    from test_audit_proofs import make_bundle
    from test_audit_tamper import erase_person

    numbers = story(world)
    erase_person(world, numbers["case"], random.Random(2))
    bundle = make_bundle(world, numbers["case"])
    report = verify_bundle(bundle, read_verifier_key(world.store))
    assert report.ok, report.problems
    assert report.erasure_records == 1
    assert report.stated_records == len(bundle["records"])


# --- D3: checkpoints without a timestamp, or with other extension lines ----------------------------------------


def test_checkpoints_without_a_timestamp_or_with_other_lines_are_read_everywhere(world: World, cli: Any) -> None:
    refer(world)
    store = world.store
    written = write_checkpoint(store, world.app)
    signed = parse_and_verify(written.read_text(), read_verifier_key(store))
    bare = Checkpoint(store.origin, signed.size, signed.root)
    written.write_text(sign(bare, read_signer_key(store)))  # as another C2SP tool would make it
    refer(world, "bram")
    later = write_checkpoint(store, world.app)  # consistent with the bare one: signs on
    head = parse_and_verify(later.read_text(), read_verifier_key(store))
    later.write_text(
        sign(
            Checkpoint(store.origin, head.size, head.root, head.timestamp, ("witness w1", "note x")),
            read_signer_key(store),
        )
    )
    verified = cli("audit", "verify", "--json", user="aud")
    assert verified.code == 0, verified.err
    checks = verified.json()["checkpoints"]
    assert [c["timestamp"] is None for c in checks] == [True, False]
    assert all(c["ok"] for c in checks)
    text = cli("audit", "verify", user="aud")
    assert text.code == 0
    assert "checkpoint of size" in text.out  # named by its size where it has no time
    world.store.extra.clear()  # a new process: the newest checkpoint is read from its file
    assert auto_checkpoint(store, world.app) is None


# --- D4: automatic checkpoints by records and by time -----------------------------------------------------------


def _profile(every: int | None, minutes: int | None) -> Any:
    return SimpleNamespace(profile=SimpleNamespace(checkpoint_every=every, checkpoint_minutes=minutes))


def test_a_checkpoint_is_due_after_so_many_minutes_if_the_log_grew(world: World) -> None:
    store = world.store
    hourly = _profile(1000, 60)
    created = datetime.fromisoformat(store.meta["created_at"])
    refer(world)
    store.extra.clear()
    assert auto_checkpoint(store, hourly, now=created + timedelta(minutes=59)) is None
    first = auto_checkpoint(store, hourly, now=created + timedelta(minutes=61))  # none yet: counted from creation
    assert first is not None
    signed_at = parse_and_verify(first.read_text(), read_verifier_key(store)).timestamp
    assert signed_at is not None
    assert auto_checkpoint(store, hourly, now=signed_at + timedelta(hours=5)) is None  # nothing new since
    refer(world, "bram")
    assert auto_checkpoint(store, hourly, now=signed_at + timedelta(minutes=30)) is None
    second = auto_checkpoint(store, hourly, now=signed_at + timedelta(minutes=60))
    assert second is not None
    assert second != first
    assert [size for size, _ in list_checkpoints(store.checkpoint_dir)] == [
        int(first.stem.split("-")[1]),
        size_of(world),
    ]
    second_at = parse_and_verify(second.read_text(), read_verifier_key(store)).timestamp
    assert second_at is not None
    store.extra.clear()  # a new process reads the newest checkpoint's time from its file
    refer(world)
    assert auto_checkpoint(store, hourly, now=second_at + timedelta(minutes=30)) is None
    assert auto_checkpoint(store, hourly, now=second_at + timedelta(minutes=61)) is not None
    assert verify(world).ok


def test_a_checkpoint_is_due_when_the_log_grew_by_so_many_records_since_the_newest(world: World) -> None:
    store = world.store
    every_ten = _profile(10, None)
    store.extra.clear()
    start = size_of(world)
    sizes = []
    while size_of(world) < start + 40:
        refer(world)
        written = auto_checkpoint(store, every_ten, now=datetime.now(UTC) + timedelta(days=365))
        if written is not None:
            sizes.append(int(written.stem.split("-")[1]))
    assert len(sizes) >= 2
    assert all(b - a >= 10 for a, b in itertools.pairwise(sizes))
    assert auto_checkpoint(store, _profile(None, None)) is None


def test_the_shipped_profiles_sign_hourly(world: World) -> None:
    assert (world.app.profile.checkpoint_every, world.app.profile.checkpoint_minutes) == (1000, 60)
    refer(world)
    assert auto_checkpoint(world.store, world.app) is None  # a fresh store: not an hour old yet
    late = datetime.now(UTC) + timedelta(minutes=61)
    assert auto_checkpoint(world.store, world.app, now=late) is not None

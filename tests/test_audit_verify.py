"""Audit log verification (#6): checkpoints, the verifier on both backends, and `regie audit verify`."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import stat
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import World
from hypothesis import given, settings
from hypothesis import strategies as st

from casusregie.adapters.checkpoint_files import (
    auto_checkpoint,
    list_checkpoints,
    read_checkpoint,
    read_verifier_key,
    store_checkpoints,
    write_checkpoint,
)
from casusregie.adapters.cli.audit import register
from casusregie.adapters.merkle_log import MerkleReader, leaf_for
from casusregie.cli import regie
from casusregie.commands.decision import TakeOn
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.referral import AssessIntake, MemberInput, ReferCase
from casusregie.privacy_audit import verify as verify_mod
from casusregie.privacy_audit.checkpoint import Checkpoint, parse_and_verify
from casusregie.privacy_audit.envelope import encrypt
from casusregie.privacy_audit.merkle import Frontier, MerkleTree, tree_root_nodes
from casusregie.privacy_audit.verify import (
    ALTERED,
    CASE_INDEX,
    DIVERGED,
    HEAD,
    MISSING,
    NODE,
    TRUNCATED,
    UNINDEXED,
    LogTampered,
    open_log,
    store_authenticator,
    verify_log,
    verify_store,
)
from casusregie.privacy_audit.verify_parallel import process_runner, verify_parallel

register(regie)  # until the lead wires `audit` into cli.py; guarded against double registration

CASE_TOPIC = "casusregie.domain.case:Case.Referred"


# --- shared helpers (imported by the other audit test modules) ---------------------------------------------


def refer(world: World, user: str = "anna", name: str = "Karel Jansen") -> str:
    result = world.run(
        user,
        ReferCase(
            referring_org="politie",
            referring_worker="W. Agent",
            reason="ernstige overlast",
            problems={"overlast": "geluidsoverlast en bedreiging"},
            members=[
                MemberInput(name=name, birth_date="1980-01-02"),
                MemberInput(name="Kim Jansen", birth_date="2012-05-06", role="kind"),
            ],
        ),
    )
    return str(result.data["case"])


def story(world: World) -> dict[str, str]:
    """A case referred, assessed, taken on, with an information request the police answers."""
    case = refer(world)
    world.run("anna", AssessIntake(case=case, criteria=["woninggebonden", "ernstig-of-langdurig"]))
    world.run("anna", TakeOn(case=case))
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose="inzicht in de overlast",
            legal_basis="convenant art. 5.3",
            categories=["politie.meldingen", "politie.geweld"],
        ),
    ).data["request"]
    world.run(
        "pol",
        DiscloseInformation(
            case=case,
            request=request,
            partner_legal_basis="art. 16 Wpg",
            items=[
                DisclosureItem(category="politie.meldingen", content="drie meldingen van geluidsoverlast"),
            ],
        ),
    )
    return {"case": case, "request": str(request)}


def nid_column(dialect: str) -> str:
    return "rowid" if dialect == "sqlite" else "notification_id"


def state_at(world: World, position: int) -> bytes:
    nid = nid_column(world.store.db.dialect)
    with world.store.db.transaction(commit=False) as tx:
        return bytes(
            tx.scalar(
                f"SELECT state FROM stored_events WHERE {nid} = "
                "(SELECT notification_id FROM regie_merkle_leaves WHERE position = ?)",
                (position,),
            )
        )


def set_state_at(world: World, position: int, state: bytes) -> None:
    nid = nid_column(world.store.db.dialect)
    with world.store.db.transaction(commit=True) as tx:
        tx.execute(
            f"UPDATE stored_events SET state = ? WHERE {nid} = "
            "(SELECT notification_id FROM regie_merkle_leaves WHERE position = ?)",
            (state, position),
        )


def flip(data: bytes, index: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ 0x40]) + data[index + 1 :]


def position_of_case_event(world: World, case: str, version: int) -> int:
    case_id = world.session("anna").case(case).id
    db = world.store.db
    nid = nid_column(db.dialect)
    oid: Any = case_id.hex if db.dialect == "sqlite" else case_id
    with db.transaction(commit=False) as tx:
        return int(
            tx.scalar(
                f"SELECT l.position FROM stored_events e JOIN regie_merkle_leaves l ON l.notification_id = e.{nid} "
                "WHERE e.originator_id = ? AND e.originator_version = ?",
                (oid, version),
            )
        )


def access_count(world: World) -> int:
    return world.count("AccessTrace.Started")


# --- the verifier on a real store ----------------------------------------------------------------------------


def test_honest_log_verifies_against_its_checkpoint(world: World) -> None:
    story(world)
    path = write_checkpoint(world.store, world.app)
    checkpoints = store_checkpoints(world.store)
    assert [c.path for c in checkpoints] == [path]
    report = verify_store(world.store, [c.checkpoint for c in checkpoints])
    assert report.ok, report.problems
    assert report.size == report.records == world.count() == report.head_size
    assert report.root == report.recomputed_root == MerkleReader(world.store.db).head().root()
    assert [c.ok for c in report.checkpoints] == [True]
    assert report.first is None


def test_a_changed_byte_is_located_and_named(world: World) -> None:
    numbers = story(world)
    write_checkpoint(world.store, world.app)
    position = position_of_case_event(world, numbers["case"], 3)
    set_state_at(world, position, flip(state_at(world, position), 40))
    report = verify_store(world.store, [c.checkpoint for c in store_checkpoints(world.store)])
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.kind, first.position) == (ALTERED, position)
    assert first.record is not None
    assert first.record.version == 3
    assert first.record.topic == "casusregie.domain.case:Case.TakenOn"
    # the signed checkpoint no longer matches either, and nothing else is blamed
    assert {p.kind for p in report.problems} == {ALTERED, DIVERGED}


# --- the pure verifier, without a database ------------------------------------------------------------------


def _fake_state(i: int, key_id: str = "rows-1") -> bytes:
    return encrypt(bytes(32), key_id, f"body {i}".encode() * (1 + i % 3), b"aad")


def _pure_log(n: int) -> tuple[list[list[Any]], list[list[Any]], MerkleTree]:
    events, leaves = [], []
    for i in range(n):
        oid, version = uuid.UUID(int=i // 3 + 1), i % 3 + 1
        state = _fake_state(i)
        events.append([i + 1, oid, version, CASE_TOPIC, state])
        leaves.append([i, i + 1, leaf_for(i, oid, version, CASE_TOPIC, state)])
    return events, leaves, MerkleTree(row[2] for row in leaves)


def _nodes(tree: MerkleTree) -> Any:
    def of_level(level: int) -> list[tuple[int, bytes]]:
        return sorted((idx, h) for (lv, idx), h in tree.nodes.items() if lv == level)

    return of_level


def _run(
    events: list[list[Any]], leaves: list[list[Any]], tree: MerkleTree, checkpoints: list[Checkpoint], batch: int = 7
) -> Any:
    return verify_log(
        [tuple(e) for e in events],
        [tuple(x) for x in leaves],
        nodes=_nodes(tree),
        max_node_level=max(lv for lv, _ in tree.nodes),
        head=tree.frontier,
        checkpoints=checkpoints,
        batch=batch,
    )


def _cp(tree: MerkleTree, size: int) -> Checkpoint:
    from datetime import UTC, datetime

    return Checkpoint(origin="casusregie/test", size=size, root=tree.root(size), timestamp=datetime.now(UTC))


@pytest.mark.parametrize("batch", [2, 7, 64, 4096])
def test_pure_verifier_names_the_first_bad_position_of_each_tampering(batch: int) -> None:
    n = 45
    events, leaves, tree = _pure_log(n)
    checkpoints = [_cp(tree, 17), _cp(tree, n)]
    assert _run(events, leaves, tree, checkpoints, batch).ok

    def first(evs: list[list[Any]], lvs: list[list[Any]], t: MerkleTree = tree) -> tuple[str, int | None]:
        report = _run(evs, lvs, t, checkpoints, batch)
        assert not report.ok
        return report.first.kind, report.first.position

    changed = [list(e) for e in events]
    changed[20][4] = changed[20][4][:-1] + bytes([changed[20][4][-1] ^ 1])  # always a change (a random nonce)
    assert first(changed, leaves) == (ALTERED, 20)
    swapped = [list(e) for e in events]
    swapped[5][4], swapped[30][4] = swapped[30][4], swapped[5][4]
    assert first(swapped, leaves) == (ALTERED, 5)
    assert first(events[:12] + events[13:], leaves) == (MISSING, 12)
    forged = [*events, [n + 5, events[3][1], 9, CASE_TOPIC, events[3][4]]]
    assert first(forged, leaves) == (UNINDEXED, n)
    # a row slipped in between two positioned rows (a free id, as PostgreSQL sequences leave them)
    assert (
        first([*events[:10], [10.5, uuid.uuid4(), 1, CASE_TOPIC, events[0][4]], *events[10:]], leaves)[0] == UNINDEXED
    )
    short_tree = MerkleTree(row[2] for row in leaves[:40])
    assert first(events[:40], leaves[:40], short_tree) == (TRUNCATED, 40)
    # a consistent rewrite (row, leaf, nodes and head all redone) only a checkpoint can catch
    rewritten = [list(e) for e in events]
    rewritten[25][4] = _fake_state(999)
    new_leaves = [list(x) for x in leaves]
    new_leaves[25][2] = leaf_for(25, *rewritten[25][1:])
    report = _run(rewritten, new_leaves, MerkleTree(row[2] for row in new_leaves), checkpoints, batch)
    assert (report.first.kind, report.first.position, report.first.end) == (DIVERGED, 17, n)
    # damage to the tree tables alone is reported, without blaming a record
    report = verify_log(
        [tuple(e) for e in events],
        [tuple(x) for x in leaves],
        nodes=_nodes(tree),
        head=Frontier(n, [bytes(32)] * n.bit_count()),
        batch=batch,
    )
    assert [p.kind for p in report.problems] == [HEAD]
    assert report.root == tree.root()


def test_pure_verifier_checks_every_stored_node() -> None:
    events, leaves, tree = _pure_log(37)
    stored = dict(tree.nodes)
    stored[(2, 3)] = bytes(32)
    del stored[(1, 9)]
    stored[(3, 7)] = bytes(32)  # beyond the tree

    def of_level(level: int) -> list[tuple[int, bytes]]:
        return sorted((idx, h) for (lv, idx), h in stored.items() if lv == level)

    report = verify_log(
        [tuple(e) for e in events],
        [tuple(x) for x in leaves],
        nodes=of_level,
        max_node_level=5,
        head=tree.frontier,
        batch=5,
    )
    found = sorted((p.kind, p.position) for p in report.problems)
    assert found == [(NODE, 12), (NODE, 18), (NODE, 56)]
    assert report.first.kind == NODE


_rows = st.tuples(
    st.one_of(st.uuids(), st.uuids().map(lambda u: u.hex), st.uuids().map(str)),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sampled_from([CASE_TOPIC, "casusregie.domain.access:AccessTrace.Started", "x", "é"]),
    st.one_of(
        st.builds(
            lambda k, b: encrypt(bytes(32), k, b, b""),
            st.sampled_from(["rows-1", "person-x", "k"]),
            st.binary(max_size=40),
        ),
        st.binary(max_size=60),
        st.binary(min_size=2, max_size=60).map(lambda b: b"\xe1" + b[1:]),
    ),
)


def _as_read(oid: Any, topic: str) -> tuple[bytes, bytes]:
    """A row's id and topic as SqlLog reads them: bytes (SQLite keeps the id as 32 hex digits)."""
    if isinstance(oid, uuid.UUID):
        return oid.hex.encode(), topic.encode()
    return oid.encode(), topic.encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(_rows, min_size=1, max_size=12), st.integers(min_value=0, max_value=2**40))
def test_fast_leaf_hashing_equals_merkle_log_leaf_for(rows: list[Any], start: int) -> None:
    """The verifier's hot loop must hash exactly like the writer (adapters.merkle_log.leaf_for)."""
    hasher = verify_mod._RowChecker()
    batch = [(i, *_as_read(oid, topic), state) for i, (oid, _version, topic, state) in enumerate(rows)]
    batch = [(i, oid, rows[i][1], topic, state) for i, oid, topic, state in batch]
    got = hasher.leaves(start, batch)
    want = [
        leaf_for(start + i, uuid.UUID(str(oid)) if not isinstance(oid, uuid.UUID) else oid, version, topic, state)
        for i, (oid, version, topic, state) in enumerate(rows)
    ]
    assert got == want
    # the cache must not change anything on a second pass, and the reference path agrees
    assert hasher.leaves(start, batch) == want
    assert hasher._slow(start, batch, False).leaves == want
    assert [verify_mod.leaf_of_row(start + i, *row[1:]) for i, row in enumerate(batch)] == want


def test_malformed_rows_never_crash_the_verifier() -> None:
    events, leaves, tree = _pure_log(9)
    bad = [list(e) for e in events]
    bad[2][2] = -1  # negative version
    bad[4][3] = None  # topic not text
    bad[6][4] = "not bytes"
    bad[7][2] = "7"  # version stored as text
    report = _run(bad, leaves, tree, [])
    assert sorted(p.position for p in report.problems if p.kind == ALTERED) == [2, 4, 6, 7]


# --- checkpoint files ------------------------------------------------------------------------------------------


def test_checkpoint_file_is_signed_named_by_size_and_kept_outside_the_store(world: World) -> None:
    refer(world)
    path = write_checkpoint(world.store, world.app)
    head = MerkleReader(world.store.db).head()
    assert path.name == f"checkpoint-{head.size}.txt"
    assert path.parent == world.store.checkpoint_dir
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    checkpoint = parse_and_verify(path.read_text(), read_verifier_key(world.store), origin=world.store.origin)
    assert (checkpoint.size, checkpoint.root) == (head.size, head.root())
    assert write_checkpoint(world.store, world.app) == path  # same head: same file
    refer(world, "bram")
    second = write_checkpoint(world.store, world.app)
    assert second != path
    later = MerkleReader(world.store.db).head().size
    assert later > head.size
    assert [size for size, _ in list_checkpoints(world.store.checkpoint_dir)] == [head.size, later]


def test_auto_checkpoint_writes_when_a_multiple_is_passed(world: World) -> None:
    app = SimpleNamespace(profile=SimpleNamespace(checkpoint_every=10))
    world.store.extra.pop("audit.last_checkpoint_size", None)
    written = []
    for _ in range(4):
        refer(world)
        written.append(auto_checkpoint(world.store, app))
        assert auto_checkpoint(world.store, app) is None  # nothing new since
    sizes = [size for size, _ in list_checkpoints(world.store.checkpoint_dir)]
    assert len(sizes) == sum(p is not None for p in written) >= 1
    assert all(b // 10 > a // 10 for a, b in itertools.pairwise(sizes))
    assert auto_checkpoint(world.store, SimpleNamespace(profile=SimpleNamespace(checkpoint_every=None))) is None
    # the store's own profile (Utrecht: every 1000) has nothing due yet
    assert auto_checkpoint(world.store, world.app) is None


def test_a_truncated_log_is_never_signed(world: World) -> None:
    story(world)
    write_checkpoint(world.store, world.app)
    db = world.store.db
    nid = nid_column(db.dialect)
    size = MerkleReader(db).head().size
    keep = size - 3
    with db.transaction(commit=True) as tx:
        tx.execute(
            f"DELETE FROM stored_events WHERE {nid} IN "
            "(SELECT notification_id FROM regie_merkle_leaves WHERE position >= ?)",
            (keep,),
        )
        tx.execute("DELETE FROM regie_merkle_leaves WHERE position >= ?", (keep,))
        levels = tx.execute("SELECT level, idx, hash FROM regie_merkle_nodes").fetchall()
        for level, idx, _ in levels:
            if (idx + 1) << level > keep:
                tx.execute("DELETE FROM regie_merkle_nodes WHERE level = ? AND idx = ?", (level, idx))
        nodes = {(lv, i): bytes(h) for lv, i, h in levels}
        nodes.update(
            {(0, p): bytes(h) for p, h in tx.execute("SELECT position, leaf FROM regie_merkle_leaves").fetchall()}
        )
        tx.execute(
            "UPDATE regie_merkle_head SET size = ?, frontier = ?", (keep, Frontier.from_nodes(keep, nodes).to_bytes())
        )
    with pytest.raises(LogTampered, match=rf"holds {keep} records but checkpoint .* signed {size}"):
        write_checkpoint(world.store, world.app)
    report = verify_store(world.store, [c.checkpoint for c in store_checkpoints(world.store)])
    assert (report.first.kind, report.first.position, report.first.end) == (TRUNCATED, keep, size)
    # the case index still names the cases of the removed records, beyond the end
    assert [p.kind for p in report.problems if p.kind != CASE_INDEX] == [TRUNCATED]
    assert all(p.position >= keep for p in report.problems if p.kind == CASE_INDEX)


# --- the command line -------------------------------------------------------------------------------------------


def test_cli_verify_exit_codes_json_and_the_named_case(world: World, cli: Any) -> None:
    numbers = story(world)
    written = cli("audit", "checkpoint", user="aud")
    assert written.code == 0, written.err
    assert read_checkpoint(written.out.strip(), read_verifier_key(world.store)).size > 0
    ok = cli("audit", "verify", user="aud")
    assert ok.code == 0, ok.err
    assert "log verified" in ok.out
    data = cli("audit", "verify", "--json", user="admin")
    assert data.code == 0
    assert data.json()["ok"] is True
    assert data.json()["checkpoints"][0]["ok"] is True

    position = position_of_case_event(world, numbers["case"], 5)
    set_state_at(world, position, flip(state_at(world, position), 3))
    # A record altered in place below the last verification: the incremental run does not re-read it,
    # and says so; the full pass does.
    quick = cli("audit", "verify", user="aud")
    assert quick.code == 0, quick.err
    assert "added since the verification of" in quick.out
    assert "`regie audit verify --full` re-reads them" in quick.out
    bad = cli("audit", "verify", "--full", user="aud")
    assert bad.code == 1
    lines = bad.err.strip().splitlines()
    assert len(lines) == 1
    assert f"log tampered at position {position}" in lines[0]
    assert f"(case {numbers['case']})" in lines[0]
    assert "Case.InformationDisclosed v5" in lines[0]
    as_json = cli("audit", "verify", "--full", "--json", user="aud")
    assert as_json.code == 1
    report = json.loads(as_json.out)
    assert report["ok"] is False
    assert report["first_bad"]["position"] == position
    assert report["first_bad"]["case"] == numbers["case"]
    assert report["first_bad"]["record"]["version"] == 5


def test_cli_verify_needs_the_key_folder_not_a_user_and_records_who_ran_it(world: World, cli: Any) -> None:
    """Verification must not depend on the user directory it verifies: the key folder is its authority."""
    refer(world)
    before = world.count("AccessTrace.Started")
    anonymous = cli("audit", "verify")
    assert anonymous.code == 0, anonymous.err
    assert world.count("AccessTrace.Started") == before  # no user given: nothing to record, nothing refused
    by_partner = cli("audit", "verify", user="piet")
    assert by_partner.code == 0, by_partner.err
    assert world.count("AccessTrace.Started") == before + 1  # recorded under the user given
    unknown = cli("audit", "verify", user="nobody")
    assert unknown.code == 0
    assert "could not be recorded in the access log" in unknown.err
    assert cli("audit", "checkpoint", user="anna").code == 1  # signing is still the auditor's or beheerder's
    assert cli("audit", "verify", user="admin").code == 0


def test_cli_verify_with_an_altered_checkpoint_file_fails(world: World, cli: Any) -> None:
    refer(world)
    path = write_checkpoint(world.store, world.app)
    text = path.read_text()
    lines = text.split("\n")
    root = base64.b64decode(lines[2])
    lines[2] = base64.b64encode(hashlib.sha256(root).digest()).decode()
    forged = path.with_name("forged.txt")
    forged.write_text("\n".join(lines))
    result = cli("audit", "verify", "--checkpoint", str(forged), user="aud")
    assert result.code == 1
    assert "does not verify" in result.err


def test_verify_says_how_many_records_no_signature_covers_yet(world: World, cli: Any) -> None:
    refer(world)
    write_checkpoint(world.store, world.app)
    assert cli("audit", "verify", "--json").json()["unsigned_records"] == 0
    refer(world)
    unsigned = cli("audit", "verify", "--json").json()["unsigned_records"]
    assert unsigned > 0  # the referral and its access record, after the newest checkpoint
    shown = cli("audit", "verify")
    assert shown.code == 0
    assert f"the last {unsigned} record(s) are newer than the newest checkpoint" in shown.out


# --- incremental verification ------------------------------------------------------------------------------


def test_verify_builds_on_the_last_verification_and_reads_only_what_was_added(world: World, cli: Any) -> None:
    story(world)
    first = cli("audit", "verify", "--json")
    assert first.code == 0, first.err
    assert first.json()["mode"] == "full"  # nothing to build on yet
    size = first.json()["tree_size"]
    refer(world, name="Anton de Vries")
    added = world.count() - size
    again = cli("audit", "verify", "--json")
    assert again.code == 0, again.err
    report = again.json()
    assert (report["mode"], report["records"], report["verified_from"]["size"]) == ("incremental", added, size)
    full = cli("audit", "verify", "--full", "--json").json()
    assert (full["mode"], full["records"], full["root"]) == ("full", world.count(), report["root"])


def test_a_record_deleted_below_the_last_verification_is_found_by_the_default_run(world: World, cli: Any) -> None:
    numbers = story(world)
    assert cli("audit", "verify").code == 0
    refer(world, name="Anton de Vries")
    position = position_of_case_event(world, numbers["case"], 2)
    nid = nid_column(world.store.db.dialect)
    with world.store.db.transaction(commit=True) as tx:
        tx.execute(
            f"DELETE FROM stored_events WHERE {nid} = "
            "(SELECT notification_id FROM regie_merkle_leaves WHERE position = ?)",
            (position,),
        )
    result = cli("audit", "verify")
    assert result.code == 1
    assert "no longer extends the last verification: every record was verified instead" in result.out
    assert f"log tampered at position {position}" in result.err
    assert "gone (deleted)" in result.err


def test_a_rewritten_tree_below_the_last_verification_is_found_by_the_default_run(world: World, cli: Any) -> None:
    story(world)
    size = cli("audit", "verify", "--json").json()["tree_size"]
    # the node that stands for the oldest records in the verified tree's frontier: a rewrite of any of
    # them (rows, leaves and nodes redone, which needs no key) changes it
    level, idx = next((lv, i) for lv, i in tree_root_nodes(size) if lv > 0)
    with world.store.db.transaction(commit=True) as tx:
        tx.execute("UPDATE regie_merkle_nodes SET hash = ? WHERE level = ? AND idx = ?", (bytes(32), level, idx))
    result = cli("audit", "verify", "--json")
    assert result.code == 1
    assert result.json()["base_refused"] is True
    assert result.json()["first_bad"]["kind"] == NODE


def test_an_altered_verification_note_is_an_alarm_and_a_full_run_replaces_it(world: World, cli: Any) -> None:
    story(world)
    assert cli("audit", "verify").code == 0
    note = world.store.checkpoint_dir / "verified.txt"
    assert stat.S_IMODE(note.stat().st_mode) == 0o600
    lines = note.read_text().split("\n")
    lines[1] = str(int(lines[1]) + 1)  # claims one record more was verified
    note.write_text("\n".join(lines))
    refused = cli("audit", "verify")
    assert refused.code == 1
    assert "does not verify" in refused.err
    assert "regie audit verify --full" in refused.err
    assert "Traceback" not in refused.err
    full = cli("audit", "verify", "--full")
    assert full.code == 0, full.err
    assert "not usable" in full.err
    assert cli("audit", "verify", "--json").json()["mode"] == "incremental"
    # a checkpoint file is signed with the same key, but is no verification's note
    note.write_text(write_checkpoint(world.store, world.app).read_text())
    copied = cli("audit", "verify")
    assert copied.code == 1
    assert "not a verification's" in copied.err


# --- the full pass on several processes ------------------------------------------------------------------------


def _verdict(report: Any) -> dict[str, Any]:
    data = report.to_json()
    del data["elapsed_s"], data["records_per_s"]
    return data


def test_the_full_pass_on_several_processes_gives_the_serial_verdict(world: World) -> None:
    numbers = story(world)
    for name in ("Anton de Vries", "Bea Bakker", "Cor Claassen"):
        refer(world, name=name)
    write_checkpoint(world.store, world.app)
    refer(world, name="Dirk Dekker")
    store = world.store
    checkpoints = [c.checkpoint for c in store_checkpoints(store)]
    keys = {store.row_key_id: store.keyring.key(store.row_key_id)}

    def both() -> tuple[Any, Any]:
        with open_log(store.location, authenticator=store_authenticator(store)) as log:
            snapshot = log._one("SELECT pg_export_snapshot()")[0] if log.dialect == "postgres" else None
            runner = process_runner(store.location, store.keyring.store_id, keys, 2, snapshot)
            joined = verify_parallel(log, checkpoints, runner=runner, workers=2, min_size=2, min_bits=3)
            return joined, log.verify(checkpoints)

    joined, serial = both()
    assert serial.ok, serial.problems
    assert joined.segments > 2  # it was split, and joined without the serial pass
    assert _verdict(joined) == _verdict(serial)
    position = position_of_case_event(world, numbers["case"], 3)
    set_state_at(world, position, flip(state_at(world, position), 5))  # committed: the workers read it too
    joined, serial = both()
    assert serial.first.kind == ALTERED
    assert serial.first.position == position
    assert _verdict(joined) == _verdict(serial)


def test_a_segment_that_cannot_be_read_leaves_the_verdict_to_the_serial_pass(world: World) -> None:
    story(world)

    def broken(tasks: list[Any]) -> Any:
        raise OSError("connection lost")

    with open_log(world.store.location, authenticator=store_authenticator(world.store)) as log:
        report = verify_parallel(log, runner=broken, min_size=2, min_bits=2)
        assert report.ok
        assert report.segments == 1
        assert _verdict(report) == _verdict(log.verify())

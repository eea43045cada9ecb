"""Property tests (#6): every single tampering is detected and located; honest histories never are.

Random logs are built from random sequences of real commands (referrals, assessments,
decisions, information requests and answers, measures and their progress, erasure of a
person by crypto-shredding, master-key rotation). Each log is built once per test; every
example then applies ONE random tampering inside a database transaction on its own
connection, verifies through that same connection, and rolls back, so examples are cheap
and independent. Restoring an older backup is a real older copy of the SQLite file (on
PostgreSQL: the newest rows deleted from the event and tree tables consistently).
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from helpers import PG_DSN, World, drop_schema, make_world, new_schema, require_postgres
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casusregie.adapters.auditing import verify_log
from casusregie.adapters.checkpoint_files import read_verified, store_checkpoints, write_checkpoint
from casusregie.adapters.config import Settings
from casusregie.adapters.merkle_log import leaf_for
from casusregie.commands.decision import TakeOn
from casusregie.commands.erasure import ErasePerson
from casusregie.commands.information import DeclineRequest, DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.keys import RotateMasterKey
from casusregie.commands.plan import AgreeMeasure, ReportProgress
from casusregie.commands.referral import AssessIntake, MemberInput, ReferCase
from casusregie.domain.sealed import person_key_id
from casusregie.privacy_audit.checkpoint import Checkpoint
from casusregie.privacy_audit.merkle import MerkleTree
from casusregie.privacy_audit.verify import (
    ALTERED,
    DIVERGED,
    MISSING,
    NODE,
    TRUNCATED,
    UNAUTHENTIC,
    UNINDEXED,
    RowAuthenticator,
    SqlLog,
    VerifyReport,
    store_authenticator,
    verify_store,
)
from casusregie.privacy_audit.verify_parallel import verify_parallel

# --- random honest histories -----------------------------------------------------------------------------

DIRECTORS = ("anna", "bram", "carla")
PARTNER_USERS = {"politie": "pol", "lister": "lies"}
REQUESTABLE = {
    "politie": ["politie.meldingen", "politie.geweld", "politie.intimidatie"],
    "lister": ["zorg.woonbegeleiding"],
}


def _cases(world: World) -> list[str]:
    return world.__dict__.setdefault("audit_cases", [])


def random_step(world: World, rng: random.Random) -> str:
    """One valid command (or an erasure / key rotation), chosen at random from the current states."""
    cases = _cases(world)
    states = {ref: world.session("anna").case(ref) for ref in cases}
    choices: list[tuple[Any, ...]] = [("refer",), ("refer",)]
    for ref, case in states.items():
        if case.status == "referred":
            choices.append(("take-on", ref) if case.assessment else ("assess", ref))
        if case.status == "taken-on":
            choices += [("request", ref), ("measure", ref)]
            choices += [("answer", ref, r.request_id, r.partner) for r in case.open_requests]
            choices += [("progress", ref, m.measure_id, m.status) for m in case.measures.values() if not m.finished]
        if _live_members(world, case):
            choices.append(("erase", ref))
    choices.append(("rotate",))
    pick = rng.choice(choices)
    kind = pick[0]
    if kind == "refer":
        director = rng.choice(DIRECTORS)
        members = [MemberInput(name=f"Bewoner {rng.randrange(10**6)}", birth_date="1975-03-04")]
        if rng.random() < 0.5:
            members.append(MemberInput(name=f"Kind {rng.randrange(10**6)}", birth_date="2015-01-01", role="kind"))
        result = world.run(
            director,
            ReferCase(
                referring_org="politie",
                referring_worker="agent",
                reason="overlast",
                problems={"overlast": "lawaai"},
                members=members,
            ),
        )
        cases.append(str(result.data["case"]))
        return kind
    if kind == "rotate":
        rotate_master_key(world)
        return kind
    ref = pick[1]
    case = states[ref]
    director = case.director or "anna"
    if kind == "assess":
        world.run(director, AssessIntake(case=ref, criteria=["woninggebonden", "meerdere-vormen"]))
    elif kind == "take-on":
        world.run(director, TakeOn(case=ref))
    elif kind == "request":
        partner = rng.choice(sorted(REQUESTABLE))
        categories = rng.sample(REQUESTABLE[partner], rng.randint(1, len(REQUESTABLE[partner])))
        world.run(
            director,
            RequestInformation(
                case=ref, partner=partner, purpose="analyse", legal_basis="convenant", categories=categories
            ),
        )
    elif kind == "answer":
        request_id, partner = pick[2], pick[3]
        if rng.random() < 0.7:
            category = case.requests[request_id].categories[0]
            world.run(
                PARTNER_USERS[partner],
                DiscloseInformation(
                    case=ref, request=request_id, items=[DisclosureItem(category=category, content="gegevens")]
                ),
            )
        else:
            world.run(PARTNER_USERS[partner], DeclineRequest(case=ref, request=request_id, reason="geen grond"))
    elif kind == "measure":
        world.run(
            director,
            AgreeMeasure(
                case=ref,
                life_domain="overlast",
                owner=rng.choice(["lister", "gemeente-utrecht"]),
                description="begeleiding",
                due=date.today() + timedelta(days=30),
            ),
        )
    elif kind == "progress":
        status = rng.choice(["started", "done"] if pick[3] == "agreed" else ["done", "failed"])
        world.run(director, ReportProgress(case=ref, measure=pick[2], status=status))
    elif kind == "erase":
        erase_person(world, ref, rng)
    return kind


def _live_members(world: World, case: Any) -> list[Any]:
    keyring = world.store.keyring
    return [m for m in case.members.values() if not keyring.is_shredded(person_key_id(m.person_id))]


def erase_person(world: World, ref: str, rng: random.Random) -> None:
    """A privacy officer erases one person (crypto-shredding): their key goes, the history stays."""
    case = world.session("anna").case(ref)
    member = rng.choice(_live_members(world, case))
    world.run("pim", ErasePerson(person=member.ref, ground="granted-request"))


def rotate_master_key(world: World) -> None:
    """The functional administrator rotates the master key (data keys rewrapped, no event row touched)."""
    world.run("admin", RotateMasterKey())


# --- tampering, in one open transaction ---------------------------------------------------------------------


class Db:
    """The tamperer's handle: plain SQL on one connection, inside its open transaction."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn, self.dialect = conn, dialect
        self.nid = "rowid" if dialect == "sqlite" else "notification_id"

    def q(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.dialect == "postgres":
            sql = sql.replace("?", "%s")
        cur = self.conn.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []

    def row_at(self, position: int) -> tuple[Any, ...]:
        return self.q(
            f"SELECT {self.nid}, originator_id, originator_version, topic, state FROM stored_events "
            f"WHERE {self.nid} = (SELECT notification_id FROM regie_merkle_leaves WHERE position = ?)",
            (position,),
        )[0]

    def set_state(self, position: int, state: bytes) -> None:
        nid = self.row_at(position)[0]
        self.q(f"UPDATE stored_events SET state = ? WHERE {self.nid} = ?", (state, nid))

    def rebuild_tree(self, keep: int, leaves: list[bytes] | None = None) -> None:
        """What a careful attacker does after editing rows: leaves, nodes and head made consistent again."""
        if leaves is None:
            leaves = [
                bytes(h)
                for (h,) in self.q("SELECT leaf FROM regie_merkle_leaves WHERE position < ? ORDER BY position", (keep,))
            ]
        tree = MerkleTree(leaves[:keep])
        self.q("DELETE FROM regie_merkle_nodes")
        for (level, idx), digest in tree.nodes.items():
            if level:
                self.q("INSERT INTO regie_merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", (level, idx, digest))
        self.q("UPDATE regie_merkle_head SET size = ?, frontier = ? WHERE id = 1", (keep, tree.frontier.to_bytes()))


def _flip(data: bytes, index: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ (1 << (index % 8))]) + data[index + 1 :]


@dataclass
class Expect:
    kind: str
    position: int | None = None
    end: int | None = None
    contains: int | None = None  # DIVERGED: the range must hold this position
    keyless: bool = False  # verify as someone without the store's keys: leaves, tree and checkpoints only


def tamper(db: Db, kind: str, data: st.DataObject, n: int, checkpoint_sizes: list[int], backups: list[int]) -> Expect:
    """Apply one tampering of ``kind``; return where the verifier must put the first bad position."""
    pos = st.integers(min_value=0, max_value=n - 1)
    if kind == "flip":
        p = data.draw(pos, "position")
        state = bytes(db.row_at(p)[4])
        db.set_state(p, _flip(state, data.draw(st.integers(0, len(state) - 1), "byte")))
        return Expect(ALTERED, p)
    if kind == "delete":
        p = data.draw(pos, "position")
        db.q(f"DELETE FROM stored_events WHERE {db.nid} = ?", (db.row_at(p)[0],))
        return Expect(MISSING, p)
    if kind == "forge":
        q = data.draw(pos, "copied")
        _, oid, _version, topic, state = db.row_at(q)
        top = db.q("SELECT max(originator_version) FROM stored_events WHERE originator_id = ?", (oid,))[0][0]
        db.q(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, top + 1, topic, state),
        )
        return Expect(UNINDEXED, n)
    if kind == "swap":
        p, q = sorted(data.draw(st.lists(pos, min_size=2, max_size=2, unique=True), "pair"))
        a, b = bytes(db.row_at(p)[4]), bytes(db.row_at(q)[4])
        db.set_state(p, b)
        db.set_state(q, a)
        return Expect(ALTERED, p)
    if kind == "truncate":
        k = data.draw(st.integers(1, n - 1), "removed")
        keep = n - k
        db.q(
            f"DELETE FROM stored_events WHERE {db.nid} IN "
            "(SELECT notification_id FROM regie_merkle_leaves WHERE position >= ?)",
            (keep,),
        )
        db.q("DELETE FROM regie_merkle_leaves WHERE position >= ?", (keep,))
        db.rebuild_tree(keep)
        return Expect(TRUNCATED, keep, n)
    if kind == "restore":  # PostgreSQL: the newest rows removed from the event and tree tables
        keep = data.draw(st.sampled_from(backups), "backup size")
        db.q(
            f"DELETE FROM stored_events WHERE {db.nid} > "
            "(SELECT notification_id FROM regie_merkle_leaves WHERE position = ?)",
            (keep - 1,),
        )
        db.q("DELETE FROM regie_merkle_leaves WHERE position >= ?", (keep,))
        db.rebuild_tree(keep)
        return Expect(TRUNCATED, keep, n)
    if kind == "leaf":
        p = data.draw(pos, "position")
        leaf = bytes(db.q("SELECT leaf FROM regie_merkle_leaves WHERE position = ?", (p,))[0][0])
        db.q("UPDATE regie_merkle_leaves SET leaf = ? WHERE position = ?", (hashlib.sha256(leaf).digest(), p))
        return Expect(ALTERED, p)
    if kind == "rewrite":  # change a row and redo its leaf, every node and the head (no key needed)
        p = data.draw(pos, "position")
        _, oid, version, topic, state = db.row_at(p)
        forged = _flip(bytes(state), 17)
        db.set_state(p, forged)
        new_leaf = leaf_for(p, UUID(str(oid)), version, topic, forged)
        db.q("UPDATE regie_merkle_leaves SET leaf = ? WHERE position = ?", (new_leaf, p))
        db.rebuild_tree(n)
        if data.draw(st.booleans(), "with the store's keys"):
            return Expect(UNAUTHENTIC, p)  # the row no longer authenticates under the row key
        lo = max([s for s in checkpoint_sizes if s <= p], default=0)
        hi = min(s for s in checkpoint_sizes if s > p)
        return Expect(DIVERGED, lo, hi, contains=p, keyless=True)  # without keys: only checkpoints catch it
    if kind == "forge-appended":  # a new row and its leaf, nodes and head, all made without the key
        q = data.draw(pos, "copied")
        _, oid, _version, topic, state = db.row_at(q)
        top = db.q("SELECT max(originator_version) FROM stored_events WHERE originator_id = ?", (oid,))[0][0]
        if data.draw(st.booleans(), "random bytes"):
            state = random.Random(q).randbytes(len(bytes(state)))
        db.q(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (oid, top + 1, topic, state),
        )
        nid = db.q(f"SELECT max({db.nid}) FROM stored_events")[0][0]
        leaf = leaf_for(n, UUID(str(oid)), top + 1, topic, bytes(state))
        db.q("INSERT INTO regie_merkle_leaves (position, notification_id, leaf) VALUES (?, ?, ?)", (n, nid, leaf))
        db.rebuild_tree(n + 1)
        return Expect(UNAUTHENTIC, n)
    if kind == "node":
        level, idx = data.draw(st.sampled_from(db.q("SELECT level, idx FROM regie_merkle_nodes")), "node")
        db.q("UPDATE regie_merkle_nodes SET hash = ? WHERE level = ? AND idx = ?", (bytes(32), level, idx))
        return Expect(NODE, idx << level)  # named by the first position below the node
    raise AssertionError(kind)


def check(report: VerifyReport, expect: Expect) -> None:
    assert not report.ok, "tampering went undetected"
    first = report.first
    assert first is not None
    assert first.kind == expect.kind, (first, expect)
    if expect.position is not None:
        assert first.position == expect.position, (first, expect)
    if expect.end is not None:
        assert first.end == expect.end, (first, expect)
    if expect.contains is not None:
        assert first.position <= expect.contains < first.end


# Tamperings that change records or nodes in place: an incremental run does not re-read what lies
# below its base, so these are found there only by the full pass (`regie audit verify --full`).
IN_PLACE = frozenset({"flip", "swap", "leaf", "rewrite", "node"})


def verified_base(db: Db, data: st.DataObject, n: int) -> Checkpoint:
    """The head an earlier verification found whole, at a random size, from the untouched leaves."""
    size = data.draw(st.integers(0, n), "verified size")
    leaves = [
        bytes(h) for (h,) in db.q("SELECT leaf FROM regie_merkle_leaves WHERE position < ? ORDER BY position", (size,))
    ]
    return Checkpoint(origin="test", size=size, root=MerkleTree(leaves).frontier.root())


def check_incremental(
    log: SqlLog, built: BuiltLog, base: Checkpoint, kind: str, expect: Expect, full: VerifyReport
) -> None:
    """The incremental run either finds the log whole (only possible for an in-place change below its
    base, which only the full pass re-reads) or hands over to the full pass, whose report then stands."""
    report = log.verify_from(base, built.checkpoints)
    if report is None:
        return  # verify_store then runs the full pass: the report checked above
    assert report.ok
    assert report.verified_from == base
    assert kind in IN_PLACE, (kind, expect, base.size)
    assert expect.position is not None
    assert expect.position < base.size, (kind, expect, base.size)
    assert not full.ok


def _verdict(report: VerifyReport) -> dict[str, Any]:
    data = report.to_json()
    for timing in ("elapsed_s", "records_per_s"):
        del data[timing]
    return data


def check_parallel(log: SqlLog, built: BuiltLog, data: st.DataObject, serial: VerifyReport) -> VerifyReport:
    """The log cut into subtrees of a random size, checked segment by segment and joined: the serial verdict."""
    bits = data.draw(st.integers(1, 5), "segment bits")
    workers = data.draw(st.integers(1, 4), "workers")
    report = verify_parallel(log, built.checkpoints, min_size=2, min_bits=bits, workers=workers)
    assert _verdict(report) == _verdict(serial)
    return report


# --- building random logs ------------------------------------------------------------------------------------


@dataclass
class BuiltLog:
    """A random log, its signed checkpoints, its row key and (SQLite) older copies of its database file."""

    world_settings: Settings
    size: int
    checkpoints: list[Checkpoint]
    authenticator: RowAuthenticator
    backups: dict[int, Path] = field(default_factory=dict)  # size -> older copy of the file

    def log(self, conn: Any, dialect: str, expect: Expect | None = None, batch: int = 5000) -> SqlLog:
        keys = None if expect is not None and expect.keyless else self.authenticator
        return SqlLog(conn, dialect, batch=batch, authenticator=keys)

    @property
    def checkpoint_sizes(self) -> list[int]:
        return sorted(cp.size for cp in self.checkpoints)


def build_log(world_settings: Settings, seed: int, backup_dir: Path | None) -> BuiltLog:
    world = make_world(world_settings)
    rng = random.Random(seed)
    steps = 14 + seed % 7
    marks = set(rng.sample(range(3, steps - 1), 3))
    backups: dict[int, Path] = {}
    try:
        for step in range(steps):
            random_step(world, rng)
            if step in marks:
                size = world.count()
                if backup_dir is not None:
                    copy = backup_dir / f"backup-{size}.db"
                    with sqlite3.connect(world_settings.store) as src, sqlite3.connect(copy) as dst:
                        src.backup(dst)
                    backups[size] = copy
                else:
                    backups[size] = Path()
                if step == min(marks):
                    write_checkpoint(world.store, world.app)  # an older checkpoint, for narrowing
        write_checkpoint(world.store, world.app)
        checkpoints = [c.checkpoint for c in store_checkpoints(world.store)]
        report = verify_store(world.store, checkpoints)
        assert report.ok, report.problems  # the honest log itself verifies
        return BuiltLog(world_settings, report.size, checkpoints, store_authenticator(world.store), backups)
    finally:
        world.store.close()


SQLITE_KINDS = ["flip", "delete", "forge", "forge-appended", "swap", "truncate", "restore", "leaf", "rewrite", "node"]


def test_every_tampering_is_detected_and_located_on_sqlite(tmp_path_factory: pytest.TempPathFactory) -> None:
    logs: dict[int, BuiltLog] = {}

    def log(seed: int) -> BuiltLog:
        if seed not in logs:
            base = tmp_path_factory.mktemp(f"log{seed}")
            logs[seed] = build_log(
                Settings(store=str(base / "store.db"), key_dir=base / "keys", checkpoint_dir=None, config_file=None),
                seed,
                base,
            )
        return logs[seed]

    @settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def one_tampering(data: st.DataObject) -> None:
        built = log(data.draw(st.integers(0, 3), "log"))
        kind = data.draw(st.sampled_from(SQLITE_KINDS), "tampering")
        if kind == "restore":  # a real older copy of the database file, checked against the newer checkpoint
            size = data.draw(st.sampled_from(sorted(built.backups)), "backup")
            conn = sqlite3.connect(built.backups[size], isolation_level=None)
            try:
                conn.execute("BEGIN")
                full = built.log(conn, "sqlite").verify(built.checkpoints)
                check(full, Expect(TRUNCATED, size, built.size))
                check_parallel(built.log(conn, "sqlite"), built, data, full)
            finally:
                conn.rollback()
                conn.close()
            return
        conn = sqlite3.connect(str(built.world_settings.store), isolation_level=None)
        try:
            conn.execute("BEGIN")
            base = verified_base(Db(conn, "sqlite"), data, built.size)
            expect = tamper(Db(conn, "sqlite"), kind, data, built.size, built.checkpoint_sizes, sorted(built.backups))
            batch = data.draw(st.sampled_from([3, 64, 5000]), "batch")
            full = built.log(conn, "sqlite", expect, batch).verify(built.checkpoints)
            check(full, expect)
            check_incremental(built.log(conn, "sqlite", expect, batch), built, base, kind, expect, full)
            check_parallel(built.log(conn, "sqlite", expect, batch), built, data, full)
        finally:
            conn.rollback()
            conn.close()

    one_tampering()
    for built in logs.values():  # the examples rolled back: every pristine log still verifies
        conn = sqlite3.connect(str(built.world_settings.store), isolation_level=None)
        conn.execute("BEGIN")
        serial = built.log(conn, "sqlite").verify(built.checkpoints)
        assert serial.ok
        for bits in (1, 2, 3, 4, 5):  # and the parallel pass joined its segments (no serial pass behind it)
            sql_log = built.log(conn, "sqlite")
            joined = verify_parallel(sql_log, built.checkpoints, min_size=2, min_bits=bits, workers=64)
            assert joined.segments == -(-built.size // (1 << bits)) > 1
            assert _verdict(joined) == _verdict(serial)
        conn.close()


PG_KINDS = ["flip", "delete", "forge", "forge-appended", "swap", "truncate", "restore", "leaf", "rewrite", "node"]


def test_every_tampering_is_detected_and_located_on_postgres(tmp_path: Path) -> None:
    require_postgres()
    schema = new_schema()
    try:
        built = build_log(
            Settings(
                store=f"{PG_DSN}?schema={schema}", key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None
            ),
            5,
            None,
        )
        conn = psycopg.connect(PG_DSN, options=f"-c search_path={schema}")
        try:

            @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
            @given(st.data())
            def one_tampering(data: st.DataObject) -> None:
                kind = data.draw(st.sampled_from(PG_KINDS), "tampering")
                try:
                    base = verified_base(Db(conn, "postgres"), data, built.size)
                    expect = tamper(
                        Db(conn, "postgres"), kind, data, built.size, built.checkpoint_sizes, sorted(built.backups)
                    )
                    batch = data.draw(st.sampled_from([3, 5000]), "batch")
                    full = built.log(conn, "postgres", expect, batch).verify(built.checkpoints)
                    check(full, expect)
                    check_incremental(built.log(conn, "postgres", expect, batch), built, base, kind, expect, full)
                    check_parallel(built.log(conn, "postgres", expect, batch), built, data, full)
                finally:
                    conn.rollback()

            one_tampering()
            serial = built.log(conn, "postgres").verify(built.checkpoints)
            assert serial.ok
            joined = verify_parallel(built.log(conn, "postgres"), built.checkpoints, min_size=2, min_bits=3)
            assert joined.segments > 1
            assert _verdict(joined) == _verdict(serial)
            conn.rollback()
        finally:
            conn.close()
    finally:
        drop_schema(schema)


# --- honest histories ---------------------------------------------------------------------------------------------


def test_honest_histories_with_erasure_and_key_rotation_are_never_flagged(world: World, backend: str) -> None:
    kinds: set[str] = set()

    @settings(
        max_examples=20 if backend == "sqlite" else 6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(st.lists(st.integers(0, 2**32), min_size=1, max_size=5), st.booleans())
    def grow(seeds: list[int], sign: bool) -> None:
        for seed in seeds:
            kinds.add(random_step(world, random.Random(seed)))
        if sign:
            write_checkpoint(world.store, world.app)  # proves consistency with the previous one first
        checkpoints = [c.checkpoint for c in store_checkpoints(world.store)]
        report = verify_store(world.store, checkpoints)
        assert report.ok, report.problems
        assert report.size == report.records == world.count()
        # the incremental run, from the last one's signed head, reads only what was added and agrees
        before = read_verified(world.store)
        done = verify_log(world.store, store_checkpoints(world.store))
        assert done.report.ok, done.report.problems
        assert (done.report.root, done.report.size) == (report.root, report.size)
        assert [c.ok for c in done.report.checkpoints] == [True] * len(checkpoints)
        if before is None:
            assert done.report.mode == "full"
        else:
            assert done.report.mode == "incremental"
            assert done.report.records == report.size - before.size
        assert read_verified(world.store).size == report.size

    grow()
    # and it was really exercised: erasure and rotation among the steps (forced once if chance missed them)
    if "erase" not in kinds:
        ref = _cases(world)[0] if _cases(world) else None
        if ref is None:
            random_step(world, random.Random(1))
            ref = _cases(world)[0]
        erase_person(world, ref, random.Random(2))
    rotate_master_key(world)
    random_step(world, random.Random(3))
    write_checkpoint(world.store, world.app)
    assert verify_store(world.store, [c.checkpoint for c in store_checkpoints(world.store)]).ok

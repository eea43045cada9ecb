"""Audit verification must not depend on what it verifies (issue 9, points 9-12 and 14).

* values stored with the wrong type are reported at their position, never crash (A);
* records forged outside the application, their tree recomputed, do not verify and are
  never signed (B);
* a change to the head's size column is noticed (D1);
* the case of a damaged, moved or deleted record is named from the position -> case index,
  which the verifier checks against the authenticated records (D2);
* `regie audit verify` runs from the log and the key folder alone: damage to the users' own
  records is reported at its position like any other (E).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import psycopg
import pytest
from helpers import PG_DSN, World
from test_audit_tamper import Db, erase_person
from test_audit_verify import flip, nid_column, refer, story

from casusregie.adapters.checkpoint_files import (
    auto_checkpoint,
    list_checkpoints,
    store_checkpoints,
    write_checkpoint,
)
from casusregie.adapters.location import parse_location
from casusregie.adapters.merkle_log import leaf_for
from casusregie.domain.setup import Setup
from casusregie.privacy_audit.envelope import encrypt
from casusregie.privacy_audit.verify import (
    ALTERED,
    CASE_INDEX,
    HEAD,
    LEAF_TABLE,
    MISSING,
    NODE,
    UNAUTHENTIC,
    UNINDEXED,
    LogTampered,
    VerifyReport,
    verify_store,
)

ACCESS_STARTED = "casusregie.domain.access:AccessTrace.Started"
ACCESS_TOUCHED = "casusregie.domain.access:AccessTrace.SubjectTouched"
ERASURE = "casusregie.domain.erasure:Erasure.Recorded"


# --- an attacker with database access and no keys ---------------------------------------------------------


@contextlib.contextmanager
def attacker(world: World) -> Iterator[Db]:
    """Plain SQL on the store's database from outside the application, committed at the end."""
    location = parse_location(world.settings.store or "")
    conn: Any
    if location.is_postgres:
        conn = psycopg.connect(PG_DSN, options=f"-c search_path={location.schema}")
        db = Db(conn, "postgres")
    else:
        conn = sqlite3.connect(str(location.path), isolation_level=None)
        conn.execute("BEGIN")
        db = Db(conn, "sqlite")
    try:
        yield db
        conn.commit() if location.is_postgres else conn.execute("COMMIT")
    finally:
        conn.close()


def verify(world: World) -> VerifyReport:
    return verify_store(world.store, [c.checkpoint for c in store_checkpoints(world.store)])


def size_of(world: World) -> int:
    with world.store.db.transaction(commit=False) as tx:
        return int(tx.scalar("SELECT count(*) FROM regie_merkle_leaves"))


def oid_value(db: Db, oid: UUID) -> Any:
    return oid.hex if db.dialect == "sqlite" else oid


def rows_of(world: World, topic_like: str = "%") -> list[tuple[int, UUID, int, str]]:
    """(position, originator id, version, topic) of the positioned rows whose topic is like ``topic_like``."""
    nid = nid_column(world.store.db.dialect)
    with world.store.db.transaction(commit=False) as tx:
        rows = tx.execute(
            f"SELECT l.position, e.originator_id, e.originator_version, e.topic FROM stored_events e "
            f"JOIN regie_merkle_leaves l ON l.notification_id = e.{nid} WHERE e.topic LIKE ? ORDER BY l.position",
            (topic_like,),
        ).fetchall()
    return [(int(p), UUID(str(o)), int(v), str(t)) for p, o, v, t in rows]


def append_forged(db: Db, oid: UUID, version: int, topic: str, state: bytes, *, recompute: bool = True) -> int:
    """Insert a row outside the application; with ``recompute``, also its leaf, every node and the head,
    exactly as the application would (none of it needs a key). Returns its position."""
    n = int(db.q("SELECT count(*) FROM regie_merkle_leaves")[0][0])
    db.q(
        "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
        (oid_value(db, oid), version, topic, state),
    )
    if recompute:
        nid = db.q(f"SELECT max({db.nid}) FROM stored_events")[0][0]
        leaf = leaf_for(n, oid, version, topic, state)
        db.q("INSERT INTO regie_merkle_leaves (position, notification_id, leaf) VALUES (?, ?, ?)", (n, nid, leaf))
        db.rebuild_tree(n + 1)
    return n


def copy_row(db: Db, position: int) -> tuple[UUID, int, str, bytes]:
    _nid, oid, _version, topic, state = db.row_at(position)
    oid = UUID(str(oid))
    top = db.q("SELECT max(originator_version) FROM stored_events WHERE originator_id = ?", (oid_value(db, oid),))[0][0]
    return oid, int(top) + 1, str(topic), bytes(state)


# --- B: records forged outside the application ---------------------------------------------------------------


FORGERIES = {
    "random bytes": lambda world, copied: (uuid.uuid4(), 1, ACCESS_STARTED, os.urandom(180)),
    "a ciphertext header naming the row key": lambda world, copied: (
        uuid.uuid4(),
        1,
        ACCESS_STARTED,
        b"\xe1\x06rows-1" + os.urandom(160),
    ),
    "sealed with a key of the attacker's own": lambda world, copied: (
        uuid.uuid4(),
        1,
        ACCESS_STARTED,
        encrypt(os.urandom(32), "rows-1", b"{}", b"anything"),
    ),
    "naming another key of the store": lambda world, copied: (
        uuid.uuid4(),
        1,
        ACCESS_STARTED,
        encrypt(os.urandom(32), "index-1", b"{}", b""),
    ),
    "a real record copied to a new version": lambda world, copied: copied,
}


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_record_with_its_tree_recomputed_does_not_verify_and_is_never_signed(
    world: World, forgery: Any
) -> None:
    story(world)
    write_checkpoint(world.store, world.app)
    case_events = rows_of(world, "%Case.%")
    with attacker(world) as db:
        copied = copy_row(db, case_events[-1][0])
        position = append_forged(db, *forgery(world, copied))
    report = verify(world)
    assert not report.ok
    assert report.authenticated
    assert (report.first.kind, report.first.position) == (UNAUTHENTIC, position)
    assert [p.kind for p in report.problems] == [UNAUTHENTIC]  # leaves, nodes and head all agree: only the key says
    with pytest.raises(LogTampered, match=f"position {position} .*refusing to sign"):
        write_checkpoint(world.store, world.app)
    assert [size for size, _ in list_checkpoints(world.store.checkpoint_dir)] == [position]  # nothing new signed
    world.store.extra.pop("merkle_head_size", None)
    every_record = SimpleNamespace(profile=SimpleNamespace(checkpoint_every=1, checkpoint_minutes=None))
    with pytest.raises(LogTampered):
        auto_checkpoint(world.store, every_record)


def test_the_cli_names_the_forged_record_and_refuses_to_sign_it(world: World, cli: Any) -> None:
    story(world)
    assert cli("audit", "checkpoint", user="aud").code == 0
    with attacker(world) as db:
        position = append_forged(db, uuid.uuid4(), 1, ACCESS_STARTED, os.urandom(200))
    verified = cli("audit", "verify", user="aud")
    assert verified.code == 1
    assert f"log tampered at position {position}" in verified.err
    assert "not sealed with the store's row key" in verified.err
    signed = cli("audit", "checkpoint", user="aud")
    assert signed.code == 1
    assert "refusing to sign" in signed.err
    as_json = cli("audit", "verify", "--json")
    assert as_json.code == 1
    assert as_json.json()["first_bad"]["kind"] == UNAUTHENTIC


def test_a_record_moved_to_another_row_does_not_authenticate(world: World) -> None:
    """Two rows' ciphertexts swapped and both leaves recomputed: each fails its own row's key check."""
    story(world)
    events = rows_of(world, "%Case.%")
    a, b = events[1][0], events[2][0]
    with attacker(world) as db:
        rows = {p: db.row_at(p) for p in (a, b)}
        db.set_state(a, bytes(rows[b][4]))
        db.set_state(b, bytes(rows[a][4]))
        for p in (a, b):
            _nid, oid, version, topic, state = db.row_at(p)
            db.q(
                "UPDATE regie_merkle_leaves SET leaf = ? WHERE position = ?",
                (leaf_for(p, UUID(str(oid)), version, topic, bytes(state)), p),
            )
        db.rebuild_tree(size_of(world))
    report = verify(world)
    assert (report.first.kind, report.first.position) == (UNAUTHENTIC, a)
    assert sorted(p.position for p in report.problems if p.kind == UNAUTHENTIC) == [a, b]


def test_honest_logs_authenticate_after_erasure_and_key_rotation(world: World) -> None:
    from test_audit_tamper import _cases, random_step, rotate_master_key

    rng = random.Random(9)
    for _ in range(12):
        random_step(world, rng)
    if _cases(world):
        erase_person(world, _cases(world)[0], rng)
    rotate_master_key(world)
    refer(world)
    write_checkpoint(world.store, world.app)
    report = verify(world)
    assert report.ok, report.problems
    assert report.authenticated


# --- A: values of the wrong type (SQLite stores anything anywhere) ------------------------------------------------

BAD_UTF8 = "CAST(X'FF' || CAST({col} AS BLOB) AS TEXT)"
AS_BLOB = "CAST({col} AS BLOB)"
AS_TEXT = "CAST({col} AS TEXT)"
AS_WORD = "'x' || {col}"
AS_REAL = "{col} + 0.5"

# (table, column, which row, forms that change the value's type, expected first problem)
WRONG_TYPES = [
    ("stored_events", "originator_id", "event", [BAD_UTF8, AS_BLOB], ALTERED),
    ("stored_events", "originator_version", "event", [BAD_UTF8, AS_BLOB, AS_WORD, AS_REAL], ALTERED),
    ("stored_events", "topic", "event", [BAD_UTF8, AS_BLOB], ALTERED),
    ("stored_events", "state", "event", [AS_TEXT, BAD_UTF8], ALTERED),
    ("regie_merkle_leaves", "notification_id", "leaf", [BAD_UTF8, AS_BLOB, AS_WORD, AS_REAL], LEAF_TABLE),
    ("regie_merkle_leaves", "leaf", "leaf", [AS_TEXT, BAD_UTF8], LEAF_TABLE),
    ("regie_merkle_nodes", "level", "node", [BAD_UTF8, AS_BLOB, AS_WORD, AS_REAL], NODE),
    ("regie_merkle_nodes", "idx", "node", [BAD_UTF8, AS_BLOB, AS_WORD, AS_REAL], NODE),
    ("regie_merkle_nodes", "hash", "node", [AS_TEXT, BAD_UTF8], NODE),
    ("regie_merkle_head", "size", "head", [BAD_UTF8, AS_BLOB, AS_WORD, AS_REAL], HEAD),
    ("regie_merkle_head", "frontier", "head", [AS_TEXT, BAD_UTF8], HEAD),
    ("regie_merkle_cases", "case_id", "case", [BAD_UTF8, AS_BLOB], CASE_INDEX),
]


def _where(kind: str, position: int, nid: int) -> tuple[str, tuple[Any, ...], int | None]:
    """The row of ``kind`` at ``position``: WHERE clause, parameters, and the position a problem names."""
    if kind == "event":
        return "rowid = ?", (nid,), position
    if kind in ("leaf", "case"):
        return "position = ?", (position,), position
    if kind == "node":
        return "level = 1 AND idx = ?", (position // 2,), position // 2 * 2
    return "id = 1", (), None


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL columns are typed: no value of another type fits
@pytest.mark.parametrize(
    ("table", "column", "kind", "forms", "expected"), WRONG_TYPES, ids=[f"{t}.{c}" for t, c, *_ in WRONG_TYPES]
)
def test_a_value_of_the_wrong_type_is_reported_at_its_position_never_a_crash(
    world: World, cli: Any, backend: str, table: str, column: str, kind: str, forms: list[str], expected: str
) -> None:
    assert backend == "sqlite"
    numbers = story(world)
    case_id = world.session("anna").case(numbers["case"]).id
    position = next(p for p, oid, _v, _t in rows_of(world, "%Case.%") if oid == case_id)
    path = str(world.settings.store)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        nid = conn.execute("SELECT notification_id FROM regie_merkle_leaves WHERE position = ?", (position,))
        where, params, named = _where(kind, position, nid.fetchone()[0])
        rowid = conn.execute(f"SELECT rowid FROM {table} WHERE {where}", params).fetchone()[0]
        where, params = "rowid = ?", (rowid,)  # the row stays found whatever becomes of its columns
        original, was = conn.execute(
            f"SELECT quote({column}), typeof({column}) FROM {table} WHERE {where}", params
        ).fetchone()
        for form in forms:
            conn.execute(f"UPDATE {table} SET {column} = {form.format(col=column)} WHERE {where}", params)
            now = conn.execute(f"SELECT typeof({column}) FROM {table} WHERE {where}", params).fetchone()[0]
            assert now != was or "X'FF'" in form, (form, now)
            report = verify(world)
            assert not report.ok, form
            assert report.first.kind == expected, (form, report.first)
            if named is not None:
                assert report.first.position == named, (form, report.first)
            result = cli("audit", "verify", user="aud")
            assert result.code == 1, (form, result.err)
            assert "internal error" not in result.err
            assert result.err.strip().splitlines()[-1].startswith("regie: error: log tampered at ")
            data = cli("audit", "verify", "--json")
            assert data.code == 1
            assert data.json()["first_bad"]["kind"] == expected
            conn.execute(f"UPDATE {table} SET {column} = {original} WHERE {where}", params)
        assert verify(world).ok


def test_values_the_wrong_size_or_out_of_range_on_either_backend(world: World) -> None:
    """What a typed column still lets through: empty or short hashes, impossible node levels."""
    story(world)
    n = size_of(world)
    cases = [
        ("UPDATE regie_merkle_leaves SET leaf = ? WHERE position = 3", (b"",), LEAF_TABLE, 3),
        ("UPDATE regie_merkle_nodes SET hash = ? WHERE level = 1 AND idx = 2", (b"\x01" * 5,), NODE, 4),
        ("UPDATE regie_merkle_head SET frontier = ?", (b"",), HEAD, None),
        ("UPDATE regie_merkle_nodes SET level = 2000000000 WHERE level = 1 AND idx = 0", (), NODE, 0),
        ("UPDATE regie_merkle_nodes SET idx = -3 WHERE level = 1 AND idx = 1", (), NODE, None),
        ("UPDATE regie_merkle_leaves SET position = 4000000000000 WHERE position = ?", (n - 1,), LEAF_TABLE, n - 1),
        ("UPDATE stored_events SET state = ? WHERE originator_version = 1", (b"",), ALTERED, None),
    ]
    for sql, params, kind, position in cases:
        with attacker(world) as db:
            saved = {
                "leaves": db.q("SELECT position, notification_id, leaf FROM regie_merkle_leaves"),
                "nodes": db.q("SELECT level, idx, hash FROM regie_merkle_nodes"),
                "head": db.q("SELECT size, frontier FROM regie_merkle_head"),
                "events": db.q(f"SELECT {db.nid}, state FROM stored_events"),
            }
            db.q(sql, params)
        report = verify(world)
        assert not report.ok, sql
        assert report.first.kind == kind, (sql, report.first)
        if position is not None:
            assert report.first.position == position, (sql, report.first)
        with attacker(world) as db:
            db.q("DELETE FROM regie_merkle_leaves")
            db.q("DELETE FROM regie_merkle_nodes")
            for row in saved["leaves"]:
                db.q("INSERT INTO regie_merkle_leaves (position, notification_id, leaf) VALUES (?, ?, ?)", row)
            for row in saved["nodes"]:
                db.q("INSERT INTO regie_merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", row)
            db.q("UPDATE regie_merkle_head SET size = ?, frontier = ?", saved["head"][0])
            for nid, state in saved["events"]:
                db.q(f"UPDATE stored_events SET state = ? WHERE {db.nid} = ?", (state, nid))
        assert verify(world).ok, sql


# --- D1: the head's size column ----------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [+1, -1])
def test_a_change_to_the_head_size_alone_is_noticed_and_kept(world: World, cli: Any, change: int) -> None:
    refer(world)
    with attacker(world) as db:
        db.q("UPDATE regie_merkle_head SET size = size + ?", (change,))
    report = verify(world)
    assert [p.kind for p in report.problems] == [HEAD]
    assert "size says" in report.problems[0].message
    result = cli("audit", "verify", user="aud")
    assert result.code == 1
    assert "log tampered at the tree" in result.err
    # recording that verification must not write over the evidence: every write is refused
    assert "could not be recorded" in result.err
    assert [p.kind for p in verify(world).problems] == [HEAD]


# --- D2: the case of a damaged record is always named ------------------------------------------------------------


def _case_records(world: World, case: str) -> dict[str, int]:
    """One position of each kind of record that belongs to the case."""
    case_id = world.session("anna").case(case).id
    decrypt = world.app.mapper.to_domain_event
    found: dict[str, int] = {}
    nid = nid_column(world.store.db.dialect)
    with world.store.db.transaction(commit=False) as tx:
        rows = tx.execute(
            f"SELECT l.position, e.originator_id, e.originator_version, e.topic, e.state FROM stored_events e "
            f"JOIN regie_merkle_leaves l ON l.notification_id = e.{nid} ORDER BY l.position"
        ).fetchall()
    traces: dict[UUID, int] = {}
    for position, oid, version, topic, state in rows:
        oid = UUID(str(oid))
        if oid == case_id:
            found.setdefault("case event", position)
            found["last case event"] = position
        elif topic in (ACCESS_STARTED, ERASURE):
            from eventsourcing.persistence import StoredEvent

            event = decrypt(StoredEvent(oid, version, topic, bytes(state)))
            if event.case_id == case_id:
                found.setdefault("erasure record" if topic == ERASURE else "access record", position)
                traces[oid] = position
        elif topic == ACCESS_TOUCHED and oid in traces:
            found.setdefault("access record about one more person", position)
    return found


TAMPERINGS = ("byte flipped", "originator id changed", "row deleted")


def _tamper(db: Db, position: int, how: str) -> Any:
    row = db.row_at(position)
    nid = row[0]
    if how == "byte flipped":
        db.set_state(position, flip(bytes(row[4]), 30))
    elif how == "originator id changed":
        db.q(f"UPDATE stored_events SET originator_id = ? WHERE {db.nid} = ?", (oid_value(db, uuid.uuid4()), nid))
    else:
        db.q(f"DELETE FROM stored_events WHERE {db.nid} = ?", (nid,))
    return row


def _restore(db: Db, row: Any) -> None:
    nid, oid, version, topic, state = row
    db.q(f"DELETE FROM stored_events WHERE {db.nid} = ?", (nid,))
    db.q(
        f"INSERT INTO stored_events ({db.nid}, originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?, ?)",
        (nid, oid, version, topic, state),
    )


def test_the_case_of_every_kind_of_damaged_case_record_is_named(world: World, cli: Any) -> None:
    numbers = story(world)
    case = numbers["case"]
    erase_person(world, case, random.Random(4))
    refer(world, "bram")  # another case after it, so the damaged records are not the last
    write_checkpoint(world.store, world.app)
    records = _case_records(world, case)
    assert set(records) == {
        "case event",
        "last case event",
        "access record",
        "access record about one more person",
        "erasure record",
    }
    for what, position in records.items():
        for how in TAMPERINGS:
            with attacker(world) as db:
                row = _tamper(db, position, how)
            result = cli("audit", "verify", user="aud")
            assert result.code == 1, (what, how, result.err)
            line = result.err.strip().splitlines()[-1]
            assert f"log tampered at position {position}" in line, (what, how, line)
            assert f"(case {case})" in line, (what, how, line)
            data = cli("audit", "verify", "--json", user="aud")
            assert data.json()["first_bad"]["case"] == case, (what, how)
            with attacker(world) as db:
                _restore(db, row)
            assert verify(world).ok, (what, how)


def test_the_case_index_is_checked_against_the_records(world: World) -> None:
    numbers = story(world)
    other = refer(world, "bram")
    case_id = world.session("anna").case(numbers["case"]).id
    other_id = world.session("bram").case(other).id
    started = [p for p, *_ in rows_of(world, ACCESS_STARTED)]
    touched = [p for p, *_ in rows_of(world, ACCESS_TOUCHED)]
    case_event = next(p for p, oid, *_ in rows_of(world, "%Case.%") if oid == case_id)
    setup_row = next(p for p, _o, _v, t in rows_of(world, "%Setup.%"))
    with world.store.db.transaction(commit=False) as tx:
        indexed = dict(tx.execute("SELECT position, case_id FROM regie_merkle_cases").fetchall())
    assert indexed[case_event] == str(case_id)
    assert any(indexed.get(p) == str(case_id) for p in started)
    assert any(indexed.get(p) == str(case_id) for p in touched)
    assert setup_row not in indexed
    indexed_started = [p for p in started if indexed.get(p) == str(case_id)][-1]  # not the first entry
    indexed_touched = next(p for p in touched if indexed.get(p) == str(case_id))

    edits = [
        ("UPDATE regie_merkle_cases SET case_id = ? WHERE position = ?", (str(other_id), case_event), case_event),
        ("DELETE FROM regie_merkle_cases WHERE position = ?", (indexed_started,), indexed_started),
        (
            "UPDATE regie_merkle_cases SET case_id = ? WHERE position = ?",
            (str(other_id), indexed_touched),
            indexed_touched,
        ),
        ("INSERT INTO regie_merkle_cases (position, case_id) VALUES (?, ?)", (setup_row + 0, str(case_id)), setup_row),
        ("INSERT INTO regie_merkle_cases (position, case_id) VALUES (?, ?)", (10**9, str(case_id)), 10**9),
    ]
    for sql, params, position in edits:
        with attacker(world) as db:
            saved = db.q("SELECT position, case_id FROM regie_merkle_cases")
            db.q(sql, params)
        report = verify(world)
        assert [(p.kind, p.position) for p in report.problems] == [(CASE_INDEX, position)], sql
        with attacker(world) as db:
            db.q("DELETE FROM regie_merkle_cases")
            for row in saved:
                db.q("INSERT INTO regie_merkle_cases (position, case_id) VALUES (?, ?)", row)
    assert verify(world).ok


def test_a_store_from_before_the_case_index_verifies_and_indexes_once_migrated(world: World) -> None:
    story(world)
    with world.store.db.transaction(commit=True) as tx:  # as format 1 left a store: no case index
        tx.execute("DROP TABLE regie_merkle_cases")
        tx.execute("UPDATE regie_meta SET value = '1' WHERE name = 'format_version'")
    old = world.reopen()  # opening migrates it
    try:
        assert verify(old).ok  # records from before the migration stay unindexed: fine
        case = refer(old, "bram")
        case_id = old.session("bram").case(case).id
        with old.store.db.transaction(commit=False) as tx:
            indexed = tx.execute("SELECT position, case_id FROM regie_merkle_cases").fetchall()
        assert str(case_id) in {c for _p, c in indexed}
        assert min(p for p, _c in indexed) > 0
        report = verify(old)
        assert report.ok, report.problems
    finally:
        old.store.close()


# --- E: the users' own records, damaged --------------------------------------------------------------------------


def _setup_rows(world: World) -> list[tuple[int, int, str]]:
    setup_id = Setup.create_id(world.store.store_id)
    return [(p, v, t) for p, oid, v, t in rows_of(world, "%Setup.%") if oid == setup_id]


def _auditor_registration(world: World) -> int:
    """The position of the Setup record that registered the auditor: damaging it hides the auditor."""
    from eventsourcing.persistence import StoredEvent

    setup_id = Setup.create_id(world.store.store_id)
    nid = nid_column(world.store.db.dialect)
    with world.store.db.transaction(commit=False) as tx:
        rows = tx.execute(
            f"SELECT l.position, e.originator_version, e.topic, e.state FROM stored_events e "
            f"JOIN regie_merkle_leaves l ON l.notification_id = e.{nid} WHERE e.topic LIKE ?",
            ("%Setup.UserRegistered",),
        ).fetchall()
    for position, version, topic, state in rows:
        event = world.app.mapper.to_domain_event(StoredEvent(setup_id, version, topic, bytes(state)))
        if event.user_id == "aud":
            return int(position)
    raise AssertionError("no registration of the auditor")


SETUP_DAMAGE = ("edited", "deleted", "duplicated", "duplicated with the tree recomputed")


@pytest.mark.parametrize("damage", SETUP_DAMAGE)
def test_damage_to_the_users_records_is_named_by_position(world: World, cli: Any, damage: str) -> None:
    story(world)
    write_checkpoint(world.store, world.app)
    target = _auditor_registration(world)
    end = size_of(world)
    with attacker(world) as db:
        if damage == "edited":
            db.set_state(target, flip(bytes(db.row_at(target)[4]), 21))
            expected = (ALTERED, target)
        elif damage == "deleted":
            db.q(f"DELETE FROM stored_events WHERE {db.nid} = ?", (db.row_at(target)[0],))
            expected = (MISSING, target)
        else:
            oid, version, topic, state = copy_row(db, target)
            append_forged(db, oid, version, topic, state, recompute=damage != "duplicated")
            expected = (UNINDEXED, end) if damage == "duplicated" else (UNAUTHENTIC, end)
    report = verify(world)
    assert (report.first.kind, report.first.position) == expected
    for who in ("aud", None):
        result = cli("audit", "verify", user=who) if who else cli("audit", "verify")
        assert result.code == 1, result.err
        assert "internal error" not in result.err
        line = result.err.strip().splitlines()[-1]
        assert line.startswith(f"regie: error: log tampered at position {expected[1]}"), line
        if who is None:
            assert len(result.err.strip().splitlines()) == 1  # no user: nothing to record, nothing to warn
        as_json = cli("audit", "verify", "--json", user=who) if who else cli("audit", "verify", "--json")
        assert as_json.code == 1
        assert as_json.json()["first_bad"]["position"] == expected[1]


def test_the_users_records_duplicated_in_the_same_save_keep_all_else_verifiable(world: World) -> None:
    """A Setup row whose tag fails is found by the same check as any record, not by replaying users."""
    refer(world)
    rows = _setup_rows(world)
    assert rows
    assert rows[0][1] == 1
    with attacker(world) as db:
        oid, version, topic, state = copy_row(db, rows[-1][0])
        position = append_forged(db, oid, version, topic, state)
    report = verify(world)
    assert (report.first.kind, report.first.position) == (UNAUTHENTIC, position)
    assert report.first.record is not None
    assert report.first.record.topic is not None
    assert report.first.record.topic.startswith("casusregie.domain.setup:Setup.")
    assert json.dumps(report.to_json())  # the report itself is always printable


# --- the checker's fast path agrees with its reference path ---------------------------------------------------------

KEY = bytes(range(32))
STORE = "st-0123456789abcdef"


def _sealed_row(oid: UUID, version: int, topic: str, body: bytes, how: str) -> bytes:
    from casusregie.adapters.mapper import row_aad

    if how == "sealed":
        return encrypt(KEY, "rows-1", zlib_body(body), row_aad(STORE, oid, version, topic))
    if how == "other version":
        return encrypt(KEY, "rows-1", zlib_body(body), row_aad(STORE, oid, version + 1, topic))
    if how == "other key id":
        return encrypt(KEY, "person-x", zlib_body(body), row_aad(STORE, oid, version, topic))
    if how == "other store":
        return encrypt(KEY, "rows-1", zlib_body(body), row_aad("st-other", oid, version, topic))
    return body


def zlib_body(body: bytes) -> bytes:
    import zlib

    return zlib.compress(body, 6)


def test_the_checker_s_fast_path_agrees_with_its_reference_path() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from casusregie.adapters.mapper import row_aad
    from casusregie.privacy_audit import verify as verify_mod

    auth = verify_mod.RowAuthenticator(STORE, {"rows-1": AESGCM(KEY)})
    topics = st.sampled_from([ACCESS_STARTED, ACCESS_TOUCHED, ERASURE, "casusregie.domain.case:Case.Referred", "é"])
    hows = st.sampled_from(["sealed", "sealed", "other version", "other key id", "other store", "raw"])
    case_json = st.sampled_from(
        [
            b'{"span_id":"a","case_id":{"_type_":"uuid_hex","_data_":"0123456789abcdef0123456789abcdef"},"x":1}',
            b'{"span_id":"a","case_id":null,"x":1}',
            b'{"x":{"case_id":1},"case_id":{"_type_":"uuid_hex","_data_":"0123456789abcdef0123456789abcdef"}}',
        ]
    )

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(st.tuples(st.uuids(), st.integers(1, 10**6), topics, case_json, hows), min_size=1, max_size=10),
        st.integers(0, 2**40),
    )
    def agree(specs: list[Any], start: int) -> None:
        rows = []
        for i, (oid, version, topic, body, how) in enumerate(specs):
            state = _sealed_row(oid, version, topic, body, how)
            form = oid.hex.encode() if i % 2 else str(oid).encode()
            rows.append((i, form, version, topic.encode(), state))
        checker = verify_mod._RowChecker(auth)
        fast = checker.check(start, rows, True)
        slow = checker._slow(start, rows, True)
        assert fast == slow
        if all(how != "raw" for *_, how in specs):  # only ciphertexts: the hot loop itself must agree
            assert checker._fast(start, rows, True) == slow
        for i, (oid, version, topic, _body, how) in enumerate(specs):
            assert (i in fast.failures) == (how != "sealed"), how
            assert fast.leaves[i] == leaf_for(start + i, oid, version, topic, rows[i][4])
            assert auth.aad(str(oid).encode(), version, topic.encode()) == row_aad(STORE, oid, version, topic)
        for body in fast.bodies.values():
            case = verify_mod._case_in_body(body)
            assert case in (None, b"01234567-89ab-cdef-0123-456789abcdef")

    agree()

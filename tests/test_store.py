"""The encrypted store: creating, opening, keys, and what lies on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers import World, make_world, raw_store_bytes

from casusregie.adapters.config import Settings
from casusregie.adapters.store import FORMAT_VERSION, create_store, open_store
from casusregie.commands.referral import MemberInput, ReferCase
from casusregie.domain.errors import StoreProblem, ValidationFailed
from casusregie.projections.reader import view_runner

SECRET = "Zeldzame-Achternaam-Qx7"


def refer(world: World, text: str = SECRET) -> str:
    result = world.run(
        "anna",
        ReferCase(
            referring_org="mitros",
            referring_worker="J. Jansen",
            reason=f"overlast door {text}",
            problems={"overlast": f"{text} maakt lawaai"},
            members=[MemberInput(name=f"Karel {text}", birth_date="1980-01-02", bsn="111222333")],
        ),
    )
    return result.data["case"]


def test_a_distinctive_string_never_lands_on_disk_in_the_clear(world: World) -> None:
    refer(world)
    world.store.close()
    world = world.reopen()
    raw = raw_store_bytes(world.settings)
    assert len(raw) > 10_000
    assert SECRET.encode() not in raw
    assert b"111222333" not in raw
    assert b"1980-01-02" not in raw
    # ... and yet it is all there for whoever holds the keys:
    case = world.app.get(world.session("anna").case(refer(world, "Tweede")).id)
    assert world.store.keyring.unseal(next(iter(case.members.values())).name) == "Karel Tweede"
    world.store.close()


def test_swapping_two_stored_ciphertexts_fails_with_a_clear_error(world: World) -> None:
    number = refer(world)
    case_id = world.session("anna").case(number).id
    with world.store.db.transaction(commit=True) as tx:
        referred = tx.execute(
            "SELECT originator_id, originator_version, state FROM stored_events WHERE topic LIKE '%Case.Referred'"
        ).fetchone()
        other = tx.execute(
            "SELECT originator_id, originator_version, state FROM stored_events "
            "WHERE topic LIKE '%AccessTrace.Started' ORDER BY originator_id LIMIT 1"
        ).fetchone()
        for (oid, version, _), (_, _, state) in ((referred, other), (other, referred)):
            tx.execute(
                "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
                (state, oid, version),
            )
    world = world.reopen()
    expected = rf"cannot decrypt record {case_id} v1 of store .* with key id rows-1: .*does not authenticate"
    with pytest.raises(StoreProblem, match=expected):
        world.app.get(case_id)
    world.store.close()


def test_init_refuses_to_overwrite_and_key_file_is_private(settings) -> None:  # type: ignore[no-untyped-def]
    store = create_store(settings)
    store.close()
    assert stat.S_IMODE(os.stat(store.key_paths.master).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.key_paths.signing).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.key_paths.folder).st_mode) == 0o700
    with pytest.raises(ValidationFailed, match="already exists"):
        create_store(settings)


def test_wrong_or_missing_or_loose_key_file_is_a_clear_error(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = create_store(settings)
    store.close()
    key = store.key_paths.master
    original = key.read_text()
    # a key file of the same store id but other key bytes
    other = create_store(
        settings.__class__(
            store=str(tmp_path / "other.db"), key_dir=tmp_path / "k2", checkpoint_dir=None, config_file=None
        )
    )
    other.close()
    other_key = other.key_paths.master.read_text().split("key: ")[1].strip()
    forged = original.replace(original.split("key: ")[1].strip(), other_key)
    key.write_text(forged)
    with pytest.raises(StoreProblem, match=r"does not open key rows-1 of store"):
        open_store(settings)
    key.write_text(original)
    os.chmod(key, 0o644)
    with pytest.raises(StoreProblem, match="readable by other users"):
        open_store(settings)
    key.unlink()
    with pytest.raises(StoreProblem, match="master key file not found"):
        open_store(settings)


def test_a_store_of_the_previous_format_is_brought_up_to_date_once(settings: Settings) -> None:
    world = make_world(settings)
    with world.store.db.transaction(commit=True) as tx:  # as format 1 left it: no case index
        tx.execute("DROP TABLE regie_merkle_cases")
        tx.execute("UPDATE regie_meta SET value = '1' WHERE name = 'format_version'")
    world = world.reopen()
    assert world.store.meta["format_version"] == FORMAT_VERSION
    refer(world)
    with world.store.db.transaction(commit=False) as tx:
        assert tx.scalar("SELECT value FROM regie_meta WHERE name = 'format_version'") == FORMAT_VERSION
        assert tx.scalar("SELECT count(*) FROM regie_merkle_cases") > 0  # new records are indexed again
    world.store.close()


def test_a_store_of_a_newer_format_is_refused(settings: Settings) -> None:
    store = create_store(settings)
    with store.db.transaction(commit=True) as tx:
        tx.execute("UPDATE regie_meta SET value = '99' WHERE name = 'format_version'")
    store.close()
    with pytest.raises(StoreProblem, match="upgrade casusregie"):
        open_store(settings)


def test_rows_for_a_long_list_of_values_are_fetched_in_batches_and_all_found(world: World) -> None:
    refer(world)
    view_runner(world.app).catch_up()
    with world.store.db.transaction(commit=False) as tx:
        known = [r[0] for r in tx.execute("SELECT person_id FROM regie_persons").fetchall()]
        values = [f"unknown-{i}" for i in range(1234)] + known  # the known one sits in the third batch
        rows = tx.fetch_in("SELECT person_id FROM regie_persons WHERE erased = ? AND person_id {values}", values, (0,))
        none = tx.fetch_in("SELECT person_id FROM regie_persons WHERE person_id {values}", [])
    assert known
    assert sorted(r[0] for r in rows) == sorted(known)
    assert none == []

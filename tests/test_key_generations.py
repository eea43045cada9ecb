"""Old copies of the database keep destroyed keys; their master key is what must go too.

An erasure destroys a data key in the store, but a backup (or a PostgreSQL WAL archive)
made before still holds it, wrapped by the master key of that time. `regie erase`,
`regie retention run` and `regie keys rotate` say so; `regie keys status` lists, per master
key generation, how many erased keys copies of its time still hold and what to destroy.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import World, make_world
from scenarios import day, first_person, taken_on_case

from casusregie.adapters.backends import database_of, open_factory
from casusregie.adapters.config import Settings
from casusregie.adapters.keyfile import read_master_key
from casusregie.adapters.keystore import SqlKeyStorage
from casusregie.adapters.location import parse_location
from casusregie.commands.closure import CloseCase
from casusregie.commands.erasure import ErasePerson, RunRetention
from casusregie.commands.keys import RotateMasterKey
from casusregie.domain.sealed import person_key_id
from casusregie.privacy_audit.envelope import DecryptionFailed, unwrap_key
from casusregie.privacy_audit.key_generations import generations


def status(cli: Any) -> dict[str, dict[str, Any]]:
    result = cli("keys", "status", "--json", user="admin")
    assert result.code == 0, result.err
    return {g["key_id"]: g for g in result.json()}


def test_erasure_rotation_and_status_tell_the_operator_what_old_copies_still_hold(world: World, cli: Any) -> None:
    case = taken_on_case(world)
    person = first_person(world, case)
    first_key = world.store.keyring.master.key_id
    assert status(cli)[first_key]["erased_keys_it_still_opens_in_old_copies"] == 0

    erased = cli("erase", person, "--ground", "granted-request", user="pim")
    assert erased.code == 0
    assert "`regie keys rotate`" in erased.out
    assert first_key in erased.out
    current = status(cli)[first_key]
    assert current["current"]
    assert current["erased_keys_it_still_opens_in_old_copies"] == 1
    assert "rotate" in current["advice"]

    world.store.close()
    rotated = cli("keys", "rotate", "--json", user="admin").json()
    assert rotated["erased_keys_the_old_key_still_opens_in_backups"] == 1
    generations_now = status(cli)
    old = generations_now[first_key]
    assert not old["current"]
    assert old["file"] == rotated["retired_file"]
    assert old["advice"] == f"destroy {rotated['retired_file']} and every backup of it"
    assert generations_now[rotated["new"]]["erased_keys_it_still_opens_in_old_copies"] == 0

    Path(rotated["retired_file"]).unlink()
    gone = status(cli)[first_key]
    assert gone["file"] is None
    assert "destroy any backup" in gone["advice"]


def test_retention_says_it_too(world: World) -> None:
    case = taken_on_case(world)
    world.run("anna", CloseCase(case=case, outcome="goals-met", despite="vroeg afgesloten", on=day(10)))
    years = world.app.profile.activity("regie-uitvoering").retention.years
    result = world.run("pim", RunRetention(on=day(10).replace(year=day(10).year + years) + timedelta(days=1)))
    assert "`regie keys rotate`" in result.message


def test_only_the_beheerder_and_privacy_officers_review_keys(world: World, cli: Any) -> None:
    assert cli("keys", "status", user="pim").code == 0
    refused = cli("keys", "status", user="anna")
    assert refused.code == 1
    assert "refused" in refused.err


def test_a_backup_from_before_the_erasure_opens_with_the_retired_key_only(tmp_path: Path) -> None:
    """Shown on SQLite, whose online backup is one call; which key opens what does not depend on the backend."""
    world = make_world(Settings(str(tmp_path / "store.db"), tmp_path / "keys", None, None))
    case = taken_on_case(world)
    person = first_person(world, case)
    person_id = world.session("pim").person(person)[0]
    backup = tmp_path / "backup.db"
    with sqlite3.connect(world.settings.store or "") as source, sqlite3.connect(backup) as copy:
        source.backup(copy)  # an online backup, as an operator would make one
    old_master = world.store.keyring.master
    world.run("pim", ErasePerson(person=person, ground="granted-request"))
    world.run("admin", RotateMasterKey())
    new_master = read_master_key(world.store.key_paths.master)
    world.store.close()

    factory = open_factory(parse_location(str(backup)))
    try:
        row = SqlKeyStorage(database_of(factory)).get(person_key_id(person_id))
    finally:
        factory.close()
    assert row is not None
    assert row.wrapped is not None  # the backup still holds the person's key ...
    unwrap_key(old_master.key, row.wrapped, store_id=world.store.store_id, key_id=person_key_id(person_id))
    with pytest.raises(DecryptionFailed):  # ... which only the retired master key opens
        unwrap_key(new_master.key, row.wrapped, store_id=world.store.store_id, key_id=person_key_id(person_id))


@dataclass
class Row:
    created_at: str
    shredded_at: str | None


def test_a_generation_counts_only_keys_alive_while_it_was_current(tmp_path: Path) -> None:
    meta = {
        "master_key.mk-a.active_from": "2020-01-01",
        "master_key.mk-a.retired_at": "2021-01-01",
        "master_key.mk-b.active_from": "2021-01-01",
    }
    keys = [
        Row("2019-06-01", "2020-06-01"),  # alive in a's time only
        Row("2020-06-01", "2022-01-01"),  # alive in both
        Row("2021-06-01", "2021-07-01"),  # b's time only
        Row("2019-01-01", "2019-06-01"),  # destroyed before either: no copy of theirs holds it
        Row("2020-02-02", None),  # not erased: not counted
    ]
    found = {g.key_id: g.erased_it_opens for g in generations(meta, "mk-b", tmp_path, keys)}
    assert found == {"mk-a": 2, "mk-b": 2}

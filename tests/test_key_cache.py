"""The keyring's cache of unwrapped data keys: bounded, and never holding a destroyed key.

A long-lived process opens ever more keys; the cache keeps at most ``key_cache_size`` of them
(least recently used out first), each with its prepared cipher. Erasing a person or running
retention drops the destroyed keys from the cache at once, in the process that did it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import World, make_world
from scenarios import day, first_person, refer, taken_on_case

from casusregie.adapters.config import Settings, resolve_settings
from casusregie.adapters.store import open_store
from casusregie.commands.closure import CloseCase
from casusregie.commands.erasure import ErasePerson, RunRetention
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.sealed import case_key_id, person_key_id
from casusregie.privacy_audit.key_hierarchy import DEFAULT_CACHE_SIZE, KeyCache, KeyShredded, entry_for
from casusregie.projections.reader import Reader

NAME = "Karel de Vries"


@pytest.fixture
def small(settings: Settings) -> Iterator[World]:
    """A store opened with room for only four data keys."""
    world = make_world(dataclasses.replace(settings, key_cache_size=4))
    yield world
    world.store.close()


# --- the bound ---------------------------------------------------------------------------------


def test_the_cache_keeps_the_most_recently_used_keys_up_to_its_size() -> None:
    cache = KeyCache(3)
    for n in range(10):
        cache.put(f"k{n}", entry_for(bytes([n]) * 32))
        assert len(cache) <= 3
    assert [k for k in ("k7", "k8", "k9") if k in cache] == ["k7", "k8", "k9"]
    assert cache.get("k7") is not None  # used: now the most recent
    cache.put("k10", entry_for(b"\x0a" * 32))
    assert "k7" in cache
    assert "k8" not in cache  # the least recently used went


def test_opening_many_keys_never_grows_the_cache_beyond_its_bound(small: World) -> None:
    keyring = small.store.keyring
    cases = [refer(small, name=f"Persoon {n}") for n in range(6)]  # each makes a case key and two person keys
    assert len(keyring.cache) <= 4
    small.store.close()
    small = small.reopen()
    keyring = small.store.keyring
    assert keyring.cache.size == 4
    for round_ in range(2):  # a second round reads keys that were evicted in the first
        for n, case in enumerate(cases):
            assert Reader(small.session("anna")).case(case)["members"][0]["name"] == f"Persoon {n}", round_
            assert len(keyring.cache) <= 4
    live = [k.key_id for k in small.store.keys.all() if not k.is_shredded]
    assert len(live) >= 6 * 3
    for key_id in live:
        keyring.cipher(key_id)
        assert len(keyring.cache) <= 4


def test_a_command_that_makes_more_keys_than_the_cache_holds_still_works(settings: Settings) -> None:
    world = make_world(dataclasses.replace(settings, key_cache_size=1))
    case = refer(world)  # a case key and two person keys, all used before the transaction stores them
    assert len(world.store.keyring.cache) <= 1
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == NAME
    world.store.close()


def test_the_default_size() -> None:
    assert KeyCache().size == DEFAULT_CACHE_SIZE == 10_000


# --- destroyed keys ------------------------------------------------------------------------------


def test_an_erased_persons_key_leaves_the_cache_with_the_erasure(world: World) -> None:
    case = taken_on_case(world)
    person = first_person(world, case)
    person_id = world.session("pim").person(person)[0]
    key_id = person_key_id(person_id)
    keyring = world.store.keyring
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == NAME
    assert key_id in keyring.cache

    world.run("pim", ErasePerson(person=person, ground="granted-request"))
    assert key_id not in keyring.cache
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == "[gewist]"
    assert key_id not in keyring.cache
    with pytest.raises(KeyShredded):
        keyring.key(key_id)
    assert key_id not in keyring.cache


def test_a_long_running_process_drops_a_key_another_process_erased(world: World) -> None:
    """The API server keeps keys cached; an erasure by the CLI must reach it by its next unit of work."""
    from casusregie.commands.application import RegieApplication
    from casusregie.commands.session import Session, open_session

    case = taken_on_case(world)
    person = first_person(world, case)
    key_id = person_key_id(world.session("pim").person(person)[0])
    server = RegieApplication(open_store(world.settings))  # a second process on the same store

    def anna() -> Session:  # a unit of work of the server (one per request)
        return open_session(server, "anna", None, "case.show")

    assert Reader(anna()).case(case)["members"][0]["name"] == NAME
    assert key_id in server.store.keyring.cache

    world.run("pim", ErasePerson(person=person, ground="granted-request"))  # elsewhere

    shown = Reader(anna()).case(case)
    assert key_id not in server.store.keyring.cache
    assert NAME not in str(shown)
    with pytest.raises(KeyShredded):
        server.store.keyring.key(key_id)
    server.store.close()


def test_retention_drops_every_key_it_destroys(world: World) -> None:
    case = taken_on_case(world)
    world.run("anna", CloseCase(case=case, outcome="goals-met", despite="vroeg afgesloten", on=day(10)))
    case_id = world.session("anna").case(case).id
    keyring = world.store.keyring
    members = [person_key_id(m.person_id) for m in world.session("anna").case(case).members.values()]
    destroyed = [case_key_id(case_id), *members]
    for key_id in destroyed:
        keyring.key(key_id)
    assert all(k in keyring.cache for k in destroyed)

    years = world.app.profile.activity("regie-uitvoering").retention.years
    world.run("pim", RunRetention(on=day(10).replace(year=day(10).year + years) + timedelta(days=1)))
    assert [k for k in destroyed if k in keyring.cache] == []


def test_a_key_read_while_its_erasure_is_under_way_is_not_cached(world: World) -> None:
    """Between queuing the shred and its commit the key still opens from the database, but is never kept."""
    case = taken_on_case(world)
    person_id = world.session("pim").person(first_person(world, case))[0]
    key_id = person_key_id(person_id)
    keyring = world.store.keyring
    keyring.shred(key_id, "granted-request")  # queued, not committed: the key is still alive
    assert keyring.key(key_id)
    assert key_id not in keyring.cache


def test_a_key_read_just_before_it_was_destroyed_cannot_be_put_back() -> None:
    """Another thread unwrapped the key a moment before the erasure: it may use what it read, the cache never."""
    cache = KeyCache(10)
    read = entry_for(b"\x01" * 32)
    cache.destroy("person-1")
    assert cache.put("person-1", read) is read
    assert "person-1" not in cache
    assert cache.get("person-1") is None


# --- the setting ------------------------------------------------------------------------------------


def write_config(folder: Path, line: str) -> Path:
    path = folder / "regie.toml"
    path.write_text(f'store = "store.db"\n{line}\n', encoding="utf-8")
    return path


def test_the_size_comes_from_the_config_file(world: World, tmp_path: Path) -> None:
    path = write_config(tmp_path, "key_cache_size = 50")
    found = resolve_settings(store=world.settings.store, key_dir=str(world.settings.key_dir), config=str(path))
    assert found.key_cache_size == 50
    world.store.close()
    store = open_store(found)
    try:
        assert store.keyring.cache.size == 50
    finally:
        store.close()
    assert resolve_settings(store="x.db", key_dir=str(tmp_path), config=None).key_cache_size == DEFAULT_CACHE_SIZE


@pytest.mark.parametrize("value", ["0", "-5", '"100"', "true", "1.5", "[10]"])
def test_a_bad_size_is_refused_in_one_line(tmp_path: Path, value: str) -> None:
    path = write_config(tmp_path, f"key_cache_size = {value}")
    with pytest.raises(ValidationFailed) as refused:
        resolve_settings(store=None, key_dir=None, config=str(path))
    message = str(refused.value)
    assert "\n" not in message
    assert message == f"config file {path}: key_cache_size must be a positive whole number, such as 10000"


def test_the_cli_says_so_and_exits_1(env: dict[str, str], cli: Any, tmp_path: Path) -> None:
    write_config(tmp_path, "key_cache_size = 0")  # ./regie.toml, found from the working folder
    result = cli("keys", "status", user="admin")
    assert result.code == 1
    assert result.err.strip().count("\n") == 0
    assert "key_cache_size must be a positive whole number" in result.err

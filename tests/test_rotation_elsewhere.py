"""A long-running process (the API server) while another process rotates the master key.

It must go on reading (it takes up the key in force), and it must never store a new data
key under the retired master key: that key would be lost when the retired key is destroyed.
"""

from __future__ import annotations

from datetime import date

import pytest
from helpers import World
from scenarios import START, first_person, taken_on_case

from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.referral import MemberInput, ReferCase
from casusregie.commands.session import Session
from casusregie.domain.roles import Actor
from casusregie.privacy_audit.key_hierarchy import MasterKeyReplaced
from casusregie.privacy_audit.rotation import rotate_master_key
from casusregie.projections.reader import Reader


def _server(world: World) -> RegieApplication:
    return RegieApplication(open_store(world.settings))


def _as(app: RegieApplication, user: str) -> Session:
    return Session(app, Actor(app.setup().user(user)))


def _live_keys_not_under(world: World, master_key_id: str) -> int:
    with world.store.db.transaction(commit=False) as tx:
        return int(
            tx.scalar(
                "SELECT count(*) FROM regie_keys WHERE shredded_at IS NULL AND master_key_id <> ?", (master_key_id,)
            )
        )


def test_a_long_running_process_reads_on_after_a_rotation_elsewhere(world: World) -> None:
    case = taken_on_case(world)
    server = _server(world)
    old = server.store.keyring.master.key_id

    rotated = rotate_master_key(world.store)
    assert rotated.old_key_id == old

    shown = Reader(_as(server, "anna")).case(case)  # keys it never opened are wrapped by the new key
    assert shown["members"][0]["name"] == "Karel de Vries"
    assert server.store.keyring.master.key_id == rotated.new_key_id
    server.store.close()


def test_a_key_made_with_the_retired_master_key_is_refused_and_the_retry_succeeds(world: World) -> None:
    server = _server(world)
    rotated = rotate_master_key(world.store)
    events = world.count()

    with pytest.raises(MasterKeyReplaced):
        refer_by(server)
    assert world.count() == events  # nothing of the referral was stored

    case = refer_by(server)  # run again: now under the key in force
    assert _live_keys_not_under(world, rotated.new_key_id) == 0
    person = first_person(world, case)
    assert person  # the other process opens the new case's data with the new key
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == "Karel de Vries"
    server.store.close()


def refer_by(server: RegieApplication) -> str:
    result = _as(server, "piet").execute(
        ReferCase(
            referring_org="mitros",
            referring_worker="J. Jansen",
            reason="Overlast",
            problems={"overlast": "lawaai"},
            members=[MemberInput(name="Karel de Vries", birth_date=date(1979, 4, 12))],
            director="anna",
            on=START,
        )
    )
    return str(result.data["case"])

"""Master key rotation, and the disclosure trail per person, case and partner."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from helpers import World
from scenarios import day, first_person, measure, police_disclosure, taken_on_case

from casusregie.adapters.store import open_store
from casusregie.commands.meetings import HoldMeeting, ScheduleMeeting
from casusregie.privacy_audit.rotation import pending_file, rotate_master_key
from casusregie.projections.reader import Reader


def stored_rows(world: World) -> dict[tuple[str, int], bytes]:
    with world.store.db.transaction(commit=False) as tx:
        rows = tx.execute("SELECT originator_id, originator_version, state FROM stored_events").fetchall()
    return {(str(r[0]), int(r[1])): bytes(r[2]) for r in rows}


def test_rotation_rewraps_keys_and_the_old_key_file_is_not_needed_afterwards(world: World, cli: Any) -> None:
    case = taken_on_case(world)
    police_disclosure(world, case)
    before = Reader(world.session("anna")).case(case)
    rows_before = stored_rows(world)
    old_key = world.store.key_paths.master.read_text()
    world.store.close()

    result = cli("keys", "rotate", "--json", user="admin")
    assert result.code == 0, result.err
    data = result.json()
    assert data["rewrapped"] >= 5
    retired = Path(data["retired_file"])
    assert retired.read_text() == old_key
    retired.unlink()  # the administrator destroys the old key

    world = world.reopen()
    assert world.store.key_paths.master.read_text() != old_key
    rows_after = stored_rows(world)
    assert {k: rows_after[k] for k in rows_before} == rows_before  # not one event was rewritten
    after = Reader(world.session("anna")).case(case)
    assert {k: v for k, v in after.items() if k != "version"} == {k: v for k, v in before.items() if k != "version"}
    assert cli("case", "show", case, user="anna").code == 0
    assert cli("keys", "rotate", user="anna").code == 1  # only the beheerder
    world.store.close()


def test_an_interrupted_rotation_completes_on_the_next_open(world: World) -> None:
    case = taken_on_case(world)
    store = world.store
    new_master_id = None
    real_finish = rotate_master_key.__globals__["_finish"]

    def crash(*args: Any) -> None:
        raise KeyboardInterrupt  # the process dies between the database switch and the file renames

    rotate_master_key.__globals__["_finish"] = crash
    try:
        with contextlib.suppress(KeyboardInterrupt):
            rotate_master_key(store)
    finally:
        rotate_master_key.__globals__["_finish"] = real_finish
    assert pending_file(store).exists()
    new_master_id = store.keys.get(store.row_key_id).master_key_id
    store.close()
    reopened = open_store(world.settings)
    assert reopened.keyring.master.key_id == new_master_id
    assert not pending_file(reopened).exists()
    reopened.close()
    world = world.reopen()
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == "Karel de Vries"
    world.store.close()


def test_the_trail_answers_per_person_case_and_partner(world: World, cli: Any) -> None:
    case = taken_on_case(world)
    police_disclosure(world, case)
    measure(world, case, owner="lister")
    meeting = world.run("anna", ScheduleMeeting(case=case, date=day(8), participants=["politie"])).data["meeting"]
    world.run("anna", HoldMeeting(case=case, meeting=meeting, attended=["politie"], minutes="overleg", on=day(9)))
    person = first_person(world, case)
    world.store.close()
    by_person = cli("trail", "--person", person, "--json", user="pim").json()
    moves = {(e["from"], e["to"], tuple(e["categories"])) for e in by_person}
    assert ("mitros", "gemeente-utrecht", ("identificatie", "huishouden", "signalen")) in moves  # the referral
    assert ("gemeente-utrecht", "mitros", ("identificatie", "huishouden")) in moves  # consent asked
    assert ("gemeente-utrecht", "politie", ("identificatie",)) in moves  # who the request was about
    assert ("politie", "gemeente-utrecht", ("politie.meldingen",)) in moves  # the police's answer
    assert ("gemeente-utrecht", "lister", ("identificatie", "plan")) in moves  # a measure for Lister
    assert ("gemeente-utrecht", "politie", ("signalen", "plan")) in moves  # the police at the MDO
    mdo = next(e for e in by_person if e["event"] == "MeetingHeld")
    assert mdo["on"] == day(9).isoformat()
    police = next(e for e in by_person if e["from"] == "politie")
    assert (police["purpose"], police["legal_basis"], police["request"]) == ("zicht op overlast", "Wpg art. 20", "R1")
    assert all(e["person"] == person for e in by_person)
    by_case = cli("trail", "--case", case, "--json", user="anna").json()
    assert len(by_case) > len(by_person)  # the other household member too
    by_partner = cli("trail", "--partner", "politie", "--json", user="pol").json()
    assert by_partner
    assert {e["from"] for e in by_partner} | {e["to"] for e in by_partner} >= {"politie"}
    assert cli("trail", "--partner", "mitros", user="pol").code == 1  # another partner's trail
    assert cli("trail", "--person", person, user="piet").code == 1

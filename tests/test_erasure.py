"""Crypto-shredding: erasing a person (and a whole case at the end of its retention period)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from helpers import World, raw_store_bytes
from scenarios import day, first_person, police_disclosure, refer, taken_on_case

from casusregie.commands.closure import CloseCase
from casusregie.commands.erasure import ErasePerson, RunRetention
from casusregie.commands.plan import AgreeMeasure
from casusregie.commands.referral import MemberInput
from casusregie.domain.errors import AccessDenied, DomainRuleViolation
from casusregie.domain.sealed import person_key_id
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.projections.reader import Reader

NAME, BSN, BORN = "Gerritdina Zwanenburg", "111222333", date(1979, 4, 12)
FREE_TEXT = "Gerritdina heeft een gokverslaving en schulden bij de buurman"


def household(world: World) -> str:
    case = taken_on_case(
        world,
        members=[
            MemberInput(name=NAME, birth_date=BORN, bsn=BSN, address="Pijlsweerd 7"),
            MemberInput(name="Bartholomeus Zwanenburg", birth_date=date(1981, 1, 1), role="partner"),
        ],
    )
    police_disclosure(world, case)
    person = first_person(world, case)
    world.run(
        "anna",
        AgreeMeasure(
            case=case,
            life_domain="financiën",
            owner="gemeente-utrecht",
            description=FREE_TEXT,
            due=day(40),
            subject=person,
            on=day(6),
        ),
    )
    Reader(world.session("anna")).case(case)  # views and snapshots exist before the erasure
    world.app.take_snapshot(world.session("anna").case(case).id)
    return case


def test_after_erasure_no_trace_of_the_person_remains_on_disk_yet_the_history_replays(world: World) -> None:
    case = household(world)
    person = first_person(world, case)
    person_id = world.session("pim").person(person)[0]
    wrapped = world.store.keys.get(person_key_id(person_id)).wrapped
    assert wrapped is not None
    assert wrapped in raw_store_bytes(world.settings)  # the key was there ...

    world.run("pim", ErasePerson(person=person, ground="granted-request"))

    raw = raw_store_bytes(world.settings)
    for needle in (NAME, BSN, BORN.isoformat(), "Pijlsweerd", "gokverslaving", "12 meldingen sinds juni"):
        assert needle.encode() not in raw, needle
    assert wrapped not in raw  # ... and is now physically gone, free pages included
    view = Reader(world.session("anna")).case(case)
    erased = next(m for m in view["members"] if m["person"] == person)
    assert erased["erased"] is True
    assert erased["name"] == erased["bsn"] == erased["birth_date"] == "[gewist]"
    assert next(m for m in view["members"] if m["person"] != person)["name"] == "Bartholomeus Zwanenburg"
    measure = next(m for m in view["plan"]["measures"] if m["subject"] == person)
    assert measure["description"] == "[gewist]"
    assert measure["owner"] == "gemeente-utrecht"  # who did what when stays
    assert view["requests"][0]["items"][0]["content"] == "[gewist]"
    assert view["requests"][0]["answered_by"] == "pol"
    replayed = world.app.repository.get(world.session("anna").case(case).id)
    assert str(person_id) in replayed.members  # the case's own history is untouched
    assert PrivacyReader(world.session("pim")).find(None, None, BSN) == []
    with pytest.raises(DomainRuleViolation, match="erased; no new key"):
        world.store.keyring.create(person_key_id(person_id), "person", "again")
    with pytest.raises(DomainRuleViolation, match="already erased"):
        world.run("pim", ErasePerson(person=person, ground="granted-request"))


def test_erasure_survives_a_full_rebuild_of_the_views(world: World) -> None:
    case = household(world)
    person = first_person(world, case)
    world.run("pim", ErasePerson(person=person, ground="granted-request"))
    world = world.reopen()
    Reader(world.session("anna")).runner.rebuild()
    view = Reader(world.session("anna")).case(case)
    assert next(m for m in view["members"] if m["person"] == person)["name"] == "[gewist]"
    world.store.close()


def test_only_a_privacy_officer_erases_and_a_refusal_is_logged(world: World) -> None:
    case = refer(world)
    person = first_person(world, case)
    denied = world.count("AccessTrace.Started")
    with pytest.raises(AccessDenied, match="privacy officer"):
        world.run("anna", ErasePerson(person=person, ground="granted-request"))
    assert world.count("AccessTrace.Started") == denied + 1
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == "Karel de Vries"


def test_retention_erases_cases_whose_period_after_closure_has_passed(world: World) -> None:
    old, recent, running = taken_on_case(world), taken_on_case(world), taken_on_case(world)
    world.run("anna", CloseCase(case=old, outcome="goals-met", despite="vroeg afgesloten", on=day(10)))
    world.run("anna", CloseCase(case=recent, outcome="goals-met", despite="vroeg afgesloten", on=day(20)))
    years = world.app.profile.activity("regie-uitvoering").retention.years
    run_on = day(10).replace(year=day(10).year + years) + timedelta(days=5)
    dry = world.run("pim", RunRetention(on=run_on, dry_run=True))
    assert [e["case"] for e in dry.data["erased"]] == [old]
    result = world.run("pim", RunRetention(on=run_on))
    assert [e["case"] for e in result.data["erased"]] == [old]
    assert result.data["kept"] == 1
    reader = Reader(world.session("anna"))
    assert {m["name"] for m in reader.case(old)["members"]} == {"[gewist]"}
    assert reader.case(old)["reason"] == "[gewist]"
    assert reader.case(recent)["members"][0]["name"] == "Karel de Vries"
    assert reader.case(running)["status"] == "taken-on"
    assert world.run("pim", RunRetention(on=run_on)).data["erased"] == []


def test_the_text_view_shows_erased_and_user_text_literally(world: World, cli: Any) -> None:
    case = taken_on_case(world, members=[MemberInput(name="[bold]Evil[/bold] Name", birth_date=BORN)])
    world.run(
        "anna",
        AgreeMeasure(
            case=case, life_domain="overlast", owner="mitros", description="[red]x[/red]", due=day(40), on=day(6)
        ),
    )
    person = first_person(world, case)
    world.store.close()
    shown = cli("case", "show", case, user="anna").out
    assert "[bold]Evil[/bold] Name" in shown  # typed text is never read as styling
    assert "[red]x[/red]" in shown
    assert cli("erase", person, "--ground", "granted-request", user="pim").code == 0
    shown = cli("case", "show", case, user="anna").out
    assert "[gewist]" in shown
    assert "Evil" not in shown

"""An information request's purpose is free text like any other: sealed, filtered, and shredded."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from helpers import World
from readable import readable
from scenarios import day, taken_on_case

from casusregie.commands.closure import CloseCase
from casusregie.commands.erasure import RunRetention
from casusregie.commands.information import RequestInformation

PURPOSE = "Nagaan of de ex-partner Piet Dorresteijn nog dreigt"  # names a third person
LATER = date.today() + timedelta(days=1)


def request(world: World) -> str:
    case = taken_on_case(world)
    world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose=PURPOSE,
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            on=day(4),
        ),
    )
    return case


def test_auditors_without_personal_data_never_see_a_purpose(world: World, cli: Any) -> None:
    case = request(world)
    for args in (
        ("case", "show", case),
        ("audit", "replay", case),
        ("audit", "diff", case, day(0).isoformat(), LATER.isoformat()),
        ("trail", "--case", case),
    ):
        for extra in ((), ("--json",)):
            result = cli(*args, *extra, user="aud")
            assert result.code == 0, (args, result.err)
            assert "Dorresteijn" not in result.out, args
            assert "[afgeschermd]" in result.out, args
    director = cli("case", "show", case, "--json", user="anna").json()
    assert director["requests"][0]["purpose"] == PURPOSE
    trail = cli("trail", "--case", case, "--json", user="anna").json()
    assert {e["purpose"] for e in trail if e["request"]} == {PURPOSE}
    partner = cli("case", "show", case, "--json", user="pol").json()
    assert partner["requests"][0]["purpose"] == PURPOSE  # the police must know why they are asked


def test_retention_shreds_the_purpose(world: World, cli: Any) -> None:
    case = request(world)
    assert PURPOSE in readable(world)
    world.run("anna", CloseCase(case=case, outcome="goals-met", despite="vroeg afgesloten", on=day(10)))
    years = world.app.profile.activity("regie-uitvoering").retention.years
    world.run("pim", RunRetention(on=day(10).replace(year=day(10).year + years) + timedelta(days=1)))
    after = readable(world)
    assert "Dorresteijn" not in after
    assert "J. Jansen" not in after  # the referring professional's name went with the case
    shown = cli("trail", "--case", case, "--json", user="pim").json()
    assert {e["purpose"] for e in shown if e["request"]} == {"[gewist]"}

"""`case list` is today's work: the open cases. Closed and declined ones come with `--closed`,
and only the households actually listed are logged as read."""

from __future__ import annotations

from typing import Any

from helpers import World
from scenarios import day, refer, take_on

from casusregie.commands.closure import CloseCase
from casusregie.commands.decision import DeclineCase


def _listed(cli: Any, *args: str) -> dict[str, str]:
    result = cli("case", "list", "--json", *args, user="anna")
    assert result.code == 0, result.err
    return {row["case"]: row["status"] for row in result.json()}


def _people_read_by_lists(cli: Any) -> list[set[str]]:
    rows = cli("log", "show", "--user", "anna", "--json", user="aud").json()
    return [set(r["subjects"]) for r in rows if r["name"] == "case.list"]


def test_closed_and_declined_cases_are_listed_only_when_asked_for(world: World, cli: Any) -> None:
    referred = refer(world, director="anna", name="Open Aanmelding")
    running = refer(world, director="anna", name="Lopende Regie")
    take_on(world, running)
    closed = refer(world, director="anna", name="Afgesloten Casus")
    take_on(world, closed)
    world.run("anna", CloseCase(case=closed, outcome="goals-met", despite="vroeg afgesloten", on=day(20)))
    declined = refer(world, director="anna", name="Niet In Regie")
    world.run("anna", DeclineCase(case=declined, advice="Schakel het buurtteam in.", on=day(2)))

    assert _listed(cli) == {referred: "referred", running: "taken-on"}
    assert _listed(cli, "--closed") == {
        referred: "referred",
        running: "taken-on",
        closed: "closed",
        declined: "declined",
    }
    default_list, closed_list = sorted(_people_read_by_lists(cli), key=len)  # one main resident per case
    assert len(default_list) == 2
    assert len(closed_list) == 4
    assert default_list < closed_list


def test_an_empty_list_of_open_cases_points_to_the_closed_ones(world: World, cli: Any) -> None:
    case = refer(world, director="anna")
    take_on(world, case)
    world.run("anna", CloseCase(case=case, outcome="goals-met", despite="vroeg afgesloten", on=day(20)))
    shown = cli("case", "list", user="anna")
    assert shown.code == 0
    assert "case list --closed" in shown.out
    assert case in cli("case", "list", "--closed", user="anna").out


def test_the_closed_flag_does_not_widen_who_may_see_what(world: World, cli: Any) -> None:
    own = refer(world, director="anna")
    take_on(world, own)
    world.run("anna", CloseCase(case=own, outcome="goals-met", despite="vroeg afgesloten", on=day(20)))
    other_team = refer(world, by="bram", director="bram")
    take_on(world, other_team, director="bram")
    world.run("bram", CloseCase(case=other_team, outcome="goals-met", despite="vroeg afgesloten", on=day(20)))

    assert set(_listed(cli, "--closed")) == {own}
    everyone = cli("case", "list", "--closed", "--all", "--json", user="anna").json()
    assert {row["case"]: row["household"] for row in everyone}[other_team] is None

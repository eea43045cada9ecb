"""Who may (re)assign a case director: managers any case; directors only within their own team."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import World
from scenarios import START

from casusregie.commands.referral import AssignDirector, MemberInput, ReferCase
from casusregie.commands.users import DeactivateUser
from casusregie.domain.errors import AccessDenied, ValidationFailed
from casusregie.projections.reader import Reader


def referral(**where: str) -> ReferCase:
    """Mitros refers a household; ``where`` names a team and/or a director."""
    return ReferCase(
        referring_org="mitros",
        referring_worker="J. Jansen",
        reason="overlast",
        problems={"overlast": "lawaai"},
        members=[MemberInput(name="Karel de Vries", birth_date=date(1979, 4, 12))],
        on=START,
        **where,
    )


def partner_referral(world: World, team: str) -> str:
    """Mitros refers a household to a team, without naming a director."""
    return str(world.run("piet", referral(team=team)).data["case"])


def denials(world: World, user: str) -> int:
    log = Reader(world.session("pim")).runner
    log.catch_up()
    with world.store.db.transaction(commit=False) as tx:
        return int(
            tx.scalar(
                "SELECT count(*) FROM regie_access_traces WHERE actor = ? AND outcome = 'denied' AND name = ?",
                (user, "case.assign"),
            )
        )


def test_a_director_of_another_team_cannot_take_an_unassigned_case(world: World) -> None:
    case = partner_referral(world, team="west")
    with pytest.raises(AccessDenied):
        world.run("bram", AssignDirector(case=case, director="bram"))
    assert denials(world, "bram") == 1
    assert world.session("anna").case(case).director is None


def test_a_director_takes_an_unassigned_case_of_their_own_team(world: World) -> None:
    case = partner_referral(world, team="west")
    world.run("anna", AssignDirector(case=case, director="anna"))
    assert world.session("anna").case(case).director == "anna"


def test_a_case_of_no_team_is_assigned_by_a_manager_only(world: World) -> None:
    case = partner_referral(world, team="")
    for director in ("anna", "bram"):
        with pytest.raises(AccessDenied):
            world.run(director, AssignDirector(case=case, director=director))
    world.run("mia", AssignDirector(case=case, director="bram"))
    found = world.session("bram").case(case)
    assert (found.director, found.team) == ("bram", "oost")


def test_a_director_hands_a_case_on_within_the_team_but_not_to_another_team(world: World) -> None:
    case = partner_referral(world, team="west")
    world.run("anna", AssignDirector(case=case, director="anna"))
    world.run("anna", AssignDirector(case=case, director="carla"))
    with pytest.raises(AccessDenied):
        world.run("carla", AssignDirector(case=case, director="bram"))
    with pytest.raises(AccessDenied):
        world.run("carla", AssignDirector(case=case, director="carla", team="oost"))
    found = world.session("carla").case(case)
    assert (found.director, found.team) == ("carla", "west")


def test_the_cli_refuses_a_takeover_from_another_team(cli: object) -> None:
    run = cli  # type: ignore[assignment]
    assert run("init", "--profile", "utrecht", "--admin", "beheer").code == 0
    for args in (
        ("user", "add", "anna", "--role", "regisseur", "--team", "west"),
        ("user", "add", "bram", "--role", "regisseur", "--team", "oost"),
        ("user", "add", "jan", "--role", "partner", "--org", "mitros"),
    ):
        assert run(*args, user="beheer").code == 0
    referred = run(
        "case", "refer", "--from", "mitros", "--worker", "J. Jansen", "--reason", "overlast",
        "--problem", "overlast=lawaai", "--member", "name=K. de Vries;born=1979-04-12", "--team", "west", "--json",
        user="jan",
    )  # fmt: skip
    case = referred.json()["case"]
    taken = run("case", "assign", case, "--director", "bram", user="bram")
    assert taken.code == 1
    assert "refused" in taken.err
    assert run("case", "assign", case, "--director", "anna", user="anna").code == 0


def test_a_referral_lands_in_the_named_directors_own_team_only(world: World) -> None:
    with pytest.raises(ValidationFailed, match="works in team oost, not west"):
        world.run("piet", referral(director="bram", team="west"))
    with pytest.raises(ValidationFailed, match="no case director works in team 'noord'"):
        world.run("piet", referral(team="noord"))
    case = str(world.run("piet", referral(director="bram")).data["case"])
    found = world.session("bram").case(case)
    assert (found.director, found.team) == ("bram", "oost")


def test_self_names_the_acting_director_and_a_deactivated_one_is_named_as_such(world: World) -> None:
    case = partner_referral(world, team="west")
    world.run("anna", AssignDirector(case=case, director="self"))
    assert world.session("anna").case(case).director == "anna"
    world.run("admin", DeactivateUser(user_id="carla", reason="uit dienst"))
    with pytest.raises(ValidationFailed, match="carla is deactivated"):
        world.run("anna", AssignDirector(case=case, director="carla"))

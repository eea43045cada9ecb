"""The casusoverleg across cases (seed 003: every six weeks in each neighbourhood).

One meeting with a chair and the partners at the table covers several cases. Each case's minutes
are recorded on that case, so only those who may read the case's minutes see them; a partner at
the table sees on the agenda only the cases its organisation is involved in.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import init_store, ok


def _case(cli: Any, name: str, referrer: str, user: str) -> str:
    number = ok(
        cli,
        "case",
        "refer",
        "--from",
        referrer,
        "--worker",
        "W",
        "--reason",
        "overlast",
        "--problem",
        "overlast=lawaai",
        "--member",
        f"name={name};born=1980-01-02",
        "--director",
        "anna",
        "--on",
        "2026-10-01",
        "--json",
        user=user,
    ).json()["case"]
    ok(cli, "case", "assess", number, "--acute-reason", "acuut", "--on", "2026-10-01")
    ok(cli, "case", "take-on", number, "--on", "2026-10-02")
    return str(number)


@pytest.fixture
def overleg(cli: Any) -> dict[str, str]:
    """Two of anna's cases, one referred by Mitros and one by the police, on one casusoverleg."""
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("olaf", "--role", "regisseur", "--team", "oost"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("pol", "--role", "partner", "--org", "politie"),
        ("lies", "--role", "partner", "--org", "lister"),
    )
    mitros_case = _case(cli, "Karel de Vries", "mitros", "piet")
    police_case = _case(cli, "Bram Bos", "politie", "pol")
    ref = ok(
        cli,
        "overleg",
        "plan",
        "--neighbourhood",
        "West",
        "--date",
        "2026-10-15",
        "--with",
        "mitros",
        "--with",
        "politie",
        "--on",
        "2026-10-05",
        "--json",
    ).json()["overleg"]
    for case in (mitros_case, police_case):
        ok(cli, "overleg", "agenda", ref, case, "--on", "2026-10-06")
    return {"overleg": str(ref), "mitros_case": mitros_case, "police_case": police_case}


def test_one_casusoverleg_covers_several_cases_with_minutes_on_each(cli: Any, overleg: dict[str, str]) -> None:
    ref, a, b = overleg["overleg"], overleg["mitros_case"], overleg["police_case"]
    person = ok(cli, "case", "show", a, "--json").json()["members"][0]["person"]
    ok(
        cli,
        "overleg",
        "discuss",
        ref,
        a,
        "--minutes",
        "afspraak: huurregeling",
        "--person",
        person,
        "--on",
        "2026-10-15",
    )
    ok(cli, "overleg", "discuss", ref, b, "--minutes", "afspraak: melding bij het OM", "--on", "2026-10-15")
    held = ok(cli, "overleg", "held", ref, "--attended", "mitros", "--attended", "politie", "--on", "2026-10-15")
    assert "held on 2026-10-15" in held.out
    doc = ok(cli, "overleg", "show", ref, "--json").json()
    assert [(i["case"], i["discussed"]) for i in doc["agenda"]] == [(a, True), (b, True)]
    assert (doc["chair"], doc["attended"]) == ("anna", ["mitros", "politie"])
    meeting = ok(cli, "case", "show", a, "--json").json()["meetings"][0]
    assert (meeting["kind"], meeting["conference"], meeting["minutes"]) == (
        "casusoverleg",
        ref,
        "afspraak: huurregeling",
    )
    assert meeting["participants"] == ["mitros"]  # only the partners at the table that are involved in this case
    assert meeting["persons"] == [person]  # the client took part (seed 004)


def test_a_partner_at_the_table_sees_only_its_own_cases_and_no_minutes(cli: Any, overleg: dict[str, str]) -> None:
    ref, a, b = overleg["overleg"], overleg["mitros_case"], overleg["police_case"]
    ok(cli, "overleg", "discuss", ref, a, "--minutes", "GEHEIM-VERSLAG-A", "--on", "2026-10-15")
    ok(cli, "overleg", "discuss", ref, b, "--minutes", "GEHEIM-VERSLAG-B", "--on", "2026-10-15")
    seen = ok(cli, "overleg", "show", ref, "--json", user="piet").json()
    assert [i["case"] for i in seen["agenda"]] == [a]
    assert seen["other_cases"] == 1
    assert b not in ok(cli, "overleg", "show", ref, user="piet").out
    case_view = ok(cli, "case", "show", a, "--json", user="piet").out
    assert "GEHEIM-VERSLAG" not in case_view
    assert cli("case", "show", b, user="piet").code == 1
    assert cli("overleg", "show", ref, user="lies").code == 1  # not at the table


def test_only_the_cases_director_puts_it_on_the_agenda_and_records_its_minutes(
    cli: Any, overleg: dict[str, str]
) -> None:
    ref, a = overleg["overleg"], overleg["mitros_case"]
    other_team = cli("overleg", "discuss", ref, a, "--minutes", "x", "--on", "2026-10-15", user="olaf")
    assert other_team.code == 1
    assert "refused" in other_team.err
    twice = cli("overleg", "agenda", ref, a, "--on", "2026-10-07", user="anna")
    assert twice.code == 1
    assert "already on the agenda" in twice.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("discuss", "{ref}", "{a}", "--minutes", "x", "--on", "2026-10-14"), "is planned for 2026-10-15"),
        (("discuss", "{ref}", "{a}", "--minutes", "x", "--attended", "lister"), "not at the table"),
        (("held", "{ref}", "--attended", "lister"), "not invited"),
        (("discuss", "WXXXXXX", "{a}", "--minutes", "x"), "unknown casusoverleg WXXXXXX"),
        (("plan", "--neighbourhood", "W", "--date", "2026-10-01", "--with", "nergens"), "unknown partner nergens"),
    ],
)
def test_a_wrong_step_is_refused_with_one_line_and_writes_nothing(
    cli: Any, overleg: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    before = ok(cli, "case", "show", overleg["mitros_case"], "--json").json()["version"]
    shown = ok(cli, "overleg", "show", overleg["overleg"], "--json").json()
    filled = [a.format(ref=overleg["overleg"], a=overleg["mitros_case"]) for a in args]
    result = cli("overleg", *filled, user="anna")
    assert result.code == 1
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert ok(cli, "case", "show", overleg["mitros_case"], "--json").json()["version"] == before
    assert ok(cli, "overleg", "show", overleg["overleg"], "--json").json() == shown


def test_only_the_chair_or_a_manager_closes_it(cli: Any, overleg: dict[str, str]) -> None:
    refused = cli("overleg", "held", overleg["overleg"], "--attended", "mitros", user="olaf")
    assert refused.code == 1
    assert "only the chair (anna)" in refused.err

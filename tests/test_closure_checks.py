"""Closing a case: what speaks against it must be answered with a reason, and aftercare is a task.

Closing warns when measures are open, the residents' letter is outstanding, no MDO was held or
the profile's minimum guidance has not passed; the director may close anyway, with a recorded
reason. Where the approach has an aftercare contact (seed 002: half a year after closure), it is
a task in the worklist until it is recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import access_items, init_store, ok, register_access_request

from casusregie.adapters.profile_file import builtin_profiles


def _store(cli: Any, profile: str) -> None:
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("pim", "--role", "privacy-officer"),
        profile=profile,
    )


def _taken_on(cli: Any, referred: str = "2026-01-05") -> str:
    case = ok(
        cli,
        "case",
        "refer",
        "--from",
        "mitros",
        "--worker",
        "J",
        "--reason",
        "overlast",
        "--problem",
        "overlast=lawaai",
        "--member",
        "name=Karel de Vries;born=1980-01-02",
        "--director",
        "anna",
        "--on",
        referred,
        "--json",
        user="piet",
    ).json()["case"]
    ok(cli, "case", "assess", case, "--acute-reason", "acuut", "--on", referred)
    ok(cli, "case", "take-on", case, "--on", referred)
    return str(case)


def _everything_done(cli: Any, case: str) -> None:
    """The letter sent, an MDO held, the one measure done: nothing speaks against closing."""
    ok(cli, "case", "letter", case, "--on", "2026-01-08")
    ok(cli, "meeting", "schedule", case, "--date", "2026-01-20", "--with", "mitros")
    ok(cli, "meeting", "held", case, "O1", "--attended", "mitros", "--minutes", "plan besproken", "--on", "2026-01-20")
    ok(
        cli,
        "plan",
        "measure",
        case,
        "--domain",
        "overlast",
        "--owner",
        "mitros",
        "--text",
        "gesprek",
        "--due",
        "2026-02-01",
        "--on",
        "2026-01-10",
    )
    ok(cli, "plan", "progress", case, "M1", "--status", "done", "--on", "2026-01-30")


@pytest.fixture
def utrecht(cli: Any) -> Any:
    _store(cli, "utrecht")
    return cli


def test_a_case_with_nothing_open_closes_without_a_reason(utrecht: Any) -> None:
    case = _taken_on(utrecht)
    _everything_done(utrecht, case)
    ok(utrecht, "case", "close", case, "--outcome", "goals-met", "--on", "2026-03-01")
    closure = ok(utrecht, "case", "show", case, "--json").json()["closures"][0]
    assert (closure["concerns"], closure["despite"]) == ([], None)


def test_a_reason_where_nothing_speaks_against_closing_is_refused(utrecht: Any) -> None:
    case = _taken_on(utrecht)
    _everything_done(utrecht, case)
    result = utrecht(
        "case", "close", case, "--outcome", "goals-met", "--despite", "x", "--on", "2026-03-01", user="anna"
    )
    assert result.code == 1
    assert "nothing speaks against closing" in result.err


def test_each_thing_that_speaks_against_closing_is_named_and_nothing_is_written(utrecht: Any) -> None:
    case = _taken_on(utrecht)
    ok(
        utrecht,
        "plan",
        "measure",
        case,
        "--domain",
        "overlast",
        "--owner",
        "mitros",
        "--text",
        "x",
        "--due",
        "2026-02-01",
        "--on",
        "2026-01-10",
    )
    before = ok(utrecht, "case", "show", case, "--json").json()["version"]
    refused = utrecht("case", "close", case, "--outcome", "goals-met", "--on", "2026-03-01", user="anna")
    assert refused.code == 1
    assert "cannot be closed on 2026-03-01 without a reason" in refused.err
    assert "measures still open: M1" in refused.err
    assert "the residents' letter is outstanding" in refused.err
    assert "no case conference (MDO) was held" in refused.err
    assert ok(utrecht, "case", "show", case, "--json").json()["version"] == before


def test_closing_anyway_records_what_spoke_against_it_and_why(utrecht: Any) -> None:
    case = _taken_on(utrecht)
    result = ok(
        utrecht,
        "case",
        "close",
        case,
        "--outcome",
        "moved-away",
        "--despite",
        "verhuisd naar Zwolle",
        "--on",
        "2026-02-01",
    )
    assert "closed despite: the residents' letter is outstanding; no case conference (MDO) was held" in result.out
    closure = ok(utrecht, "case", "show", case, "--json").json()["closures"][0]
    assert closure["concerns"] == ["the residents' letter is outstanding", "no case conference (MDO) was held"]
    assert closure["despite"] == "verhuisd naar Zwolle"
    text = " ".join(ok(utrecht, "case", "show", case).out.split())
    assert "reason: verhuisd naar Zwolle" in text


def test_zwolle_keeps_a_year_of_guidance_before_closing_without_a_reason(cli: Any) -> None:
    assert cli("init", "--profile", "zwolle", "--admin", "admin").code == 0
    assert cli("user", "add", "zoe", "--role", "regisseur", "--team", "noord", user="admin").code == 0
    assert cli("user", "add", "wim", "--role", "partner", "--org", "swz", user="admin").code == 0
    case = ok(
        cli,
        "case",
        "refer",
        "--from",
        "swz",
        "--worker",
        "W",
        "--reason",
        "zorgen",
        "--problem",
        "gezin=x",
        "--member",
        "name=Kim Kaya;born=1990-03-03",
        "--director",
        "zoe",
        "--on",
        "2025-01-02",
        "--json",
        user="wim",
    ).json()["case"]
    ok(cli, "case", "home-visit", case, "--on", "2025-01-03", user="zoe")
    ok(
        cli,
        "case",
        "assess",
        case,
        "--criterion",
        "multiprobleemhuishouden",
        "--criterion",
        "overlast-of-huisuitzetting",
        "--on",
        "2025-01-03",
        user="zoe",
    )
    ok(cli, "case", "consent", case, "--given", "--on", "2025-01-03", user="zoe")  # after the home visit (seed 004)
    ok(cli, "case", "take-on", case, "--on", "2025-01-06", user="zoe")
    early = cli("case", "close", case, "--outcome", "goals-met", "--on", "2025-12-01", user="zoe")
    assert early.code == 1
    assert "the minimum guidance of 12 months runs until 2026-01-06" in early.err


@pytest.fixture
def with_aftercare(cli: Any, tmp_path: Path) -> Any:
    """Utrecht's profile with an aftercare contact half a year after closure, as seed 002 describes."""
    text = builtin_profiles()["utrecht-extreme-woonoverlast"].read_text(encoding="utf-8")
    profile = tmp_path / "met-nazorg.toml"
    profile.write_text(text.replace("[intake]", "aftercare_contact_months = 6\n\n[intake]", 1), encoding="utf-8")
    _store(cli, str(profile))
    return cli


def test_the_aftercare_contact_is_a_task_until_it_is_recorded(with_aftercare: Any) -> None:
    cli = with_aftercare
    case = _taken_on(cli)
    closed = ok(cli, "case", "close", case, "--outcome", "goals-met", "--despite", "klaar", "--on", "2026-03-31")
    assert "aftercare contact due 2026-09-30" in closed.out
    items = ok(cli, "worklist", "--date", "2026-10-01", "--json").json()["items"]
    assert [(i["kind"], i["case"], i["due_on"], i["overdue"]) for i in items] == [
        ("aftercare", case, "2026-09-30", True)
    ]
    assert cli("case", "aftercare", case, "--on", "2026-03-30", user="anna").code == 1  # before the closure
    ok(cli, "case", "aftercare", case, "--note", "gaat goed", "--on", "2026-10-02")
    assert ok(cli, "worklist", "--date", "2026-10-03", "--json").json()["items"] == []
    again = cli("case", "aftercare", case, "--on", "2026-10-04", user="anna")
    assert again.code == 1
    assert "was recorded on 2026-10-02" in again.err
    closure = ok(cli, "case", "show", case, "--json").json()["closures"][0]
    assert (closure["aftercare_contacted_on"], closure["aftercare_contact_note"]) == ("2026-10-02", "gaat goed")


def test_aftercare_follows_a_closure(with_aftercare: Any) -> None:
    case = _taken_on(with_aftercare)
    refused = with_aftercare("case", "aftercare", case, "--on", "2026-02-01", user="anna")
    assert refused.code == 1
    assert "is not closed" in refused.err


def test_the_reason_to_close_anyway_is_part_of_the_access_answer(utrecht: Any) -> None:
    case = _taken_on(utrecht)
    ok(
        utrecht,
        "case",
        "close",
        case,
        "--outcome",
        "moved-away",
        "--despite",
        "verhuisd naar Zwolle",
        "--on",
        "2026-02-01",
    )
    person = ok(utrecht, "case", "show", case, "--json").json()["members"][0]["person"]
    reference = register_access_request(utrecht, person, "2026-03-01", "Karel de Vries")
    items = {key: item["summary"] for key, item in access_items(utrecht, reference).items()}
    assert "verhuisd naar Zwolle" in items["closure-despite:1"]

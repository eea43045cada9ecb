"""What the seeds' walkthroughs found recorded or shown wrongly, as a case director meets it in the CLI.

Each test names the mistake it guards against: a team left empty, a verdict that said the
opposite of what was decided, a late decision accepted silently, a repealed law's ground in a
2026 letter, a reopened case counted twice, a text view that hid what the JSON view holds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from helpers import init_store, ok, register_access_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casusregie.adapters.profile_file import PROFILE_DIR
from casusregie.projections.report import _days

REFER = [
    "case",
    "refer",
    "--from",
    "mitros",
    "--worker",
    "J. Jansen",
    "--reason",
    "overlast",
    "--problem",
    "overlast=lawaai",
    "--member",
    "name=Karel de Vries;born=1980-01-02;bsn=111222333",
]


@pytest.fixture
def store(cli: Any) -> Any:
    """A Utrecht store with two directors of team west, one of team oost, a partner, a manager, a privacy officer."""
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("bea", "--role", "regisseur", "--team", "west"),
        ("olaf", "--role", "regisseur", "--team", "oost"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("mo", "--role", "manager"),
        ("pim", "--role", "privacy-officer"),
    )
    return cli


def refer(cli: Any, on: str, *extra: str) -> str:
    return str(ok(cli, *REFER, "--on", on, "--director", "anna", *extra, "--json", user="piet").json()["case"])


def acute(cli: Any, case: str, on: str) -> None:
    ok(cli, "case", "assess", case, "--acute-reason", "acuut gevaar", "--on", on)


def test_a_partners_referral_to_a_named_director_lands_in_that_directors_team(store: Any) -> None:
    case = refer(store, "2026-11-02")
    shown = ok(store, "case", "show", case, "--json", user="bea").json()  # a teammate of anna
    assert (shown["director"], shown["team"]) == ("anna", "west")
    assert store("case", "show", case, user="olaf").code == 1  # another team's director is refused
    caseload = ok(store, "caseload", "--json", user="mo").json()
    assert [(row["director"], row["team"]) for row in caseload] == [("anna", "west")]


def test_an_acute_override_says_the_case_may_be_taken_on(store: Any) -> None:
    case = refer(store, "2026-11-02")
    result = ok(store, "case", "assess", case, "--acute-reason", "acuut gevaar", "--on", "2026-11-03")
    assert "criteria set aside for an acute situation" in result.out
    assert "may be taken on" in result.out
    assert "does not meet" not in result.out
    refused = ok(store, "case", "assess", case, "--criterion", "woninggebonden", "--on", "2026-11-03")
    assert "does not meet the criteria (1 of 2 required criteria hold)" in refused.out


def test_a_late_intake_decision_needs_its_reason_and_is_counted(store: Any, env: dict[str, str]) -> None:
    case = refer(store, "2026-11-02")  # Utrecht: a decision within five calendar days, by 2026-11-07
    acute(store, case, "2026-11-03")
    silent = store("case", "take-on", case, "--on", "2026-11-10", user="anna")
    assert silent.code == 1
    assert "was due on 2026-11-07" in silent.err
    assert "late" in silent.err
    ok(store, "case", "take-on", case, "--on", "2026-11-10", "--late-reason", "wachten op de corporatie")
    decision = ok(store, "case", "show", case, "--json").json()["decision"]
    assert decision["due_on"] == "2026-11-07"
    assert decision["late_reason"] == "wachten op de corporatie"
    assert "late: wachten op de corporatie" in ok(store, "case", "show", case).out

    on_time = refer(store, "2026-11-02")
    acute(store, on_time, "2026-11-03")
    needless = store("case", "take-on", on_time, "--on", "2026-11-04", "--late-reason", "x", user="anna")
    assert needless.code == 1
    assert "within the intake deadline" in needless.err
    ok(store, "case", "take-on", on_time, "--on", "2026-11-04")

    declined_late = refer(store, "2026-11-02")
    refused = store("case", "decline", declined_late, "--advice", "schuldhulp", "--on", "2026-11-20", user="anna")
    assert refused.code == 1
    ok(
        store,
        "case",
        "decline",
        declined_late,
        "--advice",
        "schuldhulp",
        "--late-reason",
        "ziekte",
        "--on",
        "2026-11-20",
    )

    report = ok(store, "report", "--from", "2026-11-01", "--to", "2026-11-30", "--json", user="mo").json()
    assert report["deadlines"]["intake"] == {"on_time": 1, "late": 2}
    assert "intake: 1 on time, 2 late" in ok(store, "report", "--from", "2026-11-01", "--to", "2026-11-30").out


def test_a_reopened_case_is_one_closed_case_and_one_reopening(store: Any) -> None:
    case = refer(store, "2026-01-05")
    acute(store, case, "2026-01-06")
    ok(store, "case", "take-on", case, "--on", "2026-01-07")
    ok(store, "case", "close", case, "--outcome", "goals-met", "--despite", "op verzoek", "--on", "2026-03-01")
    ok(store, "case", "reopen", case, "--reason", "terugval", "--on", "2026-04-01")
    ok(store, "case", "close", case, "--outcome", "partly-met", "--despite", "op verzoek", "--on", "2026-06-01")
    year = ok(store, "report", "--from", "2026-01-01", "--to", "2026-12-31", "--json", user="mo").json()
    assert (year["closed"], year["reopened"]) == (1, 1)
    assert year["closed_by_outcome"] == {"partly-met": 1}
    assert year["median_duration_days"] == 147  # referral to the last closure
    spring = ok(store, "report", "--from", "2026-03-01", "--to", "2026-04-30", "--json", user="mo").json()
    assert (spring["closed"], spring["reopened"], spring["open_at_end"]) == (0, 1, 1)


def test_a_median_of_whole_days_prints_without_a_fraction(store: Any) -> None:
    for closed in ("2026-02-25", "2026-11-28"):  # 86 and 362 days after the referral
        case = refer(store, "2025-12-01")
        acute(store, case, "2025-12-02")
        ok(store, "case", "take-on", case, "--on", "2025-12-03")
        ok(store, "case", "close", case, "--outcome", "goals-met", "--despite", "op verzoek", "--on", closed)
    out = ok(store, "report", "--from", "2025-12-01", "--to", "2026-12-31", user="mo").out
    assert re.search(r"median duration days\s*│\s*224\s*│", out), out


@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=9))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_median_is_whole_where_it_can_be(days: list[int]) -> None:
    from statistics import median

    shown = _days(median(days))
    assert shown == median(days)
    assert isinstance(shown, int) or str(shown).endswith(".5")


def test_a_wbp_ground_is_refused_for_processing_after_may_2018(store: Any) -> None:
    case = refer(store, "2026-11-02")
    person = ok(store, "case", "show", case, "--json").json()["members"][0]["person"]
    reference = register_access_request(store, person, "2026-11-20", "Karel de Vries")
    withhold = ["request", "withhold", reference, "data:reason", "--motivation", "bescherming melders", "--what", "w"]
    wrong = store(*withhold, "--ground", "wbp:b", user="pim")
    assert wrong.code == 1
    assert "after the Wbp was repealed (25 May 2018)" in wrong.err
    assert "UAVG art. 41(1)" in wrong.err
    assert store(*withhold, "--ground", "avg:b", user="pim").code == 1  # no such law prefix
    ok(store, *withhold, "--ground", "i", user="pim")
    shown = ok(store, "request", "show", reference, "--json", user="pim").json()
    assert "Wbp" not in json.dumps(shown)


def test_the_text_view_holds_what_the_json_view_holds(store: Any) -> None:
    case = refer(store, "2026-01-05", "--corporation-home", "mitros")
    ok(
        store,
        "case",
        "assess",
        case,
        "--criterion",
        "woninggebonden",
        "--criterion",
        "meerdere-vormen",
        "--on",
        "2026-01-06",
    )
    ok(store, "case", "ask-corporation", case, "--on", "2026-01-06")
    ok(store, "case", "corporation-answer", case, "--consent", "--on", "2026-01-07", user="piet")
    ok(store, "case", "take-on", case, "--on", "2026-01-08")
    ok(store, "case", "letter", case, "--on", "2026-01-09")
    ok(
        store,
        "case",
        "close",
        case,
        "--outcome",
        "goals-met",
        "--aftercare",
        "bellen",
        "--despite",
        "geen MDO nodig",
        "--on",
        "2026-03-01",
    )
    ok(store, "case", "reopen", case, "--reason", "terugval", "--on", "2026-04-01")
    doc = ok(store, "case", "show", case, "--json").json()
    text = ok(store, "case", "show", case).out
    flat = " ".join(text.split())
    missing = [
        (path, value)
        for path, value in _leaves(doc)
        if isinstance(value, str) and path[-1] not in ("id", "status") and value not in flat
    ]
    assert not missing, missing
    assert "corporation consent (mitros): asked 2026-01-06" in flat
    assert "answer yes 2026-01-07 by piet" in flat
    assert flat.index("closed 2026-03-01") < flat.index("reopened 2026-04-01 by anna: terugval")


def test_the_text_view_shows_the_home_visit_and_the_residents_consent(cli: Any) -> None:
    assert cli("init", "--profile", "zwolle", "--admin", "admin").code == 0
    assert cli("user", "add", "zoe", "--role", "regisseur", "--team", "noord", user="admin").code == 0
    partner = "swz"
    assert cli("user", "add", "wim", "--role", "partner", "--org", partner, user="admin").code == 0
    case = ok(
        cli,
        "case",
        "refer",
        "--from",
        partner,
        "--worker",
        "W. Wit",
        "--reason",
        "zorgen",
        "--problem",
        "gezin=x",
        "--member",
        "name=Kim Kaya;born=1990-03-03",
        "--director",
        "zoe",
        "--on",
        "2026-11-02",
        "--json",
        user="wim",
    ).json()["case"]
    ok(cli, "case", "home-visit", case, "--note", "stemt in met bemiddeling", "--on", "2026-11-04", user="zoe")
    ok(cli, "case", "consent", case, "--given", "--on", "2026-11-05", user="zoe")
    flat = " ".join(ok(cli, "case", "show", case, user="zoe").out.split())
    assert "home visit (huisbezoek) 2026-11-04 by zoe: stemt in met bemiddeling" in flat
    assert "residents' consent: given 2026-11-05" in flat


def test_the_worklist_says_each_task_once(store: Any) -> None:
    case = refer(store, "2026-11-02")
    acute(store, case, "2026-11-03")
    ok(store, "case", "take-on", case, "--on", "2026-11-04")
    out = ok(store, "worklist", "--date", "2027-03-01").out
    assert "evaluatie van het plan" in out
    assert "brief aan bewoners" in out
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        for cell in cells:
            head, _, tail = cell.partition(": ")
            assert not tail or head != tail, line


def test_the_trail_and_the_access_log_never_cut_a_value_off(store: Any) -> None:
    case = refer(store, "2026-11-02")
    ok(store, "case", "show", case)
    for args, user in ((("log", "show"), "pim"), (("trail", "--case", case), "pim"), (("case", "list"), "anna")):
        out = ok(store, *args, user=user).out
        assert "…" not in out, (args, out)


def test_profile_list_says_where_the_shipped_profiles_are(cli: Any) -> None:
    out = ok(cli, "profile", "list").out
    # whole, on one line each, however deep the checkout lies (CI's path is longer than ours)
    assert f"{PROFILE_DIR}/\n" in out
    assert "check it with `regie profile check FILE`\n" in out
    files = cli("profile", "list", "--json").json()
    assert all(row["file"].endswith(".toml") for row in files)


def _leaves(doc: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(doc, dict):
        return [leaf for k, v in doc.items() for leaf in _leaves(v, (*path, str(k)))]
    if isinstance(doc, list):
        return [leaf for v in doc for leaf in _leaves(v, path)]
    return [(path, doc)]

"""Problems that change during the case: added, described anew, resolved, never overwritten."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import access_items, init_store, ok, register_access_request

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
    "overlast=lawaai 's nachts",
    "--problem",
    "financiën=huurachterstand",
    "--member",
    "name=Karel de Vries;born=1980-01-02",
    "--director",
    "anna",
    "--on",
    "2026-10-01",
    "--json",
]


@pytest.fixture
def case(cli: Any) -> str:
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("pol", "--role", "partner", "--org", "politie"),
        ("pim", "--role", "privacy-officer"),
    )
    result = cli(*REFER, user="piet")
    assert result.code == 0, result.err
    return str(result.json()["case"])


def test_a_problem_is_added_described_anew_and_resolved_with_its_history_kept(cli: Any, case: str) -> None:
    ok(cli, "case", "problem", "add", case, "--domain", "gezondheid", "--text", "verward gedrag", "--on", "2026-10-05")
    ok(
        cli,
        "case",
        "problem",
        "update",
        case,
        "--domain",
        "overlast",
        "--text",
        "lawaai en dreiging",
        "--on",
        "2026-10-06",
    )
    resolved = ok(
        cli,
        "case",
        "problem",
        "resolve",
        case,
        "--domain",
        "financiën",
        "--note",
        "regeling getroffen",
        "--on",
        "2026-11-01",
    )
    assert "open problems: overlast, gezondheid" in resolved.out
    doc = ok(cli, "case", "show", case, "--json").json()
    assert doc["problems"] == {"overlast": "lawaai en dreiging", "gezondheid": "verward gedrag"}
    assert doc["resolved_problems"] == [
        {
            "life_domain": "financiën",
            "description": "huurachterstand",
            "resolved_on": "2026-11-01",
            "by": "anna",
            "note": "regeling getroffen",
        }
    ]
    assert [(h["life_domain"], h["change"], h["text"]) for h in doc["problem_history"]] == [
        ("gezondheid", "added", "verward gedrag"),
        ("overlast", "updated", "lawaai 's nachts"),  # the description it replaced
        ("financiën", "resolved", "regeling getroffen"),
    ]
    text = " ".join(ok(cli, "case", "show", case).out.split())
    assert "financiën (resolved 2026-11-01 by anna): huurachterstand; regeling getroffen" in text
    assert "overlast updated 2026-10-06 by anna (was: lawaai 's nachts)" in text


def test_a_resolved_problem_that_comes_back_is_added_again(cli: Any, case: str) -> None:
    ok(cli, "case", "problem", "resolve", case, "--domain", "financiën", "--on", "2026-10-10")
    ok(cli, "case", "problem", "add", case, "--domain", "financiën", "--text", "nieuwe schuld", "--on", "2026-11-10")
    doc = ok(cli, "case", "show", case, "--json").json()
    assert doc["problems"]["financiën"] == "nieuwe schuld"
    assert doc["resolved_problems"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "--domain", "wonen", "--text", "x"), "unknown life domain 'wonen'"),
        (("add", "--domain", "overlast", "--text", "x"), "already has a problem on overlast; update it instead"),
        (("update", "--domain", "gezondheid", "--text", "x"), "no open problem on 'gezondheid'"),
        (("resolve", "--domain", "gezondheid"), "no open problem on 'gezondheid'"),
        (("add", "--domain", "gezondheid", "--text", "x", "--on", "2026-09-01"), "cannot be before the referral"),
        (("add", "--domain", "gezondheid", "--text", "  "), "description: String should have at least 1 character"),
    ],
)
def test_a_wrong_change_is_refused_with_a_clear_line_and_writes_nothing(
    cli: Any, case: str, args: tuple[str, ...], message: str
) -> None:
    before = ok(cli, "case", "show", case, "--json").json()
    verb, *rest = args
    result = cli("case", "problem", verb, case, *rest, user="anna")
    assert result.code == 1
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    after = ok(cli, "case", "show", case, "--json").json()
    assert before["version"] == after["version"]


def test_only_the_director_changes_problems_and_partners_do_not_see_them(cli: Any, case: str) -> None:
    refused = cli("case", "problem", "add", case, "--domain", "gezondheid", "--text", "x", user="piet")
    assert refused.code == 1
    assert "refused" in refused.err
    ok(cli, "case", "problem", "update", case, "--domain", "overlast", "--text", "dreiging", "--on", "2026-10-06")
    assert cli("case", "show", case, user="pol").code == 1  # the police are not involved
    referrer = ok(cli, "case", "show", case, "--json", user="piet").json()  # the referrer sees the household only
    assert not {"problems", "problem_history", "resolved_problems"} & set(referrer)
    assert "dreiging" not in ok(cli, "case", "show", case, user="piet").out


def test_an_earlier_description_is_part_of_the_access_answer(cli: Any, case: str) -> None:
    ok(cli, "case", "problem", "update", case, "--domain", "overlast", "--text", "dreiging", "--on", "2026-10-06")
    person = ok(cli, "case", "show", case, "--json").json()["members"][0]["person"]
    reference = register_access_request(cli, person, "2026-11-20", "Karel de Vries")
    summaries = {key: item["summary"] for key, item in access_items(cli, reference).items()}
    assert "dreiging" in summaries["data:problem:overlast"]
    earlier = [s for key, s in summaries.items() if key.startswith("data:problem-earlier:")]
    assert earlier
    assert "lawaai 's nachts" in earlier[0]

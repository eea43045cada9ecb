"""The wider network: persons outside the household, several households in one case, organisations ad hoc.

Seed 003: nuisance between neighbours. The neighbours who report it are persons of the case with
their own key (their data is in their access answer and goes with their erasure), seen by the
case's director and team only: a reporter's identity is not for the partners. A second household
sits in the same case under its own label. The Veiligheidshuis, not a standing partner of the
profile, is involved ad hoc with its legal basis and receives the warm handover at closure.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import access_items, init_store, ok, register_access_request


@pytest.fixture
def case(cli: Any) -> str:
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("mo", "--role", "manager"),
        ("pim", "--role", "privacy-officer"),
    )
    number = ok(
        cli,
        "case",
        "refer",
        "--from",
        "mitros",
        "--worker",
        "J",
        "--reason",
        "overlast tussen buren",
        "--problem",
        "overlast=lawaai",
        "--member",
        "name=Karel de Vries;born=1980-01-02",
        "--member",
        "name=Bea Boven;born=1970-03-03;household=bovenburen",
        "--director",
        "anna",
        "--on",
        "2026-10-01",
        "--json",
        user="piet",
    ).json()["case"]
    ok(cli, "case", "assess", number, "--acute-reason", "acuut", "--on", "2026-10-01")
    ok(cli, "case", "take-on", number, "--on", "2026-10-02")
    return str(number)


def add_reporter(cli: Any, case: str) -> str:
    result = ok(
        cli,
        "case",
        "add-person",
        case,
        "--name",
        "Mieke Melder",
        "--relation",
        "melder",
        "--household",
        "benedenburen",
        "--contact",
        "06-12345678",
        "--on",
        "2026-10-03",
        "--json",
    )
    return str(result.json()["person"])


def test_a_reporter_is_a_person_of_the_case_seen_by_the_director_only(cli: Any, case: str) -> None:
    reporter = add_reporter(cli, case)
    members = ok(cli, "case", "show", case, "--json").json()["members"]
    by_ref = {m["person"]: m for m in members}
    assert by_ref[reporter]["role"] == "melder"
    assert by_ref[reporter]["household"] == "benedenburen"
    assert by_ref[reporter]["contact"] == "06-12345678"
    assert [m.get("household") for m in members[:2]] == [None, "bovenburen"]  # two households in one case
    text = " ".join(ok(cli, "case", "show", case).out.split())
    assert "Mieke Melder" in text
    assert "bovenburen" in text
    partner = ok(cli, "case", "show", case, "--json", user="piet")
    assert "Mieke" not in partner.out
    assert reporter not in partner.out
    assert "Bea Boven" in partner.out  # the households' members stay visible to an involved partner
    ok(cli, "case", "escalate", case, "--level", "2", "--reason", "stokt", "--on", "2026-10-04")
    assert "Mieke" not in ok(cli, "case", "show", case, "--json", user="mo").out


def test_a_reporter_is_an_access_subject_of_the_directors_read_not_of_a_partners(cli: Any, case: str) -> None:
    add_reporter(cli, case)
    ok(cli, "case", "show", case, user="anna")
    ok(cli, "case", "show", case, user="piet")
    log = ok(cli, "log", "show", "--json", user="pim").json()
    reads = {r["actor"]: r["subjects"] for r in log if r["name"] == "case.show"}
    assert len(reads["anna"]) == 3  # the two households' members and the reporter
    assert len(reads["piet"]) == 2  # the reporter is not in what the partner saw
    assert set(reads["piet"]) < set(reads["anna"])


def test_the_reporters_access_answer_holds_their_own_data(cli: Any, case: str) -> None:
    reporter = add_reporter(cli, case)
    reference = register_access_request(cli, reporter, "2026-11-01", "Mieke Melder")
    items = access_items(cli, reference)
    assert "Mieke Melder" in items["data:name"]["summary"]
    assert "06-12345678" in items["data:contact"]["summary"]
    assert "Rol in de casus" in items["data:role"]["summary"]
    assert "data:birth_date" not in items  # not known for a person of the network


def test_erasing_a_reporter_leaves_the_household(cli: Any, case: str) -> None:
    reporter = add_reporter(cli, case)
    ok(cli, "erase", reporter, "--ground", "retention-expired", user="pim")
    members = {m["person"]: m for m in ok(cli, "case", "show", case, "--json").json()["members"]}
    assert (members[reporter]["name"], members[reporter]["contact"], members[reporter]["erased"]) == (
        "[gewist]",
        "[gewist]",
        True,
    )
    assert "Karel de Vries" in [m["name"] for m in members.values()]


def test_an_organisation_outside_the_profile_is_involved_ad_hoc_and_takes_over_at_closure(cli: Any, case: str) -> None:
    refused = cli("case", "involve", case, "veiligheidshuis", user="anna")
    assert refused.code == 1
    assert "not a partner in the profile" in refused.err
    ok(
        cli,
        "case",
        "involve",
        case,
        "veiligheidshuis",
        "--name",
        "Veiligheidshuis Utrecht",
        "--basis",
        "Convenant Veiligheidshuis; art. 6 lid 1 sub e AVG",
        "--on",
        "2026-10-05",
    )
    doc = ok(cli, "case", "show", case, "--json").json()
    assert "veiligheidshuis" in doc["involved"]
    assert doc["ad_hoc_organisations"] == [
        {
            "organisation": "veiligheidshuis",
            "name": "Veiligheidshuis Utrecht",
            "legal_basis": "Convenant Veiligheidshuis; art. 6 lid 1 sub e AVG",
            "on": "2026-10-05",
            "by": "anna",
        }
    ]
    ok(cli, "meeting", "schedule", case, "--date", "2026-10-10", "--with", "veiligheidshuis", "--with", "mitros")
    ok(
        cli,
        "case",
        "close",
        case,
        "--outcome",
        "escalated",
        "--aftercare",
        "het Veiligheidshuis neemt het over",
        "--handover",
        "veiligheidshuis",
        "--despite",
        "overdracht aan het Veiligheidshuis",
        "--on",
        "2026-10-20",
    )
    closure = ok(cli, "case", "show", case, "--json").json()["closures"][0]
    assert closure["handover_to"] == "veiligheidshuis"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("mitros", "--name", "Mitros", "--basis", "x"), "a standing partner of the profile"),
        (("nieuw-org", "--name", "Nieuw"), "not a partner in the profile"),
        (("Veiligheids Huis", "--name", "V", "--basis", "x"), "partner"),
    ],
)
def test_a_wrong_involvement_is_refused_and_writes_nothing(
    cli: Any, case: str, args: tuple[str, ...], message: str
) -> None:
    before = ok(cli, "case", "show", case, "--json").json()["version"]
    result = cli("case", "involve", case, *args, user="anna")
    assert result.code == 1
    assert message in result.err
    assert ok(cli, "case", "show", case, "--json").json()["version"] == before


def test_only_the_director_adds_persons_and_a_wrong_relation_is_refused(cli: Any, case: str) -> None:
    refused = cli("case", "add-person", case, "--name", "X", "--relation", "melder", user="piet")
    assert refused.code == 1
    assert "refused" in refused.err
    wrong = cli("case", "add-person", case, "--name", "X", "--relation", "vijand", user="anna")
    assert wrong.code == 2
    assert "vijand" in wrong.err

"""The case journal (contactjournaal): notes and contact moments, corrected by a later entry, never edited.

An entry about one household member is sealed with that person's key: it is part of their access
answer, not of their co-residents', and it goes with them when they are erased. Only the case's
director and team read the journal.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import access_items, init_store, ok, register_access_request


@pytest.fixture
def case(cli: Any) -> dict[str, str]:
    """A Utrecht case taken on by anna, with a mother and a son; mitros referred it."""
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("bea", "--role", "regisseur", "--team", "west"),
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
        "overlast",
        "--problem",
        "overlast=lawaai",
        "--member",
        "name=Els Bakker;born=1975-05-05",
        "--member",
        "name=Tim Bakker;born=2005-06-06;role=kind",
        "--director",
        "anna",
        "--on",
        "2026-10-01",
        "--json",
        user="piet",
    ).json()["case"]
    ok(cli, "case", "assess", number, "--acute-reason", "acuut", "--on", "2026-10-02")
    ok(cli, "case", "take-on", number, "--on", "2026-10-02")
    members = ok(cli, "case", "show", number, "--json").json()["members"]
    return {"case": number, "mother": members[0]["person"], "son": members[1]["person"]}


def journal(cli: Any, case: str, user: str = "anna") -> list[dict[str, Any]]:
    return list(ok(cli, "case", "show", case, "--json", user=user).json()["journal"])


def test_a_note_and_a_contact_moment_are_written_in_the_journal(cli: Any, case: dict[str, str]) -> None:
    c = case["case"]
    note = ok(cli, "case", "note", c, "--text", "dossier doorgenomen", "--on", "2026-10-03", "--json").json()
    assert note["entry"] == "N1"
    contact = ok(
        cli,
        "case",
        "note",
        c,
        "--channel",
        "huisbezoek",
        "--with",
        "Els en haar zus",
        "--about",
        case["mother"],
        "--text",
        "Els wil hulp bij de schulden",
        "--on",
        "2026-10-05",
    )
    assert "contact moment N2" in contact.out
    entries = journal(cli, c, user="bea")  # a teammate reads it too
    assert [(e["entry"], e["kind"], e["channel"], e["with"], e["about"], e["text"]) for e in entries] == [
        ("N1", "note", None, None, None, "dossier doorgenomen"),
        ("N2", "contact", "huisbezoek", "Els en haar zus", case["mother"], "Els wil hulp bij de schulden"),
    ]
    text = " ".join(ok(cli, "case", "show", c).out.split())
    assert "N2 2026-10-05 huisbezoek with Els en haar zus, about " + case["mother"] in text


def test_a_wrong_entry_is_corrected_by_a_later_one_and_both_stay(cli: Any, case: dict[str, str]) -> None:
    c = case["case"]
    ok(cli, "case", "note", c, "--text", "gesprek op dinsdag", "--on", "2026-10-06")
    ok(cli, "case", "note", c, "--corrects", "N1", "--text", "het gesprek was op woensdag", "--on", "2026-10-07")
    entries = journal(cli, c)
    assert [(e["entry"], e["text"], e["corrects"], e["corrected_by"]) for e in entries] == [
        ("N1", "gesprek op dinsdag", None, "N2"),
        ("N2", "het gesprek was op woensdag", "N1", None),
    ]
    again = cli("case", "note", c, "--corrects", "N1", "--text", "x", "--on", "2026-10-08", user="anna")
    assert again.code == 1
    assert "N1 was already corrected by N2" in again.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--corrects", "N9", "--text", "x"), "has no journal entry N9"),
        (("--with", "buurman", "--text", "x"), "a contact moment names its channel"),
        (("--channel", "postduif", "--text", "x"), "postduif"),
        (("--about", "PXXXXXX", "--text", "x"), "no household member PXXXXXX"),
        (("--text", "x", "--on", "2026-09-01"), "cannot be before the referral"),
        (("--text", "   "), "text: String should have at least 1 character"),
    ],
)
def test_a_wrong_entry_is_refused_and_nothing_is_written(
    cli: Any, case: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    before = ok(cli, "case", "show", case["case"], "--json").json()["version"]
    result = cli("case", "note", case["case"], *args, user="anna")
    assert result.code in (1, 2)
    assert message in result.err
    assert ok(cli, "case", "show", case["case"], "--json").json()["version"] == before


def test_only_the_director_and_team_write_and_read_the_journal(cli: Any, case: dict[str, str]) -> None:
    c = case["case"]
    refused = cli("case", "note", c, "--text", "x", user="piet")
    assert refused.code == 1
    assert "refused" in refused.err
    ok(cli, "case", "note", c, "--text", "vertrouwelijk: zorgen over Tim", "--about", case["son"], "--on", "2026-10-03")
    partner = ok(cli, "case", "show", c, "--json", user="piet").json()
    assert "journal" not in partner
    assert "vertrouwelijk" not in ok(cli, "case", "show", c, user="piet").out
    ok(cli, "case", "escalate", c, "--level", "2", "--reason", "stokt", "--on", "2026-10-04")
    manager = ok(cli, "case", "show", c, "--json", user="mo").json()
    assert "journal" not in manager


def _access_items(cli: Any, person: str) -> dict[str, dict[str, Any]]:
    reference = register_access_request(cli, person, "2026-11-01", "x")
    return access_items(cli, reference)


def test_an_entry_about_a_person_is_in_their_access_answer_and_not_in_a_co_residents(
    cli: Any, case: dict[str, str]
) -> None:
    c = case["case"]
    ok(cli, "case", "note", c, "--about", case["son"], "--text", "Tim spijbelt", "--on", "2026-10-03")
    ok(cli, "case", "note", c, "--text", "huishouden in beeld", "--on", "2026-10-04")
    son = _access_items(cli, case["son"])
    mother = _access_items(cli, case["mother"])
    assert "Tim spijbelt" in son["journal:N1"]["summary"]
    assert "journal:N1" not in mother
    assert "huishouden in beeld" in mother["journal:N2"]["summary"]  # a household text: given after review
    assert mother["journal:N2"]["withheld"] is not None


def test_erasing_a_person_takes_the_entries_about_them(cli: Any, case: dict[str, str]) -> None:
    c = case["case"]
    ok(cli, "case", "note", c, "--about", case["son"], "--with", "Tim", "--channel", "telefoon", "--text", "Tim belt")
    ok(cli, "case", "note", c, "--text", "huishouden in beeld")
    ok(cli, "erase", case["son"], "--ground", "retention-expired", user="pim")
    entries = journal(cli, c)
    assert (entries[0]["text"], entries[0]["with"]) == ("[gewist]", "[gewist]")
    assert entries[1]["text"] == "huishouden in beeld"

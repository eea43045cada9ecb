"""`regie search`: cases found by free text, address and person, within the reader's need to know.

The search renders each case as the case view shows it to the reader and matches in memory: a
director finds their own and their team's cases, a partner only the cases its organisation is
involved in and only on what it may read, and every search is in the access log with the persons
of the cases found. No plaintext index is written, and the query itself is stored nowhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import World, make_world, raw_store_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios import day, first_person, police_disclosure, refer, taken_on_case

from casusregie.adapters.config import Settings
from casusregie.commands.escalation import Escalate
from casusregie.commands.journal import WriteJournalEntry
from casusregie.commands.referral import MemberInput
from casusregie.commands.subject_requests import DecideRestriction, RegisterRequest
from casusregie.domain.errors import AccessDenied, ValidationFailed
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.projections.reader import Reader
from casusregie.projections.search import MIN_QUERY, Opened, matching_fields, normalise, queries

JOURNAL = "Buurman Zoekbaar klaagt over de hond"


def cases_found(world: World, user: str, text: str | None = None, **kwargs: Any) -> dict[str, list[str]]:
    found = Reader(world.session(user)).search(text, **kwargs)
    return {row["case"]: row["matched"] for row in found["cases"]}


@pytest.fixture
def two_teams(world: World) -> dict[str, str]:
    """Case west (anna's, Karel de Vries, Kanaalstraat 12, a police disclosure, a journal note) and case oost."""
    west = taken_on_case(world)
    police_disclosure(world, west)
    world.run("anna", WriteJournalEntry(case=west, text=JOURNAL, on=day(6)))
    oost = refer(
        world,
        by="bram",
        director="bram",
        members=[MemberInput(name="Willemijn Oosterhuis", birth_date=date(1980, 1, 1), address="Dorpsweg 3")],
        corporation=None,
    )
    return {"west": west, "oost": oost}


def test_a_director_finds_their_case_by_name_address_and_a_word_of_the_reason(
    world: World, two_teams: dict[str, str]
) -> None:
    west = two_teams["west"]
    assert cases_found(world, "anna", "vries") == {west: ["members.name"]}
    assert cases_found(world, "anna", "KAREL de  vries") == {west: ["members.name"]}  # case and spacing do not matter
    assert cases_found(world, "anna", person="karel") == {west: ["members.name"]}
    assert cases_found(world, "anna", address="kanaalstr") == {west: ["members.address"]}
    assert cases_found(world, "anna", "huurachterstand") == {west: ["problems.financiën", "reason"]}
    assert cases_found(world, "anna", "zoekbaar") == {west: ["journal.text"]}
    assert cases_found(world, "carla", "vries") == {west: ["members.name"]}  # anna's team
    # every text given must match: a name with another household's address finds nothing
    assert cases_found(world, "anna", person="karel", address="dorpsweg") == {}
    # the identifiers are found through the blind index (person find), not by parts of them
    assert cases_found(world, "anna", "111222") == {}


def test_a_director_never_finds_a_case_of_another_team(world: World, two_teams: dict[str, str]) -> None:
    assert cases_found(world, "anna", "oosterhuis") == {}
    assert cases_found(world, "anna", address="dorpsweg") == {}
    assert cases_found(world, "bram", "oosterhuis") == {two_teams["oost"]: ["members.name"]}
    assert cases_found(world, "bram", "vries") == {}


def test_a_partner_finds_only_its_cases_and_only_by_what_it_may_read(world: World, two_teams: dict[str, str]) -> None:
    west = two_teams["west"]
    assert cases_found(world, "piet", "vries") == {west: ["members.name"]}  # Mitros referred the case
    assert cases_found(world, "lies", "vries") == {}  # Lister is not involved
    assert cases_found(world, "pol", "meldingen sinds") == {west: ["requests.items.content"]}  # its own answer
    assert cases_found(world, "piet", "meldingen sinds") == {}  # the police's information is not Mitros's to read
    assert cases_found(world, "anna", "meldingen sinds") == {west: ["requests.items.content"]}
    assert cases_found(world, "piet", address="kanaalstr") == {}  # partners see names, not addresses
    assert cases_found(world, "piet", "huurachterstand") == {}  # nor the reason
    assert cases_found(world, "piet", "zoekbaar") == {}  # nor the journal


def test_a_manager_searches_escalated_cases_in_what_a_manager_sees(world: World, two_teams: dict[str, str]) -> None:
    west = two_teams["west"]
    assert cases_found(world, "mia", "vries") == {}  # not escalated: not the manager's
    world.run("anna", Escalate(case=west, level=1, reason="Vastgelopen bij de verhuurder", on=day(7)))
    assert cases_found(world, "mia", "verhuurder") == {west: ["escalations.reason"]}
    assert cases_found(world, "mia", "huurachterstand") == {west: ["problems.financiën", "reason"]}
    assert cases_found(world, "mia", "zoekbaar") == {}  # the journal is not the manager's


@pytest.mark.parametrize("user", ["pim", "aud", "admin"])
def test_who_does_not_read_case_files_does_not_search_them_and_the_refusal_is_logged(
    world: World, two_teams: dict[str, str], user: str
) -> None:
    before = world.count("AccessTrace.Started")
    with pytest.raises(AccessDenied, match="does not search case files"):
        Reader(world.session(user)).search("vries")
    assert world.count("AccessTrace.Started") == before + 1


def test_the_search_is_in_the_access_log_with_the_persons_of_the_cases_found(
    world: World, two_teams: dict[str, str]
) -> None:
    west = two_teams["west"]
    Reader(world.session("anna")).search("nothing-like-this")
    Reader(world.session("anna")).search("vries")
    rows = [r for r in PrivacyReader(world.session("aud")).access_log(user="anna") if r["name"] == "case.search"]
    assert [(r["action"], r["outcome"]) for r in rows] == [("search", "ok"), ("search", "ok")]
    members = {str(m.person_id) for m in world.session("anna").case(west).members.values()}
    assert rows[0]["subjects"] == []  # nothing found: no person's data was shown
    assert set(rows[1]["subjects"]) == members
    assert len(rows[1]["subjects"]) == 2


def test_a_restricted_person_is_not_searched(world: World, two_teams: dict[str, str]) -> None:
    west = two_teams["west"]
    person = first_person(world, west)
    reference = world.run(
        "pim",
        RegisterRequest(
            kind="restriction",
            person=person,
            requester_name="K. de Vries",
            received_on=date.today() - timedelta(days=3),
            identity_check="identiteitskaart gezien",
        ),
    ).data["request"]
    world.run("pim", DecideRestriction(request=str(reference)))
    assert cases_found(world, "anna", "karel") == {}  # art. 18 AVG: their data is not processed
    assert cases_found(world, "anna", "noor de vries") == {west: ["members.name"]}  # the other member still is
    rows = [r for r in PrivacyReader(world.session("aud")).access_log(user="anna") if r["name"] == "case.search"]
    restricted_id = str(next(m.person_id for m in world.session("anna").case(west).members.values() if m.restricted))
    assert restricted_id not in rows[-1]["subjects"]


def test_a_short_query_is_a_clear_error_and_nothing_is_read_or_logged(world: World, two_teams: dict[str, str]) -> None:
    before = world.count("AccessTrace.Started")
    for short in ("ab", " a-b ", ""):
        with pytest.raises(ValidationFailed, match="too short"):
            Reader(world.session("anna")).search(short)
    with pytest.raises(ValidationFailed, match="give a text"):
        Reader(world.session("anna")).search()
    with pytest.raises(ValidationFailed, match="at most 200"):
        Reader(world.session("anna")).search("x" * 201)
    assert world.count("AccessTrace.Started") == before


def test_the_query_is_stored_nowhere(tmp_path: Path) -> None:
    # on the embedded store, whose every byte is quickly read (the search writes the same records on both)
    world = make_world(
        Settings(store=str(tmp_path / "s.db"), key_dir=tmp_path / "k", checkpoint_dir=None, config_file=None)
    )
    try:
        refer(world, director="anna")
        Reader(world.session("anna")).search("Qwertyzoekterm")
        Reader(world.session("anna")).search(person="Karel")
        assert b"qwertyzoekterm" not in raw_store_bytes(world.settings).lower()
    finally:
        world.store.close()


def test_the_cli_search(world: World, cli: Any, two_teams: dict[str, str]) -> None:
    west = two_teams["west"]
    world.store.close()
    shown = cli("search", "vries", user="anna")
    assert shown.code == 0, shown.err
    assert west in shown.out
    assert "members.name" in shown.out
    assert "Karel" not in shown.out  # the fields that matched, never the text
    as_json = cli("search", "--address", "kanaal", "--json", user="anna").json()
    assert as_json == {
        "cases": [
            {
                "case": west,
                "status": "taken-on",
                "director": "anna",
                "referred_on": day(0).isoformat(),
                "matched": ["members.address"],
            }
        ],
        "more": False,
    }
    assert cli("search", "oosterhuis", user="anna").out.strip() == "no case found"
    short = cli("search", "ab", user="anna")
    assert short.code == 1
    assert short.out == ""
    assert short.err.count("\n") == 1
    assert "too short" in short.err
    refused = cli("search", "vries", user="pim")
    assert (refused.code, "refused" in refused.err) == (1, True)


def test_the_number_of_cases_shown_is_bounded(world: World, cli: Any) -> None:
    made = sorted(refer(world, director="anna", corporation=None) for _ in range(3))
    found = Reader(world.session("anna")).search("vries", limit=2)
    assert [r["case"] for r in found["cases"]] == made[:2]
    assert found["more"] is True
    world.store.close()
    assert cli("search", "vries", "--limit", "0", user="anna").code == 2
    out = cli("search", "vries", "--limit", "2", user="anna").out
    assert "more cases match" in out


# --- properties of the matching itself (no store: fast) -------------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéëïöüçñÉÖ -'"
NAMES = st.text(alphabet=st.sampled_from(LETTERS), min_size=3, max_size=40)


def too_short(text: str) -> bool:
    return len(normalise(text).replace(" ", "")) < MIN_QUERY


@given(NAMES, st.data())
@settings(max_examples=200, deadline=None)
def test_any_part_of_a_visible_name_of_three_characters_or_more_finds_it(name: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(name) - 1))
    part = name[start : data.draw(st.integers(start + 1, len(name)))]
    doc = {"members": [{"name": Opened(name), "bsn": Opened("123456782")}], "reason": Opened("iets anders")}
    if too_short(part):
        with pytest.raises(ValidationFailed, match="too short"):
            queries(part)
        return
    assert matching_fields(doc, queries(part)) in (["members.name"], ["members.name", "reason"])
    assert matching_fields(doc, queries(None, person=part)) == ["members.name"]


@given(NAMES)
@settings(max_examples=100, deadline=None)
def test_text_that_was_not_opened_for_the_reader_never_matches(name: str) -> None:
    if too_short(name):
        return
    doc = {"members": [{"name": "[afgeschermd]"}], "requests": [{"items": [{"content": name}]}], "director": name}
    assert matching_fields(doc, queries(name)) == []  # plain strings are not opened personal fields


@pytest.fixture
def one_case(world: World) -> str:
    return refer(world, director="anna", name="Hendrika van Zoekvelde")


@given(part=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_stored_case_is_found_by_any_part_of_its_name(world: World, one_case: str, part: st.DataObject) -> None:
    name = "Hendrika van Zoekvelde"
    start = part.draw(st.integers(0, len(name) - MIN_QUERY))
    text = name[start : part.draw(st.integers(start + MIN_QUERY, len(name)))]
    if too_short(text):
        return
    assert cases_found(world, "anna", text.swapcase()) == {one_case: ["members.name"]}
    assert cases_found(world, "bram", text) == {}


@pytest.fixture
def disclosed(world: World) -> str:
    case = taken_on_case(world)
    police_disclosure(world, case)  # "12 meldingen sinds juni", in a police category
    return case


@given(part=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_part_of_the_police_information_is_found_by_another_partner(
    world: World, disclosed: str, part: st.DataObject
) -> None:
    text = "12 meldingen sinds juni"
    start = part.draw(st.integers(0, len(text) - MIN_QUERY))
    query = text[start : part.draw(st.integers(start + MIN_QUERY, len(text)))]
    if too_short(query):
        return
    assert "requests.items.content" in cases_found(world, "pol", query)[disclosed]
    assert all("requests.items.content" not in fields for fields in cases_found(world, "piet", query).values())

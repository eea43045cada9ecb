"""Crypto-shredding is complete: after a person is erased, no copy of their data opens anywhere.

The person has everything a real file holds: identity, a disclosure and a measure about them,
an information request about them, an issued access decision, a rectification and an
objection. After each way of erasing (`regie erase`, a granted erasure request, the retention
schedule), every table is read with the keys that remain and every read command is run by
every role: none of the person's data may appear. A co-resident's data stays readable, so
the scan is known to see what is there.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import World, raw_store_bytes
from readable import readable
from scenarios import day, taken_on_case

from casusregie.commands.closure import CloseCase
from casusregie.commands.erasure import ErasePerson, RunRetention
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.journal import WriteJournalEntry
from casusregie.commands.network import AddNetworkPerson
from casusregie.commands.plan import AgreeMeasure
from casusregie.commands.referral import MemberInput
from casusregie.commands.subject_requests import (
    DecideErasure,
    DecideObjection,
    DecideRectification,
    IssueAccessDecision,
    RegisterRequest,
    WithholdItem,
)
from casusregie.domain.findable import terms
from casusregie.projections.reader import Reader

NAME, BSN, BORN, ADDRESS = "Zwaantje Markeer-Eerst", "123456782", date(1966, 6, 16), "Markeerstraat 77"
PERSON_MARKERS = {
    "name": NAME,
    "bsn": BSN,
    "born": BORN.isoformat(),
    "address": ADDRESS,
    "police": "POLITIE-MARKER-7731",
    "measure": "MAATREGEL-MARKER-3312",
    "purpose": "DOEL-MARKER-5521",
    "rectified": "Zwaantje Gecorrigeerd",
    "objection": "BEZWAAR-MARKER-9043",
    "identity_check": "paspoort MARKER-4410",
    "withholding": "WEIGERING-MARKER-6620",
    "journal": "NOTITIE-MARKER-2207",
    "journal_with": "MET-WIE-MARKER-2208",
}
OTHER = "ANDER-MARKER-1188"  # about the co-resident: must survive


def _request(world: World, kind: str, person: str, on: date) -> str:
    return str(
        world.run(
            "pim",
            RegisterRequest(
                kind=kind,
                person=person,
                requester_name=NAME,
                requester_address=ADDRESS,
                received_on=on,
                identity_check=PERSON_MARKERS["identity_check"],
            ),
        ).data["request"]
    )


def full_file(world: World) -> dict[str, Any]:
    case = taken_on_case(
        world,
        members=[
            MemberInput(name=NAME, birth_date=BORN, bsn=BSN, address=ADDRESS),
            MemberInput(name="Ander Lid", birth_date=date(1990, 1, 1), role="partner"),
        ],
    )
    members = list(world.session("anna").case(case).members.values())
    person, other = members[0].ref, members[1].ref
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose=PERSON_MARKERS["purpose"],
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            subjects=[person],
            on=day(4),
        ),
    ).data["request"]
    world.run(
        "pol",
        DiscloseInformation(
            case=case,
            request=request,
            on=day(5),
            items=[
                DisclosureItem(category="politie.meldingen", subject=person, content=PERSON_MARKERS["police"]),
                DisclosureItem(category="politie.meldingen", subject=other, content=OTHER),
            ],
        ),
    )
    world.run(
        "anna",
        AgreeMeasure(
            case=case,
            life_domain="financiën",
            owner="gemeente-utrecht",
            description=PERSON_MARKERS["measure"],
            due=day(40),
            subject=person,
            on=day(6),
        ),
    )
    world.run(
        "anna",
        WriteJournalEntry(
            case=case,
            text=PERSON_MARKERS["journal"],
            about=person,
            channel="telefoon",
            with_whom=PERSON_MARKERS["journal_with"],
            on=day(7),
        ),
    )
    world.run("anna", WriteJournalEntry(case=case, text=OTHER, about=other, on=day(7)))
    received = date.today() - timedelta(days=2)
    access = _request(world, "access", person, received)
    world.run(
        "pim",
        WithholdItem(
            request=access, item="data:bsn", ground="i", motivation=PERSON_MARKERS["withholding"], what="een nummer"
        ),
    )
    world.run("pim", IssueAccessDecision(request=access, signatory="P. Jansen"))
    rectification = _request(world, "rectification", person, received)
    world.run("pim", DecideRectification(request=rectification, field="name", value=PERSON_MARKERS["rectified"]))
    objection = _request(world, "objection", person, received)
    world.run("pim", DecideObjection(request=objection, upheld=False, motivation=PERSON_MARKERS["objection"]))
    Reader(world.session("anna")).case(case)  # views caught up, snapshots taken
    world.app.take_snapshot(world.session("anna").case(case).id)
    return {"case": case, "person": person, "other": other, "requests": [access, rectification, objection]}


def erase(world: World, how: str, file: dict[str, Any]) -> None:
    if how == "erase":
        world.run("pim", ErasePerson(person=file["person"], ground="granted-request"))
    elif how == "request":
        request = _request(world, "erasure", file["person"], date.today())
        world.run("pim", DecideErasure(request=request, grant=True))
        file["requests"].append(request)
    else:
        world.run("anna", CloseCase(case=file["case"], outcome="goals-met", despite="vroeg afgesloten", on=day(20)))
        years = world.app.profile.activity("regie-uitvoering").retention.years
        world.run("pim", RunRetention(on=day(20).replace(year=day(20).year + years) + timedelta(days=1)))


def reads(file: dict[str, Any], tmp: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Every read command, by every role that may run it."""
    case, person = file["case"], file["person"]
    out: list[tuple[str, tuple[str, ...]]] = [
        ("anna", ("case", "show", case)),
        ("anna", ("case", "list")),
        ("anna", ("case", "list", "--closed")),
        ("anna", ("trail", "--case", case)),
        ("anna", ("worklist",)),
        ("pol", ("case", "show", case)),
        ("pol", ("trail", "--partner", "politie")),
        ("mia", ("caseload",)),
        ("aud", ("case", "show", case)),
        ("aud", ("audit", "replay", case, "--access")),
        ("aud", ("audit", "diff", case, day(0).isoformat(), date.today().isoformat())),
        ("aud", ("trail", "--case", case)),
        ("aud", ("log", "show")),
        ("aud", ("request", "list")),
        ("pim", ("trail", "--person", person)),
        ("pim", ("person", "find", "--name", NAME, "--born", BORN.isoformat())),
        ("pim", ("person", "find", "--bsn", BSN)),
        ("pim", ("request", "list")),
        ("pim", ("log", "export")),
        ("pim", ("worklist",)),
    ]
    for request in file["requests"]:
        out += [("pim", ("request", "show", request)), ("aud", ("request", "show", request))]
        out += [("pim", ("request", "items", request))]
    return out


@pytest.mark.parametrize("how", ["erase", "request", "retention"])
def test_nothing_of_an_erased_person_opens_in_any_table_or_any_output(
    world: World, cli: Any, tmp_path: Path, how: str
) -> None:
    file = full_file(world)
    before = readable(world)
    for what, marker in PERSON_MARKERS.items():
        assert marker in before, what  # the scan sees the data while it exists
    assert OTHER in before

    digests = [world.store.persons.digest(kind, value) for kind, value in terms(NAME, BORN, BSN)]
    assert all(d.encode() in raw_store_bytes(world.settings) for d in digests)

    erase(world, how, file)

    raw = raw_store_bytes(world.settings)  # every byte of the database, free space and old row versions too
    assert not any(d.encode() in raw for d in digests), "a search digest of the erased person is still on disk"
    after = readable(world)
    for what, marker in PERSON_MARKERS.items():
        assert marker not in after, f"{what} still opens after erasure ({how})"
    if how != "retention":
        assert OTHER in after  # only this person was erased
    shown = []
    for user, args in reads(file, tmp_path):
        for extra in ((), ("--json",)) if args[0] != "log" else ((),):
            result = cli(*args, *extra, user=user)
            assert result.code in (0, 1), (args, result.err)
            assert "internal error" not in result.err
            shown.append(result.out + result.err)
    text = "\n".join(shown)
    for what, marker in PERSON_MARKERS.items():
        assert marker not in text, f"{what} shown after erasure ({how})"
    letter = cli("request", "letter", file["requests"][0], "--out", str(tmp_path / "letters"), user="pim")
    assert letter.code == 1
    assert "erased" in letter.err
    assert not (tmp_path / "letters").exists() or not any((tmp_path / "letters").iterdir())


REPORTER = {
    "name": "Melder Markeer-Netwerk",
    "address": "Netwerkstraat MARKER-5150",
    "contact": "06-MARKER-5151",
    "journal": "MELDER-NOTITIE-MARKER-5152",
}


def test_nothing_of_an_erased_reporter_opens_anywhere_and_the_household_stays(
    world: World, cli: Any, tmp_path: Path
) -> None:
    """A person of the wider network is erased the way a household member is (seed 003's reporter)."""
    file = full_file(world)
    added = world.run(
        "anna",
        AddNetworkPerson(
            case=file["case"],
            person_name=REPORTER["name"],
            relation="melder",
            address=REPORTER["address"],
            contact=REPORTER["contact"],
            on=day(8),
        ),
    )
    reporter = str(added.data["person"])
    world.run("anna", WriteJournalEntry(case=file["case"], text=REPORTER["journal"], about=reporter, on=day(8)))
    before = readable(world)
    assert all(marker in before for marker in REPORTER.values())
    world.run("pim", ErasePerson(person=reporter, ground="granted-request"))
    after = readable(world)
    for what, marker in REPORTER.items():
        assert marker not in after, f"the reporter's {what} still opens after erasure"
    assert PERSON_MARKERS["police"] in after  # the household's data stays
    shown = "\n".join(
        cli(*args, *extra, user=user).out for user, args in reads(file, tmp_path) for extra in ((), ("--json",))
    )
    for what, marker in REPORTER.items():
        assert marker not in shown, f"the reporter's {what} shown after erasure"

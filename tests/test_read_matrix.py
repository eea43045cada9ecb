"""Every read command, by every role, against every kind of field: who sees what, as documented.

One store holds a case with a value of each field category (a name, a BSN, a household text,
an information request's purpose, a police disclosure, meeting minutes, a measure, an
escalation) and an access request with a withholding. Each read command is run through the
CLI (with --json, as a program would) by each role; the table below says, per command and
role, whether it is refused or which categories the output may contain. Anything else shown
is a leak; anything missing that should be there means the check could not see it.
"""

from __future__ import annotations

import base64
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from helpers import World, make_world
from scenarios import START, day, first_person, take_on

from casusregie.adapters.config import Settings
from casusregie.adapters.profile_file import builtin_profiles
from casusregie.commands.documents import AttachDocument
from casusregie.commands.escalation import Escalate
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.journal import WriteJournalEntry
from casusregie.commands.meetings import HoldMeeting, ScheduleMeeting
from casusregie.commands.network import AddNetworkPerson
from casusregie.commands.plan import AgreeMeasure
from casusregie.commands.problems import UpdateProblem
from casusregie.commands.referral import MemberInput, ReferCase
from casusregie.commands.subject_requests import IssueAccessDecision, RegisterRequest, WithholdItem

FIELDS = {
    "name": "Hendrika Matrixveld",
    "bsn": "123456782",
    "household": "HUISHOUDTEKST-4711",
    "purpose": "DOEL-4712",
    "police": "POLITIEGEGEVEN-4713",
    "minutes": "VERSLAG-4714",
    "measure": "MAATREGEL-4715",
    "escalation": "OPSCHALING-4716",
    "withholding": "MOTIVERING-4717",
    "worker": "Wijkconsulent Werkernaam-4718",  # the referring professional, named in the referral
    "journal": "NOTITIE-4719",  # a contact moment about the person, in the case journal
    "problem": "PROBLEEM-4720",  # a problem described anew during the case (a household text)
    "reporter": "Melder Netwerknaam-4721",  # a neighbour who reports the nuisance: the wider network
    "document": "STUKTITEL-4722",  # the title of a document about the person (a court ruling)
}
ALL_CASE = {
    "name",
    "bsn",
    "household",
    "purpose",
    "police",
    "minutes",
    "measure",
    "escalation",
    "worker",
    "journal",
    "problem",
    "reporter",
    "document",
}
REFUSED = "refused"
ROLES = ("anna", "bram", "piet", "pol", "lies", "mia", "pim", "aud", "admin")

# command -> {user -> REFUSED or the categories the output shows}; users not listed are refused.
MATRIX: dict[str, dict[str, Any]] = {
    "case show {case}": {
        "anna": ALL_CASE,
        "piet": {"name", "measure"},  # Mitros: the household's names, the measure it owns
        "pol": {"name", "purpose", "police"},  # the police: the request addressed to it, its own answer
        "mia": {"name", "household", "measure", "escalation", "worker", "problem"},  # the manager: an escalated case
        "aud": set(),  # this profile grants auditors the case history, not personal data
    },
    "case list": {"anna": {"name"}, "bram": set(), "piet": {"name"}, "pol": {"name"}, "lies": set(), "mia": {"name"},
                  "aud": set()},
    "worklist": {"anna": set(), "bram": set(), "piet": set(), "pol": set(), "lies": set(), "mia": set(), "pim": set()},
    "caseload": {"anna": set(), "bram": set(), "mia": set()},
    "report --from {start} --to {end}": {"anna": set(), "bram": set(), "mia": set(), "aud": set()},
    "trail --case {case}": {"anna": {"purpose"}, "pim": {"purpose"}, "aud": set()},
    "trail --person {person}": {"pim": {"purpose"}, "aud": set()},
    "trail --partner politie": {"pol": {"purpose"}, "pim": {"purpose"}, "aud": set()},
    "person find --bsn 123456782": {"anna": set(), "bram": set(), "pim": set()},  # refs only, own cases
    "log show": {"pim": set(), "aud": set(), "admin": set()},
    "request list": {"pim": set(), "aud": set()},
    "request items {request}": {
        "pim": {"name", "bsn", "household", "police", "minutes", "measure", "escalation", "journal", "problem"}
        | {"document"}
    },
    "request show {request}": {
        # bsn: the withheld content; the journal entry about the person is their own data, given
        "pim": {"withholding", "name", "bsn", "purpose", "police", "journal", "document"},
        "aud": {"withholding"},  # why it was withheld, not what
    },
    "audit replay {case}": {"aud": set()},
    "audit diff {case} {start} {end}": {"aud": set()},
    "user list": {"admin": set(), "aud": set()},
}  # fmt: skip


def build(world: World) -> dict[str, str]:
    referred = world.run(
        "piet",
        ReferCase(
            referring_org="mitros",
            referring_worker=FIELDS["worker"],
            reason=FIELDS["household"],
            problems={"overlast": "lawaai"},
            members=[
                MemberInput(name=FIELDS["name"], birth_date=date(1975, 1, 2), bsn=FIELDS["bsn"]),
                MemberInput(name="Kind Matrixveld", birth_date=date(2014, 1, 2), role="kind"),
            ],
            home_corporation="mitros",
            director="anna",
            team="west",
            on=START,
        ),
    )
    case = str(referred.data["case"])
    take_on(world, case)
    person = first_person(world, case)
    world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose=FIELDS["purpose"],
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            subjects=[person],
            on=day(4),
        ),
    )
    world.run(
        "pol",
        DiscloseInformation(
            case=case,
            request="R1",
            on=day(5),
            items=[DisclosureItem(category="politie.meldingen", subject=person, content=FIELDS["police"])],
        ),
    )
    meeting = world.run("anna", ScheduleMeeting(case=case, date=day(6), participants=["mitros", "politie"]))
    world.run(
        "anna",
        HoldMeeting(
            case=case,
            meeting=str(meeting.data["meeting"]),
            attended=["mitros", "politie"],
            minutes=FIELDS["minutes"],
            on=day(6),
        ),
    )
    world.run(
        "anna",
        AgreeMeasure(
            case=case, life_domain="overlast", owner="mitros", description=FIELDS["measure"], due=day(30), on=day(7)
        ),
    )
    world.run("anna", Escalate(case=case, level=1, reason=FIELDS["escalation"], on=day(8)))
    world.run(
        "anna",
        AttachDocument(
            case=case,
            type="vonnis",
            dated=day(8),
            source="gemeente-utrecht",
            about=person,
            title=FIELDS["document"],
            content_base64=base64.b64encode(b"vonnis").decode(),
            on=day(8),
        ),
    )
    world.run("anna", AddNetworkPerson(case=case, person_name=FIELDS["reporter"], relation="melder", on=day(8)))
    world.run("anna", UpdateProblem(case=case, life_domain="overlast", description=FIELDS["problem"], on=day(8)))
    world.run(
        "anna",
        WriteJournalEntry(
            case=case, text=FIELDS["journal"], about=person, channel="telefoon", with_whom="de zus", on=day(8)
        ),
    )
    request = str(
        world.run(
            "pim",
            RegisterRequest(
                kind="access",
                person=person,
                requester_name=FIELDS["name"],
                received_on=date.today() - timedelta(days=1),
                identity_check="id gezien",
            ),
        ).data["request"]
    )
    world.run(
        "pim", WithholdItem(request=request, item="data:bsn", ground="i", motivation=FIELDS["withholding"], what="nr")
    )
    world.run("pim", IssueAccessDecision(request=request, signatory="P. Jansen"))
    return {
        "case": case,
        "person": person,
        "request": request,
        "start": day(0).isoformat(),
        "end": (date.today() + timedelta(days=1)).isoformat(),
    }


def shown(output: str) -> set[str]:
    return {field for field, value in FIELDS.items() if value in output}


def run_matrix(
    cli: Any, matrix: dict[str, dict[str, Any]], refs: dict[str, str], roles: tuple[str, ...] = ROLES
) -> list[str]:
    problems = []
    for template, expected_by_user in matrix.items():
        args = template.format(**refs).split()
        for user in roles:
            expected = expected_by_user.get(user, REFUSED)
            result = cli(*args, "--json", user=user)
            if expected == REFUSED:
                if result.code != 1 or "refused" not in result.err:
                    problems.append(f"{template} as {user}: expected a refusal, got {result.code} {result.err!r}")
                continue
            if result.code != 0:
                problems.append(f"{template} as {user}: expected output, got {result.code} {result.err!r}")
                continue
            seen = shown(result.out)
            if seen != expected:
                problems.append(f"{template} as {user}: shows {sorted(seen)}, expected {sorted(expected)}")
    return problems


def test_who_sees_what(world: World, cli: Any) -> None:
    refs = build(world)
    problems = run_matrix(cli, MATRIX, refs)
    assert not problems, "\n".join(problems)


# Where the profile grants auditors personal data too, they see it on every path they may read.
AUDITOR_WITH_PERSONAL_DATA = {
    "case show {case}": {"aud": ALL_CASE},
    "case list": {"aud": {"name"}},
    "trail --case {case}": {"aud": {"purpose"}},
    "request show {request}": {"aud": {"withholding", "name", "bsn", "purpose", "police", "journal", "document"}},
    "audit replay {case}": {"aud": ALL_CASE},
}


def test_auditors_granted_personal_data_see_it_on_every_path(settings: Settings, cli: Any, tmp_path: Path) -> None:
    text = builtin_profiles()["utrecht-extreme-woonoverlast"].read_text(encoding="utf-8")
    granted = text.replace(
        'sees = ["case_history", "disclosure_trail", "access_log", "withheld_items"]',
        'sees = ["case_history", "disclosure_trail", "access_log", "withheld_items", "personal_data"]',
    )
    assert granted != text
    profile = tmp_path / "utrecht-met-persoonsgegevens.toml"
    profile.write_text(granted, encoding="utf-8")
    world = make_world(settings, str(profile))
    try:
        refs = build(world)
        problems = run_matrix(cli, AUDITOR_WITH_PERSONAL_DATA, refs, roles=("aud",))
        assert not problems, "\n".join(problems)
    finally:
        world.store.close()

"""Requests of data subjects: deadlines, lawful refusals per item, the decision, the other rights."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from helpers import World
from pydantic import ValidationError
from pypdf import PdfReader
from scenarios import day, first_person, police_disclosure, refer, take_on, taken_on_case

from casusregie.adapters.cli.requests import write_letter
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.referral import MemberInput, ReferCase
from casusregie.commands.subject_requests import (
    DecideErasure,
    DecideObjection,
    DecideRectification,
    DecideRestriction,
    ExtendRequest,
    IssueAccessDecision,
    RecordRecipientInformed,
    RegisterRequest,
    WithholdItem,
    issued_decision,
    load_request,
)
from casusregie.domain.errors import AccessDenied, DomainRuleViolation, ValidationFailed
from casusregie.domain.subject_request import SubjectRequest
from casusregie.privacy_audit.request_views import request_file, request_items
from casusregie.projections.reader import Reader

SECRET = "buurvrouw op nummer 14 heeft gefilmd"


def register(
    world: World, kind: str = "access", *, person: str | None = None, received: date | None = None, **match: Any
) -> str:
    result = world.run(
        "pim",
        RegisterRequest(
            kind=kind,
            person=person,
            requester_name="K. de Vries",
            requester_address="Kanaalstraat 12, Utrecht",
            received_on=received or date.today() - timedelta(days=3),
            channel="balie",
            identity_check="identiteitskaart gezien",
            **match,
        ),
    )
    return str(result.data["request"])


def two_person_case(world: World) -> tuple[str, str, str]:
    case = taken_on_case(world)
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose="zicht op overlast",
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            on=day(4),
        ),
    ).data["request"]
    members = list(world.session("anna").case(case).members.values())
    main, child = members[0].ref, members[1].ref
    world.run(
        "pol",
        DiscloseInformation(
            case=case,
            request=request,
            on=day(5),
            items=[
                DisclosureItem(category="politie.meldingen", subject=main, content="12 meldingen"),
                DisclosureItem(category="politie.meldingen", subject=child, content="spijbelt en " + SECRET),
            ],
        ),
    )
    return case, main, child


@pytest.mark.parametrize(
    ("received", "due", "extended"),
    [
        (date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30)),
        (date(2028, 1, 31), date(2028, 2, 29), date(2028, 4, 30)),
        (date(2026, 3, 31), date(2026, 4, 30), date(2026, 6, 30)),
        (date(2026, 11, 30), date(2026, 12, 30), date(2027, 2, 28)),
    ],
)
def test_deadline_is_one_calendar_month_and_an_extension_two_more(received: date, due: date, extended: date) -> None:
    request = SubjectRequest(
        request_id=uuid4(),
        reference="AVG-T",
        kind="access",
        person_id=None,
        requester=None,
        received_on=received,
        channel="brief",
        identity_check="id",
        scope="alles",
        due_on=SubjectRequest.deadline(received),
        registered_by="pim",
    )
    assert request.due_on == due
    request.extend(2, "veel partners", received + timedelta(days=20), received + timedelta(days=20), "pim")
    assert request.due_on == extended


def test_a_registered_request_gets_its_deadline(world: World) -> None:
    reference = register(world, received=date(2026, 1, 31))
    assert load_request(world.session("pim"), reference).due_on == date(2026, 2, 28)


def test_extension_only_once_and_only_before_the_first_deadline(world: World) -> None:
    received = date(2026, 1, 31)
    reference = register(world, received=received)
    with pytest.raises(DomainRuleViolation, match="has passed"):
        world.run(
            "pim",
            ExtendRequest(request=reference, motivation="druk", notice_sent_on=date(2026, 2, 20), on=date(2026, 3, 1)),
        )
    with pytest.raises(ValidationFailed, match="within the first month"):
        world.run(
            "pim",
            ExtendRequest(request=reference, motivation="druk", notice_sent_on=date(2026, 3, 2), on=date(2026, 2, 27)),
        )
    world.run(
        "pim",
        ExtendRequest(request=reference, motivation="druk", notice_sent_on=date(2026, 2, 27), on=date(2026, 2, 27)),
    )
    with pytest.raises(DomainRuleViolation, match="already extended once"):
        world.run(
            "pim",
            ExtendRequest(request=reference, motivation="weer", notice_sent_on=date(2026, 2, 27), on=date(2026, 2, 27)),
        )
    with pytest.raises(ValidationError):
        ExtendRequest(request=reference, months=3, motivation="te lang", notice_sent_on=date(2026, 2, 27))


def test_requests_appear_in_the_privacy_officers_worklist(world: World) -> None:
    reference = register(world, received=date.today() - timedelta(days=40))
    items = Reader(world.session("pim")).worklist(date.today())
    assert [(i["ref"], i["overdue"]) for i in items if i["kind"] == "request"] == [(reference, True)]


def test_an_access_answer_withholds_an_item_lawfully_and_the_auditor_sees_why(world: World, tmp_path: Path) -> None:
    case, main, _ = two_person_case(world)
    Reader(world.session("anna")).case(case)  # a consultation of their data
    reference = register(world, person=main)
    items = {i["item"]: i for i in request_items(world.session("pim"), reference)}
    assert "data:name" in items
    assert any(i.startswith("consultation:") for i in items)
    assert any(i.startswith("recipient:") for i in items)
    assert any(i.startswith("source:") for i in items)
    with pytest.raises(ValidationFailed, match="motivation"):
        world.run("pim", WithholdItem(request=reference, item="data:reason", ground="i", what="klachten"))
    with pytest.raises(ValidationFailed, match="not one of UAVG"):
        world.run("pim", WithholdItem(request=reference, item="data:reason", ground="k", motivation="m", what="w"))
    with pytest.raises(ValidationFailed, match="no item data:nope"):
        world.run("pim", WithholdItem(request=reference, item="data:nope", ground="i", motivation="m", what="w"))
    world.run(
        "pim",
        WithholdItem(
            request=reference,
            item="data:reason",
            ground="i",
            what="klachten van buren",
            motivation="bescherming van de omwonenden die klaagden",
        ),
    )
    world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen"))
    decision = issued_decision(world.session("pim"), load_request(world.session("pim"), reference))
    pdf, markdown, js = write_letter(decision, tmp_path)
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    reason = "Ernstige overlast en huurachterstand"
    for document in (text, markdown.read_text(), js.read_text()):
        assert reason not in document
        assert "art. 41 lid 1 sub i UAVG" in document
        assert "Karel de Vries" in document
        assert SECRET not in document  # the co-resident's data is not the requester's
        assert "anna" not in document  # no employee identities
        assert "pim" not in document
    assert "bezwaar" in text
    assert "6:7" in text
    assert json.loads(js.read_text())["reference"] == reference
    auditor = request_file(world.session("aud"), reference)
    (withheld,) = auditor["withheld"]
    assert withheld["ground"] == "art. 41 lid 1 sub i UAVG"
    assert withheld["motivation"] == "bescherming van de omwonenden die klaagden"
    # The auditor sees why, not what: this profile grants auditors withheld items, not personal data.
    assert withheld["content"]["value"] == "[afgeschermd]"
    assert auditor["issued_document"] == "[afgeschermd]"
    assert request_file(world.session("pim"), reference)["withheld"][0]["content"]["value"] == reason
    with pytest.raises(AccessDenied):
        request_file(world.session("anna"), reference)
    with pytest.raises(DomainRuleViolation, match="already decided"):
        world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen"))


def test_silent_withholding_leaves_no_trace_in_the_persons_documents(world: World) -> None:
    _, main, _ = two_person_case(world)
    reference = register(world, person=main)
    item = next(
        i["item"]
        for i in request_items(world.session("pim"), reference)
        if i["item"].startswith("source:") and "Politie" in i["summary"]
    )
    with pytest.raises(ValidationFailed, match="would itself defeat"):
        world.run(
            "pim",
            WithholdItem(request=reference, item=item, ground="d", motivation="lopend onderzoek", tell_person=False),
        )
    world.run(
        "pim",
        WithholdItem(
            request=reference,
            item=item,
            ground="d",
            motivation="lopend onderzoek",
            tell_person=False,
            not_telling_reason="melden zou het onderzoek verraden",
        ),
    )
    decision = world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen")).data["decision"]
    assert [n for n in decision["withheld"] if n["ground"] != "art. 15 lid 4 AVG"] == []  # that one is the default
    assert all("Politie" not in s["organisation"] for s in decision["sources"])
    assert all("Politie" not in d["label"] for d in decision["data"])  # the disclosure itself goes with its source
    assert (
        request_file(world.session("aud"), reference)["withheld"][0]["why_not_told"]
        == "melden zou het onderzoek verraden"
    )


def test_a_pre_2018_case_is_refused_under_the_wbp(world: World) -> None:
    result = world.run(
        "anna",
        ReferCase(
            referring_org="mitros",
            referring_worker="J",
            reason="oud",
            problems={"overlast": "x"},
            members=[MemberInput(name="Oude Zaak", birth_date=date(1960, 1, 1))],
            on=date(2017, 3, 1),
        ),
    )
    person = first_person(world, result.data["case"])
    reference = register(world, person=person)
    world.run("pim", WithholdItem(request=reference, item="data:reason", ground="e", motivation="m", what="w"))
    decision = world.run("pim", IssueAccessDecision(request=reference, signatory="P")).data["decision"]
    assert decision["withheld"][0]["ground"] == "art. 43 sub e Wbp"


def test_a_person_not_in_the_store_gets_a_decision_saying_so(world: World) -> None:
    reference = register(world, match_name="Niemand Bekend", match_born=date(1990, 1, 1))
    decision = world.run("pim", IssueAccessDecision(request=reference, signatory="P")).data["decision"]
    assert decision["processes_data"] is False
    assert decision["data"] == []
    assert load_request(world.session("pim"), reference).decision["outcome"] == "not-found"


def test_restriction_blocks_reads_unless_an_art_18_2_ground_is_logged(world: World) -> None:
    case = taken_on_case(world)
    person = first_person(world, case)
    reference = register(world, "restriction", person=person)
    world.run("pim", DecideRestriction(request=reference))
    denied_before = _denied(world)
    view = Reader(world.session("anna")).case(case)
    restricted = next(m for m in view["members"] if m["person"] == person)
    assert restricted["name"] == restricted["bsn"] == "[beperkt]"
    assert restricted["restricted"] is True
    assert _denied(world) == denied_before + 1
    view = Reader(world.session("anna")).case(case, restriction_ground="legal-claims")
    assert next(m for m in view["members"] if m["person"] == person)["name"] == "Karel de Vries"
    Reader(world.session("aud")).runner.catch_up()
    with world.store.db.transaction(commit=False) as tx:
        reason = tx.scalar(
            "SELECT reason FROM regie_access_traces WHERE name = 'case.show' ORDER BY started_at DESC LIMIT 1"
        )
    assert "rechtsvordering" in reason


def test_rectification_corrects_the_view_keeps_history_and_creates_art_19_tasks(world: World) -> None:
    case = taken_on_case(world)
    police_disclosure(world, case)
    person = first_person(world, case)
    reference = register(world, "rectification", person=person)
    result = world.run("pim", DecideRectification(request=reference, field="name", value="Karel de Vries-Jansen"))
    assert set(result.data["tasks"]) == {"mitros", "politie"}  # both received the wrong name
    view = Reader(world.session("anna")).case(case)
    assert next(m for m in view["members"] if m["person"] == person)["name"] == "Karel de Vries-Jansen"
    case_id = world.session("anna").case(case).id
    referred = next(iter(world.app.events.get(case_id)))
    old = next(m for m in referred.members if m["ref"] == person)
    assert world.store.keyring.unseal(old["name"]) == "Karel de Vries"  # the history keeps the old value
    tasks = [i for i in Reader(world.session("pim")).worklist(date.today()) if i["kind"] == "art19-task"]
    assert {t["what"] for t in tasks} == {"inform mitros (art. 19 AVG)", "inform politie (art. 19 AVG)"}
    world.run("pim", RecordRecipientInformed(request=reference, organisation="politie"))
    tasks = [i for i in Reader(world.session("pim")).worklist(date.today()) if i["kind"] == "art19-task"]
    assert [t["what"] for t in tasks] == ["inform mitros (art. 19 AVG)"]


def test_erasure_request_is_refused_with_its_ground_or_granted_by_shredding(world: World) -> None:
    case = refer(world)
    take_on(world, case)
    person = first_person(world, case)
    reference = register(world, "erasure", person=person)
    with pytest.raises(ValidationFailed, match="needs its ground"):
        world.run("pim", DecideErasure(request=reference, grant=False))
    world.run(
        "pim",
        DecideErasure(request=reference, grant=False, ground="art. 17 lid 3 sub b AVG", motivation="wettelijke taak"),
    )
    assert load_request(world.session("pim"), reference).decision["outcome"] == "refused"
    second = register(world, "erasure", person=person)
    world.run("pim", DecideErasure(request=second, grant=True))
    member = next(m for m in Reader(world.session("anna")).case(case)["members"] if m["person"] == person)
    assert member["name"] == "[gewist]"


def test_objection_is_decided_and_recorded(world: World) -> None:
    case = refer(world)
    reference = register(world, "objection", person=first_person(world, case))
    world.run("pim", DecideObjection(request=reference, upheld=False, motivation="dwingende gerechtvaardigde gronden"))
    decided = request_file(world.session("pim"), reference)["decision"]
    assert (decided["outcome"], decided["motivation"]) == ("refused", "dwingende gerechtvaardigde gronden")


def test_only_privacy_officers_handle_requests(world: World) -> None:
    with pytest.raises(AccessDenied, match="privacy officers"):
        world.run(
            "anna", RegisterRequest(kind="access", requester_name="X", received_on=date.today(), identity_check="id")
        )


def _denied(world: World) -> int:
    Reader(world.session("aud")).runner.catch_up()
    with world.store.db.transaction(commit=False) as tx:
        return int(tx.scalar("SELECT count(*) FROM regie_access_traces WHERE outcome = 'denied'"))

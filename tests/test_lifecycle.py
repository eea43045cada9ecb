"""The case workflow end to end, through the commands, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers import World, make_world
from pydantic import ValidationError
from scenarios import START, day, first_person, measure, police_disclosure, refer, take_on, taken_on_case

from casusregie.adapters.config import Settings
from casusregie.commands.closure import CloseCase, ReopenCase
from casusregie.commands.decision import DeclineCase, InformResidents, TakeOn, WithholdLetter
from casusregie.commands.escalation import Escalate, ResolveEscalation
from casusregie.commands.information import DeclineRequest, DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.meetings import HoldMeeting, InvolvePartner, ScheduleMeeting
from casusregie.commands.plan import (
    AgreeMeasure,
    Evaluate,
    RecordAgreement,
    ReportProgress,
    RescheduleMeasure,
    RevisePlan,
    SetGoal,
)
from casusregie.commands.referral import AssessIntake, MemberInput, RecordConsent, RecordHomeVisit, ReferCase
from casusregie.commands.users import AddUser
from casusregie.domain.errors import AccessDenied, DomainRuleViolation, NotFound, ValidationFailed
from casusregie.domain.roles import Role
from casusregie.projections.reader import Reader


def test_a_case_runs_from_referral_to_closure_and_reopening(world: World) -> None:
    case = refer(world, by="piet", director="anna")
    take_on(world, case)
    request = police_disclosure(world, case)
    declined = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="lister",
            purpose="woonbegeleiding?",
            legal_basis="convenant",
            categories=["zorg.woonbegeleiding"],
            on=day(4),
        ),
    ).data["request"]
    world.run("lies", DeclineRequest(case=case, request=declined, reason="geen cliënt", on=day(5)))
    world.run("anna", InformResidents(case=case, on=day(6)))
    meeting = world.run("anna", ScheduleMeeting(case=case, date=day(10), participants=["mitros", "politie"]))
    world.run(
        "anna",
        HoldMeeting(
            case=case, meeting=meeting.data["meeting"], attended=["mitros"], minutes="hoor en wederhoor", on=day(10)
        ),
    )
    world.run("anna", SetGoal(case=case, life_domain="overlast", description="overlast stopt", on=day(11)))
    m1 = measure(world, case)
    world.run(
        "anna",
        AgreeMeasure(
            case=case,
            life_domain="financiën",
            owner="gemeente-utrecht",
            description="schuldhulp",
            due=day(40),
            goal="G1",
            on=day(11),
        ),
    )
    world.run("anna", RecordAgreement(case=case, on=day(12)))
    world.run("piet", ReportProgress(case=case, measure=m1, status="started", on=day(13)))
    world.run("piet", ReportProgress(case=case, measure=m1, status="done", note="afgerond", on=day(20)))
    world.run("anna", RescheduleMeasure(case=case, measure="M2", due=day(50), reason="wachtlijst", on=day(21)))
    world.run("anna", RevisePlan(case=case, reason="nieuwe afspraken", on=day(22)))
    world.run("anna", Evaluate(case=case, summary="gaat beter", on=day(25)))
    world.run("anna", Escalate(case=case, level=2, reason="zorg stokt", on=day(26)))
    world.run("mia", ResolveEscalation(case=case, escalation="E1", outcome="plek geregeld", on=day(28)))
    world.run(
        "anna",
        CloseCase(
            case=case,
            outcome="goals-met",
            judgement_neighbours="improved",
            judgement_partners="improved",
            aftercare="buurtteam volgt",
            handover_to="lister",
            despite="maatregel loopt via het buurtteam door",
            on=day(40),
        ),
    )
    view = Reader(world.session("anna")).case(case)
    assert view["status"] == "closed"
    assert [r["status"] for r in view["requests"]] == ["disclosed", "declined"]
    assert view["requests"][0]["items"][0]["content"] == "12 meldingen sinds juni"
    assert view["requests"][0]["request"] == request
    assert view["plan"]["revision"] == 2
    assert {m["status"] for m in view["plan"]["measures"]} == {"done", "agreed"}
    assert view["escalations"][0]["outcome"] == "plek geregeld"
    assert view["closures"][0]["aftercare"] == "buurtteam volgt"
    assert view["members"][0]["name"] == "Karel de Vries"
    assert view["members"][1]["minor"] is True
    world.run("anna", ReopenCase(case=case, reason="overlast terug", on=day(55)))
    assert Reader(world.session("anna")).case(case)["status"] == "taken-on"


def test_declining_a_referral_records_advice(world: World) -> None:
    case = refer(world)
    world.run("anna", DeclineCase(case=case, advice="Schakel het buurtteam in.", on=day(2)))
    view = Reader(world.session("anna")).case(case)
    assert view["status"] == "declined"
    assert view["decision"]["advice"] == "Schakel het buurtteam in."
    with pytest.raises(DomainRuleViolation, match="was not taken on"):
        world.run("anna", TakeOn(case=case, on=day(3)))


def test_letter_can_be_withheld_with_grounds(world: World) -> None:
    case = taken_on_case(world)
    world.run("anna", WithholdLetter(case=case, ground="veiligheid-derden", motivation="buren bedreigd", on=day(4)))
    letter = Reader(world.session("anna")).case(case)["letter"]
    assert letter == {
        "sent": False,
        "on": day(4).isoformat(),
        "by": "anna",
        "ground": "veiligheid-derden",
        "motivation": "buren bedreigd",
    }
    with pytest.raises(DomainRuleViolation, match="already recorded"):
        world.run("anna", InformResidents(case=case, on=day(5)))


def _finished_measure(world: World, case: str) -> None:
    m = measure(world, case)
    world.run("anna", ReportProgress(case=case, measure=m, status="done", on=day(9)))


# attempt: (taken on first?, extra setup, the illegal command, error, message)
ILLEGAL = {
    "measure before take-on": (
        False,
        None,
        lambda w, c: measure(w, c),
        DomainRuleViolation,
        "needs the case to be taken on",
    ),
    "close twice": (
        True,
        lambda w, c: w.run("anna", CloseCase(case=c, outcome="goals-met", despite="vroeg afgesloten", on=day(9))),
        lambda w, c: w.run("anna", CloseCase(case=c, outcome="goals-met", despite="vroeg afgesloten", on=day(10))),
        DomainRuleViolation,
        "already closed",
    ),
    "disclose to a missing request": (
        True,
        None,
        lambda w, c: w.run(
            "pol",
            DiscloseInformation(
                case=c, request="R9", items=[DisclosureItem(category="politie.meldingen", content="x")]
            ),
        ),
        ValidationFailed,
        "has no information request R9",
    ),
    "take on without assessment": (
        False,
        None,
        lambda w, c: w.run("anna", TakeOn(case=c, on=day(3))),
        DomainRuleViolation,
        "assess the referral",
    ),
    "take on without corporation consent": (
        False,
        lambda w, c: w.run("anna", AssessIntake(case=c, criteria=["woninggebonden", "meerdere-vormen"], on=day(1))),
        lambda w, c: w.run("anna", TakeOn(case=c, on=day(3))),
        DomainRuleViolation,
        "corporation must consent",
    ),
    "progress on a finished measure": (
        True,
        _finished_measure,
        lambda w, c: w.run("anna", ReportProgress(case=c, measure="M1", status="started", on=day(10))),
        DomainRuleViolation,
        "cannot become started",
    ),
    "meeting with an uninvolved partner": (
        True,
        None,
        lambda w, c: w.run("anna", ScheduleMeeting(case=c, date=day(10), participants=["lister"])),
        DomainRuleViolation,
        "only involved partners",
    ),
    "escalate to a level not on the ladder": (
        True,
        None,
        lambda w, c: w.run("anna", Escalate(case=c, level=9, reason="x", on=day(10))),
        ValidationFailed,
        "no escalation level 9",
    ),
    "reopen an open case": (
        True,
        None,
        lambda w, c: w.run("anna", ReopenCase(case=c, reason="x", on=day(10))),
        DomainRuleViolation,
        "is not closed",
    ),
    "acute override without a reason": (
        False,
        None,
        lambda w, c: w.run("anna", AssessIntake(case=c, criteria=[], acute_reason="   ", on=day(1))),
        ValidationError,
        "acute override needs a reason",
    ),
}


@pytest.mark.parametrize("attempt", list(ILLEGAL))
def test_illegal_transitions_are_refused_and_write_nothing(world: World, attempt: str) -> None:
    taken, setup, act, error, message = ILLEGAL[attempt]
    case = refer(world)
    if taken:
        take_on(world, case)
    if setup is not None:
        setup(world, case)
    before = world.count()
    with pytest.raises(error, match=message):
        act(world, case)
    assert world.count() == before


def test_police_may_only_share_covenant_categories_and_investigations_need_om_consent(world: World) -> None:
    case = taken_on_case(world)
    person = first_person(world, case)
    with pytest.raises(DomainRuleViolation, match="may not disclose zorg.woonbegeleiding"):
        world.run(
            "anna",
            RequestInformation(
                case=case,
                partner="politie",
                purpose="p",
                legal_basis="b",
                categories=["zorg.woonbegeleiding"],
                on=day(4),
            ),
        )
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose="p",
            legal_basis="b",
            categories=["politie.meldingen", "politie.lopend-onderzoek"],
            on=day(4),
        ),
    ).data["request"]
    before = world.count()
    with pytest.raises(DomainRuleViolation, match="OM"):
        world.run(
            "pol",
            DiscloseInformation(
                case=case,
                request=request,
                on=day(5),
                items=[DisclosureItem(category="politie.lopend-onderzoek", subject=person, content="onderzoek loopt")],
            ),
        )
    with pytest.raises(DomainRuleViolation, match="did not ask for politie.geweld"):
        world.run(
            "pol",
            DiscloseInformation(
                case=case,
                request=request,
                on=day(5),
                items=[DisclosureItem(category="politie.geweld", content="geen geweld")],
            ),
        )
    assert world.count() == before
    world.run(
        "pol",
        DiscloseInformation(
            case=case,
            request=request,
            on=day(5),
            om_consent="OM-2026-118",
            items=[DisclosureItem(category="politie.lopend-onderzoek", subject=person, content="onderzoek loopt")],
        ),
    )
    view = Reader(world.session("anna")).case(case)
    assert view["requests"][0]["om_consent"]["reference"] == "OM-2026-118"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bsn", "123456789", "fails the eleven-test"),
        ("birth_date", date(2999, 1, 1), "in the future"),
        ("name", "", "at least 1 character"),
    ],
)
def test_bad_member_input_is_rejected_before_anything_is_written(
    world: World, field: str, value: object, message: str
) -> None:
    data = {"name": "K. de Vries", "birth_date": date(1980, 1, 1), field: value}
    before = world.count()
    with pytest.raises(ValidationError, match=message):
        refer(world, members=[MemberInput(**data)])  # type: ignore[arg-type]
    assert world.count() == before


def test_unknown_case_partner_and_early_due_date(world: World) -> None:
    case = taken_on_case(world)
    before = world.count()
    with pytest.raises(NotFound, match="unknown case CNOPE"):
        world.run("anna", TakeOn(case="CNOPE"))
    with pytest.raises(ValidationFailed, match="unknown partner 'woonbond'"):
        world.run(
            "anna", RequestInformation(case=case, partner="woonbond", purpose="p", legal_basis="b", categories=["x"])
        )
    with pytest.raises(ValidationFailed, match="before the referral"):
        measure(world, case, due=date.fromordinal(START.toordinal() - 1))
    assert world.count() == before


def test_a_partner_answering_a_request_of_another_partner_is_refused_and_logged(world: World) -> None:
    case = taken_on_case(world)
    world.run(
        "anna",
        RequestInformation(
            case=case, partner="politie", purpose="p", legal_basis="b", categories=["politie.meldingen"], on=day(4)
        ),
    )
    domain_before, denied_before = world.domain_count(), world.count("AccessTrace.Started")
    with pytest.raises(AccessDenied, match="addressed to politie"):
        world.run(
            "piet",
            DiscloseInformation(
                case=case, request="R1", items=[DisclosureItem(category="politie.meldingen", content="x")]
            ),
        )
    assert world.domain_count() == domain_before
    assert world.count("AccessTrace.Started") == denied_before + 1


def test_directors_act_on_their_own_or_their_teams_cases_only(world: World) -> None:
    case = refer(world, director="anna")
    take_on(world, case)
    world.run("carla", InvolvePartner(case=case, partner="lister", on=day(5)))  # same team (west)
    with pytest.raises(AccessDenied, match="director"):
        world.run("bram", InvolvePartner(case=case, partner="politie", on=day(5)))  # team oost


def test_zwolle_home_visit_consent_at_take_on_and_a_signed_plan(tmp_path: Path) -> None:
    """Zwolle (seed 004): the chair visits at home, the client consents before take-on and signs the plan."""
    world = make_world(
        Settings(store=str(tmp_path / "zwolle.db"), key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None),
        "zwolle",
    )
    world.run("admin", AddUser(user_id="jos", role=Role.PARTNER, organisation="swz"))
    case = world.run(
        "jos",
        ReferCase(
            referring_org="swz",
            referring_worker="W. de Wit",
            reason="dreigende huisuitzetting",
            problems={"gezin": "spanningen"},
            members=[MemberInput(name="K. Zwolle", birth_date=date(1980, 1, 1))],
            director="anna",
            on=day(0),
        ),
    ).data["case"]
    world.run("anna", RecordHomeVisit(case=case, note="cliënt stemt in met bemiddeling", on=day(1)))
    world.run(
        "anna", AssessIntake(case=case, criteria=["multiprobleemhuishouden", "overlast-of-huisuitzetting"], on=day(2))
    )
    with pytest.raises(DomainRuleViolation, match="consent is required"):
        world.run("anna", TakeOn(case=case, on=day(3)))
    world.run("anna", RecordConsent(case=case, given=True, on=day(3)))
    world.run("anna", TakeOn(case=case, on=day(3)))
    world.run("anna", SetGoal(case=case, life_domain="gezin", description="rust in huis", on=day(4)))
    with pytest.raises(DomainRuleViolation, match="signature"):
        world.run("anna", RecordAgreement(case=case, on=day(5)))
    world.run("anna", RecordAgreement(case=case, signed=True, on=day(5)))
    view = Reader(world.session("anna")).case(case)
    assert view["home_visits"][0]["note"] == "cliënt stemt in met bemiddeling"
    assert view["plan"]["revisions"][0]["client_signed"] is True
    world.store.close()


def test_the_home_visit_belongs_to_approaches_that_have_one(world: World) -> None:
    case = refer(world)
    with pytest.raises(DomainRuleViolation, match="no home visit"):
        world.run("anna", RecordHomeVisit(case=case, on=day(1)))

"""Referral and intake (aanmelding en toetsing): referring a household, assigning a
director, consent, the corporation's consent and the intake assessment."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import Field, field_validator, model_validator

from casusregie.commands.authorization import acts_for, can_assign, directs, is_role
from casusregie.commands.base import CaseCommand, Command, Input, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.bsn import is_valid_bsn
from casusregie.domain.case import Case
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.household import HouseholdRole
from casusregie.domain.roles import Role
from casusregie.domain.sealed import case_key_id, person_key_id

INTAKE = "aanmelding-toetsing"
REGIE = "regie-uitvoering"


class MemberInput(Input):
    """A household member as the referrer gives it (gezinslid)."""

    name: str = Field(min_length=1, max_length=200)
    birth_date: date
    role: HouseholdRole = HouseholdRole.HOOFDBEWONER
    bsn: str | None = None
    address: str | None = Field(default=None, max_length=300)
    household: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="which household of the case, where it has several (e.g. 'bovenburen'); empty: the first",
    )

    @field_validator("bsn")
    @classmethod
    def _bsn_passes_eleven_test(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not is_valid_bsn(value):
            raise ValueError(f"{value} is not a valid BSN (it fails the eleven-test)")
        return value.zfill(9)

    @field_validator("birth_date")
    @classmethod
    def _born_in_the_past(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("date of birth lies in the future")
        if value.year < 1900:
            raise ValueError("date of birth before 1900")
        return value


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def new_person(
    session: Session, case_id: UUID, name: str, birth_date: date | None, bsn: str | None
) -> tuple[UUID, str]:
    """A new person of a case: a random id, their own key, a short ref, and the search index's digests."""
    person_id = uuid4()
    session.new_key(person_key_id(person_id), purpose="person", subject=f"person {person_id}")
    ref = session.new_ref("P")
    session.add_ref(ref, "person", person_id, case_id)
    session.index_person(person_id, name, birth_date, bsn)
    return person_id, ref


def new_member(session: Session, case_id: UUID, member: MemberInput, on: date) -> dict[str, object]:
    """A new household member: a new person with every identifying field sealed."""
    person_id, ref = new_person(session, case_id, member.name, member.birth_date, member.bsn)
    return {
        "person_id": person_id,
        "ref": ref,
        "role": str(member.role),
        "minor": age_on(member.birth_date, on) < 18,
        "name": session.seal_person(person_id, "name", member.name),
        "birth_date": session.seal_person(person_id, "birth_date", member.birth_date),
        "bsn": session.seal_person(person_id, "bsn", member.bsn),
        "address": session.seal_person(person_id, "address", member.address),
        "restricted": False,
        "household": member.household,
    }


class ReferCase(Command):
    """Refer a household (aanmelden): only professionals of partner organisations refer."""

    name: ClassVar[str] = "case.refer"
    activity: ClassVar[str] = INTAKE
    action: ClassVar[Action] = Action.CREATE

    referring_org: str = Field(min_length=1)
    referring_worker: str = Field(min_length=1, max_length=200)
    reason: Text = Field(min_length=1, max_length=5000)
    problems: dict[str, Text] = Field(min_length=1)
    members: list[MemberInput] = Field(min_length=1, max_length=30)
    home_corporation: str | None = None
    consent_given_on: date | None = None
    director: str | None = None
    team: str | None = None
    on: date = Field(default_factory=date.today)

    @model_validator(mode="after")
    def _dates(self) -> ReferCase:
        if self.on > date.today():
            raise ValueError("the referral date lies in the future")
        return self


@handles(ReferCase)
def refer_case(s: Session, cmd: ReferCase) -> Result:
    profile = s.profile
    if cmd.referring_org == profile.organisation_id or cmd.referring_org not in {p.id for p in profile.partners}:
        raise ValidationFailed(
            f"unknown partner {cmd.referring_org!r}: referrals come from partner organisations "
            f"({', '.join(p.id for p in profile.partners)})"
        )
    s.require(
        acts_for(s.actor, cmd.referring_org) or is_role(s.actor, Role.REGISSEUR),
        cmd,
        f"only a professional of {cmd.referring_org} or a case director can register its referral",
    )
    if cmd.home_corporation is not None:
        partner = next((p for p in profile.partners if p.id == cmd.home_corporation), None)
        if partner is None or not partner.housing_corporation:
            raise ValidationFailed(f"{cmd.home_corporation!r} is not a housing corporation of this profile")
    team, director = _team_and_director(s, cmd)
    case_id = uuid4()
    s.new_key(case_key_id(case_id), purpose="case", subject=f"case {case_id}")
    members = [new_member(s, case_id, m, cmd.on) for m in cmd.members]
    case_number = s.new_ref("C")
    s.add_ref(case_number, "case", case_id, case_id)
    case = Case.refer(
        profile=profile,
        case_id=case_id,
        case_number=case_number,
        referred_on=cmd.on,
        referring_org=cmd.referring_org,
        referring_worker=s.seal_case_text(case_id, "referring_worker", cmd.referring_worker),
        reason=s.seal_case_text(case_id, "reason", cmd.reason),
        problems={d: s.seal_case_text(case_id, f"problem:{d}", t) for d, t in cmd.problems.items()},
        members=members,
        home_corporation=cmd.home_corporation,
        consent_given_on=cmd.consent_given_on,
        team=team,
        director=director,
        registered_by=s.actor.user_id,
    )
    s.commit(cmd, case, case=case)
    refs = {m.ref: str(m.person_id) for m in case.members.values()}
    return Result(
        f"case {case_number} referred ({len(members)} members)",
        {"case": case_number, "case_id": str(case_id), "members": refs},
    )


def _team_and_director(s: Session, cmd: ReferCase) -> tuple[str, str | None]:
    """Where a referral lands: a named director brings their own team; a team must exist.

    A director who refers without naming a director or a team directs the case themselves.
    """
    acting_director = s.actor.role == Role.REGISSEUR and not cmd.team
    named = cmd.director or (s.actor.user_id if acting_director else None)
    if named is not None:
        director = s.require_director_user(named)
        if cmd.team and cmd.team != director.team:
            raise ValidationFailed(
                f"{director.user_id} works in team {director.team or '(none)'}, not {cmd.team}: name a director of "
                "that team, or only the team"
            )
        return director.team, director.user_id
    if cmd.team:
        return s.known_team(cmd.team), None
    return "", None


class AssignDirector(CaseCommand):
    """Assign a case director (regisseur toewijzen)."""

    name: ClassVar[str] = "case.assign"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    director: str = Field(min_length=1, description="a case director, or self")
    team: str | None = None


@handles(AssignDirector)
def assign_director(s: Session, cmd: AssignDirector) -> Result:
    case = s.case(cmd.case)
    user = s.require_director_user(cmd.director)
    team = s.known_team(cmd.team) if cmd.team is not None else user.team
    s.require(
        can_assign(s.actor, case, team),
        cmd,
        "only a manager, or a director of the case's own team (within that team), assigns cases",
        case,
    )
    case.assign_director(user.user_id, team, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[])
    return Result(f"{user.user_id} now directs case {case.case_number}")


class AddMember(CaseCommand):
    """Add a household member (gezinslid toevoegen)."""

    name: ClassVar[str] = "case.add-member"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.CREATE
    member: MemberInput


@handles(AddMember)
def add_member(s: Session, cmd: AddMember) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) changes the household", case)
    member = new_member(s, case.id, cmd.member, cmd.on)
    case.add_member(member, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[member["person_id"]])  # type: ignore[list-item]
    return Result(f"{member['ref']} added to case {case.case_number}", {"person": member["ref"]})


class RecordConsent(CaseCommand):
    """Record the residents' answer to the consent question (toestemming)."""

    name: ClassVar[str] = "case.consent"
    activity: ClassVar[str] = INTAKE
    action: ClassVar[Action] = Action.UPDATE
    given: bool


@handles(RecordConsent)
def record_consent(s: Session, cmd: RecordConsent) -> Result:
    case = s.case(cmd.case)
    s.require(
        directs(s.actor, case) or acts_for(s.actor, case.referring_org),
        cmd,
        "only the director or the referring organisation records consent",
        case,
    )
    case.record_resident_consent(cmd.given, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case)
    return Result(f"consent {'given' if cmd.given else 'refused'} recorded for case {case.case_number}")


class RequestCorporationConsent(CaseCommand):
    """Ask the corporation's consent for a corporation home (seed 003: answer within 3 days)."""

    name: ClassVar[str] = "case.corporation-consent-request"
    activity: ClassVar[str] = INTAKE
    action: ClassVar[Action] = Action.DISCLOSE


@handles(RequestCorporationConsent)
def request_corporation_consent(s: Session, cmd: RequestCorporationConsent) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director asks for consent", case)
    case.request_corporation_consent(cmd.on, s.actor.user_id, s.profile)
    s.commit(cmd, case, case=case)
    due = case.corporation_consent["due_on"] if case.corporation_consent else None
    return Result(f"consent asked of {case.home_corporation}" + (f", due {due}" if due else ""))


class AnswerCorporationConsent(CaseCommand):
    """The corporation's answer to the consent request."""

    name: ClassVar[str] = "case.corporation-consent"
    activity: ClassVar[str] = INTAKE
    action: ClassVar[Action] = Action.UPDATE
    consent: bool


@handles(AnswerCorporationConsent)
def answer_corporation_consent(s: Session, cmd: AnswerCorporationConsent) -> Result:
    case = s.case(cmd.case)
    corporation = case.home_corporation or ""
    s.require(acts_for(s.actor, corporation), cmd, f"only {corporation or 'the corporation'} answers this", case)
    case.answer_corporation_consent(cmd.consent, cmd.on, s.actor.user_id, s.actor.organisation)
    s.commit(cmd, case, case=case)
    return Result(f"{corporation} {'consents' if cmd.consent else 'does not consent'}")


class AssessIntake(CaseCommand):
    """Assess the referral against the profile's criteria (toetsing)."""

    name: ClassVar[str] = "case.assess"
    activity: ClassVar[str] = INTAKE
    action: ClassVar[Action] = Action.UPDATE
    criteria: list[str] = Field(default_factory=list)
    acute_reason: Text | None = Field(default=None, max_length=5000)

    @field_validator("acute_reason")
    @classmethod
    def _reason_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("an acute override needs a reason")
        return value


@handles(AssessIntake)
def assess_intake(s: Session, cmd: AssessIntake) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director assesses the referral", case)
    case.assess(
        cmd.criteria, s.seal_case_text(case.id, "acute_reason", cmd.acute_reason), cmd.on, s.actor.user_id, s.profile
    )
    s.commit(cmd, case, case=case)
    return Result(assessment_line(case.case_number, case.assessment or {}))


def assessment_line(case_number: str, assessment: dict[str, Any]) -> str:
    """What was decided, in that order: the acute override first, since it is what lets the case go on."""
    held = len(assessment.get("criteria_met") or ())
    counted = f"{held} of {assessment.get('threshold')} required criteria hold"
    if assessment.get("meets"):
        return f"case {case_number} meets the criteria ({counted}); it may be taken on"
    if assessment.get("acute"):
        return (
            f"case {case_number}: criteria set aside for an acute situation ({counted}); "
            "it may be taken on, the reason is recorded"
        )
    return (
        f"case {case_number} does not meet the criteria ({counted}); it can be declined with advice, "
        "or assessed again with an acute reason"
    )


class RecordHomeVisit(CaseCommand):
    """The chair visited the client at home, or invited them (huisbezoek; Zwolle, seed 004)."""

    name: ClassVar[str] = "case.home-visit"
    activity: ClassVar[str] = INTAKE
    action: ClassVar[Action] = Action.UPDATE
    invited: bool = False
    note: Text | None = Field(default=None, max_length=5000)


@handles(RecordHomeVisit)
def record_home_visit(s: Session, cmd: RecordHomeVisit) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director records the home visit", case)
    case.record_home_visit(
        cmd.invited, s.seal_case_text(case.id, "home_visit", cmd.note), cmd.on, s.actor.user_id, s.profile
    )
    s.commit(cmd, case, case=case)
    return Result(f"{'invitation' if cmd.invited else 'home visit'} recorded for case {case.case_number}")

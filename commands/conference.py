"""The casusoverleg across cases (seed 003): plan it, put cases on its agenda, discuss them, close it.

The meeting holds no personal data. Each case on the agenda gets a meeting of its own (kind
casusoverleg, linked to the overleg by its reference); what is said about the case, and which of
its persons took part, is recorded on that case, sealed with the case's key and seen only by those
who may see the case's minutes.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import uuid4

from pydantic import Field

from casusregie.commands.authorization import directs, is_role
from casusregie.commands.base import CaseCommand, Command, Result, Text, handles
from casusregie.commands.meetings import check_partners
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.conference import Conference
from casusregie.domain.errors import NotFound, ValidationFailed
from casusregie.domain.roles import Role

REGIE = "regie-uitvoering"


def load_conference(s: Session, reference: str) -> Conference:
    found = s.refs.resolve(reference, "conference")
    if found is None:
        raise NotFound(f"unknown casusoverleg {reference}")
    conference = s.app.get(found[0])
    assert isinstance(conference, Conference)
    return conference


class PlanConference(Command):
    """Plan a casusoverleg across cases (wijkoverleg): where, when, who chairs, which partners sit at the table."""

    name: ClassVar[str] = "overleg.plan"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.CREATE
    neighbourhood: str = Field(min_length=1, max_length=100, description="the neighbourhood (wijk) or team")
    date: date
    chair: str = Field(default="self", min_length=1, max_length=100, description="the chairing director or manager")
    participants: list[str] = Field(min_length=1, max_length=40)
    on: date = Field(default_factory=date.today)


@handles(PlanConference)
def plan_conference(s: Session, cmd: PlanConference) -> Result:
    s.require(
        is_role(s.actor, Role.REGISSEUR, Role.MANAGER), cmd, "only case directors and managers plan a casusoverleg"
    )
    check_partners(s, cmd.participants)
    chair = s.actor.user if cmd.chair == "self" else s.app.setup().user(cmd.chair)
    if chair is None:
        raise NotFound(f"unknown user {cmd.chair}")
    if not chair.active or chair.role not in (Role.REGISSEUR, Role.MANAGER):
        raise ValidationFailed(
            f"{chair.user_id} cannot chair: a casusoverleg is chaired by an active director or manager"
        )
    conference_id = uuid4()
    reference = s.new_ref("W")
    conference = Conference.plan(
        conference_id=conference_id,
        reference=reference,
        neighbourhood=cmd.neighbourhood,
        scheduled_for=cmd.date,
        chair=chair.user_id,
        participants=cmd.participants,
        by=s.actor.user_id,
        on=cmd.on,
    )
    s.add_ref(reference, "conference", conference_id, conference_id)
    s.commit(cmd, conference, subjects=[])
    return Result(
        f"casusoverleg {reference} planned for {cmd.date}, chaired by {chair.user_id}", {"overleg": reference}
    )


class PutOnAgenda(CaseCommand):
    """Put a case on the agenda of a casusoverleg (agenderen); its involved partners at the table take part."""

    name: ClassVar[str] = "overleg.agenda"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    overleg: str = Field(min_length=1, max_length=40)


@handles(PutOnAgenda)
def put_on_agenda(s: Session, cmd: PutOnAgenda) -> Result:
    case = s.case(cmd.case)
    conference = load_conference(s, cmd.overleg)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) puts it on an agenda", case)
    at_table = [p for p in conference.participants if case.is_involved(p)]
    conference.put_on_agenda(case.id, case.case_number, cmd.on, s.actor.user_id)
    meeting_id = case.schedule_meeting(
        "casusoverleg", conference.scheduled_for, at_table, s.actor.user_id, conference=conference.reference
    )
    s.commit(cmd, conference, case, case=case, subjects=[])
    return Result(
        f"case {case.case_number} on the agenda of {conference.reference} ({conference.scheduled_for}) as {meeting_id}",
        {"meeting": meeting_id},
    )


class DiscussCase(CaseCommand):
    """Record what the casusoverleg said about one case: its minutes, and who of its persons took part."""

    name: ClassVar[str] = "overleg.discuss"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    overleg: str = Field(min_length=1, max_length=40)
    minutes: Text = Field(min_length=1, max_length=50000)
    attended: list[str] = Field(default_factory=list, max_length=40, description="partners at the table for it")
    persons: list[str] = Field(default_factory=list, max_length=30, description="the client or network present")


@handles(DiscussCase)
def discuss_case(s: Session, cmd: DiscussCase) -> Result:
    case = s.case(cmd.case)
    conference = load_conference(s, cmd.overleg)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) records its minutes", case)
    meeting = case.meeting_at(conference.reference)
    strangers = sorted(set(cmd.attended) - set(conference.participants))
    if strangers:
        raise ValidationFailed(f"not at the table of {conference.reference}: {', '.join(strangers)}")
    persons = [case.member(p).person_id for p in cmd.persons]
    conference.discussed(case.id, cmd.on, s.actor.user_id)
    case.hold_meeting(
        meeting.meeting_id,
        cmd.on,
        cmd.attended or meeting.participants,
        s.seal_case_text(case.id, "minutes", cmd.minutes),  # type: ignore[arg-type]
        s.actor.user_id,
        s.profile,
        persons,
    )
    s.commit(cmd, conference, case, case=case)
    return Result(f"case {case.case_number} discussed at {conference.reference}; minutes recorded on the case")


class CloseConference(Command):
    """The casusoverleg is over: who sat at the table."""

    name: ClassVar[str] = "overleg.held"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    overleg: str = Field(min_length=1, max_length=40)
    attended: list[str] = Field(min_length=1, max_length=40)
    on: date = Field(default_factory=date.today)


@handles(CloseConference)
def close_conference(s: Session, cmd: CloseConference) -> Result:
    conference = load_conference(s, cmd.overleg)
    s.require(
        s.actor.user_id == conference.chair or is_role(s.actor, Role.MANAGER),
        cmd,
        f"only the chair ({conference.chair}) or a manager closes the casusoverleg",
    )
    conference.close(cmd.on, cmd.attended, s.actor.user_id)
    s.commit(cmd, conference, subjects=[])
    left = [item.case_number for item in conference.agenda if not item.discussed]
    rest = f"; not discussed: {len(left)} case(s), back on their directors' worklists" if left else ""
    return Result(f"casusoverleg {conference.reference} held on {cmd.on}{rest}")

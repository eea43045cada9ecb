"""Involving partners and case conferences (MDO / casusoverleg)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.case import Case
from casusregie.domain.errors import ValidationFailed

REGIE = "regie-uitvoering"


class InvolvePartner(CaseCommand):
    """Involve a partner organisation in the case (betrokken ketenpartner)."""

    name: ClassVar[str] = "case.involve"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    partner: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")
    # an organisation outside the profile's standing partners: its name and the legal basis to share with it
    partner_name: str | None = Field(default=None, min_length=1, max_length=200)
    legal_basis: Text | None = Field(default=None, min_length=1, max_length=500)


def check_partners(s: Session, partners: list[str], case: Case | None = None) -> None:
    """Each is the municipality, a standing partner, or (with ``case``) an organisation involved in it ad hoc."""
    known = s.profile.organisation_ids() | set(case.ad_hoc if case else ())
    unknown = sorted(set(partners) - known)
    if unknown:
        raise ValidationFailed(f"unknown partner {', '.join(unknown)}")


@handles(InvolvePartner)
def involve_partner(s: Session, cmd: InvolvePartner) -> Result:
    case = s.case(cmd.case)
    standing = cmd.partner in s.profile.organisation_ids()
    if standing and (cmd.partner_name or cmd.legal_basis):
        raise ValidationFailed(f"{cmd.partner} is a standing partner of the profile; its basis is in the profile")
    if not standing and not (cmd.partner_name and cmd.legal_basis):
        raise ValidationFailed(
            f"{cmd.partner} is not a partner in the profile: involve it ad hoc with its name and the legal basis"
        )
    s.require(directs(s.actor, case), cmd, "only the case's director involves partners", case)
    case.involve_partner(cmd.partner, cmd.on, s.actor.user_id, cmd.partner_name, cmd.legal_basis)
    s.commit(cmd, case, case=case, subjects=[])
    how = f" ad hoc ({cmd.partner_name}; basis: {cmd.legal_basis})" if not standing else ""
    return Result(f"{cmd.partner} involved in case {case.case_number}{how}")


class ScheduleMeeting(CaseCommand):
    """Schedule an MDO or casusoverleg with the involved partners."""

    name: ClassVar[str] = "meeting.schedule"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    kind: Literal["mdo", "casusoverleg"] = "mdo"
    date: date
    participants: list[str] = Field(min_length=1)


@handles(ScheduleMeeting)
def schedule_meeting(s: Session, cmd: ScheduleMeeting) -> Result:
    case = s.case(cmd.case)
    check_partners(s, cmd.participants, case)
    s.require(directs(s.actor, case), cmd, "only the case's director schedules case conferences", case)
    meeting_id = case.schedule_meeting(cmd.kind, cmd.date, cmd.participants, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[])
    return Result(f"{cmd.kind} {meeting_id} scheduled for {cmd.date}", {"meeting": meeting_id})


class HoldMeeting(CaseCommand):
    """Record that a case conference was held: who attended, and its minutes (verslag)."""

    name: ClassVar[str] = "meeting.held"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    meeting: str = Field(min_length=1)
    attended: list[str] = Field(min_length=1)
    minutes: Text = Field(min_length=1, max_length=50000)


@handles(HoldMeeting)
def hold_meeting(s: Session, cmd: HoldMeeting) -> Result:
    case = s.case(cmd.case)
    check_partners(s, cmd.attended, case)
    s.require(directs(s.actor, case), cmd, "only the case's director records the meeting", case)
    case.hold_meeting(
        cmd.meeting, cmd.on, cmd.attended, s.seal_case_text(case.id, "minutes", cmd.minutes), s.actor.user_id, s.profile
    )
    s.commit(cmd, case, case=case)
    return Result(f"meeting {cmd.meeting} held on {cmd.on}")

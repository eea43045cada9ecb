"""Deciding on the case (besluit): take it on or decline with advice, and the residents' letter."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action

REGIE = "regie-uitvoering"


class TakeOn(CaseCommand):
    """Take the case on (in regie nemen)."""

    name: ClassVar[str] = "case.take-on"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    late_reason: Text | None = Field(
        default=None, min_length=1, max_length=2000, description="why the decision comes after the intake deadline"
    )


@handles(TakeOn)
def take_on(s: Session, cmd: TakeOn) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director takes a case on", case)
    case.take_on(cmd.on, s.actor.user_id, s.profile, s.seal_case_text(case.id, "late_reason", cmd.late_reason))
    s.commit(cmd, case, case=case)
    hints = []
    if case.letter_due:
        hints.append(f"residents' letter due {case.letter_due}")
    if case.plan_due:
        hints.append(f"plan due {case.plan_due}")
    return Result(f"case {case.case_number} taken on" + (f" ({'; '.join(hints)})" if hints else ""))


class DeclineCase(CaseCommand):
    """Do not take the case on; the referrer gets advice (seed 001)."""

    name: ClassVar[str] = "case.decline"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    advice: Text = Field(min_length=1, max_length=5000)
    late_reason: Text | None = Field(
        default=None, min_length=1, max_length=2000, description="why the decision comes after the intake deadline"
    )


@handles(DeclineCase)
def decline_case(s: Session, cmd: DeclineCase) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director decides on a referral", case)
    case.decline(
        s.seal_case_text(case.id, "advice", cmd.advice),
        cmd.on,
        s.actor.user_id,
        s.seal_case_text(case.id, "late_reason", cmd.late_reason),
    )
    s.commit(cmd, case, case=case)
    return Result(f"case {case.case_number} not taken on; advice recorded for {case.referring_org}")


class InformResidents(CaseCommand):
    """Record that the residents were informed by letter (brief aan bewoners)."""

    name: ClassVar[str] = "case.letter"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE


@handles(InformResidents)
def inform_residents(s: Session, cmd: InformResidents) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director records the letter", case)
    case.inform_residents(cmd.on, s.actor.user_id, s.profile)
    s.commit(cmd, case, case=case)
    return Result(f"residents of case {case.case_number} informed by letter on {cmd.on}")


class WithholdLetter(CaseCommand):
    """Record the well-founded grounds not to inform the residents (e.g. safety of third parties)."""

    name: ClassVar[str] = "case.no-letter"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    ground: str = Field(min_length=1, max_length=200, description="e.g. veiligheid-derden")
    motivation: Text = Field(min_length=1, max_length=5000)


@handles(WithholdLetter)
def withhold_letter(s: Session, cmd: WithholdLetter) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director decides not to send the letter", case)
    case.withhold_letter(
        cmd.ground, s.seal_case_text(case.id, "letter_motivation", cmd.motivation), cmd.on, s.actor.user_id
    )
    s.commit(cmd, case, case=case)
    return Result(f"no letter for case {case.case_number}: {cmd.ground} (motivation recorded)")

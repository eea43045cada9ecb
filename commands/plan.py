"""The plan (plan van aanpak): goals, measures and their progress, revisions, agreement, evaluations."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from casusregie.commands.authorization import acts_for, directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.plan import MeasureStatus
from casusregie.domain.sealed import case_key_id, person_key_id

REGIE = "regie-uitvoering"


class SetGoal(CaseCommand):
    """Set a goal (doel) on one life domain."""

    name: ClassVar[str] = "plan.goal"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    life_domain: str = Field(min_length=1)
    description: Text = Field(min_length=1, max_length=5000)


@handles(SetGoal)
def set_goal(s: Session, cmd: SetGoal) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director writes the plan", case)
    goal_id = case.set_goal(
        cmd.life_domain, s.seal(case_key_id(case.id), "goal", cmd.description), cmd.on, s.actor.user_id, s.profile
    )
    s.commit(cmd, case, case=case)
    return Result(f"goal {goal_id} set on {cmd.life_domain}", {"goal": goal_id})


class AgreeMeasure(CaseCommand):
    """Agree a measure (maatregel): owner organisation, description, due date."""

    name: ClassVar[str] = "plan.measure"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    life_domain: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    description: Text = Field(min_length=1, max_length=5000)
    due: date
    goal: str | None = None
    subject: str | None = Field(default=None, description="person ref when the measure concerns one person")
    kind: Literal["zorg", "bestuursrechtelijk", "strafrechtelijk"] = "zorg"


@handles(AgreeMeasure)
def agree_measure(s: Session, cmd: AgreeMeasure) -> Result:
    case = s.case(cmd.case)
    if cmd.owner not in s.profile.organisation_ids():
        raise ValidationFailed(f"unknown partner {cmd.owner!r}")
    s.require(directs(s.actor, case), cmd, "only the case's director writes the plan", case)
    subject = case.member(cmd.subject).person_id if cmd.subject else None
    key = person_key_id(subject) if subject else case_key_id(case.id)
    measure_id = case.agree_measure(
        cmd.life_domain,
        cmd.owner,
        s.seal(key, "measure", cmd.description),
        cmd.due,
        cmd.goal,
        subject,
        cmd.kind,
        cmd.on,
        s.actor.user_id,
        s.profile,
    )
    s.commit(cmd, case, case=case, subjects=[subject] if subject else None)
    return Result(f"measure {measure_id} agreed with {cmd.owner}, due {cmd.due}", {"measure": measure_id})


class ReportProgress(CaseCommand):
    """Report progress on a measure: started, done, failed or cancelled (voortgang)."""

    name: ClassVar[str] = "plan.progress"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    measure: str = Field(min_length=1)
    status: Literal["started", "done", "failed", "cancelled"]
    note: Text | None = Field(default=None, max_length=5000)


@handles(ReportProgress)
def report_progress(s: Session, cmd: ReportProgress) -> Result:
    case = s.case(cmd.case)
    measure = case.measure(cmd.measure)
    s.require(
        directs(s.actor, case) or acts_for(s.actor, measure.owner),
        cmd,
        f"measure {cmd.measure} is owned by {measure.owner}; only its professionals or the director report on it",
        case,
    )
    key = person_key_id(measure.subject) if measure.subject else case_key_id(case.id)
    note = s.seal(key, "progress", cmd.note) if cmd.note else None
    case.report_progress(cmd.measure, MeasureStatus(cmd.status), note, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[measure.subject] if measure.subject else None)
    return Result(f"measure {cmd.measure} is now {cmd.status}")


class RescheduleMeasure(CaseCommand):
    """Move a measure's due date, with a reason."""

    name: ClassVar[str] = "plan.reschedule"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    measure: str = Field(min_length=1)
    due: date
    reason: Text = Field(min_length=1, max_length=1000)


@handles(RescheduleMeasure)
def reschedule_measure(s: Session, cmd: RescheduleMeasure) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director reschedules measures", case)
    reason = s.seal(case_key_id(case.id), "reschedule", cmd.reason)
    case.reschedule_measure(cmd.measure, cmd.due, reason, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[])
    return Result(f"measure {cmd.measure} now due {cmd.due}")


class RevisePlan(CaseCommand):
    """Start a new revision of the plan; earlier revisions stay in the history."""

    name: ClassVar[str] = "plan.revise"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    reason: Text = Field(min_length=1, max_length=1000)


@handles(RevisePlan)
def revise_plan(s: Session, cmd: RevisePlan) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director revises the plan", case)
    revision = case.revise_plan(s.seal(case_key_id(case.id), "revision", cmd.reason), cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[])
    return Result(f"plan revision {revision} started")


class RecordAgreement(CaseCommand):
    """The residents agree to (or, where required, sign) the plan."""

    name: ClassVar[str] = "plan.agree"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    signed: bool = False


@handles(RecordAgreement)
def record_agreement(s: Session, cmd: RecordAgreement) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director records the client's agreement", case)
    case.record_client_agreement(cmd.on, cmd.signed, s.actor.user_id, s.profile)
    s.commit(cmd, case, case=case)
    return Result(f"plan revision {case.plan_revision} {'signed' if cmd.signed else 'agreed'} by the residents")


class Evaluate(CaseCommand):
    """An evaluation moment (evaluatie) of the plan."""

    name: ClassVar[str] = "plan.evaluate"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    summary: Text = Field(min_length=1, max_length=20000)


@handles(Evaluate)
def evaluate(s: Session, cmd: Evaluate) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director records evaluations", case)
    case.evaluate(s.seal(case_key_id(case.id), "evaluation", cmd.summary), cmd.on, s.actor.user_id, s.profile)
    s.commit(cmd, case, case=case)
    return Result("evaluation recorded" + (f"; next due {case.next_evaluation}" if case.next_evaluation else ""))

"""Escalation (opschaling) and its outcome."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from casusregie.commands.authorization import directs, is_role
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.roles import Role
from casusregie.domain.sealed import case_key_id

REGIE = "regie-uitvoering"


class Escalate(CaseCommand):
    """Escalate a stalled case to a level of the profile's ladder."""

    name: ClassVar[str] = "case.escalate"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.DISCLOSE
    level: int = Field(ge=1)
    reason: Text = Field(min_length=1, max_length=5000)


@handles(Escalate)
def escalate(s: Session, cmd: Escalate) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director escalates", case)
    escalation_id = case.escalate(
        cmd.level, s.seal(case_key_id(case.id), "escalation", cmd.reason), cmd.on, s.actor.user_id, s.profile
    )
    s.commit(cmd, case, case=case)
    rung = case.escalations[escalation_id]
    return Result(f"escalation {escalation_id} to level {rung.level}: {rung.level_name}", {"escalation": escalation_id})


class ResolveEscalation(CaseCommand):
    """Record the outcome of an escalation (by the manager who received it, or the director)."""

    name: ClassVar[str] = "case.escalation-outcome"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    escalation: str = Field(min_length=1)
    outcome: Text = Field(min_length=1, max_length=5000)


@handles(ResolveEscalation)
def resolve_escalation(s: Session, cmd: ResolveEscalation) -> Result:
    case = s.case(cmd.case)
    s.require(
        directs(s.actor, case) or (is_role(s.actor, Role.MANAGER) and bool(case.escalations)),
        cmd,
        "only the manager receiving the escalation, or the case's director, records its outcome",
        case,
    )
    case.resolve_escalation(
        cmd.escalation, s.seal(case_key_id(case.id), "escalation_outcome", cmd.outcome), cmd.on, s.actor.user_id
    )
    s.commit(cmd, case, case=case)
    return Result(f"outcome of escalation {cmd.escalation} recorded")

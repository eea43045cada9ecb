"""Closing a case with its outcome and aftercare, and reopening it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.closure import ClosureOutcome, Judgement
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.sealed import case_key_id

REGIE = "regie-uitvoering"


class CloseCase(CaseCommand):
    """Close the case (afsluiten): outcome, judgements, aftercare and warm handover."""

    name: ClassVar[str] = "case.close"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    outcome: ClosureOutcome
    judgement_neighbours: Judgement = Judgement.UNKNOWN
    judgement_partners: Judgement = Judgement.UNKNOWN
    aftercare: Text | None = Field(default=None, max_length=10000)
    handover_to: str | None = None
    note: Text | None = Field(default=None, max_length=10000)


@handles(CloseCase)
def close_case(s: Session, cmd: CloseCase) -> Result:
    case = s.case(cmd.case)
    if cmd.handover_to is not None and cmd.handover_to not in {p.id for p in s.profile.partners}:
        raise ValidationFailed(f"unknown partner {cmd.handover_to!r} for the warm handover")
    s.require(directs(s.actor, case), cmd, "only the case's director closes the case", case)
    key = case_key_id(case.id)
    case.close(
        str(cmd.outcome),
        str(cmd.judgement_neighbours),
        str(cmd.judgement_partners),
        s.seal(key, "aftercare", cmd.aftercare) if cmd.aftercare else None,
        cmd.handover_to,
        s.seal(key, "closure_note", cmd.note) if cmd.note else None,
        cmd.on,
        s.actor.user_id,
    )
    s.commit(cmd, case, case=case)
    return Result(f"case {case.case_number} closed: {cmd.outcome}")


class ReopenCase(CaseCommand):
    """Reopen a closed case when the household comes back."""

    name: ClassVar[str] = "case.reopen"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    reason: Text = Field(min_length=1, max_length=5000)


@handles(ReopenCase)
def reopen_case(s: Session, cmd: ReopenCase) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director reopens the case", case)
    case.reopen(s.seal(case_key_id(case.id), "reopen_reason", cmd.reason), cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case)
    return Result(f"case {case.case_number} reopened")

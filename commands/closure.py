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
    despite: Text | None = Field(
        default=None,
        min_length=1,
        max_length=5000,
        description="why the case is closed although measures are open, the letter is outstanding, no MDO was "
        "held or the minimum guidance has not passed",
    )


@handles(CloseCase)
def close_case(s: Session, cmd: CloseCase) -> Result:
    case = s.case(cmd.case)
    if cmd.handover_to is not None and cmd.handover_to not in {p.id for p in s.profile.partners} | set(case.ad_hoc):
        raise ValidationFailed(
            f"unknown partner {cmd.handover_to!r} for the warm handover (an organisation outside the profile is "
            "involved ad hoc first)"
        )
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
        s.profile,
        s.seal(key, "closure_despite", cmd.despite) if cmd.despite else None,
    )
    s.commit(cmd, case, case=case)
    closed = case.closures[-1]
    extra = f"; closed despite: {'; '.join(closed.concerns)}" if closed.concerns else ""
    aftercare = f"; aftercare contact due {closed.aftercare_due}" if closed.aftercare_due else ""
    return Result(f"case {case.case_number} closed: {cmd.outcome}{extra}{aftercare}")


class RecordAftercareContact(CaseCommand):
    """Someone contacted the household again after closure (nazorgcontact)."""

    name: ClassVar[str] = "case.aftercare"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    note: Text | None = Field(default=None, min_length=1, max_length=5000)


@handles(RecordAftercareContact)
def record_aftercare_contact(s: Session, cmd: RecordAftercareContact) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) records the aftercare", case)
    note = s.seal(case_key_id(case.id), "aftercare_contact", cmd.note) if cmd.note else None
    case.record_aftercare_contact(note, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case)
    return Result(f"aftercare contact with case {case.case_number} recorded on {cmd.on}")


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

"""Problems that change (problematiek): added, described anew and resolved during the case.

A referral names the problems as the referrer saw them; the director learns more at the home
visit, in the information round and as the plan works. Each change is its own event: the
earlier description stays in the case's history (and in an access answer), never overwritten.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action

REGIE = "regie-uitvoering"


class ProblemCommand(CaseCommand):
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    life_domain: str = Field(min_length=1, max_length=100)


class AddProblem(ProblemCommand):
    """A problem on a life domain that came to light after the referral (probleem toevoegen)."""

    name: ClassVar[str] = "case.problem-add"
    description: Text = Field(min_length=1, max_length=5000)


@handles(AddProblem)
def add_problem(s: Session, cmd: AddProblem) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) records problems", case)
    text = s.seal_case_text(case.id, f"problem:{cmd.life_domain}", cmd.description)
    assert text is not None
    case.add_problem(cmd.life_domain, text, cmd.on, s.actor.user_id, s.profile)
    s.commit(cmd, case, case=case)
    return Result(f"problem on {cmd.life_domain} added to case {case.case_number}")


class UpdateProblem(ProblemCommand):
    """The problem is now described differently (probleem bijwerken); the old description is kept."""

    name: ClassVar[str] = "case.problem-update"
    description: Text = Field(min_length=1, max_length=5000)


@handles(UpdateProblem)
def update_problem(s: Session, cmd: UpdateProblem) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) records problems", case)
    text = s.seal_case_text(case.id, f"problem:{cmd.life_domain}", cmd.description)
    assert text is not None
    case.update_problem(cmd.life_domain, text, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case)
    return Result(f"problem on {cmd.life_domain} of case {case.case_number} updated")


class ResolveProblem(ProblemCommand):
    """The problem on this life domain is solved (probleem opgelost)."""

    name: ClassVar[str] = "case.problem-resolve"
    note: Text | None = Field(default=None, min_length=1, max_length=5000)


@handles(ResolveProblem)
def resolve_problem(s: Session, cmd: ResolveProblem) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) records problems", case)
    note = s.seal_case_text(case.id, f"problem_resolved:{cmd.life_domain}", cmd.note)
    case.resolve_problem(cmd.life_domain, note, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case)
    left = ", ".join(case.problems) or "none"
    return Result(f"problem on {cmd.life_domain} of case {case.case_number} resolved; open problems: {left}")

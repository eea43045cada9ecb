"""One plan for the whole household (één integraal plan van aanpak).

Goals (doelen) per life domain (leefgebied) and measures (maatregelen) with an owner
organisation, a description and a due date. A measure moves agreed -> started -> done,
or ends failed or cancelled; what is finished stays finished. Each change to goals or
measures after the client agreed starts a new plan revision, so history is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID

from casusregie.domain.errors import DomainRuleViolation
from casusregie.domain.sealed import Sealed


class MeasureStatus(StrEnum):
    AGREED = "agreed"  # afgesproken
    STARTED = "started"  # gestart
    DONE = "done"  # uitgevoerd
    FAILED = "failed"  # mislukt
    CANCELLED = "cancelled"  # geannuleerd


FINISHED = {MeasureStatus.DONE, MeasureStatus.FAILED, MeasureStatus.CANCELLED}

_ALLOWED = {
    MeasureStatus.AGREED: {MeasureStatus.STARTED, MeasureStatus.DONE, MeasureStatus.FAILED, MeasureStatus.CANCELLED},
    MeasureStatus.STARTED: {MeasureStatus.DONE, MeasureStatus.FAILED, MeasureStatus.CANCELLED},
}


def check_measure_transition(measure_id: str, current: str, new: str) -> None:
    if new not in _ALLOWED.get(MeasureStatus(current), set()):
        raise DomainRuleViolation(f"measure {measure_id} is {current}; it cannot become {new}")


@dataclass
class Goal:
    """A goal (doel) on one life domain."""

    goal_id: str
    life_domain: str
    description: Sealed
    revision: int
    set_on: date


@dataclass
class ProgressNote:
    on: date
    status: str
    by: str
    note: Sealed | None


@dataclass
class Measure:
    """A measure (maatregel): who does what, by when, towards which goal."""

    measure_id: str
    life_domain: str
    owner: str  # organisation id: a partner or the municipality
    description: Sealed
    due_on: date
    agreed_on: date
    revision: int
    goal_id: str | None = None
    subject: UUID | None = None
    kind: str = "zorg"  # zorg en ondersteuning, bestuursrechtelijk or strafrechtelijk (seed 001)
    status: str = MeasureStatus.AGREED
    history: list[ProgressNote] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass
class PlanRevision:
    revision: int
    on: date
    reason: Sealed | str  # sealed with the case key; "eerste plan" and older records are plain
    client_agreed_on: date | None = None
    client_signed: bool = False

"""Case conferences: the MDO (multidisciplinair overleg) and the periodic casusoverleg."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from casusregie.domain.sealed import Sealed


@dataclass
class Meeting:
    """A scheduled or held case conference with only the partners actually involved."""

    meeting_id: str
    kind: str  # "mdo" or "casusoverleg"
    scheduled_for: date
    participants: list[str]
    held_on: date | None = None
    attended: list[str] = field(default_factory=list)
    minutes: Sealed | None = None
    conference: str | None = None  # the casusoverleg across cases this case was discussed at (its reference)
    persons: list[UUID] = field(default_factory=list)  # the client or their network at the table (seed 004)

"""Escalation (opschaling) along the profile's ladder when a case stalls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from casusregie.domain.sealed import Sealed


@dataclass
class Escalation:
    """One escalation to a level of the ladder, and its outcome once known."""

    escalation_id: str
    level: int
    level_name: str
    reason: Sealed
    raised_on: date
    raised_by: str
    resolved_on: date | None = None
    outcome: Sealed | None = None
    resolved_by: str | None = None

    @property
    def open(self) -> bool:
        return self.resolved_on is None

"""Erasure (vernietiging) by crypto-shredding, as its own record.

An erasure is not a step of the case workflow, and it must not cost more for a case with a
long history: it records only which person (or which whole case) was erased, on which
ground and when; no personal data, and without loading the case. Whether a person's data
is erased is a fact of the keyring (their key is destroyed); this event is the log of it.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Erasure(Aggregate):
    """One erasure: the persons (and, for a whole case, the household key) whose keys were destroyed."""

    @event("Recorded")
    def __init__(
        self, scope: str, case_id: UUID, persons: list[UUID], ground: str, on: date, request: str, by: str
    ) -> None:
        self.scope = scope  # "person" or "case"
        self.case_id = case_id
        self.persons = list(persons)
        self.ground = ground
        self.on = on
        self.request = request
        self.by = by

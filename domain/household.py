"""The household (huishouden) and its members (gezinsleden / bewoners)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from casusregie.domain.sealed import Sealed


class HouseholdRole(StrEnum):
    """A member's place in the household."""

    HOOFDBEWONER = "hoofdbewoner"  # main resident / tenant
    PARTNER = "partner"
    KIND = "kind"  # child
    OUDER = "ouder"  # parent living in
    OVERIG = "overig"  # other co-resident (medebewoner)


@dataclass
class Member:
    """One person in the household. Identifying fields are sealed with the person's key."""

    person_id: UUID
    ref: str  # short reference for people typing it, e.g. "P3KQ7"
    role: str
    minor: bool
    name: Sealed
    birth_date: Sealed
    bsn: Sealed | None = None
    address: Sealed | None = None
    restricted: bool = False

    @classmethod
    def from_event(cls, data: dict[str, object]) -> Member:
        return cls(**data)  # type: ignore[arg-type]

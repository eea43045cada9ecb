"""The household (huishouden), its members (gezinsleden / bewoners) and the wider network.

A case may hold several households (seed 003: nuisance between neighbours), each with a label,
and persons outside any household who still play a part: the neighbour who reports nuisance,
family, the client's own network. They are persons of the case like the members: their own
key, a ref, their data in their access answer and gone with their erasure; only their place
in the case differs, and who may see them (a reporter's identity is not for the partners).
"""

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


class NetworkRole(StrEnum):
    """The part a person outside the household plays in the case (netwerk)."""

    MELDER = "melder"  # reports the nuisance (often a neighbour): their identity needs protecting
    BUUR = "buur"  # a neighbour involved otherwise (e.g. in mediation)
    FAMILIE = "familie"  # family outside the household
    NETWERK = "netwerk"  # the client's own network (friend, volunteer, confidant)
    ANDERS = "anders"


NETWORK_ROLES = frozenset(r.value for r in NetworkRole)


@dataclass
class Member:
    """One person in the household. Identifying fields are sealed with the person's key."""

    person_id: UUID
    ref: str  # short reference for people typing it, e.g. "P3KQ7"
    role: str
    minor: bool
    name: Sealed
    birth_date: Sealed | None  # may be unknown for a person of the wider network
    bsn: Sealed | None = None
    address: Sealed | None = None
    restricted: bool = False
    household: str | None = None  # which household of the case, where it has several (None: the first)
    contact: Sealed | None = None  # how to reach a person of the network (phone, e-mail)

    @property
    def in_network(self) -> bool:
        """Outside every household of the case: a reporter, family, the client's network."""
        return self.role in NETWORK_ROLES

    @classmethod
    def from_event(cls, data: dict[str, object]) -> Member:
        return cls(**data)  # type: ignore[arg-type]

"""Who acts in the system (gebruikers en rollen).

Residents (inwoners) are data subjects, never users: only professionals refer a case.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles a user can hold."""

    REGISSEUR = "regisseur"  # case director: casusregisseur / procesregisseur
    PARTNER = "partner"  # professional of a partner organisation (ketenpartner)
    MANAGER = "manager"  # team manager / board: receives escalations (doorzettingsmacht)
    PRIVACY_OFFICER = "privacy-officer"  # answers data-subject requests (inzageverzoeken)
    AUDITOR = "auditor"  # replays history, verifies the log (toezichthouder)
    BEHEERDER = "beheerder"  # functional administrator: users, keys; sees no case data


ROLE_NAMES_NL = {
    Role.REGISSEUR: "casusregisseur",
    Role.PARTNER: "ketenpartner",
    Role.MANAGER: "manager",
    Role.PRIVACY_OFFICER: "privacy officer",
    Role.AUDITOR: "auditor",
    Role.BEHEERDER: "functioneel beheerder",
}


@dataclass(frozen=True)
class User:
    """A professional with a role in one organisation, optionally in a team."""

    user_id: str
    role: Role
    organisation: str
    team: str = ""
    active: bool = True


@dataclass(frozen=True)
class Authentication:
    """How the acting user proved who they are (NEN 7513 and the LDV record it beside the action).

    Absent for the operator's CLI, whose ``--as`` is an assertion, not a proof.
    """

    subject: str  # the identity provider's subject claim
    issuer: str
    token_id: str  # the token's ``jti``, or a digest of the token when it has none
    client_address: str


@dataclass(frozen=True)
class Actor:
    """Who performs an action, and on whose behalf (NEN 7513: de verantwoordelijke gebruiker)."""

    user: User
    on_behalf_of: str | None = None
    authentication: Authentication | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def organisation(self) -> str:
        return self.user.organisation

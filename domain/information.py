"""The information round (informatieronde): requests to partners, disclosures, declines.

A partner discloses (verstrekt) only what its own framework allows and what was asked;
the police only the categories of the Utrecht covenant, and information about a running
investigation only with the public prosecutor's (OM) consent on record (seed 003).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID

from casusregie.domain.errors import DomainRuleViolation
from casusregie.domain.profile import POLICE_CATEGORIES, POLICE_INVESTIGATION_CATEGORY, Profile
from casusregie.domain.sealed import Sealed


class RequestStatus(StrEnum):
    OPEN = "open"
    DISCLOSED = "disclosed"  # verstrekt
    DECLINED = "declined"  # geweigerd


@dataclass
class DisclosedItem:
    """One piece of disclosed information about one subject (or the household: None)."""

    category: str
    subject: UUID | None
    content: Sealed


@dataclass
class InformationRequest:
    """A request for information (informatieverzoek) to one partner organisation."""

    request_id: str
    partner: str
    purpose: Sealed | str  # sealed free text; plain in records from before it was sealed
    legal_basis: str
    categories: list[str]
    subjects: list[UUID]
    requested_on: date
    due_on: date | None
    requested_by: str
    status: str = RequestStatus.OPEN
    answered_on: date | None = None
    answered_by: str | None = None
    partner_legal_basis: str = ""
    items: list[DisclosedItem] = field(default_factory=list)
    decline_reason: Sealed | None = None
    om_consent: dict[str, object] | None = None


def check_request_categories(profile: Profile, partner_id: str, categories: list[str]) -> None:
    """A request may only ask a partner for categories that partner may disclose."""
    partner = profile.partner(partner_id)
    not_allowed = [c for c in categories if c not in partner.categories]
    if not_allowed:
        raise DomainRuleViolation(
            f"{partner.name} may not disclose {', '.join(not_allowed)}; allowed: {', '.join(partner.categories)}"
        )


def check_disclosure(
    profile: Profile, request: InformationRequest, categories: list[str], om_consent: dict[str, object] | None
) -> None:
    """The rules a disclosure must meet before it is recorded."""
    if request.status != RequestStatus.OPEN:
        raise DomainRuleViolation(f"request {request.request_id} was already answered ({request.status})")
    if not categories:
        raise DomainRuleViolation("a disclosure must contain at least one item")
    not_asked = sorted({c for c in categories if c not in request.categories})
    if not_asked:
        raise DomainRuleViolation(
            f"request {request.request_id} did not ask for {', '.join(not_asked)}; "
            "disclose only what was asked (doelbinding)"
        )
    partner = profile.partner(request.partner)
    not_allowed = sorted({c for c in categories if c not in partner.categories})
    if not_allowed:
        raise DomainRuleViolation(f"{partner.name} may not disclose {', '.join(not_allowed)}")
    if partner.kind == "politie":
        allowed = {*POLICE_CATEGORIES, POLICE_INVESTIGATION_CATEGORY}
        outside = sorted({c for c in categories if c not in allowed})
        if outside:
            raise DomainRuleViolation(
                f"the police may only share {', '.join(POLICE_CATEGORIES)}; not {', '.join(outside)}"
            )
    needs_om = sorted({c for c in categories if profile.category(c).requires_om_consent})
    if needs_om and not om_consent:
        raise DomainRuleViolation(
            f"{', '.join(needs_om)} concerns a running investigation: record the public "
            "prosecutor's (OM) consent first (--om-consent)"
        )

"""Need-to-know (doelbinding en dataminimalisatie per gebruiker): who sees what of a case.

* the case director (and their team) sees the whole case, the wider network included (a
  neighbour who reports nuisance is seen by no partner and no manager);
* a partner sees only cases its organisation is involved in, and within them: who the
  household members are (names), the requests addressed to it and its own answers, the
  measures it owns, the meetings it takes part in, and other partners' disclosures only in
  the categories its own organisation is allowed by the profile. Police information is only
  ever in the police categories, so no other partner sees it;
* a manager sees the cases escalated to them: the problems, the plan and the escalations,
  not the partners' disclosures, meeting minutes or the case journal;
* an auditor sees what the profile grants auditors (personal data only if granted);
* privacy officers work through the data-subject request commands; administrators see no
  case data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from casusregie.domain.case import Case
from casusregie.domain.profile import Profile
from casusregie.domain.roles import Actor, Role
from casusregie.domain.sealed import Sealed
from casusregie.privacy_audit.key_hierarchy import KeyShredded

REDACTED = "[afgeschermd]"  # the reader may not see this personal field
ERASED = "[gewist]"  # the person's key was destroyed: the field is gone for everyone
RESTRICTED_FIELD = "[beperkt]"  # the person's processing is restricted (art. 18 AVG): withheld from this read
RESTRICTION = "processing of this person's data is restricted (art. 18 AVG)"  # why, in the access log

#: Opens one personal field for one reader: ``None`` stays ``None``.
Opener = Callable[[Sealed | str | None], Any]

FULL_SECTIONS = frozenset(
    {
        "members",
        "identity",
        "signals",
        "consent",
        "assessment",
        "requests",
        "disclosures",
        "decision",
        "letter",
        "meetings",
        "minutes",
        "plan",
        "evaluations",
        "escalations",
        "closure",
        "journal",
        "network",
        "documents",  # attached documents (stukken); a partner sees only those from its own organisation
    }
)


@dataclass(frozen=True)
class Visibility:
    """What one actor may see of one case."""

    sections: frozenset[str]
    categories: frozenset[str] = frozenset()  # disclosure categories visible beyond their own
    organisation: str | None = None  # a partner's own organisation: its requests, answers, measures
    personal_data: bool = True  # False: structure only, every personal field redacted
    reason: str = ""

    def sees(self, section: str) -> bool:
        return section in self.sections

    def sees_request(self, partner: str) -> bool:
        return "requests" in self.sections or partner == self.organisation

    def sees_disclosure(self, partner: str, category: str) -> bool:
        if "disclosures" in self.sections:
            return True
        return partner == self.organisation or category in self.categories

    def sees_measure(self, owner: str) -> bool:
        return "plan" in self.sections or owner == self.organisation


def keyring_opener(keyring: Any) -> Opener:
    """Open sealed fields with the keyring; a destroyed key (an erased person) shows as ``[gewist]``.

    Plain text passes through: fields that are sealed now were plain in older records.
    """

    def open_(value: Sealed | str | None) -> Any:
        if value is None or not isinstance(value, Sealed):
            return value
        try:
            return keyring.unseal(value)
        except KeyShredded:
            return ERASED

    return open_


def opener_for(visibility: Visibility, base: Opener) -> Opener:
    """THE need-to-know filter for personal fields: every read path opens them through this.

    ``base`` opens a field (``keyring_opener``); a reader without the right to personal data
    gets ``[afgeschermd]`` for every personal field, sealed or (in older records) plain.
    """
    if visibility.personal_data:
        return base

    def redacted(value: Sealed | str | None) -> Any:
        return None if value is None else REDACTED

    return redacted


def reader_visibility(actor: Actor, profile: Profile, grant: str) -> Visibility:
    """What a reader sees outside one case's view (trail, requests): auditors need ``grant``.

    Whether a role may run the read at all is the read's own check; this decides only
    whether personal fields open. Auditors see them only when the profile grants
    ``personal_data``; privacy officers, directors and partners within their reach do.
    """
    if actor.role == Role.AUDITOR:
        grants = set(profile.auditors.sees)
        return Visibility(sections=FULL_SECTIONS, personal_data=grant in grants and "personal_data" in grants)
    if actor.role == Role.BEHEERDER:
        return Visibility(sections=frozenset(), personal_data=False)
    return Visibility(sections=FULL_SECTIONS)


@dataclass(frozen=True)
class Refusal:
    reason: str
    extra: dict[str, str] = field(default_factory=dict)


def case_visibility(actor: Actor, case: Case, profile: Profile) -> Visibility | Refusal:
    """The actor's view of a case, or why they may not see it at all."""
    role = actor.role
    if role == Role.REGISSEUR:
        if case.director == actor.user_id or (bool(case.team) and actor.user.team == case.team):
            return Visibility(sections=FULL_SECTIONS)
        return Refusal(
            f"case {case.case_number} is directed by {case.director or 'nobody yet'} "
            f"(team {case.team or '-'}), not by you or your team"
        )
    if role == Role.PARTNER:
        if not case.is_involved(actor.organisation):
            return Refusal(f"{actor.organisation} is not involved in case {case.case_number}")
        partner = next((p for p in profile.partners if p.id == actor.organisation), None)
        allowed = frozenset(partner.categories) if partner else frozenset()
        return Visibility(sections=frozenset({"members"}), categories=allowed, organisation=actor.organisation)
    if role == Role.MANAGER:
        if not case.escalations:
            return Refusal(f"case {case.case_number} was not escalated; managers see escalated cases")
        return Visibility(
            sections=frozenset({"members", "signals", "decision", "plan", "evaluations", "escalations", "closure"})
        )
    if role == Role.AUDITOR:
        grants = set(profile.auditors.sees)
        if "case_history" not in grants:
            return Refusal(f"profile {profile.id} does not grant auditors the case history")
        return Visibility(sections=FULL_SECTIONS, personal_data="personal_data" in grants)
    return Refusal(f"a {role} does not read case files")

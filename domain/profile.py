"""Municipality profile (werkwijze / gemeenteprofiel): the rules one approach works by.

A store is initialised with exactly one profile. The domain, command and privacy
layers read their rules from it: intake criteria, deadlines, partners and what
each may disclose, the escalation ladder and the AVG art. 30 register.

The models are strict, frozen and reject unknown keys, because a profile is
written by hand in TOML and a typo (``treshold``) or a quoted number
(``days = "5"``) must fail loudly instead of silently changing the rules.
Cross-references are checked in :meth:`Profile._check_references`, which
collects every problem and raises one :class:`ProfileInvalid` listing them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Annotated, Literal, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from casusregie.domain.text import texts_in, unsafe_character

__all__ = [
    "GENERIC_CATEGORIES",
    "POLICE_CATEGORIES",
    "POLICE_INVESTIGATION_CATEGORY",
    "REQUIRED_ACTIVITIES",
    "AuditorGrant",
    "Criterion",
    "DataCategory",
    "DeadlineRule",
    "Deadlines",
    "EscalationLevel",
    "Intake",
    "LetterSettings",
    "Partner",
    "ProcessingActivity",
    "Profile",
    "ProfileInvalid",
    "Retention",
]

#: Activity ids the code declares; every profile's art. 30 register must hold them all.
REQUIRED_ACTIVITIES: tuple[str, ...] = (
    "aanmelding-toetsing",
    "informatie-uitwisseling",
    "regie-uitvoering",
    "verantwoording",
    "rechten-betrokkenen",
    "toezicht-audit",
    "bewaartermijn-vernietiging",
    "beheer",
)

#: The case's own data (not partner disclosures); every profile defines these categories.
GENERIC_CATEGORIES: tuple[str, ...] = (
    "identificatie",
    "huishouden",
    "signalen",
    "plan",
    "notities",
)

#: What the police may share under the Utrecht covenant (seed 003, section 5.3).
POLICE_CATEGORIES: tuple[str, ...] = (
    "politie.meldingen",
    "politie.geweld",
    "politie.intimidatie",
    "politie.antecedenten",
)

#: Information about a running investigation: only with the public prosecutor's consent.
POLICE_INVESTIGATION_CATEGORY = "politie.lopend-onderzoek"

AuditorView = Literal["case_history", "disclosure_trail", "access_log", "withheld_items", "personal_data"]
PartnerKind = Literal[
    "woningcorporatie",
    "politie",
    "ggz",
    "ggd",
    "schuldhulpverlening",
    "jeugdbescherming",
    "buurtteam",
    "leerplicht",
    "reclassering",
    "zorgaanbieder",
    "om",
    "veiligheidshuis",
    "overig",
]

# Slugs are lowercase words joined by '-' or '.', so ids stay stable in URLs, logs and files.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$", max_length=80)]
Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Positive = Annotated[int, Field(gt=0)]


class _Model(BaseModel):
    """Base for profile value models: strict, frozen, no unknown keys, printable text only.

    Profile texts end up in every user's terminal and in letters to residents: a control or
    text-reordering character (see ``domain.text``) is refused like any other typo.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _printable(self) -> Self:
        for name in type(self).model_fields:
            for text in texts_in(getattr(self, name)):
                found = unsafe_character(text, multiline=True)
                if found is not None:
                    raise ValueError(f"{name} holds {found}")
        return self


class ProfileInvalid(ValueError):
    """A profile whose parts do not fit together (cross-reference problems).

    ``problems`` holds ``(field path, message)`` pairs so that callers (the
    profile file loader) can report each one on its own line.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {message}" for path, message in problems))


class DeadlineRule(_Model):
    """A deadline (termijn): a number of calendar or working days."""

    days: Positive
    unit: Literal["calendar", "working"]


class Criterion(_Model):
    """Intake criterion (toetsingscriterium)."""

    id: Slug
    text: Text


class Intake(_Model):
    """Intake assessment (toetsing): the criteria a referral is checked against.

    ``threshold`` criteria must hold (Utrecht: at least two of six).
    ``acute_override_allowed``: in acute situations the criteria may be set
    aside, with a recorded reason (seed 003). ``home_visit``: the director
    visits the client at home or invites them (huisbezoek, Zwolle, seed 004).
    """

    criteria: list[Criterion]
    threshold: int
    acute_override_allowed: bool
    home_visit: bool


class DataCategory(_Model):
    """Category of personal data (categorie persoonsgegevens).

    ``special``: bijzondere or strafrechtelijke persoonsgegevens (AVG art. 9/10).
    ``requires_om_consent``: information about a running investigation, which
    may be shared only with the public prosecutor's (OM) consent (seed 003).
    """

    id: Slug
    name: Text
    description: Text
    special: bool
    requires_om_consent: bool


class Partner(_Model):
    """Chain partner (ketenpartner).

    ``categories`` are the data categories this partner may disclose and may
    see (need-to-know); the case's generic data is shared through the case,
    not through this list.
    """

    id: Slug
    name: Text
    kind: PartnerKind
    categories: list[Slug]
    housing_corporation: bool


class EscalationLevel(_Model):
    """Escalation level (opschalingsniveau); levels are numbered 1, 2, 3, ..."""

    level: int
    id: Slug
    name: Text
    description: Text


class Deadlines(_Model):
    """Deadlines (termijnen) of the approach; ``None`` means not applicable.

    TOML has no null, so an absent key is how a profile says "not applicable".
    """

    intake_decision: DeadlineRule | None = None
    corporation_consent: DeadlineRule | None = None
    consent_answer: DeadlineRule | None = None
    information_request: DeadlineRule | None = None
    resident_letter: DeadlineRule | None = None
    plan: DeadlineRule | None = None
    evaluation_interval: DeadlineRule | None = None
    casusoverleg_interval: DeadlineRule | None = None


class Retention(_Model):
    """Retention period (bewaartermijn): ``years`` after case closure or after recording."""

    years: Positive
    after: Literal["closure", "recording"]


class ProcessingActivity(_Model):
    """Processing activity (verwerkingsactiviteit): one AVG art. 30 register entry."""

    id: Slug
    name: Text
    purpose: Text
    legal_basis: Text
    data_categories: list[Slug]
    subject_categories: list[Text]
    recipients: list[Text]
    retention: Retention


#: A part of a letter's wording: ``kind.part``, e.g. ``bewonersbrief.vragen``.
LetterPart = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9_]+$", max_length=80)]


class LetterSettings(_Model):
    """What differs per municipality in the letters written for a case (``regie letter``).

    The wording itself has Dutch defaults (``adapters/render/case_letter_templates.py``); a profile
    changes only what is its own. ``department``: the letterhead's second line (default: the
    approach). ``contact``: how residents and partners reach the team (telephone, e-mail); default
    the organisation's postal address. ``visitor``: who comes to the door for an announced home
    visit (default: a member of staff of the organisation). ``texts``: replaces a part of the
    default wording, keyed ``kind.part``; an empty text leaves that part out. `regie profile check`
    checks the keys and the placeholders (``{name}``) a text uses.
    """

    department: str = ""
    contact: str = ""
    visitor: str = ""
    texts: dict[LetterPart, str] = Field(default_factory=dict)


def _default_auditor_views() -> list[AuditorView]:
    return ["case_history", "disclosure_trail", "access_log", "withheld_items"]


class AuditorGrant(_Model):
    """What auditors (toezichthouders) may see; personal data only when granted."""

    sees: list[AuditorView] = Field(default_factory=_default_auditor_views)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_HasId)


class Profile(_Model):
    """Municipality profile (werkwijze / gemeenteprofiel) for one approach.

    ``resident_consent_required``: the resident must consent before the
    approach proceeds; ``consent_moment`` says when: before the referral is
    accepted (Almelo, Amersfoort in seed 002) or before take-on, after the
    director has met the client (Zwolle, seed 004). ``result_target_months``:
    the period within which complaints should be strongly reduced (Zwolle: at
    most two years); ``minimum_guidance_months``: guidance lasts at least this
    long (Zwolle: one year); ``aftercare_contact_months``: this long after closure someone
    contacts the household again (nazorg; seed 002: half a year). ``checkpoint_every`` and ``checkpoint_minutes``:
    after a commit, sign an audit checkpoint when the log grew by
    ``checkpoint_every`` records since the newest checkpoint, or when it grew
    at all and the newest checkpoint is older than ``checkpoint_minutes`` (or,
    with none yet, the store); each bounds how many records a later divergence
    can hide among (``None`` for both: only on demand). ``checkpoint_minutes`` is
    at most a week (10080).
    """

    id: Slug
    municipality: Text
    approach: Text
    seed: Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
    organisation_id: Slug
    organisation_name: Text
    director_title: Text
    description: Text
    life_domains: list[Text]
    resident_consent_required: bool
    consent_moment: Literal["referral", "take_on"] = "referral"
    corporation_consent_required: bool
    resident_letter: bool
    client_signature_required: bool
    minimum_guidance_months: Positive | None = None
    result_target_months: Positive | None = None
    aftercare_contact_months: Positive | None = None
    intake: Intake
    deadlines: Deadlines
    categories: list[DataCategory]
    partners: list[Partner]
    escalation: list[EscalationLevel]
    activities: list[ProcessingActivity]
    auditors: AuditorGrant = Field(default_factory=AuditorGrant)
    checkpoint_every: Positive | None = None
    checkpoint_minutes: Annotated[int, Field(gt=0, le=60 * 24 * 7)] | None = None
    #: Where objections (bezwaarschriften) and letters go; printed in decision letters.
    postal_address: str = ""
    privacy_department: str = "Team Privacy"
    #: The letters written for a case (`regie letter`): department, contact, changed wording.
    letters: LetterSettings = Field(default_factory=LetterSettings)

    # -- look-ups ---------------------------------------------------------

    def partner(self, partner_id: str) -> Partner:
        """The partner (ketenpartner) with this id."""
        return _find(self.partners, partner_id, "partner", self.id)

    def category(self, category_id: str) -> DataCategory:
        """The data category (categorie persoonsgegevens) with this id."""
        return _find(self.categories, category_id, "data category", self.id)

    def activity(self, activity_id: str) -> ProcessingActivity:
        """The processing activity (verwerkingsactiviteit) with this id."""
        return _find(self.activities, activity_id, "processing activity", self.id)

    def escalation_level(self, level: int) -> EscalationLevel:
        """The escalation level (opschalingsniveau) with this number."""
        for item in self.escalation:
            if item.level == level:
                return item
        known = ", ".join(str(item.level) for item in self.escalation)
        raise KeyError(f"profile {self.id!r} has no escalation level {level} (levels: {known})")

    def organisation_ids(self) -> frozenset[str]:
        """The municipality and its standing partners: who may sit at a table or own a measure."""
        return frozenset({self.organisation_id, *(p.id for p in self.partners)})

    def police_partner_ids(self) -> list[str]:
        """Ids of the police partners (politie)."""
        return [p.id for p in self.partners if p.kind == "politie"]

    # -- validation -------------------------------------------------------

    @model_validator(mode="after")
    def _check_references(self) -> Profile:
        """Check that ids are unique and every cross-reference resolves."""
        problems = list(_problems(self))
        if problems:
            raise ProfileInvalid(problems)
        return self


def _find(items: Iterable[_T], wanted: str, what: str, profile_id: str) -> _T:
    items = list(items)
    for item in items:
        if item.id == wanted:
            return item
    known = ", ".join(item.id for item in items)
    raise KeyError(f"profile {profile_id!r} has no {what} {wanted!r} (known: {known})")


Problem = tuple[str, str]


def _problems(p: Profile) -> Iterator[Problem]:
    yield from _duplicates("intake.criteria", [c.id for c in p.intake.criteria], "criterion")
    yield from _duplicates("categories", [c.id for c in p.categories], "category")
    yield from _duplicates("partners", [x.id for x in p.partners], "partner")
    yield from _duplicates("activities", [a.id for a in p.activities], "activity")
    yield from _duplicates("escalation", [e.id for e in p.escalation], "escalation level")
    yield from _threshold(p)
    yield from _partner_categories(p)
    yield from _activity_categories(p)
    yield from _escalation_levels(p)
    yield from _required(p)
    yield from _life_domains(p)
    yield from _organisation(p)
    yield from _police(p)


def _duplicates(path: str, ids: list[str], what: str) -> Iterator[Problem]:
    counts = Counter(ids)
    for index, item_id in enumerate(ids):
        if counts[item_id] > 1 and ids.index(item_id) != index:
            yield f"{path}[{index}].id", f"duplicate {what} id {item_id!r}"


def _threshold(p: Profile) -> Iterator[Problem]:
    n = len(p.intake.criteria)
    if n == 0:
        yield "intake.criteria", "at least one intake criterion is needed"
    elif not 1 <= p.intake.threshold <= n:
        yield (
            "intake.threshold",
            f"must be between 1 and the number of criteria ({n}), got {p.intake.threshold}",
        )


def _partner_categories(p: Profile) -> Iterator[Problem]:
    known = {c.id for c in p.categories}
    for i, partner in enumerate(p.partners):
        for j, cat in enumerate(partner.categories):
            if cat not in known:
                yield (
                    f"partners[{i}].categories[{j}]",
                    f"partner {partner.id!r} lists unknown data category {cat!r}",
                )


def _activity_categories(p: Profile) -> Iterator[Problem]:
    known = {c.id for c in p.categories}
    for i, activity in enumerate(p.activities):
        for j, cat in enumerate(activity.data_categories):
            if cat not in known:
                yield (
                    f"activities[{i}].data_categories[{j}]",
                    f"activity {activity.id!r} lists unknown data category {cat!r}",
                )


def _escalation_levels(p: Profile) -> Iterator[Problem]:
    levels = [e.level for e in p.escalation]
    expected = list(range(1, len(levels) + 1))
    if sorted(levels) != expected:
        yield (
            "escalation",
            f"levels must be numbered 1 to {len(levels)} without gaps or repeats, "
            f"got {', '.join(map(str, levels)) or 'none'}",
        )


def _required(p: Profile) -> Iterator[Problem]:
    present = {a.id for a in p.activities}
    for activity_id in REQUIRED_ACTIVITIES:
        if activity_id not in present:
            yield "activities", f"required processing activity {activity_id!r} is missing"
    categories = {c.id for c in p.categories}
    for category_id in GENERIC_CATEGORIES:
        if category_id not in categories:
            yield "categories", f"generic data category {category_id!r} is missing"


def _life_domains(p: Profile) -> Iterator[Problem]:
    if not p.life_domains:
        yield "life_domains", "at least one life domain (leefgebied) is needed"
    seen: set[str] = set()
    for i, domain in enumerate(p.life_domains):
        key = domain.strip().casefold()
        if key in seen:
            yield f"life_domains[{i}]", f"duplicate life domain {domain!r}"
        seen.add(key)


def _organisation(p: Profile) -> Iterator[Problem]:
    for i, partner in enumerate(p.partners):
        if partner.id == p.organisation_id:
            yield (
                f"partners[{i}].id",
                f"{partner.id!r} is the organisation running the approach, not a partner",
            )


def _police(p: Profile) -> Iterator[Problem]:
    allowed = {*POLICE_CATEGORIES, POLICE_INVESTIGATION_CATEGORY}
    for i, partner in enumerate(p.partners):
        if partner.kind != "politie":
            continue
        for j, cat in enumerate(partner.categories):
            if cat not in allowed:
                yield (
                    f"partners[{i}].categories[{j}]",
                    f"police partner {partner.id!r} may only share the covenant's police "
                    f"categories ({', '.join(sorted(allowed))}), not {cat!r}",
                )
    for i, cat in enumerate(p.categories):
        if cat.id.startswith("politie.") and cat.id not in allowed:
            yield f"categories[{i}].id", f"unknown police category {cat.id!r}"
        if cat.id == POLICE_INVESTIGATION_CATEGORY and not (cat.requires_om_consent and cat.special):
            yield (
                f"categories[{i}]",
                f"{cat.id!r} must have requires_om_consent = true and special = true",
            )

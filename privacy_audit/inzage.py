"""Compiling the answer to an access request (inzage, AVG art. 15) for one person.

Everything comes from indexed views, so the work grows with the person's own data, not
with the store: their case state (one row), their disclosure trail (by person), and the
access-log records that touched them (by person). Each piece of the answer is an item
with a stable id, so the privacy officer can withhold any single one.

Only the person's own data is given as it is: fields sealed with their own key. Texts about
the household as a whole (sealed with the case key) often tell about the other members too
(a child's school problems in the mother's answer), so they await the privacy officer's
review and are withheld until released (AVG art. 15(4)). Data about a co-resident (sealed
with that person's key) is never part of another person's answer.

Items that show one fact twice (a partner's disclosure as a data item and as a source) share
an ``origin``: withholding one withholds the other, so nothing derived from a withheld item
gives it away.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from casusregie.domain.case import Case
from casusregie.domain.document import type_name
from casusregie.domain.profile import Profile
from casusregie.domain.sealed import Sealed, person_key_id
from casusregie.privacy_audit.decision_document import (
    Consultation,
    DataItem,
    Purpose,
    Recipient,
    Source,
    WithheldNotice,
    ground_label,
)
from casusregie.projections.access import AccessRow
from casusregie.projections.trail import TrailEntry

PARTLY = "(gedeeltelijk niet verstrekt; zie 'Niet verstrekte gegevens')"
RIGHTS_ACTIVITY = "rechten-betrokkenen"
REVIEW_GROUND = ("art. 15 lid 4 AVG", "de rechten en vrijheden van anderen")
REVIEW_WHAT = "teksten over uw huishouden die ook gegevens van andere personen bevatten"
ACTIONS_NL = {
    "read": "raadplegen",
    "create": "vastleggen",
    "update": "wijzigen",
    "search": "zoeken",
    "disclose": "verstrekken",
    "export": "exporteren",
    "print": "afdrukken",
    "erase": "vernietigen",
    "admin": "beheer",
}
FIELDS_NL = {"name": "Naam", "birth_date": "Geboortedatum", "bsn": "Burgerservicenummer", "address": "Adres"}


@dataclass(frozen=True)
class AnswerItem:
    """One withholdable piece of an access answer."""

    item_id: str
    section: str  # data | recipient | source | consultation
    entry: DataItem | Recipient | Source | Consultation
    summary: str  # what the privacy officer sees when choosing what to withhold
    origin: str = ""  # the fact it shows; items with one origin are withheld together
    review: bool = False  # not the person's own data (a household text): given only when released

    @property
    def key(self) -> str:
        return self.origin or self.item_id

    @property
    def processed_on(self) -> date | None:
        """When the processing this item shows took place: it decides which law's grounds apply."""
        entry = self.entry
        return entry.recorded_on if isinstance(entry, DataItem) else entry.on


@dataclass(frozen=True)
class Compiled:
    items: list[AnswerItem]
    purposes: list[Purpose]
    subject_name: str
    address_lines: list[str]


def _name(profile: Profile, organisation: str) -> str:
    if organisation == profile.organisation_id:
        return profile.organisation_name
    partner = next((p for p in profile.partners if p.id == organisation), None)
    return partner.name if partner else organisation


def _categories(profile: Profile, ids: list[str]) -> list[str]:
    names = []
    for category in ids:
        try:
            names.append(profile.category(category).name)
        except KeyError:
            names.append(category)
    return names


def compile_answer(
    *,
    profile: Profile,
    person_id: UUID,
    case: Case | None,
    trail: list[TrailEntry],
    consultations: list[tuple[AccessRow, str]],
    open_: Callable[[Sealed | None], Any],
    erased: bool = False,
) -> Compiled:
    """All items of one person's access answer, before anything is withheld."""
    items: list[AnswerItem] = []
    name, address_lines = "", []
    if case is not None:
        member = case.members.get(str(person_id))
        if member is not None and not erased:
            name = str(open_(member.name))
            address = open_(member.address)
            address_lines = [str(address)] if address else []
            items += _data_items(profile, case, person_id, member, open_)
    for index, entry in enumerate(trail):
        if entry.kind == "disclosure" and entry.from_org == profile.organisation_id:
            recipient = Recipient(
                organisation=_name(profile, entry.to_org),
                on=entry.on,
                categories=_categories(profile, entry.categories),
                purpose=str(open_(entry.purpose)),
                legal_basis=entry.legal_basis,
                case_number=entry.case_number,
            )
            items.append(
                AnswerItem(
                    f"recipient:{index + 1}",
                    "recipient",
                    recipient,
                    f"{entry.on} verstrekt aan {recipient.organisation}: {', '.join(entry.categories)}",
                )
            )
        if entry.to_org == profile.organisation_id and entry.from_org != profile.organisation_id:
            source = Source(
                organisation=_name(profile, entry.from_org),
                on=entry.on,
                categories=_categories(profile, entry.categories),
                description=str(open_(entry.purpose)),
            )
            origin = f"disclosure:{entry.request_id}:{entry.item}" if entry.request_id and entry.item else ""
            items.append(
                AnswerItem(
                    f"source:{index + 1}",
                    "source",
                    source,
                    f"{entry.on} ontvangen van {source.organisation}: {', '.join(entry.categories)}",
                    origin=origin,
                )
            )
    items += _consultation_items(profile, consultations)
    return Compiled(items, _purposes(profile, trail, consultations), name, address_lines)


def _data_items(
    profile: Profile, case: Case, person_id: UUID, member: Any, open_: Callable[[Sealed | None], Any]
) -> list[AnswerItem]:
    identity = profile.category("identificatie").name
    household = profile.category("huishouden").name
    signals = profile.category("signalen").name
    plan = profile.category("plan").name
    notes = profile.category("notities").name
    referrer = f"aanmelding door {_name(profile, case.referring_org)}"
    out: list[AnswerItem] = []
    own_key = person_key_id(person_id)

    def add(
        item_id: str,
        category: str,
        label: str,
        field: Sealed | str | None,
        source: str,
        on: date | None,
        suffix: str = "",
    ) -> None:
        value = open_(field) if isinstance(field, Sealed) else field
        if value in (None, ""):
            return
        value = f"{value}{suffix}"
        out.append(
            AnswerItem(
                item_id,
                "data",
                DataItem(category=category, label=label, value=str(value), source=source, recorded_on=on),
                f"{label}: {str(value)[:60]}",
                origin=item_id,
                review=isinstance(field, Sealed) and field.key_id != own_key,
            )
        )

    for field in ("name", "birth_date", "bsn", "address"):
        add(f"data:{field}", identity, FIELDS_NL[field], getattr(member, field), referrer, case.referred_on)
    role_label = "Rol in de casus" if member.in_network else "Rol in het huishouden"
    add("data:role", household, role_label, member.role, referrer, case.referred_on)
    add("data:contact", identity, "Contactgegevens", member.contact, profile.organisation_name, case.referred_on)
    add("data:reason", signals, "Reden van aanmelding", case.reason, referrer, case.referred_on)
    # Where each description came from: the referrer, or the municipality that added or updated it.
    # A description that was replaced is still held (in the log), so it is part of the answer too.
    municipality = profile.organisation_name
    source: dict[str, str] = {}
    since: dict[str, date] = {}  # when the description now held was given
    for n, change in enumerate(case.problem_history, 1):
        domain = change["life_domain"]
        if change["change"] == "updated":
            add(
                f"data:problem-earlier:{n}",
                signals,
                f"Eerdere omschrijving van de problemen op het leefgebied {domain}",
                change["text"],
                source.get(domain, referrer),
                since.get(domain, case.referred_on),
            )
        elif change["change"] == "resolved":
            add(
                f"data:problem-resolved:{n}",
                signals,
                f"Toelichting bij het oplossen van de problemen op het leefgebied {domain}",
                change["text"],
                municipality,
                change["on"],
            )
        if change["change"] != "resolved":
            source[domain], since[domain] = municipality, change["on"]
    for domain, text in case.problems.items():
        add(
            f"data:problem:{domain}",
            signals,
            f"Problemen op het leefgebied {domain}",
            text,
            source.get(domain, referrer),
            since.get(domain, case.referred_on),
        )
    for domain, resolved in case.resolved_problems.items():
        add(
            f"data:problem:{domain}",
            signals,
            f"Problemen op het leefgebied {domain} (opgelost op {resolved['on'].strftime('%d-%m-%Y')})",
            resolved["text"],
            source.get(domain, referrer),
            since.get(domain, case.referred_on),
        )
    for request in case.requests.values():
        for i, item in enumerate(request.items, 1):
            if item.subject is not None and item.subject != person_id:
                continue  # a co-resident's data
            add(
                f"disclosure:{request.request_id}:{i}",
                _categories(profile, [item.category])[0],
                f"Informatie van {_name(profile, request.partner)}",
                item.content,
                _name(profile, request.partner),
                request.answered_on,
            )
    for goal in case.goals.values():
        add(
            f"goal:{goal.goal_id}",
            plan,
            f"Doel ({goal.life_domain})",
            goal.description,
            profile.organisation_name,
            goal.set_on,
        )
    for measure in case.measures.values():
        if measure.subject is not None and measure.subject != person_id:
            continue
        add(
            f"measure:{measure.measure_id}",
            plan,
            f"Maatregel {measure.measure_id} ({measure.life_domain}, uitvoering {_name(profile, measure.owner)})",
            measure.description,
            profile.organisation_name,
            measure.agreed_on,
            suffix=f" (status: {measure.status})",
        )
    for i, evaluation in enumerate(case.evaluations, 1):
        add(
            f"evaluation:{i}",
            plan,
            "Evaluatie",
            evaluation["summary"],
            profile.organisation_name,
            evaluation["on"],
        )
    for meeting in case.meetings.values():
        if meeting.held_on is not None:
            add(
                f"minutes:{meeting.meeting_id}",
                notes,
                f"Verslag {meeting.kind} van {meeting.held_on}",
                meeting.minutes,
                profile.organisation_name,
                meeting.held_on,
            )
    for escalation in case.escalations.values():
        add(
            f"escalation:{escalation.escalation_id}",
            plan,
            f"Opschaling naar {escalation.level_name}",
            escalation.reason,
            profile.organisation_name,
            escalation.raised_on,
        )
    for i, closure in enumerate(case.closures, 1):
        add(f"aftercare:{i}", plan, "Nazorgplan", closure.aftercare, municipality, closure.closed_on)
        add(f"closure-note:{i}", plan, "Toelichting bij de afsluiting", closure.note, municipality, closure.closed_on)
        add(
            f"closure-despite:{i}",
            plan,
            "Reden om af te sluiten ondanks " + "; ".join(closure.concerns),
            closure.despite,
            municipality,
            closure.closed_on,
        )
        add(
            f"aftercare-contact:{i}",
            plan,
            "Nazorgcontact",
            closure.aftercare_contact_note,
            municipality,
            closure.aftercare_contacted_on,
        )
    for entry in case.journal.values():
        if entry.subject is not None and entry.subject != person_id:
            continue  # about a co-resident
        what = "Contactmoment" if entry.is_contact else "Notitie"
        add(f"journal:{entry.entry_id}", notes, f"{what} in het dossier", entry.text, municipality, entry.on)
        add(f"journal-with:{entry.entry_id}", notes, f"{what}: met wie", entry.with_whom, municipality, entry.on)
    for i, reopening in enumerate(case.reopenings, 1):
        add(f"reopened:{i}", plan, "Reden van heropenen", reopening["reason"], municipality, reopening["on"])
    for document in case.documents.values():
        if document.subject is not None and document.subject != person_id:
            continue  # about a co-resident
        out.append(_document_item(profile, document, open_, own_key))
    return out


def _document_item(profile: Profile, document: Any, open_: Callable[[Sealed | None], Any], own_key: str) -> AnswerItem:
    """A document held about the person (or the household, for review): its type, date and source, never its
    content; a copy is given apart (AVG art. 15(3), `regie document copy-for-request`)."""
    try:
        category = profile.category("documenten").name
    except KeyError:
        category = "Documenten"
    kind = type_name(document.kind)
    source = _name(profile, document.source_org) if document.source_org else str(open_(document.source))
    title = open_(document.title) if document.title is not None else None
    value = f"{kind} van {document.dated.strftime('%d-%m-%Y')}" + (f": {title}" if title else "")
    if document.withdrawn_on is not None:
        value += f" (ingetrokken op {document.withdrawn_on.strftime('%d-%m-%Y')})"
    item_id = f"document:{document.document_id}"
    return AnswerItem(
        item_id,
        "data",
        DataItem(
            category=category, label=f"Document: {kind}", value=value, source=source, recorded_on=document.attached_on
        ),
        f"Document {document.document_id} ({kind}, {document.dated}, bron {source}): {value[:60]}",
        origin=item_id,
        review=document.key_id != own_key,
    )


def _consultation_items(profile: Profile, consultations: list[tuple[AccessRow, str]]) -> list[AnswerItem]:
    """Dates and purposes of the consultations, never who consulted (CJEU C-579/21)."""
    grouped: Counter[tuple[str, str, str]] = Counter()
    for row, _ in consultations:
        if is_consultation(row):
            grouped[(row.started_at[:10], row.activity, row.action)] += 1
    out = []
    for (day, activity, action), count in sorted(grouped.items()):
        try:
            purpose = profile.activity(activity).name
        except KeyError:
            purpose = activity
        entry = Consultation(
            on=date.fromisoformat(day), purpose=purpose, action=ACTIONS_NL.get(action, action), count=count
        )
        out.append(
            AnswerItem(
                f"consultation:{day}:{activity}:{action}",
                "consultation",
                entry,
                f"{day} {entry.action} ({purpose}) x{count}",
            )
        )
    return out


CONSULTING = frozenset({"read", "search", "export", "print"})


def is_consultation(row: AccessRow) -> bool:
    """A look at the person's data (raadpleging) that the answer lists (CJEU C-579/21).

    What was written or passed on is in the answer already, as data, sources and recipients,
    and withholding one of those must withhold it everywhere: listing the write as well would
    count what was withheld. A refused attempt consulted nothing; handling the person's own
    requests is told by the decision itself.
    """
    return row.outcome == "ok" and row.action in CONSULTING and not handles_a_request(row)


def handles_a_request(row: AccessRow) -> bool:
    """A step in handling the person's own requests (this answer among them): counting those
    steps would betray a withholding the person is not told about."""
    return row.activity == RIGHTS_ACTIVITY and row.name.startswith("request.")


def _purposes(profile: Profile, trail: list[TrailEntry], consultations: list[tuple[AccessRow, str]]) -> list[Purpose]:
    used = {row.activity for row, _ in consultations if is_consultation(row)}
    if trail:
        used |= {"aanmelding-toetsing", "regie-uitvoering"}
    if any(e.request_id for e in trail):
        used.add("informatie-uitwisseling")
    out = []
    for activity in profile.activities:
        if activity.id not in used:
            continue
        after = "na afsluiting van de casus" if activity.retention.after == "closure" else "na vastlegging"
        out.append(
            Purpose(
                activity=activity.name,
                purpose=activity.purpose,
                legal_basis=activity.legal_basis,
                categories=_categories(profile, activity.data_categories),
                retention=f"{activity.retention.years} jaar {after}",
            )
        )
    return out


def _withhold_partly(entry: Any) -> Any:
    """The same item with its content replaced: the fact stays, the content is withheld."""
    field = {DataItem: "value", Recipient: "purpose", Source: "description", Consultation: "purpose"}[type(entry)]
    return entry.model_copy(update={field: PARTLY})


def assemble(
    items: list[AnswerItem],
    withheld: dict[str, Any],
    released: set[str] | frozenset[str] = frozenset(),
    open_: Callable[[Any], Any] = lambda text: text,
) -> tuple[dict[str, list[Any]], list[WithheldNotice]]:
    """Split items into the person's answer and the notices of what was withheld from it.

    A withholding covers every item of the same origin (what is derived from a withheld item
    never gives it away), with one notice. A household text that awaits review and was not
    released is left out; if any is, one notice says so under AVG art. 15(4).
    """
    by_origin: dict[str, Any] = {}
    for item in items:
        w = withheld.get(item.item_id)
        if w is not None:
            by_origin.setdefault(item.key, w)
    sections: dict[str, list[Any]] = {"data": [], "recipient": [], "source": [], "consultation": []}
    notices: list[WithheldNotice] = []
    noticed: set[int] = set()
    unreviewed = False
    for item in items:
        w = by_origin.get(item.key)
        if w is None:
            if item.review and item.item_id not in released:
                unreviewed = True
                continue
            sections[item.section].append(item.entry)
            continue
        if w.partly:
            sections[item.section].append(_withhold_partly(item.entry))
        if w.tell_person and id(w) not in noticed:
            noticed.add(id(w))
            label, text = ground_label(w.ground, w.regime)
            what = open_(w.what)
            notices.append(WithheldNotice(ground=label, ground_text=text, what=str(what or ""), partly=w.partly))
    if unreviewed:
        notices.append(WithheldNotice(ground=REVIEW_GROUND[0], ground_text=REVIEW_GROUND[1], what=REVIEW_WHAT))
    return sections, notices

"""Letters written for a case (`regie letter`), in the decision letter's layout.

``compose_case_letter`` builds a ``letter_markdown.Letter`` (the same blocks the inzage decision
letter is made of) from the case view the acting user may see, the store's profile and the
wording in ``case_letter_templates`` (with the profile's own texts over it); ``render_case_letter``
turns it into a PDF through ``letter_pdf.render_letter_pdf`` or into Markdown, so the two say
the same thing.

A letter holds only what the view holds, and of that only what its kind needs: never a BSN,
never a date of birth, never meeting minutes. A kind that does not apply to the case (a
residents' letter in a profile without one, advice for a case that was taken on, an invitation
without a scheduled meeting, an agreement without a plan) is one ``ValidationFailed`` line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from casusregie.adapters.render.case_letter_templates import (
    DESCRIPTIONS,
    KINDS,
    TEMPLATES,
    allowed,
    fill,
    placeholders,
)
from casusregie.adapters.render.letter_markdown import (
    Block,
    Bullets,
    Heading,
    Letter,
    Paragraph,
    Table,
    dutch_date,
    letter_markdown,
    short_date,
)
from casusregie.adapters.render.letter_pdf import render_letter_pdf
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.household import HouseholdRole
from casusregie.domain.profile import Profile
from casusregie.domain.text import UNSAFE

__all__ = ["KINDS", "LetterOptions", "compose_case_letter", "render_case_letter"]

_HOUSEHOLD_ROLES = frozenset(r.value for r in HouseholdRole)
_HIDDEN = frozenset({"[gewist]", "[beperkt]", "[afgeschermd]"})  # a field the reader may not or cannot see
_OPEN_MEASURES = frozenset({"agreed", "started"})
_SIGNATURE_LINE = "_" * 28
_NUMBERS = {1: "één", 2: "twee", 3: "drie", 4: "vier", 5: "vijf"}


@dataclass(frozen=True)
class LetterOptions:
    """What the user chose: the addressee, the signatory, the date, the meeting or visit."""

    on: date
    to: str | None = None  # a household member (person ref) or, for an invitation, a partner id
    signatory: str | None = None
    meeting: str | None = None  # uitnodiging-mdo: which meeting (default the next one not yet held)
    visit_date: date | None = None  # aankondiging: the day of the visit (default: an appointment is made)
    time: str | None = None  # the time of the meeting or the visit
    place: str | None = None  # the place of the meeting


@dataclass(frozen=True)
class CaseLetter:
    kind: str
    letter: Letter
    persons: tuple[str, ...]  # refs of the household members whose data the letter holds
    notes: tuple[str, ...] = ()  # worth telling the user (e.g. no address on record)
    partners: tuple[str, ...] = ()  # the organisations it goes to, for a letter to partners (a disclosure)


def _clean(value: Any) -> str:
    """A value from the view as one safe piece of text (control characters never reach a letter)."""
    return "" if value is None else UNSAFE.sub("", str(value)).strip()


def _visible(value: Any) -> str:
    text = _clean(value)
    return "" if text in _HIDDEN else text


def _months(n: int | None) -> str:
    if not n:
        return ""
    if n % 12 == 0:
        return f"{_NUMBERS.get(n // 12, str(n // 12))} jaar"
    return f"{n} maanden"


class _Wording:
    """The parts of one kind: the default text, or the profile's; filled in, or left out."""

    def __init__(self, kind: str, profile: Profile, values: Mapping[str, str]) -> None:
        self.kind = kind
        self.values = dict(values)
        self.parts = dict(TEMPLATES[kind])
        prefix = kind + "."
        for key, text in profile.letters.texts.items():
            if key.startswith(prefix) and key[len(prefix) :] in self.parts:
                self.parts[key[len(prefix) :]] = text
        known = allowed(kind)
        for part, text in self.parts.items():
            unknown = [name for name in placeholders(text) if name not in known]
            if unknown:
                raise ValidationFailed(
                    f"profile {profile.id}: letters.texts.{kind}.{part} uses unknown placeholder {{{unknown[0]}}}; "
                    "`regie profile check` lists what is wrong"
                )

    def get(self, part: str) -> str | None:
        """The part filled in; None where the profile left it out or a value it names is missing."""
        text = self.parts[part]
        if not text.strip():
            return None
        if any(not self.values.get(name, "").strip() for name in placeholders(text)):
            return None
        return fill(text, self.values).strip()

    def need(self, part: str) -> str:
        """A part the letter cannot do without (a subject, a salutation)."""
        found = self.get(part)
        if found is None:
            raise ValidationFailed(f"the {self.kind} has no text for its {part!r}: its profile leaves it out")
        return found

    def items(self, part: str) -> tuple[str, ...]:
        text = self.get(part)
        return () if text is None else tuple(line.strip() for line in text.splitlines() if line.strip())


class _Body:
    def __init__(self, wording: _Wording) -> None:
        self.w = wording
        self.blocks: list[Block] = []

    def heading(self, part: str) -> None:
        text = self.w.get(part)
        if text:
            self.blocks.append(Heading(text))

    def para(self, *parts: str) -> None:
        for part in parts:
            text = self.w.get(part)
            if text:
                self.blocks.append(Paragraph(text))

    def text(self, value: str) -> None:
        if value.strip():
            self.blocks.append(Paragraph(value))

    def bullets(self, part: str) -> None:
        items = self.w.items(part)
        if items:
            self.blocks.append(Bullets(items))

    def section(self, heading: str, *parts: str) -> None:
        """A heading with its paragraphs; the heading only where a paragraph follows it."""
        texts = [t for t in (self.w.get(p) for p in parts) if t]
        if texts:
            self.heading(heading)
            self.blocks.extend(Paragraph(t) for t in texts)


# -- the case, as the letters need it ------------------------------------------------------------


def _partner_name(profile: Profile, view: Mapping[str, Any], org: str | None) -> str:
    if not org:
        return ""
    for partner in profile.partners:
        if partner.id == org:
            return partner.name
    for adhoc in view.get("ad_hoc_organisations") or ():
        if adhoc.get("organisation") == org and _visible(adhoc.get("name")):
            return _visible(adhoc.get("name"))
    return org


def _household_members(view: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [m for m in view.get("members") or () if m.get("role") in _HOUSEHOLD_ROLES]


def _main_resident(view: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The main resident of the (first) household: whom a household's letters are addressed to."""
    members = _household_members(view)
    first = [m for m in members if not m.get("household")] or members
    for wanted in (lambda m: m.get("role") == "hoofdbewoner", lambda m: not m.get("minor")):
        for member in first:
            if wanted(member) and not member.get("minor"):
                return member
    return None


def _addressee(view: Mapping[str, Any], to: str | None) -> Mapping[str, Any]:
    """The household member a resident's letter goes to: ``to`` (a person ref) or the main resident."""
    case = view["case"]
    if to:
        found = [m for m in view.get("members") or () if str(m.get("person", "")).upper() == to.strip().upper()]
        if not found:
            raise ValidationFailed(f"case {case} has no person {to}")
        member = found[0]
        if member.get("role") not in _HOUSEHOLD_ROLES:
            raise ValidationFailed(f"{to} is not a member of the household ({member.get('role')}): no letter to them")
        if member.get("minor"):
            raise ValidationFailed(f"{to} is a minor: address the letter to a parent or another adult resident")
    else:
        found_member = _main_resident(view)
        if found_member is None:
            raise ValidationFailed(f"case {case} has no adult household member to address the letter to; give --to")
        member = found_member
    who = member.get("person")
    if member.get("erased") or _clean(member.get("name")) == "[gewist]":
        raise ValidationFailed(f"{who} was erased: no letter can be addressed to them")
    if member.get("restricted") or _clean(member.get("name")) == "[beperkt]":
        raise ValidationFailed(f"processing of {who}'s data is restricted (art. 18 AVG): no letter to them")
    if not _visible(member.get("name")):
        raise ValidationFailed(f"the name of {who} is not visible to you: no letter to them")
    return member


def _address_lines(member: Mapping[str, Any]) -> tuple[str, ...]:
    address = _visible(member.get("address"))
    return tuple(part.strip() for part in address.replace("\n", ",").split(",") if part.strip())


def _household_phrase(view: Mapping[str, Any]) -> tuple[str, str | None]:
    """The household as a letter names it ("het huishouden van <main resident>") and that person's ref."""
    main = _main_resident(view)
    name = _visible(main.get("name")) if main and not main.get("erased") and not main.get("restricted") else ""
    if main is not None and name:
        return f"het huishouden van {name}", str(main.get("person"))
    return "het huishouden", None


def _upcoming(view: Mapping[str, Any], wanted: str | None) -> Mapping[str, Any] | None:
    meetings = list(view.get("meetings") or ())
    if wanted:
        for meeting in meetings:
            if str(meeting.get("meeting", "")).upper() == wanted.strip().upper():
                return meeting
        raise ValidationFailed(f"case {view['case']} has no meeting {wanted}")
    open_ = [m for m in meetings if not m.get("held_on") and m.get("scheduled_for")]
    return min(open_, key=lambda m: str(m["scheduled_for"])) if open_ else None


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# -- the kinds -----------------------------------------------------------------------------------


@dataclass
class _Draft:
    subject: str
    address: tuple[str, ...]
    salutation: str
    body: list[Block]
    closing: tuple[str, ...]
    persons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    partners: tuple[str, ...] = ()  # the organisations a letter for partners goes to


def _common(view: Mapping[str, Any], profile: Profile, opts: LetterOptions) -> dict[str, str]:
    letters = profile.letters
    signatory = _clean(opts.signatory) or _clean(view.get("director")) or profile.director_title
    privacy = ", ".join(x for x in (profile.organisation_name, profile.privacy_department, profile.postal_address) if x)
    return {
        "organisation": profile.organisation_name,
        "municipality": profile.municipality,
        "approach": profile.approach,
        "department": letters.department or profile.approach,
        "director_title": profile.director_title,
        "signatory": signatory,
        "case_number": _clean(view["case"]),
        "date": dutch_date(opts.on),
        "contact": letters.contact or ", ".join(x for x in (profile.organisation_name, profile.postal_address) if x),
        "privacy_address": privacy,
    }


def _closing(w: _Wording) -> tuple[str, ...]:
    v = w.values
    return (w.get("groet") or "Met vriendelijke groet,", v["organisation"], "", v["signatory"], v["director_title"])


def _resident_letter(view: Mapping[str, Any], profile: Profile, opts: LetterOptions, values: dict[str, str]) -> _Draft:
    case = view["case"]
    if not profile.resident_letter:
        raise ValidationFailed(
            f"profile {profile.id} sends no residents' letter (resident_letter = false): "
            f"no bewonersbrief for case {case}"
        )
    decision = view.get("decision") or {}
    if view.get("status") == "declined" or decision.get("taken_on") is not True:
        raise ValidationFailed(f"case {case} was not taken on: the bewonersbrief follows the decision to take it on")
    if view.get("status") == "closed":
        raise ValidationFailed(f"case {case} is closed: no bewonersbrief")
    letter = view.get("letter") or {}
    if letter and letter.get("sent") is False:
        raise ValidationFailed(
            f"case {case}: grounds not to inform the residents were recorded ({_clean(letter.get('ground'))}): "
            "no bewonersbrief"
        )
    member = _addressee(view, opts.to)
    meeting = _upcoming(view, None)
    values |= {
        "name": _visible(member.get("name")),
        "referrer": _partner_name(profile, view, view.get("referring_org")),
        "referred_on": dutch_date(_day(view.get("referred_on"))),
        "taken_on": dutch_date(_day(decision.get("on"))),
        "meeting": "",
        "meeting_date": "",
    }
    if meeting is not None:
        kind = "casusoverleg" if meeting.get("kind") == "casusoverleg" else "mdo"
        names = TEMPLATES["uitnodiging-mdo"]
        label = profile.letters.texts.get(f"uitnodiging-mdo.naam_{kind}", names[f"naam_{kind}"])
        values |= {"meeting": label, "meeting_date": dutch_date(_day(meeting.get("scheduled_for")))}
    w = _Wording("bewonersbrief", profile, values)
    b = _Body(w)
    b.para("inleiding")
    b.section("kop_aanpak", "aanpak")
    b.section("kop_regie", "regie")
    b.section("kop_vervolg", "vervolg", "overleg")
    b.section("kop_gegevens", "gegevens")
    b.heading("kop_rechten")
    b.para("rechten")
    b.bullets("rechten_items")
    b.para("verzoek")
    b.section("kop_bezwaar", "bezwaar", "klacht")
    b.para("vragen")
    return _resident_draft(w, b, member, "bewonersbrief")


def _resident_draft(w: _Wording, b: _Body, member: Mapping[str, Any], kind: str) -> _Draft:
    name = w.values["name"]
    address = _address_lines(member)
    who = member.get("person")
    notes = () if address else (f"no address is recorded for {who}: the address block holds the name only",)
    return _Draft(
        subject=w.need("subject"),
        address=(name, *address),
        salutation=w.get("aanhef") or "Geachte heer, mevrouw,",
        body=b.blocks,
        closing=_closing(w) if kind != "begeleidingsovereenkomst" else (),
        persons=(str(member.get("person")),),
        notes=notes,
    )


def _advice_letter(view: Mapping[str, Any], profile: Profile, opts: LetterOptions, values: dict[str, str]) -> _Draft:
    case = view["case"]
    decision = view.get("decision") or {}
    if view.get("status") != "declined" or decision.get("taken_on") is not False:
        raise ValidationFailed(f"case {case} was not declined: advice to the referrer follows a decision to decline")
    if opts.to:
        raise ValidationFailed("the advice goes to the referring organisation: leave out --to")
    advice = _visible(decision.get("advice"))
    if not advice:
        raise ValidationFailed(f"case {case} holds no advice you can see")
    household, person = _household_phrase(view)
    referrer = _partner_name(profile, view, view.get("referring_org"))
    worker = _visible(view.get("referring_worker"))
    values |= {
        "referrer": referrer,
        "worker": worker,
        "household": household,
        "referred_on": dutch_date(_day(view.get("referred_on"))),
        "decided_on": dutch_date(_day(decision.get("on"))),
    }
    w = _Wording("advies-aanmelder", profile, values)
    b = _Body(w)
    b.para("inleiding")
    b.section("kop_besluit", "besluit")
    b.heading("kop_advies")
    b.text(advice)
    b.section("kop_vervolg", "vervolg")
    b.para("gegevens", "vragen")
    return _Draft(
        subject=w.need("subject"),
        address=(referrer, *((f"t.a.v. {worker}",) if worker else ())),
        salutation=w.get("aanhef") or w.get("aanhef_algemeen") or "Geachte heer, mevrouw,",
        body=b.blocks,
        closing=_closing(w),
        persons=(person,) if person else (),
        partners=(str(view.get("referring_org")),),
    )


def _invitation(view: Mapping[str, Any], profile: Profile, opts: LetterOptions, values: dict[str, str]) -> _Draft:
    case = view["case"]
    meeting = _upcoming(view, opts.meeting)
    if meeting is None:
        raise ValidationFailed(f"case {case} has no MDO or casusoverleg scheduled that has not been held yet")
    if meeting.get("held_on"):
        raise ValidationFailed(f"meeting {meeting.get('meeting')} of case {case} was held already")
    participants = [str(p) for p in meeting.get("participants") or ()]
    if opts.to and opts.to not in participants:
        raise ValidationFailed(
            f"{opts.to} does not take part in meeting {meeting.get('meeting')} "
            f"(participants: {', '.join(participants)})"
        )
    household, person = _household_phrase(view)
    kind = "casusoverleg" if meeting.get("kind") == "casusoverleg" else "mdo"
    values |= {
        "household": household,
        "meeting": "",
        "meeting_date": dutch_date(_day(meeting.get("scheduled_for"))),
        "meeting_time": _clean(opts.time),
        "meeting_place": _clean(opts.place),
    }
    values["meeting"] = _Wording("uitnodiging-mdo", profile, values).need(f"naam_{kind}")
    w = _Wording("uitnodiging-mdo", profile, values)
    b = _Body(w)
    b.para("inleiding", f"doel_{kind}")
    b.heading("kop_wanneer")
    b.blocks.append(Bullets(tuple(t for t in (w.get("datum"), w.get("tijd"), w.get("plaats")) if t)))
    b.heading("kop_deelnemers")
    names = [_partner_name(profile, view, p) for p in participants]
    b.blocks.append(Bullets((f"{values['organisation']} ({values['director_title']}, voorzitter)", *names)))
    b.para("deelnemers")
    b.section("kop_voorbereiding", "voorbereiding")
    b.para("gegevens", "vragen")
    if opts.to:
        address: tuple[str, ...] = (_partner_name(profile, view, opts.to), *filter(None, (w.get("ter_attentie"),)))
    else:
        address = (w.need("aan"),)
    return _Draft(
        subject=w.need("subject"),
        address=address,
        salutation=w.get("aanhef") or "Geachte heer, mevrouw,",
        body=b.blocks,
        closing=_closing(w),
        persons=(person,) if person else (),
        meta=(("Overleg", f"{meeting.get('meeting')}, {values['meeting_date']}"),),
        partners=(opts.to,) if opts.to else tuple(participants),
    )


def _announcement(view: Mapping[str, Any], profile: Profile, opts: LetterOptions, values: dict[str, str]) -> _Draft:
    case = view["case"]
    if not profile.intake.home_visit:
        raise ValidationFailed(
            f"profile {profile.id} has no home visit (intake.home_visit = false): no aankondiging-achter-de-voordeur"
        )
    if view.get("status") in ("declined", "closed"):
        raise ValidationFailed(f"case {case} is {view.get('status')}: no home visit to announce")
    member = _addressee(view, opts.to)
    organisation = profile.organisation_name
    if organisation.startswith("Gemeente "):  # "een medewerker van de gemeente Amersfoort"
        organisation = "de g" + organisation[1:]
    visitor = profile.letters.visitor or f"een medewerker van {organisation}"
    values |= {
        "name": _visible(member.get("name")),
        "visitor": visitor,
        "visit_date": dutch_date(opts.visit_date) if opts.visit_date else "",
        "visit_time": _clean(opts.time),
    }
    w = _Wording("aankondiging-achter-de-voordeur", profile, values)
    b = _Body(w)
    b.para("inleiding")
    if opts.visit_date:
        b.para("bezoek_datum", "bezoek_tijd")
    else:
        b.para("bezoek_afspraak")
    b.section("kop_gesprek", "gesprek")
    if profile.resident_consent_required:
        b.para("vrijwillig")
    b.para("legitimatie")
    b.section("kop_gegevens", "gegevens")
    b.para("vragen")
    return _resident_draft(w, b, member, "aankondiging-achter-de-voordeur")


def _agreement(view: Mapping[str, Any], profile: Profile, opts: LetterOptions, values: dict[str, str]) -> _Draft:
    case = view["case"]
    if view.get("status") in ("declined", "closed"):
        raise ValidationFailed(f"case {case} is {view.get('status')}: no guidance agreement")
    plan = view.get("plan") or {}
    goals = [g for g in plan.get("goals") or () if _visible(g.get("description"))]
    measures = [
        m for m in plan.get("measures") or () if m.get("status") in _OPEN_MEASURES and _visible(m.get("description"))
    ]
    if not goals and not measures:
        raise ValidationFailed(f"case {case} has no plan yet (no goals, no open measures): no begeleidingsovereenkomst")
    member = _addressee(view, opts.to)
    values |= {
        "name": _visible(member.get("name")),
        "minimum_guidance": _months(profile.minimum_guidance_months),
        "result_target": _months(profile.result_target_months),
    }
    w = _Wording("begeleidingsovereenkomst", profile, values)
    b = _Body(w)
    b.para("inleiding")
    b.heading("kop_partijen")
    b.bullets("partijen_items")
    if goals:
        b.heading("kop_doelen")
        b.para("doelen")
        b.blocks.append(
            Bullets(tuple(f"{_visible(g.get('description'))} ({_clean(g.get('life_domain'))})" for g in goals))
        )
    if measures:
        b.heading("kop_maatregelen")
        b.para("maatregelen")
        b.blocks.append(
            Table(
                headers=("Maatregel", "Leefgebied", "Wie", "Uiterlijk"),
                rows=tuple(
                    (
                        _visible(m.get("description")),
                        _clean(m.get("life_domain")),
                        _partner_name(profile, view, m.get("owner")),
                        short_date(_day(m.get("due_on"))),
                    )
                    for m in measures
                ),
                widths=(48, 18, 22, 12),
            )
        )
    b.heading("kop_client")
    b.bullets("client_items")
    b.heading("kop_gemeente")
    b.bullets("gemeente_items")
    b.section("kop_duur", "duur", "resultaat", "voorwaarden")
    b.section("kop_gegevens", "gegevens")
    b.heading("kop_ondertekening")
    b.para("ondertekening")
    b.blocks.append(
        Table(
            headers=("", w.get("kolom_client") or "De cliënt", w.get("kolom_gemeente") or values["organisation"]),
            rows=(
                ("Naam", values["name"], f"{values['signatory']}, {values['director_title']}"),
                ("Plaats", _SIGNATURE_LINE, _SIGNATURE_LINE),
                ("Datum", _SIGNATURE_LINE, _SIGNATURE_LINE),
                ("Handtekening", f"\n\n{_SIGNATURE_LINE}", f"\n\n{_SIGNATURE_LINE}"),
            ),
            widths=(20, 40, 40),
        )
    )
    return _resident_draft(w, b, member, "begeleidingsovereenkomst")


_KINDS: dict[str, Callable[[Mapping[str, Any], Profile, LetterOptions, dict[str, str]], _Draft]] = {
    "bewonersbrief": _resident_letter,
    "advies-aanmelder": _advice_letter,
    "uitnodiging-mdo": _invitation,
    "aankondiging-achter-de-voordeur": _announcement,
    "begeleidingsovereenkomst": _agreement,
}


def compose_case_letter(kind: str, view: Mapping[str, Any], profile: Profile, opts: LetterOptions) -> CaseLetter:
    """The letter of ``kind`` for the case ``view`` (as the acting user may see it)."""
    if kind not in _KINDS:
        raise ValidationFailed(f"unknown kind of letter {kind!r} (kinds: {', '.join(KINDS)})")
    values = _common(view, profile, opts)
    draft = _KINDS[kind](view, profile, opts, values)
    reference = values["case_number"]
    return CaseLetter(
        kind=kind,
        letter=Letter(
            letterhead=(values["organisation"], values["department"]),
            address=draft.address,
            meta=(("Datum", values["date"]), ("Ons kenmerk", reference), *draft.meta),
            subject=draft.subject,
            salutation=draft.salutation,
            body=tuple(draft.body),
            closing=draft.closing,
            reference=reference,
            title=f"{draft.subject} – {reference}",
        ),
        persons=draft.persons,
        notes=draft.notes,
        partners=draft.partners,
    )


def render_case_letter(letter: CaseLetter, on: date, *, markdown: bool = False) -> bytes:
    """The letter as a PDF (A4, the decision letter's layout) or as Markdown (UTF-8)."""
    if markdown:
        return letter_markdown(letter.letter).encode("utf-8")
    return render_letter_pdf(
        letter.letter,
        author=letter.letter.letterhead[0],
        created_at=datetime.combine(on, time(12), tzinfo=UTC),
    )


def kinds_help() -> Sequence[str]:
    """One line per kind, for the command's help."""
    return [f"{kind}: {DESCRIPTIONS[kind]}" for kind in KINDS]

"""The Dutch decision letter on a request for access (AVG art. 15), as Markdown.

``compose_letter`` holds the wording of the letter once, as a sequence of blocks (headings,
paragraphs, bullet lists, tables); ``render_markdown`` writes those blocks as Markdown and the PDF
renderer (``letter_pdf``) lays out the very same blocks, so the two versions never drift apart.

The letter prints only what the ``AccessDecision`` holds: withheld items appear as notices
(kind of item and ground), never with their content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from casusregie.domain.text import UNSAFE
from casusregie.privacy_audit.decision_document import AccessDecision, DataItem

SUBJECT = "Besluit op uw verzoek om inzage (artikel 15 AVG)"

# Section headings, in the order of the letter.
H_REQUEST = "Uw verzoek"
H_DECISION = "Besluit"
H_DATA = "Welke gegevens wij van u verwerken"
H_PURPOSES = "Doelen en grondslagen"
H_RECIPIENTS = "Ontvangers"
H_SOURCES = "Bronnen"
H_CONSULTATIONS = "Raadplegingen"
H_RETENTION = "Bewaartermijnen"
H_WITHHELD = "Niet verstrekte gegevens"
H_RIGHTS = "Uw rechten"
H_OBJECTION = "Bezwaar"

_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
_NUMBERS = {
    1: "één", 2: "twee", 3: "drie", 4: "vier", 5: "vijf", 6: "zes",
    7: "zeven", 8: "acht", 9: "negen", 10: "tien", 11: "elf", 12: "twaalf",
}  # fmt: skip


def dutch_date(value: date | None) -> str:
    """``date(2026, 3, 12)`` -> ``"12 maart 2026"`` (independent of the machine's locale)."""
    if value is None:
        return "onbekend"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def short_date(value: date | None) -> str:
    """``date(2026, 3, 12)`` -> ``"12-03-2026"``, for table columns; ``"-"`` when unknown."""
    return "-" if value is None else f"{value.day:02d}-{value.month:02d}-{value.year}"


def _weeks(n: int) -> str:
    word = _NUMBERS.get(n, str(n))
    return f"{word} week" if n == 1 else f"{word} weken"


# ---------------------------------------------------------------------------------------------
# The letter as blocks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row; ``widths`` are relative column widths; ``caption`` a sub-heading."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    caption: str = ""


Block = Heading | Paragraph | Bullets | Table


@dataclass(frozen=True)
class Letter:
    letterhead: tuple[str, ...]  # organisation, department
    address: tuple[str, ...]  # addressee name, then the address lines
    meta: tuple[tuple[str, str], ...]  # (label, value): date, kenmerk, ...
    subject: str
    salutation: str
    body: tuple[Block, ...]
    closing: tuple[str, ...]  # "Met vriendelijke groet," ... signatory, title
    reference: str
    title: str = field(default="")


def _join(values: Iterable[str]) -> str:
    return ", ".join(v for v in values if v) or "-"


def _or_dash(value: str) -> str:
    return value if value.strip() else "-"


def _data_tables(items: list[DataItem]) -> list[Block]:
    by_category: dict[str, list[DataItem]] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
    blocks: list[Block] = []
    for category, group in by_category.items():
        rows = tuple(
            (_or_dash(i.label), _or_dash(i.value), _or_dash(i.source), short_date(i.recorded_on)) for i in group
        )
        blocks.append(
            Table(
                headers=("Gegeven", "Inhoud", "Bron", "Vastgelegd"),
                rows=rows,
                widths=(21, 45, 21, 13),
                caption=category if category.strip() else "Overige gegevens",
            )
        )
    return blocks


def compose_letter(decision: AccessDecision) -> Letter:
    """The wording of the decision letter, block by block."""
    d = decision
    body: list[Block] = []
    about = "over u" if d.subject_name.strip() == d.requester.name.strip() else f"over {d.subject_name}"

    # Uw verzoek
    body.append(Heading(H_REQUEST))
    body.append(
        Paragraph(
            f"Op {dutch_date(d.received_on)} hebben wij uw verzoek ontvangen. U vraagt inzage in de "
            f"persoonsgegevens die wij {about} verwerken. Dat recht heeft u op grond van artikel 15 van de "
            "Algemene verordening gegevensbescherming (AVG). In deze brief leest u ons besluit."
        )
    )
    term = (
        "Wij moeten binnen één maand na ontvangst op uw verzoek beslissen (artikel 12 lid 3 AVG); die termijn "
        f"{'liep' if d.decision_date > d.deadline else 'loopt'} tot en met {dutch_date(d.deadline)}."
    )
    last_day = d.deadline
    if d.extended_to is not None:
        last_day = d.extended_to
        term += (
            f" Wij hebben de termijn verlengd tot en met {dutch_date(d.extended_to)}; daarover hebben wij u "
            "eerder bericht."
        )
    if d.decision_date > last_day:
        term += " Wij hebben niet binnen de termijn beslist. Onze excuses daarvoor."
    body.append(Paragraph(term))

    # Besluit
    body.append(Heading(H_DECISION))
    if d.processes_data:
        text = (
            f"Wij besluiten u inzage te geven in de persoonsgegevens die wij {about} verwerken, zoals hieronder "
            "beschreven. Wij bevestigen dat wij persoonsgegevens van u verwerken. In deze brief staat welke "
            "gegevens dat zijn, voor welke doelen wij ze gebruiken, aan wie wij ze hebben verstrekt, van wie wij "
            "ze hebben gekregen, wanneer ze zijn geraadpleegd en hoe lang wij ze bewaren."
        )
        if d.withheld:
            text += (
                f" Sommige gegevens verstrekken wij niet aan u. Welke dat zijn en waarom leest u onder ‘{H_WITHHELD}’."
            )
        body.append(Paragraph(text))
    else:
        body.append(
            Paragraph(
                f"Wij hebben uw verzoek onderzocht. Wij verwerken geen persoonsgegevens {about}. Wij kunnen u "
                "daarom geen overzicht van gegevens sturen."
            )
        )

    if d.processes_data:
        # Welke gegevens wij van u verwerken
        body.append(Heading(H_DATA))
        if d.data:
            body.append(
                Paragraph(
                    "Hieronder staan de gegevens die wij van u verwerken, per soort gegeven. Bij elk gegeven staat "
                    "van wie wij het hebben gekregen en wanneer het is vastgelegd."
                )
            )
            body.extend(_data_tables(d.data))
        else:
            body.append(Paragraph("Er zijn geen gegevens die wij u in kopie kunnen geven."))

        # Doelen en grondslagen
        body.append(Heading(H_PURPOSES))
        if d.purposes:
            body.append(
                Paragraph(
                    "Wij gebruiken uw gegevens voor de volgende verwerkingen. Per verwerking staat het doel, de "
                    "wettelijke grondslag en welke soorten gegevens wij daarvoor gebruiken."
                )
            )
            body.append(
                Table(
                    headers=("Verwerking", "Doel", "Grondslag", "Soorten gegevens"),
                    rows=tuple(
                        (_or_dash(p.activity), _or_dash(p.purpose), _or_dash(p.legal_basis), _join(p.categories))
                        for p in d.purposes
                    ),
                    widths=(22, 30, 26, 22),
                )
            )
        else:
            body.append(Paragraph("Er zijn geen verwerkingen vastgelegd."))

        # Ontvangers
        body.append(Heading(H_RECIPIENTS))
        if d.recipients:
            body.append(Paragraph("Wij hebben uw gegevens aan de volgende organisaties verstrekt."))
            body.append(
                Table(
                    headers=("Datum", "Ontvanger", "Soorten gegevens", "Doel", "Grondslag", "Casus"),
                    rows=tuple(
                        (
                            short_date(r.on),
                            _or_dash(r.organisation),
                            _join(r.categories),
                            _or_dash(r.purpose),
                            _or_dash(r.legal_basis),
                            _or_dash(r.case_number),
                        )
                        for r in d.recipients
                    ),
                    widths=(12, 16, 21, 20, 17, 14),
                )
            )
        else:
            body.append(Paragraph("Wij hebben uw gegevens niet aan andere organisaties verstrekt."))

        # Bronnen
        body.append(Heading(H_SOURCES))
        if d.sources:
            body.append(
                Paragraph(
                    "Een deel van de gegevens hebben wij niet van u zelf gekregen, maar van de volgende organisaties."
                )
            )
            body.append(
                Table(
                    headers=("Datum", "Organisatie", "Soorten gegevens", "Toelichting"),
                    rows=tuple(
                        (short_date(s.on), _or_dash(s.organisation), _join(s.categories), _or_dash(s.description))
                        for s in d.sources
                    ),
                    widths=(12, 26, 28, 34),
                )
            )
        else:
            body.append(Paragraph("Wij hebben geen gegevens over u van andere organisaties gekregen."))

        # Raadplegingen
        body.append(Heading(H_CONSULTATIONS))
        body.append(
            Paragraph(
                "Hieronder staat op welke dagen en voor welk doel uw gegevens zijn geraadpleegd of gebruikt, en hoe "
                "vaak. De namen van de medewerkers noemen wij niet (Hof van Justitie van de Europese Unie, "
                "22 juni 2023, C-579/21). Heeft u die namen nodig om uw rechten uit te oefenen? Laat het ons dan weten."
            )
        )
        if d.consultations:
            body.append(
                Table(
                    headers=("Datum", "Verwerking", "Handeling", "Aantal keer"),
                    rows=tuple(
                        (short_date(c.on), _or_dash(c.purpose), _or_dash(c.action), str(c.count))
                        for c in d.consultations
                    ),
                    widths=(13, 53, 20, 14),
                )
            )
        else:
            body.append(Paragraph("Er zijn geen raadplegingen van uw gegevens vastgelegd."))

        # Bewaartermijnen
        body.append(Heading(H_RETENTION))
        if d.purposes:
            body.append(Paragraph("Wij bewaren uw gegevens niet langer dan nodig. Per verwerking geldt deze termijn:"))
            body.append(
                Table(
                    headers=("Verwerking", "Bewaartermijn"),
                    rows=tuple((_or_dash(p.activity), _or_dash(p.retention)) for p in d.purposes),
                    widths=(45, 55),
                )
            )
        else:
            body.append(Paragraph("Wij bewaren uw gegevens niet langer dan nodig."))

        # Niet verstrekte gegevens
        if d.withheld:
            body.append(Heading(H_WITHHELD))
            body.append(
                Paragraph(
                    "Wij hebben besloten de volgende gegevens niet aan u te verstrekken. De wet staat dat toe voor "
                    "zover dat noodzakelijk en evenredig is om een belang te beschermen dat in de wet is genoemd."
                )
            )
            items = []
            for w in d.withheld:
                line = (
                    f"{_or_dash(w.what)}: {'gedeeltelijk ' if w.partly else ''}niet verstrekt op grond van "
                    f"{_or_dash(w.ground)} ({_or_dash(w.ground_text)})."
                )
                if w.motivation.strip():
                    line += f" {w.motivation}"
                items.append(line)
            body.append(Bullets(tuple(items)))

    # Uw rechten
    body.append(Heading(H_RIGHTS))
    body.append(
        Paragraph(
            f"U heeft ook de volgende rechten. Een verzoek daarvoor kunt u sturen aan {d.organisation_name}, "
            f"{d.department}. Vermeld daarbij ons kenmerk {d.reference}."
        )
    )
    body.append(
        Bullets(
            (
                "Rectificatie (artikel 16 AVG): kloppen uw gegevens niet of zijn ze onvolledig? Dan kunt u ons "
                "vragen ze te verbeteren of aan te vullen.",
                "Wissing (artikel 17 AVG): u kunt ons vragen uw gegevens te wissen. Dat kan niet altijd, "
                "bijvoorbeeld als wij de gegevens nodig hebben voor een wettelijke taak.",
                "Beperking van de verwerking (artikel 18 AVG): u kunt ons vragen het gebruik van uw gegevens "
                "tijdelijk te beperken, bijvoorbeeld zolang wij onderzoeken of ze kloppen.",
                "Bezwaar tegen de verwerking (artikel 21 AVG): vanwege uw bijzondere situatie kunt u bezwaar maken "
                "tegen het gebruik van uw gegevens voor onze publieke taak.",
                f"Klacht bij de Autoriteit Persoonsgegevens: {d.ap_complaint}",
            )
        )
    )

    # Bezwaar
    body.append(Heading(H_OBJECTION))
    body.append(
        Paragraph(
            f"Bent u het niet eens met dit besluit? Dan kunt u binnen {_weeks(d.objection_weeks)} na de dag van "
            "verzending van dit besluit bezwaar maken (artikel 6:7 Algemene wet bestuursrecht). Stuur uw "
            f"bezwaarschrift naar {d.objection_to}."
        )
    )
    body.append(Paragraph("Zet in uw bezwaarschrift in ieder geval (artikel 6:5 Algemene wet bestuursrecht):"))
    body.append(
        Bullets(
            (
                "uw naam en adres;",
                "de datum;",
                f"het kenmerk van dit besluit ({d.reference}) of een kopie van dit besluit;",
                "waarom u het niet eens bent met dit besluit;",
                "uw handtekening.",
            )
        )
    )

    name = d.requester.name.strip()
    return Letter(
        letterhead=(d.organisation_name, d.department),
        address=(d.requester.name, *d.requester.lines),
        meta=(
            ("Datum", dutch_date(d.decision_date)),
            ("Ons kenmerk", d.reference),
            ("Uw verzoek van", dutch_date(d.received_on)),
        ),
        subject=SUBJECT,
        salutation=f"Geachte {name}," if name else "Geachte heer, mevrouw,",
        body=tuple(body),
        closing=("Met vriendelijke groet,", d.organisation_name, "", d.signatory, d.signatory_title),
        reference=d.reference,
        title=f"{SUBJECT} – {d.reference}",
    )


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_SPACE = re.compile(r"\s+")


def md_escape(text: str, *, cell: bool = False) -> str:
    """Text as literal Markdown: one line, special characters backslash-escaped, control characters gone."""
    text = _SPACE.sub(" ", UNSAFE.sub("", text)).strip()
    text = _MD_SPECIAL.sub(r"\\\1", text)
    if cell:
        return text
    # At the start of a line a "-", "+", "=" or "1." would start a list or make a heading.
    return re.sub(r"^([-+=]|\d+[.)])", r"\\\1", text)


def _md_table(table: Table) -> list[str]:
    out = []
    if table.caption:
        out += [f"### {md_escape(table.caption)}", ""]
    out.append("| " + " | ".join(md_escape(h, cell=True) for h in table.headers) + " |")
    out.append("|" + "|".join("---" for _ in table.headers) + "|")
    for row in table.rows:
        out.append("| " + " | ".join(md_escape(c, cell=True) or "-" for c in row) + " |")
    out.append("")
    return out


def letter_markdown(letter: Letter) -> str:
    """Markdown for composed letter blocks."""
    out: list[str] = [f"# {md_escape(letter.subject)}", ""]
    organisation = md_escape(letter.letterhead[0])
    head = [f"**{organisation}**" if organisation else "", *(md_escape(x) for x in letter.letterhead[1:])]
    out += ["  \n".join(x for x in head if x), ""]
    address = [md_escape(x) for x in letter.address if x.strip()]
    if address:
        out += ["  \n".join(address), ""]
    meta = [f"{md_escape(label)}: {md_escape(value)}" for label, value in letter.meta]
    meta.append(f"Onderwerp: **{md_escape(letter.subject)}**")
    out += ["  \n".join(meta), "", md_escape(letter.salutation), ""]
    for block in letter.body:
        if isinstance(block, Heading):
            out += [f"## {md_escape(block.text)}", ""]
        elif isinstance(block, Paragraph):
            out += [md_escape(block.text), ""]
        elif isinstance(block, Bullets):
            out += [f"- {md_escape(item)}" for item in block.items] + [""]
        else:
            out += _md_table(block)
    closing = [md_escape(x) for x in letter.closing]
    out += ["  \n".join(x if x else "\u00a0" for x in closing), ""]
    return "\n".join(out)


def render_markdown(decision: AccessDecision) -> str:
    """The Dutch decision letter on an access request, as Markdown."""
    return letter_markdown(compose_letter(decision))

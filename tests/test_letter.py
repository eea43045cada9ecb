"""The access decision (AVG art. 15) and its letter: model, JSON copy, Markdown and PDF."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pypdf import PdfReader

from casusregie.adapters.render.letter_markdown import (
    H_CONSULTATIONS,
    H_DATA,
    H_DECISION,
    H_OBJECTION,
    H_PURPOSES,
    H_RECIPIENTS,
    H_REQUEST,
    H_RETENTION,
    H_RIGHTS,
    H_SOURCES,
    H_WITHHELD,
    SUBJECT,
    render_markdown,
)
from casusregie.adapters.render.letter_pdf import find_unicode_font, render_pdf
from casusregie.privacy_audit.decision_document import (
    UAVG_41_GROUNDS,
    WBP_43_GROUNDS,
    AccessDecision,
    Address,
    Consultation,
    DataItem,
    Purpose,
    Recipient,
    Source,
    WithheldNotice,
    ground_label,
    sample_decision,
)

OBJECTION_CLAUSE = (
    "Bent u het niet eens met dit besluit? Dan kunt u binnen zes weken na de dag van verzending van dit besluit "
    "bezwaar maken (artikel 6:7 Algemene wet bestuursrecht). Stuur uw bezwaarschrift naar het college van "
    "burgemeester en wethouders van Utrecht, Postbus 16200, 3500 CE Utrecht."
)
SECTIONS = (
    H_REQUEST,
    H_DECISION,
    H_DATA,
    H_PURPOSES,
    H_RECIPIENTS,
    H_SOURCES,
    H_CONSULTATIONS,
    H_RETENTION,
    H_WITHHELD,
    H_RIGHTS,
    H_OBJECTION,
)


def _flat(text: str) -> str:
    return " ".join(text.split())


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, whitespace collapsed (wrapped lines join with a space)."""
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    return [_flat(page.extract_text() or "") for page in reader.pages]


@pytest.fixture(scope="module")
def decision() -> AccessDecision:
    return sample_decision()


@pytest.fixture(scope="module")
def pdf_text(decision: AccessDecision) -> str:
    return " ".join(pdf_pages(render_pdf(decision)))


# --- the letter ---------------------------------------------------------------------------------


def test_pdf_has_the_letter_parts_in_order(pdf_text: str) -> None:
    assert pdf_text.startswith("Gemeente Utrecht Team Privacy K. de Vries Eikenlaan 12 3523 KL UTRECHT")
    for part in ("Datum 12 maart 2026", "Ons kenmerk AVG-2026-0007", f"Onderwerp {SUBJECT}", "Geachte K. de Vries,"):
        assert part in pdf_text
    position = pdf_text.index("Geachte K. de Vries,")
    for heading in SECTIONS:  # each section after the one before
        position = pdf_text.index(heading, position + 1)
    closing = pdf_text.index("Met vriendelijke groet, Gemeente Utrecht mr. J. Bakker teamleider Team Privacy")
    assert closing > position


def test_pdf_content_prints_with_diacritics_and_euro(pdf_text: str) -> None:
    assert "Huurachterstand van € 1.250,00" in pdf_text
    assert "Financiële situatie" in pdf_text
    assert "één plan met één regisseur" in pdf_text
    # the data table, per category, with source and date
    assert "Burgerservicenummer 123456782 Basisregistratie Personen (BRP) 15-09-2025" in pdf_text
    # recipients, sources, consultations (dates, purposes, counts; no employees)
    assert "Woningstichting Het Anker" in pdf_text
    assert "CR-2025-0412" in pdf_text
    assert "Aanmelding voor casusregie" in pdf_text
    assert "17-02-2026 Behandeling van uw inzageverzoek raadplegen 4" in pdf_text
    assert "C-579/21" in pdf_text
    assert "5 jaar na afsluiting van de casus" in pdf_text


def test_pdf_objection_clause_and_rights(pdf_text: str) -> None:
    assert OBJECTION_CLAUSE in pdf_text
    assert "het kenmerk van dit besluit (AVG-2026-0007)" in pdf_text
    for right in (
        "Rectificatie (artikel 16 AVG)",
        "Wissing (artikel 17 AVG)",
        "Beperking van de verwerking",
        "Bezwaar tegen de verwerking (artikel 21 AVG)",
    ):
        assert right in pdf_text
    assert (
        "Klacht bij de Autoriteit Persoonsgegevens: Bent u het niet eens met de manier waarop wij met uw "
        "persoonsgegevens omgaan? Dan kunt u een klacht indienen bij de Autoriteit Persoonsgegevens (artikel 77 "
        "AVG): Autoriteit Persoonsgegevens, Postbus 93374, 2509 AJ Den Haag, www.autoriteitpersoonsgegevens.nl."
    ) in pdf_text


def test_pdf_withheld_notice_names_ground_not_content(pdf_text: str) -> None:
    assert "Wij hebben besloten de volgende gegevens niet aan u te verstrekken." in pdf_text
    assert (
        "een gegeven uit een melding van omwonenden: niet verstrekt op grond van art. 41 lid 1 sub i UAVG "
        "(de bescherming van de betrokkene of van de rechten en vrijheden van anderen)."
    ) in pdf_text
    assert "gedeeltelijk niet verstrekt op grond van art. 41 lid 1 sub i UAVG" in pdf_text


def test_every_page_has_kenmerk_and_page_x_of_y(decision: AccessDecision) -> None:
    pages = pdf_pages(render_pdf(decision))
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"pagina {number} van {len(pages)}" in text
        assert "Ons kenmerk AVG-2026-0007" in text


def test_long_data_list_spans_pages_with_correct_numbering() -> None:
    long = sample_decision(extra_data_items=120)
    pages = pdf_pages(render_pdf(long))
    assert len(pages) >= 8
    for number, text in enumerate(pages, start=1):
        assert text.count(f"pagina {number} van {len(pages)}") == 1
    everything = " ".join(pages)
    for n in (1, 60, 120):
        assert f"Verslag contactmoment {n} " in everything
    # The table header row is repeated on the pages the data table continues on.
    continued = [p for p in pages[1:] if "Verslag contactmoment" in p]
    assert all("Gegeven Inhoud Bron Vastgelegd" in p for p in continued)


def test_a_cell_longer_than_a_page_continues_in_the_next_row() -> None:
    text = "begin " + "lange tekst " * 3000 + "einde"
    item = DataItem(category="Verslaglegging", label="Verslag", value=text, source="Gemeente Utrecht", recorded_on=None)
    pages = pdf_pages(render_pdf(sample_decision().model_copy(update={"data": [item]})))
    everything = " ".join(pages)
    assert "begin lange tekst" in everything
    assert "lange tekst einde" in everything
    words = everything.split()  # nothing lost where the cell is split into rows and across pages
    assert words.count("lange") == words.count("tekst") == 3000


def test_a_long_cell_in_the_core_font_keeps_windows_1252_letters() -> None:
    """Found by the property test below: a tall cell, split into rows, had its "š", "€" and quotes
    encoded twice with the core font, which stopped the letter."""
    text = "Šimon betaalt € 40 “per week” " * 400 + "einde"
    item = DataItem(category="Verslaglegging", label="Verslag", value=text, source="Gemeente Utrecht", recorded_on=None)
    pages = pdf_pages(render_pdf(sample_decision().model_copy(update={"data": [item]}), font_dirs=[]))
    everything = " ".join(pages)
    assert "Šimon betaalt € 40" in everything
    assert "einde" in everything


def test_renderers_print_only_what_the_model_holds() -> None:
    """A withheld item reaches the letter as a notice; its content never does (the model never carries it)."""
    secret = "Melding buurvrouw Anneke Jansen, Eikenlaan 14: geschreeuw in de nacht van 3 op 4 september"
    case_file = [  # (category, label, content, source, withhold on ground)
        ("Identificatiegegevens", "Naam", "Karin de Vries", "u zelf", None),
        ("Meldingen", "Melding omwonenden", secret, "Wijkagent", "i"),
        ("Wonen", "Huurachterstand", "€ 1.250,00", "Woningstichting Het Anker", None),
    ]
    data, notices = [], []
    for category, label, content, source, ground in case_file:
        if ground is None:
            data.append(DataItem(category=category, label=label, value=content, source=source, recorded_on=None))
        else:
            citation, wording = ground_label(ground, "uavg")
            notices.append(WithheldNotice(ground=citation, ground_text=wording, what="een melding van omwonenden"))
    decision = sample_decision().model_copy(update={"data": data, "withheld": notices})

    outputs = {
        "pdf": " ".join(pdf_pages(render_pdf(decision))),
        "pdf-core-font": " ".join(pdf_pages(render_pdf(decision, font_dirs=[]))),
        "markdown": render_markdown(decision),
        "json": decision.to_json(),
    }
    for name, text in outputs.items():
        assert "Karin de Vries" in text, name
        assert "een melding van omwonenden" in text, name
        for fragment in ("Anneke Jansen", "Eikenlaan 14", "geschreeuw"):
            assert fragment not in text, (name, fragment)


def test_no_withheld_items_no_withheld_section() -> None:
    decision = sample_decision(withheld=False)
    text = " ".join(pdf_pages(render_pdf(decision)))
    markdown = render_markdown(decision)
    for output in (text, markdown):
        assert H_WITHHELD not in output
        assert "niet verstrekt op grond van" not in output
        assert "Sommige gegevens verstrekken wij niet" not in output
        assert H_OBJECTION in output


def test_decision_without_data_confirms_and_keeps_remedies() -> None:
    decision = sample_decision().model_copy(
        update={
            "processes_data": False,
            "data": [],
            "purposes": [],
            "recipients": [],
            "sources": [],
            "consultations": [],
            "withheld": [],
        }
    )
    text = " ".join(pdf_pages(render_pdf(decision)))
    assert "Wij verwerken geen persoonsgegevens over u." in text
    for absent in (H_DATA, H_RECIPIENTS, H_SOURCES, H_CONSULTATIONS, H_WITHHELD):
        assert absent not in text
    assert OBJECTION_CLAUSE in text
    assert "Autoriteit Persoonsgegevens" in text


def test_late_decision_and_extension_are_stated() -> None:
    decision = sample_decision().model_copy(
        update={"extended_to": date(2026, 4, 16), "decision_date": date(2026, 4, 20)}
    )
    text = " ".join(pdf_pages(render_pdf(decision)))
    assert "Wij hebben de termijn verlengd tot en met 16 april 2026" in text
    assert "Wij hebben niet binnen de termijn beslist." in text
    on_time = " ".join(pdf_pages(render_pdf(sample_decision())))
    assert "niet binnen de termijn" not in on_time


def test_requester_on_behalf_of_someone_else() -> None:
    decision = sample_decision().model_copy(
        update={"requester": Address(name="mr. P. Smit, advocaat", lines=["Postbus 1", "3500 AA  UTRECHT"])}
    )
    text = " ".join(pdf_pages(render_pdf(decision)))
    assert "Geachte mr. P. Smit, advocaat," in text
    assert "de persoonsgegevens die wij over K. de Vries verwerken" in text


def test_pdf_is_reproducible(decision: AccessDecision) -> None:
    assert render_pdf(decision) == render_pdf(decision)
    reader = PdfReader(io.BytesIO(render_pdf(decision)))
    assert reader.metadata is not None
    assert reader.metadata.title == f"{SUBJECT} – AVG-2026-0007"
    assert reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.date() == date(2026, 3, 12)


def test_core_font_fallback_transliterates(decision: AccessDecision) -> None:
    odd = decision.model_copy(
        update={"subject_name": "Łukasz Ĳsselstein 😀 漢字", "requester": Address(name="Zoë Çelik")}
    )
    text = " ".join(pdf_pages(render_pdf(odd, font_dirs=[])))
    assert "Geachte Zoë Çelik," in text
    assert "Lukasz IJsselstein" in text
    assert "€ 1.250,00" in text  # Windows-1252 has the euro sign
    assert OBJECTION_CLAUSE in text


def test_the_bundled_unicode_font_is_used(decision: AccessDecision) -> None:
    assert find_unicode_font() is not None  # DejaVu Sans ships in adapters/render/fonts
    raw = render_pdf(decision)
    assert b"DejaVuSans" in raw
    assert b"/Helvetica" not in raw


def test_markdown_letter(decision: AccessDecision) -> None:
    markdown = render_markdown(decision)
    assert markdown.startswith(f"# {SUBJECT}\n")
    for heading in SECTIONS:
        assert f"\n## {heading}\n" in markdown
    assert "| Gegeven | Inhoud | Bron | Vastgelegd |" in markdown
    assert "| Naam | Karin de Vries | u zelf | 15-09-2025 |" in markdown
    assert "### Financiële situatie" in markdown
    assert "Ons kenmerk: AVG-2026-0007" in markdown
    assert _flat(OBJECTION_CLAUSE) in markdown
    assert "art. 41 lid 1 sub i UAVG" in markdown


def test_markdown_escapes_table_breaking_text() -> None:
    item = DataItem(
        category="Overig", label="a|b", value="regel 1\nregel 2 *vet* <script>", source="x", recorded_on=None
    )
    markdown = render_markdown(sample_decision().model_copy(update={"data": [item]}))
    row = next(line for line in markdown.splitlines() if line.startswith("| a"))
    assert row == r"| a\|b | regel 1 regel 2 \*vet\* \<script\> | x | - |"


# --- the model and its JSON copy ------------------------------------------------------------------


def test_json_round_trip(decision: AccessDecision) -> None:
    text = decision.to_json()
    assert AccessDecision.from_json(text) == decision
    assert AccessDecision.from_json(text.encode()) == decision
    assert text == decision.to_json()
    assert text.endswith("}\n")
    assert '"decision_date": "2026-03-12"' in text
    assert "€ 1.250,00" in text  # ensure_ascii=False
    parsed = json.loads(text)
    assert list(parsed)[:4] == ["municipality", "organisation_name", "department", "reference"]
    assert parsed["withheld"][0]["ground"] == "art. 41 lid 1 sub i UAVG"
    assert "withheld_silently" not in parsed


def test_model_is_frozen_and_strict_about_keys(decision: AccessDecision) -> None:
    with pytest.raises(ValidationError):
        decision.reference = "X"  # type: ignore[misc]
    data = json.loads(decision.to_json())
    data["withheld_silently"] = 2
    with pytest.raises(ValidationError):
        AccessDecision.model_validate(data)
    assert "withheld_silently" not in AccessDecision.model_fields


def test_model_rejects_inconsistent_decisions(decision: AccessDecision) -> None:
    base = json.loads(decision.to_json())
    for change in (
        {"processes_data": False},  # yet lists data
        {"deadline": "2026-02-01"},  # before receipt
        {"extended_to": "2026-03-01"},  # before the deadline
        {"decision_date": "2026-01-01"},  # before receipt
        {"objection_weeks": 0},
    ):
        with pytest.raises(ValidationError):
            AccessDecision.model_validate({**base, **change})
    with pytest.raises(ValidationError):
        Consultation(on=date(2026, 1, 1), purpose="x", action="raadplegen", count=0)


def test_ground_labels() -> None:
    assert sorted(UAVG_41_GROUNDS) == list("abcdefghij")
    assert sorted(WBP_43_GROUNDS) == list("abcde")
    assert ground_label("i", "uavg") == (
        "art. 41 lid 1 sub i UAVG",
        "de bescherming van de betrokkene of van de rechten en vrijheden van anderen",
    )
    assert ground_label("E", "wbp") == (
        "art. 43 sub e Wbp",
        "de bescherming van de betrokkene of van de rechten en vrijheden van anderen",
    )
    assert ground_label("d", "uavg")[1].startswith("de voorkoming, het onderzoek, de opsporing en de vervolging")
    assert ground_label("j", "uavg")[1] == "de inning van civielrechtelijke vorderingen"
    for key, regime in (("k", "uavg"), ("f", "wbp"), ("a", "avg")):
        with pytest.raises(ValueError, match="ground|regime"):
            ground_label(key, regime)  # type: ignore[arg-type]


# --- arbitrary content never breaks the renderers -------------------------------------------------

_LONG_WORD = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N"]), min_size=150, max_size=1200)
_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="aeiouëéïöüèçĳ€ßøå–—‘’“”…•|*_#<>\\`{nb} \n\t", max_size=200),
    st.lists(
        st.sampled_from(["😀", "👩‍👩‍👧", "🇳🇱", "漢字", "שלום", "مرحبا", "\u200d", "\ufeff", "\x00", " "]), max_size=20
    ).map("".join),
    _LONG_WORD,
    st.lists(_LONG_WORD, min_size=1, max_size=4).map(" ".join),
)
_DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
_LISTS = {"max_size": 4}


@st.composite
def decisions(draw: st.DrawFn) -> AccessDecision:
    received = draw(_DATES)
    deadline = received + timedelta(days=draw(st.integers(0, 60)))
    extended = draw(st.none() | st.integers(0, 90).map(lambda n: deadline + timedelta(days=n)))
    processes = draw(st.booleans())

    def many(strategy: st.SearchStrategy) -> list:
        return draw(st.lists(strategy, **_LISTS)) if processes else []

    text_list = st.lists(_TEXT, max_size=3)
    return AccessDecision(
        municipality=draw(_TEXT),
        organisation_name=draw(_TEXT),
        department=draw(_TEXT),
        reference=draw(_TEXT),
        decision_date=received + timedelta(days=draw(st.integers(0, 200))),
        received_on=received,
        deadline=deadline,
        extended_to=extended,
        requester=Address(name=draw(_TEXT), lines=draw(text_list)),
        subject_name=draw(_TEXT),
        processes_data=processes,
        data=many(
            st.builds(DataItem, category=_TEXT, label=_TEXT, value=_TEXT, source=_TEXT, recorded_on=st.none() | _DATES)
        ),
        purposes=many(
            st.builds(Purpose, activity=_TEXT, purpose=_TEXT, legal_basis=_TEXT, categories=text_list, retention=_TEXT)
        ),
        recipients=many(
            st.builds(
                Recipient,
                organisation=_TEXT,
                on=_DATES,
                categories=text_list,
                purpose=_TEXT,
                legal_basis=_TEXT,
                case_number=_TEXT,
            )
        ),
        sources=many(st.builds(Source, organisation=_TEXT, on=_DATES, categories=text_list, description=_TEXT)),
        consultations=many(
            st.builds(Consultation, on=_DATES, purpose=_TEXT, action=_TEXT, count=st.integers(1, 10**6))
        ),
        withheld=many(
            st.builds(
                WithheldNotice, ground=_TEXT, ground_text=_TEXT, what=_TEXT, partly=st.booleans(), motivation=_TEXT
            )
        ),
        objection_weeks=draw(st.integers(1, 52)),
        objection_to=draw(_TEXT),
        signatory=draw(_TEXT),
        signatory_title=draw(_TEXT),
        ap_complaint=draw(_TEXT),
    )


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(decision=decisions(), core_font=st.booleans())
def test_arbitrary_text_never_breaks_the_letter(decision: AccessDecision, core_font: bool) -> None:
    pages = pdf_pages(render_pdf(decision, font_dirs=[] if core_font else None))
    assert pages
    total = len(pages)
    assert f"pagina {total} van {total}" in pages[-1]
    assert "Algemene wet bestuursrecht" in " ".join(pages)
    markdown = render_markdown(decision)
    assert markdown.startswith(f"# {SUBJECT}")
    assert (H_WITHHELD in markdown) == bool(decision.withheld)
    assert AccessDecision.from_json(decision.to_json()) == decision


def test_page_numbering_is_not_confused_by_alias_like_text() -> None:
    decision = sample_decision().model_copy(update={"subject_name": "{nb} en {nb}"})
    text = " ".join(pdf_pages(render_pdf(decision)))
    assert "over {nb} en {nb} verwerken" in text
    assert re.search(r"pagina 1 van \d+", text)

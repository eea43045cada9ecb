"""The letter's tables: no breaks inside dates or words, no table start orphaned at a page bottom."""

from __future__ import annotations

import io
import random
import re
import string
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from casusregie.adapters.render import letter_pdf
from casusregie.adapters.render.letter_markdown import H_CONSULTATIONS, H_RECIPIENTS, H_SOURCES, short_date
from casusregie.adapters.render.letter_pdf import fit_column_widths, render_pdf
from casusregie.privacy_audit.decision_document import (
    AccessDecision,
    Consultation,
    DataItem,
    Recipient,
    Source,
    sample_decision,
)

DATE = re.compile(r"\b\d{2}-\d{2}-\d{4}\b")
PARTIAL_DATE_AT_END = re.compile(r"(?<![\d-])\d{2}-(?:\d{1,2}|\d{2}-\d{0,3})?$")
TRAIL_HEADER = "Datum Verwerking Handeling Aantal keer"
DATA_HEADER = "Gegeven Inhoud Bron Vastgelegd"
RECIPIENTS_HEADER = "Datum Ontvanger Soorten gegevens Doel Grondslag Casus"
LONG_WORDS = ("privacyreglement", "Identificatiegegevens", "Woningstichting", "verwerkingsverantwoordelijke")
# Three of these do not fit side by side on the page: the last resort, they break with a hyphen.
TOO_LONG = "arbeidsongeschiktheidsverzekeringsmaatschappij"
# Wider than the whole table: the one kind of token that must break in any case.
MONSTER = "".join(random.Random(15).choices(string.ascii_lowercase, k=260))
TRAIL_ROWS = 45
CATEGORIES = 30
FILLER = ("vastgelegd", "in", "het", "dossier", "volgens", "privacyreglement", "gesprek", "met", "u")
START = date(2026, 1, 5)


def page_lines(pdf: bytes) -> list[list[str]]:
    """The text lines of each page, without the footer (kenmerk and page number)."""
    pages = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        lines = [" ".join(line.split()) for line in (page.extract_text() or "").splitlines()]
        pages.append([line for line in lines if line and not line.startswith("Ons kenmerk")])
    return pages


def stress_decision() -> AccessDecision:
    """A six-column recipients table whose longest words just fit side by side, a trail longer
    than a page, a sources table whose words cannot all fit, and many short data tables (one per
    category) so that table starts fall at all heights of a page."""
    base = sample_decision(withheld=False)
    recipients = [
        Recipient(
            organisation="Woningstichting Het Anker",
            on=START + timedelta(days=n),
            categories=["Identificatiegegevens", "Wonen"],
            purpose=f"Uitvoering van het privacyreglement {MONSTER if n == 1 else ''}",
            legal_basis="Art. 6 lid 1 sub e AVG; privacyreglement",
            case_number=f"CR-2026-{n:04d}",
        )
        for n in range(3)
    ]
    trail = [
        Consultation(
            on=START + timedelta(days=n),
            purpose="Toetsing aan het privacyreglement door de verwerkingsverantwoordelijke" + " (archief)" * (n % 3),
            action="raadplegen",
            count=n + 1,
        )
        for n in range(TRAIL_ROWS)
    ]
    draw = random.Random(4)  # tables of 1 to 5 rows of 1 to 6 lines: table starts at all heights of a page
    data = [
        DataItem(
            category=f"Categorie {c}",
            label=f"Gegeven {c}.{r}",
            value=" ".join(draw.choices(FILLER, k=draw.randint(2, 50))),
            source="Gemeente Utrecht",
            recorded_on=START + timedelta(days=c),
        )
        for c in range(1, CATEGORIES + 1)
        for r in range(1, draw.randint(2, 6))
    ]
    sources = [Source(organisation=TOO_LONG, on=START, categories=[TOO_LONG], description=f"{TOO_LONG} (melding)")]
    return base.model_copy(update={"data": data, "recipients": recipients, "consultations": trail, "sources": sources})


@pytest.fixture(scope="module")
def stress() -> AccessDecision:
    return stress_decision()


@pytest.fixture(scope="module", params=["dejavu", "helvetica"])
def pages(request: pytest.FixtureRequest, stress: AccessDecision) -> list[list[str]]:
    return page_lines(render_pdf(stress, font_dirs=[] if request.param == "helvetica" else None))


# --- no breaks inside dates and words ----------------------------------------------------------------


def test_every_date_prints_whole_on_one_line(pages: list[list[str]], stress: AccessDecision) -> None:
    lines = [line for page in pages for line in page]
    trail = [line for line in lines if re.match(r"\d{2}-\d{2}-\d{4} Toetsing", line)]
    assert [DATE.match(line)[0] for line in trail] == [short_date(c.on) for c in stress.consultations]
    printed = Counter(m for line in lines for m in DATE.findall(line))
    for day in [c.on for c in stress.consultations] + [r.on for r in stress.recipients] + [START]:
        assert printed[short_date(day)] >= 1, short_date(day)
    for line in lines:
        assert not PARTIAL_DATE_AT_END.search(line), line  # e.g. "03-02-202" with "6" on the next line


def _broken_at_line_end(lines: list[str], word: str, hyphen: str = "") -> list[str]:
    """Lines that end in a beginning of ``word`` followed by ``hyphen``: a piece of it, broken off."""
    beginnings = {word[:k] + hyphen for k in range(2, len(word))}
    return [line for line in lines if line.split()[-1].lstrip("(") in beginnings]


def test_long_words_are_never_split(pages: list[list[str]]) -> None:
    lines = [line for page in pages for line in page]
    text = "\n".join(lines)
    for word in LONG_WORDS:
        assert word in text
        assert not _broken_at_line_end(lines, word), word
        assert not _broken_at_line_end(lines, word, "-"), word
    # every "privacyreglement" of the trail and of the recipients table is there, whole
    assert text.count("privacyreglement") >= TRAIL_ROWS + 2 * 3


def test_a_token_wider_than_its_share_breaks_with_a_hyphen(pages: list[list[str]]) -> None:
    """The last resort: a token wider than the table, or words that cannot all fit side by side."""
    lines = [line for page in pages for line in page]
    for word in (MONSTER, TOO_LONG):
        assert not _broken_at_line_end(lines, word), word  # never broken without a hyphen
        assert _broken_at_line_end(lines, word, "-"), word  # but with one
    pieces = [line.removesuffix("-") for line in lines if len(line) > 8 and line.removesuffix("-") in MONSTER]
    assert "".join(pieces) == MONSTER  # nothing lost; it starts on a line of its own


# --- page breaks ------------------------------------------------------------------------------------


TRAIL_ROW = r"\d{2}-\d{2}-\d{4} Toetsing"


def _rows_after(page: list[str], at: int, pattern: str) -> int:
    """How many table rows (lines matching ``pattern``) follow line ``at`` on the page."""
    return sum(1 for line in page[at + 1 :] if re.match(pattern, line))


def test_the_trail_starts_with_header_and_two_rows_and_repeats_its_header(pages: list[list[str]]) -> None:
    on = [n for n, page in enumerate(pages) if any(re.match(TRAIL_ROW, line) for line in page)]
    assert len(on) >= 2, "the trail is longer than a page"
    first = pages[on[0]]
    header_at = first.index(TRAIL_HEADER)
    assert _rows_after(first, header_at, TRAIL_ROW) >= 2
    assert H_CONSULTATIONS in first[:header_at]  # its heading (and introduction) on the same page
    for n in on[1:]:
        assert pages[n][0] == TRAIL_HEADER, pages[n][:2]  # a continuation page starts with the header row
        assert pages[n].count(TRAIL_HEADER) == 1
    assert sum(_rows_after(pages[n], -1, TRAIL_ROW) for n in on) == TRAIL_ROWS


def test_no_table_starts_with_fewer_than_two_rows_at_a_page_bottom(
    pages: list[list[str]], stress: AccessDecision
) -> None:
    sizes = Counter(item.category for item in stress.data)
    at_top = 0
    for page in pages:
        assert not re.match(rf"{TRAIL_ROW}|Gegeven \d+\.\d+ ", page[0]), "a continued table repeats its header"
        for at, line in enumerate(page):
            if not re.fullmatch(r"Categorie \d+", line):
                continue
            assert page[at + 1] == DATA_HEADER, "a caption (the table's heading) stays with its table"
            rows = _rows_after(page, at + 1, rf"Gegeven {line.split()[1]}\.\d+ ")
            assert rows >= min(2, sizes[line]), page[at:]
            at_top += at == 0
    assert at_top, "no table was moved to a new page: the letter no longer tests the case"
    for heading, header in ((H_RECIPIENTS, RECIPIENTS_HEADER), (H_SOURCES, "Datum Organisatie")):
        page = next(p for p in pages if heading in p)
        assert any(line.startswith(header) for line in page), heading


# --- column widths -------------------------------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéëöüWMQ", min_size=1, max_size=20)
_DATE_TEXT = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(short_date)
_CELL = st.lists(st.one_of(_WORD, _DATE_TEXT), max_size=8).map(" ".join)


@pytest.fixture(scope="module")
def writers() -> dict[bool, letter_pdf._Writer]:
    made = {}
    for core in (False, True):
        pdf = letter_pdf._LetterPDF()
        made[core] = letter_pdf._Writer(pdf, letter_pdf._Typeface(pdf, [] if core else None))
        pdf.add_page()  # fpdf2 lays out text only on a page
    return made


@st.composite
def tables(draw: st.DrawFn) -> tuple[tuple[float, ...], tuple[str, ...], list[tuple[str, ...]]]:
    n = draw(st.integers(1, 6))
    relative = tuple(draw(st.lists(st.floats(1, 60), min_size=n, max_size=n)))
    headers = tuple(draw(st.lists(_WORD, min_size=n, max_size=n)))
    rows = draw(st.lists(st.lists(_CELL, min_size=n, max_size=n).map(tuple), max_size=5))
    return relative, headers, rows


@given(table=tables(), core=st.booleans())
def test_column_widths_fit_each_columns_longest_token(
    writers: dict[bool, letter_pdf._Writer],
    table: tuple[tuple[float, ...], tuple[str, ...], list[tuple[str, ...]]],
    core: bool,
) -> None:
    relative, headers, rows = table
    writer = writers[core]
    pdf = writer.pdf
    widths = writer.column_widths(relative, headers, rows)
    assert len(widths) == len(relative)
    assert sum(widths) == pytest.approx(pdf.epw)
    assert all(w > 0 for w in widths)

    longest = []  # (token, bold, width) per column
    for j in range(len(relative)):
        candidates = []
        writer.font(8.5, bold=True)
        candidates += [(w, True, pdf.get_string_width(w)) for w in headers[j].split()]
        writer.font(8.5)
        candidates += [(w, False, pdf.get_string_width(w)) for row in rows for w in row[j].split()]
        longest.append(max(candidates, key=lambda c: c[2]))
    padding = 2 * letter_pdf._TABLE_PAD_X
    needed = [width + padding for _, _, width in longest]
    if sum(needed) + len(needed) * letter_pdf._FIT_SLACK <= pdf.epw:
        for (token, bold, _), need, width in zip(longest, needed, widths, strict=True):
            assert width >= need
            writer.font(8.5, bold)  # and fpdf2 itself keeps the token on one line at that width
            lines = pdf.multi_cell(width - padding, 4.2, token, dry_run=True, output="LINES")
            assert len(lines) == 1, (token, width)
    else:  # not all fit: the narrower columns still do
        for need, width in zip(needed, widths, strict=True):
            if need + letter_pdf._FIT_SLACK <= pdf.epw / len(widths):
                assert width >= need


@given(
    columns=st.lists(st.tuples(st.floats(0, 120), st.floats(0, 400), st.floats(0, 50)), min_size=1, max_size=8),
    total=st.floats(50, 200),
)
def test_fit_column_widths_rule(columns: list[tuple[float, float, float]], total: float) -> None:
    shortest, natural, relative = (list(x) for x in zip(*columns, strict=True))
    widths = fit_column_widths(total, shortest, natural, relative)
    assert sum(widths) == pytest.approx(total)
    assert all(w >= 0 for w in widths)
    if sum(shortest) <= total:
        assert all(w >= s - 1e-9 for w, s in zip(widths, shortest, strict=True))
        if sum(max(n, s) for n, s in zip(natural, shortest, strict=True)) > total:
            # some text wraps: the width beyond the shortest goes only to columns whose text wraps
            for w, s, n in zip(widths, shortest, natural, strict=True):
                if n <= s:
                    assert w == pytest.approx(s)
                assert w <= max(n, s) + 1e-6
    else:
        fair = total / len(widths)
        assert all(w >= min(s, fair) - 1e-9 for w, s in zip(widths, shortest, strict=True))

"""The decision letter on a request for access (AVG art. 15) as a PDF, ready to be sent (fpdf2).

Layout: Dutch business letter on A4. The letterhead (organisation, department) sits top left; the
addressee block is in the window position of a window envelope (20 mm from the left, 50 mm from the
top); below it the date, kenmerk and subject lines, then the salutation and the body with one
heading per section. Tables wrap long text and repeat their header row on a new page. Every page
carries the kenmerk and "pagina X van Y" in the footer.

The wording comes from ``letter_markdown.compose_letter``, so the PDF and the Markdown version say
the same thing.

Font: DejaVu Sans (TrueType, embedded as a subset) wherever it is found on the machine, so that
Dutch diacritics, the euro sign and most other characters print as they are. Where it is missing
(it is not part of a minimal installation), the letter falls back to the PDF core font Helvetica
with the text transliterated to Windows-1252 (the core fonts' WinAnsi encoding: latin-1 plus € and
typographic quotes); characters neither font can show print as a replacement character. Rendering
never fails on the content of the text.

Output is deterministic: the PDF creation date is the decision date unless ``created_at`` is given,
and the same decision renders to the same bytes.
"""

from __future__ import annotations

import importlib.util
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time
from pathlib import Path

from fpdf import FPDF, FontFace

from casusregie.adapters.render.letter_markdown import (
    Block,
    Bullets,
    Heading,
    Letter,
    Paragraph,
    Table,
    compose_letter,
)
from casusregie.privacy_audit.decision_document import AccessDecision

_REGULAR = "DejaVuSans.ttf"
_BOLD = "DejaVuSans-Bold.ttf"
_FAMILY = "DejaVuSans"

# Where DejaVu Sans lives on common systems (Debian/Ubuntu, Fedora, Arch, Alpine, macOS, Windows).
SYSTEM_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/truetype/ttf-dejavu"),
    Path("/usr/local/share/fonts"),
    Path("/usr/local/share/fonts/dejavu"),
    Path("/Library/Fonts"),
    Path.home() / "Library" / "Fonts",
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
    Path("C:/Windows/Fonts"),
)

# Page geometry in mm (A4).
_LEFT = 20.0
_RIGHT = 20.0
_TOP = 20.0
_BOTTOM = 25.0
_WINDOW_TOP = 50.0
_WINDOW_WIDTH = 85.0
_META_TOP = 95.0
_LINE = 5.0  # body line height
_TABLE_LINE = 4.2
_TABLE_PAD_X = 1.5
_TABLE_PAD_Y = 1.0
_TABLE_MAX_LINES = 40  # a row never gets taller than this; longer cells continue in a following row

_KEEP_MAX = 90.0  # never reserve more than this for keeping blocks together

_GREY = (90, 90, 90)
_RULE = (160, 160, 160)
_HEAD_FILL = (232, 236, 240)
_ACCENT = (0, 70, 130)

_REPLACEMENT = "\ufffd"
_NEWLINES = str.maketrans(
    {"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x0b": "\n", "\x0c": "\n", "\x85": "\n", "\t": " "}
)
# Characters Windows-1252 lacks and NFKD does not reduce to something it has.
_CORE_MAP = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2015": "-", "\u2212": "-", "\u2043": "-",
    "\u2032": "'", "\u2033": '"', "\u2044": "/", "\u2022": "\u2022", "\u00a0": " ",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ı": "i", "ŋ": "ng", "Ŋ": "NG",
    "ĸ": "k", "ŀ": "l", "Ŀ": "L", "ŧ": "t", "Ŧ": "T", "ſ": "s", "ə": "e", "Ə": "E",
}  # fmt: skip

log = logging.getLogger(__name__)


BUNDLED_FONTS = Path(__file__).resolve().parent / "fonts"  # DejaVu Sans ships with casusregie (free licence)


def _candidate_dirs() -> list[Path]:
    dirs = [BUNDLED_FONTS, *SYSTEM_FONT_DIRS]
    # matplotlib ships DejaVu Sans; use it where it happens to be installed.
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            dirs.append(Path(location) / "mpl-data" / "fonts" / "ttf")
    return dirs


def find_unicode_font(font_dirs: Iterable[Path | str] | None = None) -> tuple[Path, Path | None] | None:
    """Paths of DejaVu Sans (regular, bold or None) in the first directory that has it, else None."""
    for directory in _candidate_dirs() if font_dirs is None else font_dirs:
        regular = Path(directory) / _REGULAR
        try:
            if regular.is_file():
                bold = Path(directory) / _BOLD
                return regular, bold if bold.is_file() else None
        except OSError:
            continue
    return None


def _strip_controls(text: str) -> str:
    """One normal form; line breaks as "\\n"; control, format and unassigned characters removed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).translate(_NEWLINES)
    return "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")


class _Typeface:
    """The font the letter uses and the text clean-up that goes with it."""

    def __init__(self, pdf: FPDF, font_dirs: Iterable[Path | str] | None) -> None:
        self.family = "helvetica"
        self.unicode = False
        self._supported: frozenset[int] = frozenset()
        found = find_unicode_font(font_dirs)
        if found is None:
            log.info("DejaVu Sans not found; the letter uses Helvetica (Windows-1252 text)")
        else:
            regular, bold = found
            try:
                pdf.add_font(_FAMILY, "", str(regular))
                pdf.add_font(_FAMILY, "B", str(bold or regular))
                cmaps = [set(pdf.fonts[key].cmap) for key in (_FAMILY.lower(), _FAMILY.lower() + "B")]
                self._supported = frozenset(cmaps[0] & cmaps[1])
                self.family = _FAMILY
                self.unicode = True
            except Exception:  # a damaged or unreadable font file: fall back, never fail
                log.warning("could not load %s; the letter uses Helvetica", regular, exc_info=True)
                for key in (_FAMILY.lower(), _FAMILY.lower() + "B"):
                    pdf.fonts.pop(key, None)
        if not self.unicode:
            pdf.core_fonts_encoding = "windows-1252"

    def clean(self, text: str) -> str:
        text = _strip_controls(text)
        if self.unicode:
            replacement = _REPLACEMENT if ord(_REPLACEMENT) in self._supported else "?"
            return "".join(
                ch if ch == "\n" or ord(ch) in self._supported else (" " if ch.isspace() else replacement)
                for ch in text
            )
        return "".join(_to_cp1252(ch) for ch in text)


def _encodable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _to_cp1252(ch: str) -> str:
    if ch == "\n" or _encodable(ch):
        return ch
    if ch in _CORE_MAP:
        return _CORE_MAP[ch]
    if ch.isspace():
        return " "
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c) and _encodable(c))
    return decomposed or "?"


class _LetterPDF(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_margins(_LEFT, _TOP, _RIGHT)
        self.set_auto_page_break(auto=True, margin=_BOTTOM)
        self.alias_nb_pages(None)  # page totals are written at the end, so "{nb}" in a text stays text
        self.c_margin = 0


class _Writer:
    def __init__(self, pdf: _LetterPDF, face: _Typeface) -> None:
        self.pdf = pdf
        self.face = face
        self._widths: dict[tuple[tuple[str, ...], tuple[float, ...]], list[float]] = {}

    def prepare_widths(self, blocks: Sequence[Block]) -> None:
        """Fit column widths once for all tables of one kind, so the per-category tables line up."""
        groups: dict[tuple[tuple[str, ...], tuple[float, ...]], list[tuple[str, ...]]] = {}
        for block in blocks:
            if isinstance(block, Table):
                rows = groups.setdefault((block.headers, block.widths), [])
                rows.extend(tuple(self.face.clean(c) for c in row) for row in block.rows)
        for (headers, relative), rows in groups.items():
            self._widths[(headers, relative)] = self._fit_widths(
                relative, tuple(self.face.clean(h) for h in headers), rows
            )

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.face.family, "B" if bold else "", size)

    def text(
        self,
        value: str,
        *,
        size: float = 10,
        bold: bool = False,
        height: float = _LINE,
        width: float = 0,
        color: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        """A paragraph at the left margin (or the current x) that wraps and breaks across pages."""
        self.font(size, bold)
        self.pdf.set_text_color(*color)
        self.pdf.multi_cell(width, height, self.face.clean(value), new_x="LMARGIN", new_y="NEXT", align="L")
        self.pdf.set_text_color(0, 0, 0)

    def keep_space(self, height: float) -> None:
        """Start a new page unless ``height`` mm still fit on this one (keeps headings with their text)."""
        at_top = self.pdf.get_y() <= self.pdf.t_margin + 1
        if not at_top and self.pdf.will_page_break(min(height, _KEEP_MAX)):
            self.pdf.add_page()

    def _lines(self, text: str, width: float, size: float, bold: bool = False) -> int:
        self.font(size, bold)
        lines = self.pdf.multi_cell(max(width, 1), _LINE, self.face.clean(text), dry_run=True, output="LINES")
        return max(len(lines), 1)

    def start_height(self, block: Block) -> float:
        """Height of the first piece of a block that should not be separated from what precedes it."""
        pdf = self.pdf
        if isinstance(block, Heading):
            return 11.0
        if isinstance(block, Paragraph):
            return self._lines(block.text, pdf.epw, 10) * _LINE + 1.5
        if isinstance(block, Bullets):
            return self._lines(block.items[0], pdf.epw - 5, 10) * _LINE + 1 if block.items else 0.0
        total = sum(block.widths) or 1
        widths = [pdf.epw * w / total - 2 * _TABLE_PAD_X for w in block.widths]
        height = 7.0 if block.caption else 0.0
        for row, bold in ((block.headers, True), (block.rows[0] if block.rows else (), False)):
            lines = [self._lines(c, w, 8.5, bold) for c, w in zip(row, widths, strict=False)] or [0]
            height += max(lines) * _TABLE_LINE + 2 * _TABLE_PAD_Y
        return height

    def keep_with_next(self, blocks: Sequence[Block], i: int) -> None:
        """Before block ``i``: make room for it and the start of what belongs to it."""
        block = blocks[i]
        following = blocks[i + 1 : i + 3]
        if isinstance(block, Heading):
            need = 4 + self.start_height(block)
            if following:
                need += self.start_height(following[0])
                if isinstance(following[0], Paragraph) and len(following) > 1 and isinstance(following[1], Table):
                    need += self.start_height(following[1])
        elif isinstance(block, Paragraph) and following and isinstance(following[0], Table):
            need = self.start_height(block) + self.start_height(following[0])
        else:
            return
        self.keep_space(need)

    # -- first page -------------------------------------------------------------------------------

    def first_page(self, letter: Letter) -> None:
        pdf = self.pdf
        pdf.add_page()
        organisation, *rest = (*letter.letterhead, "")
        pdf.set_xy(_LEFT, 15)
        self.text(organisation, size=16, bold=True, height=7, width=120, color=_ACCENT)
        for line in rest:
            if line.strip():
                self.text(line, size=10, height=5, width=120, color=_GREY)
        pdf.set_draw_color(*_ACCENT)
        pdf.set_line_width(0.6)
        rule_y = max(pdf.get_y() + 2, 31)
        pdf.line(_LEFT, rule_y, pdf.w - _RIGHT, rule_y)

        # Addressee in the envelope window.
        pdf.set_xy(_LEFT, max(_WINDOW_TOP, rule_y + 6))
        name, *lines = letter.address
        self.text(name, size=10.5, height=5, width=_WINDOW_WIDTH)
        for line in lines:
            self.text(line, size=10.5, height=5, width=_WINDOW_WIDTH)

        # Date, kenmerk, subject.
        pdf.set_y(max(_META_TOP, pdf.get_y() + 10))
        for label, value in (*letter.meta, ("Onderwerp", letter.subject)):
            y = pdf.get_y()
            self.font(8.5)
            pdf.set_text_color(*_GREY)
            pdf.cell(35, _LINE, self.face.clean(label))
            pdf.set_text_color(0, 0, 0)
            self.font(10, bold=label == "Onderwerp")
            pdf.set_xy(_LEFT + 35, y)
            pdf.multi_cell(0, _LINE, self.face.clean(value), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(9)
        self.text(letter.salutation)

    # -- body -------------------------------------------------------------------------------------

    def heading(self, text: str) -> None:
        self.pdf.ln(4)
        self.text(text, size=11.5, bold=True, height=6, color=_ACCENT)
        self.pdf.ln(1)

    def paragraph(self, text: str) -> None:
        self.text(text)
        self.pdf.ln(1.5)

    def bullets(self, items: Sequence[str]) -> None:
        pdf = self.pdf
        indent = 5.0
        for item in items:
            self.keep_space(2 * _LINE)
            self.font(10)
            pdf.set_x(_LEFT)
            pdf.cell(indent, _LINE, "\u2022")
            pdf.set_left_margin(_LEFT + indent)
            try:
                pdf.multi_cell(0, _LINE, self.face.clean(item), new_x="LMARGIN", new_y="NEXT", align="L")
            finally:
                pdf.set_left_margin(_LEFT)
            pdf.ln(1)
        pdf.set_x(_LEFT)
        pdf.ln(0.5)

    def table(self, table: Table) -> None:
        pdf = self.pdf
        self.keep_space(self.start_height(table) + 1)
        if table.caption:
            pdf.ln(1)
            self.text(table.caption, size=10, bold=True, height=6)
        headers = tuple(self.face.clean(h) for h in table.headers)
        rows = [tuple(self.face.clean(c) for c in row) for row in table.rows]
        widths = self._widths.get((table.headers, table.widths)) or self._fit_widths(table.widths, headers, rows)
        self.font(8.5)
        rows = [part for row in rows for part in self._split_tall_row(row, widths)]
        pdf.set_draw_color(*_RULE)
        pdf.set_line_width(0.2)
        with pdf.table(
            col_widths=tuple(widths),
            width=pdf.epw,
            align="LEFT",
            text_align="LEFT",
            v_align="TOP",
            borders_layout="HORIZONTAL_LINES",
            line_height=_TABLE_LINE,
            padding=(_TABLE_PAD_Y, _TABLE_PAD_X),
            headings_style=FontFace(emphasis="BOLD", fill_color=_HEAD_FILL),
            repeat_headings=1,
        ) as t:
            header = t.row()
            for h in headers:
                header.cell(h)
            for row in rows:
                r = t.row()
                for value in row:
                    r.cell(value)
        pdf.ln(2)

    def _fit_widths(
        self, relative: Sequence[float], headers: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> list[float]:
        """Column widths in mm: the relative widths, widened where a column's longest word would not fit.

        Other columns give up the space they have beyond their own longest word. Where that is not
        enough, the relative widths stay and long words wrap inside the word.
        """
        pdf = self.pdf
        total = sum(relative) or 1
        prop = [pdf.epw * w / total for w in relative]
        need = []
        for j in range(len(prop)):
            longest = 0.0
            self.font(8.5, bold=True)
            if j < len(headers):
                longest = max((pdf.get_string_width(word) for word in headers[j].split()), default=0.0)
            self.font(8.5)
            for row in rows:
                if j < len(row):
                    words = set(row[j].split())
                    longest = max(longest, max((pdf.get_string_width(w) for w in words), default=0.0))
            need.append(min(longest + 2 * _TABLE_PAD_X + 1.0, pdf.epw * 0.45))
        widths = [max(p, n) for p, n in zip(prop, need, strict=True)]
        excess = sum(widths) - pdf.epw
        if excess <= 0.01:
            return widths
        slack = [w - n if w > n else 0.0 for w, n in zip(widths, need, strict=True)]
        if sum(slack) < excess:
            return prop
        scale = excess / sum(slack)
        return [w - s * scale for w, s in zip(widths, slack, strict=True)]

    def _as_given(self, line: str) -> str:
        """A line fpdf2 handed back, as it was given: with the core font fpdf2 returns its lines in the
        font's encoding read as Latin-1 ("š" as U+009A), which the table would encode a second time."""
        if self.face.unicode:
            return line
        return line.encode("latin-1", errors="replace").decode("cp1252", errors="replace")

    def _split_tall_row(self, row: tuple[str, ...], widths: Sequence[float]) -> list[tuple[str, ...]]:
        """A row as one or more rows, none taller than ``_TABLE_MAX_LINES`` lines (fpdf2 cannot break a row)."""
        wrapped: list[list[str]] = []
        if all(len(value) <= 200 and value.count("\n") <= 10 for value in row):
            return [row]  # cannot reach _TABLE_MAX_LINES in any column this letter uses
        for value, width in zip(row, widths, strict=False):
            if not value:
                wrapped.append([""])
                continue
            lines = self.pdf.multi_cell(
                max(width - 2 * _TABLE_PAD_X - 0.5, 1), _TABLE_LINE, value, dry_run=True, output="LINES"
            )
            wrapped.append([self._as_given(str(x)) for x in lines] or [""])
        if max(len(lines) for lines in wrapped) <= _TABLE_MAX_LINES:
            return [row]
        parts = []
        for start in range(0, max(len(lines) for lines in wrapped), _TABLE_MAX_LINES):
            parts.append(tuple("\n".join(lines[start : start + _TABLE_MAX_LINES]) for lines in wrapped))
        return parts

    def closing(self, closing: Sequence[str]) -> None:
        pdf = self.pdf
        pdf.ln(4)
        self.keep_space(len(closing) * _LINE + 12)
        greeting, *rest = closing
        self.text(greeting)
        for line in rest:
            if line:
                self.text(line)
            else:
                pdf.ln(10)

    def footers(self, reference: str) -> None:
        """Kenmerk and "pagina X van Y" on every page, written once the number of pages is known."""
        pdf = self.pdf
        total = pdf.page
        pdf.set_auto_page_break(False)
        self.font(8)
        ref = self.face.clean(f"Ons kenmerk {' '.join(reference.split())}")
        room = pdf.epw * 0.7 - 2
        if pdf.get_string_width(ref) > room:  # an outlandish kenmerk must not run into the page number
            while ref and pdf.get_string_width(ref + "\u2026") > room:
                ref = ref[: max(len(ref) * 9 // 10, len(ref) - 50, 0)]
            ref += "\u2026"
        for number in range(1, total + 1):
            pdf.page = number
            y = pdf.h - 15
            pdf.set_draw_color(*_RULE)
            pdf.set_line_width(0.2)
            pdf.line(_LEFT, y - 2, pdf.w - _RIGHT, y - 2)
            self.font(8)
            pdf.set_text_color(*_GREY)
            pdf.set_xy(_LEFT, y)
            pdf.cell(pdf.epw * 0.7, 4, ref, align="L")
            pdf.set_xy(_LEFT + pdf.epw * 0.7, y)
            pdf.cell(pdf.epw * 0.3, 4, f"pagina {number} van {total}", align="R")
            pdf.set_text_color(0, 0, 0)
        pdf.page = total


def render_pdf(
    decision: AccessDecision,
    *,
    font_dirs: Iterable[Path | str] | None = None,
    created_at: datetime | None = None,
) -> bytes:
    """The decision letter as a PDF (A4).

    ``font_dirs``: directories to look for DejaVu Sans in (None: the usual system places; an empty
    list forces the Helvetica fallback). ``created_at``: the PDF creation date (default: noon UTC on
    the decision date, which keeps the output byte-for-byte reproducible).
    """
    letter = compose_letter(decision)
    pdf = _LetterPDF()
    face = _Typeface(pdf, font_dirs)
    pdf.set_creation_date(created_at or datetime.combine(decision.decision_date, time(12), tzinfo=UTC))
    pdf.set_title(_strip_controls(letter.title))
    pdf.set_subject(_strip_controls(letter.subject))
    pdf.set_author(_strip_controls(decision.organisation_name))
    pdf.set_creator("casusregie")
    pdf.set_lang("nl-NL")

    w = _Writer(pdf, face)
    w.prepare_widths(letter.body)
    w.first_page(letter)
    for i, block in enumerate(letter.body):
        w.keep_with_next(letter.body, i)
        if isinstance(block, Heading):
            w.heading(block.text)
        elif isinstance(block, Paragraph):
            w.paragraph(block.text)
        elif isinstance(block, Bullets):
            w.bullets(block.items)
        else:
            w.table(block)
    w.closing(letter.closing)
    w.footers(letter.reference)
    return bytes(pdf.output())


if __name__ == "__main__":  # python -m casusregie.adapters.render.letter_pdf [out.pdf]: a sample letter
    import sys

    from casusregie.privacy_audit.decision_document import sample_decision

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/letter-sample.pdf")  # noqa: S108
    target.write_bytes(render_pdf(sample_decision()))
    print(target)

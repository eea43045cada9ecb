"""The decision letter on a request for access (AVG art. 15) as a PDF, ready to be sent (fpdf2).

Layout: Dutch business letter on A4. The letterhead (organisation, department) sits top left; the
addressee block is in the window position of a window envelope (20 mm from the left, 50 mm from the
top); below it the date, kenmerk and subject lines, then the salutation and the body with one
heading per section. Every page carries the kenmerk and "pagina X van Y" in the footer.

Tables: no cell breaks inside a date or a word. Each column is at least as wide as its longest
unbreakable token (measured in the font it prints in) and the width left over goes to the columns
with long free text (``fit_column_widths``); only a token that cannot fit (wider than the table, or
where a table's longest tokens together are wider than the page) breaks, a word with a hyphen. A
table's caption, header row and first two rows (all of a shorter table) stay together: if they do
not fit on the rest of the page, the table starts on the next one, with a heading directly above
it. A table that continues on a next page starts there with its header row again.

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
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.line_break import BREAKING_SPACE_SYMBOLS_STR

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

_KEEP_MAX = 90.0  # never reserve more than this for keeping blocks together (tables: see _TABLE_KEEP_ROWS)
_TABLE_KEEP_ROWS = 2  # a table's header and this many rows stay together on one page
_FIT_SLACK = 0.1  # mm a column gets beyond its longest word, against rounding in the line breaker
# Where fpdf2 may wrap a line: its breaking spaces and line breaks. It never breaks at "-", so a
# date (03-02-2026) or a case number (CR-2025-0412) is one token.
_BREAKS = re.compile(f"[\n{re.escape(BREAKING_SPACE_SYMBOLS_STR)}]+")
_TOKEN = re.compile(f"[^\n{re.escape(BREAKING_SPACE_SYMBOLS_STR)}]+")
_SOFT_HYPHEN = "\u00ad"  # fpdf2 may break a line here and then prints a hyphen

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


def fit_column_widths(
    total: float, shortest: Sequence[float], natural: Sequence[float], relative: Sequence[float]
) -> list[float]:
    """Widths for table columns that add up to ``total``.

    ``shortest[j]``: the width column ``j`` needs for its longest unbreakable token (plus padding);
    ``natural[j]``: the width in which its longest text prints on one line; ``relative``: the
    designed proportions. The rule:

    1. Every column starts at its designed width, widened to its ``shortest`` (no date or word
       breaks) and narrowed to its ``natural`` width (no space wasted: a date column is exactly as
       wide as a date).
    2. Too wide in all: the columns give up width beyond their ``shortest``, each in proportion
       to what it has beyond it.
    3. Width left over goes to the columns whose text still wraps (long free text), in their
       designed proportions, until their text would print on one line; anything left after that
       to all columns in their designed proportions.
    4. Where even the ``shortest`` widths do not fit, the columns with the longest tokens are cut
       back to one common width and only their tokens break; the narrower columns keep their
       ``shortest`` width.
    """
    n = len(shortest)
    if n == 0:
        return []
    shortest = [max(s, 0.0) for s in shortest]
    natural = [max(x, s) for x, s in zip(natural, shortest, strict=True)]
    weights = [max(r, 0.0) for r in relative[:n]] + [0.0] * (n - len(relative))
    top = max(weights)
    weights = [w / top for w in weights] if top > 0 else [1.0] * n
    if sum(shortest) > total:  # 4: water-filling, narrow columns first
        room, cap = total, 0.0
        for k, need in enumerate(sorted(shortest)):
            if need * (n - k) > room:
                cap = room / (n - k)
                break
            room -= need
        return [min(s, cap) for s in shortest]
    designed = [total * w / sum(weights) for w in weights]
    widths = [min(max(d, s), x) for d, s, x in zip(designed, shortest, natural, strict=True)]  # 1
    excess = sum(widths) - total
    if excess > 0:  # 2
        spare = [w - s for w, s in zip(widths, shortest, strict=True)]
        cut = [excess * sp / sum(spare) for sp in spare]
        return [max(w - c, s) for w, c, s in zip(widths, cut, shortest, strict=True)]
    for _ in range(n):  # 3: each round fills at least one column up to its natural width
        left = total - sum(widths)
        open_ = [j for j in range(n) if widths[j] < natural[j] - 1e-9]
        if left <= 1e-9 or not open_:
            break
        share = {j: weights[j] for j in open_} if any(weights[j] for j in open_) else dict.fromkeys(open_, 1.0)
        fraction = {j: share[j] / sum(share.values()) for j in open_}
        step = min(left, *((natural[j] - widths[j]) / fraction[j] for j in open_ if fraction[j]))
        for j in open_:
            widths[j] = min(widths[j] + step * fraction[j], natural[j])
    left = total - sum(widths)
    if left <= 1e-9:  # (or a rounding error below zero)
        return widths
    return [w + left * r / sum(weights) for w, r in zip(widths, weights, strict=True)]


@dataclass
class _TableLayout:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    table: Table  # kept so that its id() stays unique while the layout is cached
    start: float | None = None  # height of the caption, header and first rows (computed once)


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
        self._layouts: dict[int, _TableLayout] = {}
        self._measured: dict[tuple[bool, str], float] = {}

    def prepare_widths(self, blocks: Sequence[Block]) -> None:
        """Fit column widths once for all tables of one kind, so the per-category tables line up."""
        groups: dict[tuple[tuple[str, ...], tuple[float, ...]], list[tuple[str, ...]]] = {}
        for block in blocks:
            if isinstance(block, Table):
                rows = groups.setdefault((block.headers, block.widths), [])
                rows.extend(tuple(self.face.clean(c) for c in row) for row in block.rows)
        for (headers, relative), rows in groups.items():
            self._widths[(headers, relative)] = self.column_widths(
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

    def page_room(self) -> float:
        """The height of the text area of an empty page."""
        return self.pdf.page_break_trigger - self.pdf.t_margin

    def keep_space(self, height: float, limit: float = _KEEP_MAX) -> None:
        """Start a new page unless ``height`` mm still fit on this one (keeps headings with their text).

        At most ``limit`` mm are reserved, and never more than an empty page holds.
        """
        at_top = self.pdf.get_y() <= self.pdf.t_margin + 1
        if not at_top and self.pdf.will_page_break(min(height, limit, self.page_room())):
            self.pdf.add_page()

    def _lines(self, text: str, width: float, size: float, bold: bool = False) -> int:
        self.font(size, bold)
        lines = self.pdf.multi_cell(max(width, 1), _LINE, self.face.clean(text), dry_run=True, output="LINES")
        return max(len(lines), 1)

    def start_height(self, block: Block) -> float:
        """Height of the first piece of a block that should not be separated from what precedes it.

        For a table: its caption, header row and first two rows (all of it when shorter), or, where
        that is taller than a page, its caption, header and first row.
        """
        pdf = self.pdf
        if isinstance(block, Heading):
            return 11.0
        if isinstance(block, Paragraph):
            return self._lines(block.text, pdf.epw, 10) * _LINE + 1.5
        if isinstance(block, Bullets):
            return self._lines(block.items[0], pdf.epw - 5, 10) * _LINE + 1 if block.items else 0.0
        layout = self.layout(block)
        if layout.start is None:
            top = (1 + self._lines(block.caption, pdf.epw, 10, bold=True) * 6) if block.caption else 0.0
            top += self._row_height(layout.headers, layout.widths, bold=True)
            heights = [self._row_height(row, layout.widths) for row in layout.rows[:_TABLE_KEEP_ROWS]]
            while len(heights) > 1 and top + sum(heights) > self.page_room():
                heights.pop()
            layout.start = top + sum(heights) + 0.5
        return layout.start

    def keep_with_next(self, blocks: Sequence[Block], i: int) -> None:
        """Before block ``i``: make room for it and the start of what belongs to it."""
        block = blocks[i]
        following = blocks[i + 1 : i + 3]
        if isinstance(block, Heading) and following and isinstance(following[0], Table):
            # A heading directly above a table goes with the table's start, however tall that is.
            self.keep_space(4 + self.start_height(block) + self.start_height(following[0]), self.page_room())
            return
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

    def layout(self, table: Table) -> _TableLayout:
        """The cleaned header and rows of a table (tall rows split) and its column widths in mm."""
        key = id(table)
        if key not in self._layouts:
            headers = tuple(self.face.clean(h) for h in table.headers)
            rows = [tuple(self.face.clean(c) for c in row) for row in table.rows]
            widths = self._widths.get((table.headers, table.widths)) or self.column_widths(table.widths, headers, rows)
            headers = self._hyphenate_row(headers, widths, bold=True)
            rows = [self._hyphenate_row(row, widths) for row in rows]
            self.font(8.5)
            rows = [part for row in rows for part in self._split_tall_row(row, widths)]
            self._layouts[key] = _TableLayout(headers, tuple(rows), tuple(widths), table)
        return self._layouts[key]

    def _table_width(self, text: str, bold: bool = False) -> float:
        """The printed width of ``text`` in a table cell, in mm."""
        key = (bold, text)
        if key not in self._measured:
            self.font(8.5, bold)
            self._measured[key] = self.pdf.get_string_width(text)
        return self._measured[key]

    def _hyphenate_row(self, row: tuple[str, ...], widths: Sequence[float], bold: bool = False) -> tuple[str, ...]:
        """The last resort for a token wider than its column (one wider than the whole table, or where
        the columns' longest tokens together are wider than the page): it starts on a line of its
        own and breaks where the column ends, a word with a hyphen, anything else (a number, a web
        address) without one."""

        def hyphenate(value: str, room: float) -> str:
            out, end = [], 0
            for token in _TOKEN.finditer(value):
                gap, word = value[end : token.start()], token[0]
                end = token.end()
                if self._table_width(word, bold) > room:
                    if out and "\n" not in gap:
                        gap = "\n"
                    if len(word) >= 5 and word.rstrip(".,;:!?)").isalpha():
                        word = word[:2] + "".join(_SOFT_HYPHEN + ch for ch in word[2:-2]) + word[-2:]
                out += [gap, word]
            return "".join([*out, value[end:]])

        return (
            tuple(hyphenate(value, width - 2 * _TABLE_PAD_X) for value, width in zip(row, widths, strict=False))
            + row[len(widths) :]
        )

    def _row_height(self, row: Sequence[str], widths: Sequence[float], bold: bool = False) -> float:
        """The height fpdf2 gives a table row: its tallest cell, laid out as the table lays it out."""
        self.font(8.5, bold)
        height = _TABLE_LINE + 2 * _TABLE_PAD_Y
        for value, width in zip(row, widths, strict=False):
            cell = self.pdf.multi_cell(
                w=width,
                h=_TABLE_LINE,
                text=value,
                max_line_height=_TABLE_LINE,
                padding=(_TABLE_PAD_Y, _TABLE_PAD_X),
                dry_run=True,
                output="HEIGHT",
            )
            height = max(height, float(cell))
        return height

    def table(self, table: Table) -> None:
        pdf = self.pdf
        layout = self.layout(table)
        # The caption, the header and the first two rows stay together: on a new page if need be.
        self.keep_space(self.start_height(table), self.page_room())
        if table.caption:
            pdf.ln(1)
            self.text(table.caption, size=10, bold=True, height=6)
        self.font(8.5)
        pdf.set_draw_color(*_RULE)
        pdf.set_line_width(0.2)
        with pdf.table(
            col_widths=layout.widths,
            width=pdf.epw,
            align="LEFT",
            text_align="LEFT",
            v_align="TOP",
            borders_layout="HORIZONTAL_LINES",
            line_height=_TABLE_LINE,
            padding=(_TABLE_PAD_Y, _TABLE_PAD_X),
            headings_style=FontFace(emphasis="BOLD", fill_color=_HEAD_FILL),
            repeat_headings=1,  # a table that continues on the next page starts there with its header
        ) as t:
            header = t.row()
            for h in layout.headers:
                header.cell(h)
            for row in layout.rows:
                r = t.row()
                for value in row:
                    r.cell(value)
        pdf.ln(2)

    def column_widths(
        self, relative: Sequence[float], headers: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> list[float]:
        """Column widths in mm that add up to the page width.

        Every column is at least as wide as its longest unbreakable token (a date, a word, a case
        number), measured in the font it prints in; the width that is left goes to the columns with
        long free text. See ``fit_column_widths``.
        """
        pdf = self.pdf
        columns = len(relative)
        shortest = [0.0] * columns
        natural = [0.0] * columns
        pad = 2 * _TABLE_PAD_X + _FIT_SLACK
        for cells, bold in ((headers, True), *((row, False) for row in rows)):
            for j, value in enumerate(cells[:columns]):
                words = [self._table_width(w, bold) for w in set(_BREAKS.split(value)) if w]
                lines = [self._table_width(x, bold) for x in set(value.split("\n")) if x.strip()]
                # A token wider than the whole table breaks whatever the widths: it sets no minimum.
                shortest[j] = max([shortest[j], *(w for w in words if w + pad <= pdf.epw)])
                natural[j] = max([natural[j], *lines])
        return fit_column_widths(
            pdf.epw, [w + pad for w in shortest], [min(n + pad, pdf.epw) for n in natural], relative
        )

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
    return render_letter_pdf(
        compose_letter(decision),
        author=decision.organisation_name,
        created_at=created_at or datetime.combine(decision.decision_date, time(12), tzinfo=UTC),
        font_dirs=font_dirs,
    )


def render_letter_pdf(
    letter: Letter,
    *,
    author: str,
    created_at: datetime,
    font_dirs: Iterable[Path | str] | None = None,
) -> bytes:
    """Any letter composed as blocks (``letter_markdown.Letter``) in the decision letter's layout.

    The same letterhead, window address, date/kenmerk/subject lines, body, closing and footers
    ("Ons kenmerk", "pagina X van Y"). A letter without a ``closing`` (an agreement that ends with its
    signature lines) ends with its last block. ``created_at``: the PDF creation date (pass a fixed one
    to keep the output reproducible).
    """
    pdf = _LetterPDF()
    face = _Typeface(pdf, font_dirs)
    pdf.set_creation_date(created_at)
    pdf.set_title(_strip_controls(letter.title))
    pdf.set_subject(_strip_controls(letter.subject))
    pdf.set_author(_strip_controls(author))
    pdf.set_creator("casusregie")
    pdf.set_lang("nl-NL")

    w = _Writer(pdf, face)
    w.prepare_widths(letter.body)
    w.first_page(letter)
    if letter.body and isinstance(letter.body[0], Paragraph):
        pdf.ln(3)  # a blank line between the salutation and a first paragraph (a heading brings its own)
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
    if letter.closing:
        w.closing(letter.closing)
    w.footers(letter.reference)
    return bytes(pdf.output())


if __name__ == "__main__":  # python -m casusregie.adapters.render.letter_pdf [out.pdf]: a sample letter
    import sys

    from casusregie.privacy_audit.decision_document import sample_decision

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/letter-sample.pdf")  # noqa: S108
    target.write_bytes(render_pdf(sample_decision()))
    print(target)

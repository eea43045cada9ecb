"""Characters that must never be stored or shown as they are (tekens die een terminal besturen).

Text typed by one user is read by others: a referring partner's free text ends up in a
director's terminal, a letter, a browser. Control characters (escape sequences, carriage
returns) and the Unicode characters that reorder or hide text (bidirectional overrides and
isolates, zero-width characters) could make that text show something else than is stored.
Input refuses them; output shows any that an older record holds as a visible escape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# C0 controls except tab and newline, DEL, C1 controls, and the format characters that reorder
# or hide text (Arabic letter mark, zero-width characters, directional marks, line/paragraph
# separators, bidi embeddings/overrides/isolates, word joiner and invisible operators, BOM);
# and lone surrogates: how Python hands over command-line bytes that are not UTF-8, which no
# UTF-8 file, database or terminal can take.
UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def texts_in(value: object) -> Iterator[str]:
    """Every string in a value: itself, or inside lists, tuples and dicts (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from texts_in(key)
            yield from texts_in(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from texts_in(item)


def json_escaped(text: str) -> str:
    """JSON text with every unsafe character written as ``\\uXXXX`` (inside a string: the same value)."""
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_REFUSED_IN_TEXT = re.compile(r"\t|" + UNSAFE.pattern)
_REFUSED_IN_LINE = re.compile(r"[\t\n]|" + UNSAFE.pattern)


def unsafe_character(text: str, *, multiline: bool) -> str | None:
    """The first character of ``text`` that input must refuse, described; None if there is none.

    Tab is refused too: in one-line fields it breaks tables, in free text it is never needed.
    """
    found = (_REFUSED_IN_TEXT if multiline else _REFUSED_IN_LINE).search(text)
    if found is None:
        return None
    char = found.group()
    return "a line break" if char == "\n" else f"the invisible or control character U+{ord(char):04X}"

"""Characters that must never be stored or shown as they are (tekens die een terminal besturen).

Text typed by one user is read by others: a referring partner's free text ends up in a
director's terminal, a letter, a browser. Control characters (escape sequences, carriage
returns) and the Unicode characters that reorder or hide text (bidirectional overrides and
isolates, zero-width characters) could make that text show something else than is stored.
Input refuses them; output shows any that an older record holds as a visible escape.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and the format characters that reorder
# or hide text (Arabic letter mark, zero-width characters, directional marks, line/paragraph
# separators, bidi embeddings/overrides/isolates, word joiner and invisible operators, BOM).
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")


def unsafe_character(text: str, *, multiline: bool) -> str | None:
    """The first character of ``text`` that input must refuse, described; None if there is none.

    Tab is refused too: in one-line fields it breaks tables, in free text it is never needed.
    """
    for char in text:
        if char == "\n":
            if not multiline:
                return "a line break"
            continue
        if char == "\t" or UNSAFE.match(char):
            return f"the invisible or control character U+{ord(char):04X}"
    return None

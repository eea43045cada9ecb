"""What a person can be found by (vindbaarheid): the terms of the blind index, before keying.

Pure rules, so that the referral, a rectification and the privacy officer's search agree on
them; the index itself (keyed digests in the store) is ``adapters.person_index``.
"""

from __future__ import annotations

import unicodedata
from datetime import date


def normalise_name(name: str) -> str:
    """Case, accents and spacing do not matter: 'Ësther  de Vries' ~ 'esther de vries'."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.casefold().replace("-", " ").split())


def terms(name: str | None, birth_date: date | None, bsn: str | None) -> list[tuple[str, str]]:
    """The (kind, value) pairs a person is findable by."""
    out: list[tuple[str, str]] = []
    if bsn:
        out.append(("bsn", bsn.strip().zfill(9)))
    if name:
        out.append(("name", normalise_name(name)))
        if birth_date:
            out.append(("name+born", f"{normalise_name(name)}|{birth_date.isoformat()}"))
    return out

"""The kinds of case letter (brieven): one list for the request model, the renderer and every adapter."""

from __future__ import annotations

from typing import Literal, get_args

#: The kinds of letter that go to a partner, not to the household: writing one is a disclosure.
PartnerLetterKind = Literal["advies-aanmelder", "uitnodiging-mdo"]
PARTNER_LETTERS: tuple[str, ...] = get_args(PartnerLetterKind)

#: Every kind of case letter; its wording is the renderer's business.
LetterKind = Literal[
    "bewonersbrief",
    PartnerLetterKind,
    "aankondiging-achter-de-voordeur",
    "begeleidingsovereenkomst",
]
LETTER_KINDS: tuple[str, ...] = get_args(LetterKind)  # flattened: the partner kinds stand in their place

"""Searching cases by free text, address and person, within the reader's need to know.

There is no plaintext index, and none is ever written: a search renders each case the reader
may see, exactly as the case view shows it to them (``render_case`` with their
``Visibility``), opens the personal fields in memory and matches there. Only fields that were
opened for this reader count, so a partner never matches on text it may not read (another
partner's disclosure, the police's information, the journal): a redacted field, an erased
person (``[gewist]``) or a restricted one (art. 18 AVG) holds nothing to match. Identifiers
(BSN, date of birth) are not free text: a person is found by them through the blind index
(``regie person find``).

Matching ignores case, accents and spacing, as the blind index does ("Ësther  de-Vries" ~
"esther de vries"). What a search returns is the case and the names of the fields that matched,
never the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from casusregie.domain.errors import ValidationFailed
from casusregie.domain.findable import normalise_name
from casusregie.privacy_audit.need_to_know import ERASED, Opener

MIN_QUERY = 3  # fewer characters would match nearly every case: a search is not a way to list them all
MAX_QUERY = 200
DEFAULT_RESULTS = 50
MAX_RESULTS = 200
NOT_FREE_TEXT = frozenset({"bsn", "birth_date"})  # identifiers: exact look-up through the blind index only
SCOPES = {  # which fields each kind of query looks in (a path ends with one of these); None: every text field
    "text": None,
    "address": ("members.address",),
    "person": ("members.name",),
}


class Opened(str):
    """A personal field opened for this reader: the only text a search may match."""

    __slots__ = ()


def marking(opener: Opener, placeholders: frozenset[str] = frozenset({ERASED})) -> Opener:
    """``opener``, with what it opens marked as searchable; a placeholder (``[gewist]``) is not text."""

    def open_(value: Any) -> Any:
        opened = opener(value)
        if value is None or not isinstance(opened, str) or opened in placeholders:
            return opened
        return Opened(opened)

    return open_


def normalise(text: str) -> str:
    return normalise_name(text)


@dataclass(frozen=True)
class Query:
    kind: str  # text, address or person
    words: str  # normalised

    def looks_in(self, path: str) -> bool:
        scope = SCOPES[self.kind]
        return scope is None or path.endswith(scope)


def queries(text: str | None, address: str | None = None, person: str | None = None) -> list[Query]:
    """The search's queries, checked: each at least MIN_QUERY characters (as matched) and at most MAX_QUERY."""
    out: list[Query] = []
    for kind, given in (("text", text), ("address", address), ("person", person)):
        if given is None:
            continue
        if len(given) > MAX_QUERY:
            raise ValidationFailed(f"a search {kind} is at most {MAX_QUERY} characters")
        words = normalise(given)
        if len(words.replace(" ", "")) < MIN_QUERY:
            raise ValidationFailed(
                f"search {kind} {given.strip()!r} is too short: give at least {MIN_QUERY} letters or digits"
            )
        out.append(Query(kind, words))
    if not out:
        raise ValidationFailed("give a text to search for (or --address, --person)")
    return out


def text_fields(doc: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, text) of each opened personal field of a rendered case: ``members.name``, ``journal.text``."""
    if isinstance(doc, Opened):
        if path.rsplit(".", 1)[-1] not in NOT_FREE_TEXT:
            yield path, doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield from text_fields(value, f"{path}.{key}" if path else str(key))
    elif isinstance(doc, list):
        for value in doc:
            yield from text_fields(value, path)


def matching_fields(doc: dict[str, Any], wanted: list[Query]) -> list[str]:
    """The fields in which the rendered case matches; empty unless every query matches somewhere."""
    fields = [(path, normalise(text)) for path, text in text_fields(doc)]
    matched: set[str] = set()
    for query in wanted:
        hits = {path for path, text in fields if query.looks_in(path) and query.words in text}
        if not hits:
            return []
        matched |= hits
    return sorted(matched)

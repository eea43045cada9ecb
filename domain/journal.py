"""The case journal (contactjournaal, notities): what happened and who spoke with whom.

An entry is never edited: a wrong entry is corrected by a later one that names it, so the
journal shows both, as a paper file would. An entry about one household member is sealed with
that person's key (erased with them); an entry about the household with the case key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from casusregie.domain.sealed import Sealed


class Channel(StrEnum):
    """How a contact took place (kanaal)."""

    HOME_VISIT = "huisbezoek"
    PHONE = "telefoon"
    MEETING = "gesprek"  # face to face, at the office or elsewhere
    EMAIL = "e-mail"
    LETTER = "brief"
    CONFERENCE = "overleg"  # with professionals
    OTHER = "anders"


@dataclass
class JournalEntry:
    """One note (notitie) or contact moment (contactmoment) in the case journal."""

    entry_id: str
    on: date
    by: str
    text: Sealed
    subject: UUID | None = None  # the household member it is about; None: the household
    channel: str | None = None  # set for a contact moment, None for a note
    with_whom: Sealed | None = None  # who the contact was with (names are personal data)
    corrects: str | None = None  # the entry this one corrects
    corrected_by: str | None = None

    @property
    def is_contact(self) -> bool:
        return self.channel is not None

"""Documents (stukken) attached to a case: a court ruling, a guidance agreement, a police report.

The case holds only what describes a document: its type, date and source, a title, who it is
about, its size and how it is stored. The content lives apart, encrypted in chunks (see
``adapters.document_store``), under the key of the person it is about (erased with them) or,
for a document about the household as a whole, under the case key. The event names a SHA-256
digest of the stored ciphertext, never of the content: the tamper-evident log vouches for the
stored chunks, and destroying the key leaves nothing that can be compared with a guessed file.

A document is never replaced or deleted by a user: a wrong one is withdrawn (ingetrokken) with
a reason, and stays in the file and in access answers, marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from casusregie.domain.sealed import Sealed

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 20 * MIB  # the default size limit of one document (config: document_max_bytes)
CEILING_BYTES = 64 * MIB  # no configuration may allow more: the content is handled in memory
CHUNK_SIZE = 256 * 1024  # plaintext bytes per stored chunk


def base64_length(size: int) -> int:
    """How many base64 characters ``size`` bytes take (with padding)."""
    return 4 * ((size + 2) // 3)


class DocumentType(StrEnum):
    """The kind of document (soort stuk)."""

    VONNIS = "vonnis"  # a court judgment
    BESCHIKKING = "beschikking"  # a court order or an administrative decision
    BEGELEIDINGSOVEREENKOMST = "begeleidingsovereenkomst"  # a guidance agreement with the client
    PROCES_VERBAAL = "proces-verbaal"  # a police report (e.g. for an eviction)
    BRIEF = "brief"  # a letter
    RAPPORT = "rapport"  # a report or assessment
    OVERIG = "overig"  # anything else


#: How a type is named in Dutch texts (access answers, the web application).
TYPE_NAMES = {
    DocumentType.VONNIS: "Vonnis",
    DocumentType.BESCHIKKING: "Beschikking",
    DocumentType.BEGELEIDINGSOVEREENKOMST: "Begeleidingsovereenkomst",
    DocumentType.PROCES_VERBAAL: "Proces-verbaal",
    DocumentType.BRIEF: "Brief",
    DocumentType.RAPPORT: "Rapport",
    DocumentType.OVERIG: "Overig stuk",
}


def type_name(kind: str) -> str:
    try:
        return TYPE_NAMES[DocumentType(kind)]
    except ValueError:
        return kind


@dataclass
class Document:
    """One document of a case, as the case's state holds it (the content is stored apart)."""

    document_id: str  # D1, D2 ... within the case
    storage_id: str  # a random id: names the stored chunks and is bound into their encryption
    key_id: str  # the key that seals the content, the title and a free-text source
    kind: str  # a DocumentType
    dated: date  # the date of the document itself
    source_org: str | None  # the organisation it came from, when it is one of the profile's
    source: Sealed | None  # otherwise who or what it came from, as free text (sealed)
    title: Sealed | None
    subject: UUID | None  # the household member it is about; None: the household
    size: int  # bytes of content
    chunks: int
    chunk_size: int
    digest: str  # SHA-256 over the stored ciphertext chunks (hex)
    attached_on: date
    attached_by: str
    withdrawn_on: date | None = None
    withdrawn_by: str | None = None
    withdraw_reason: Sealed | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_on is not None

    def seen_by_organisation(self, organisation: str | None) -> bool:
        """Whether a partner organisation sees this document: only what came from itself."""
        return organisation is not None and self.source_org == organisation

"""Sealed personal data (verzegelde persoonsgegevens).

The domain never sees personal data in the clear. Names, dates of birth, BSNs, addresses
and free text about a person reach the aggregates already sealed with that person's own
data key (or the case key, for text about the household as a whole). The domain keeps and
passes them on opaquely; only the privacy layer can open them, and only after logging the
access. Destroying a person's key (crypto-shredding) leaves every ``Sealed`` unreadable
while the events around it stay intact.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sealed:
    """One personal field, encrypted under the key ``key_id``.

    ``field`` names what it is ("name", "bsn", "note" ...); it is authenticated with the
    ciphertext, so a sealed BSN cannot be passed off as a name.
    """

    key_id: str
    field: str
    blob: bytes

    def __repr__(self) -> str:  # never dump ciphertext into logs or tracebacks
        return f"Sealed({self.key_id}, {self.field})"


def person_key_id(person_id: object) -> str:
    """The id of a person's own data key: random person ids, never derived from their data."""
    return f"person-{person_id}"


def case_key_id(case_id: object) -> str:
    """The id of a case's household key, for free text about the household as a whole."""
    return f"case-{case_id}"

"""Closing a case (afsluiting) and its aftercare (nazorg)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from casusregie.domain.sealed import Sealed


class ClosureOutcome(StrEnum):
    """How a case ended."""

    GOALS_MET = "goals-met"  # doelen behaald
    PARTLY_MET = "partly-met"  # deels behaald
    NOT_MET = "not-met"  # niet behaald
    ESCALATED = "escalated"  # opgeschaald / overgedragen
    CLIENT_REFUSED = "client-refused"  # cliënt weigert
    MOVED_AWAY = "moved-away"  # verhuisd


class Judgement(StrEnum):
    """A judgement of the result (oordeel), by the neighbours or by the partners (seed 003)."""

    IMPROVED = "improved"  # verbeterd
    UNCHANGED = "unchanged"  # onveranderd
    WORSENED = "worsened"  # verslechterd
    UNKNOWN = "unknown"  # onbekend


@dataclass
class Closure:
    closed_on: date
    outcome: str
    judgement_neighbours: str
    judgement_partners: str
    closed_by: str
    aftercare: Sealed | None = None
    handover_to: str | None = None
    note: Sealed | None = None
    # what spoke against closing when it was closed anyway, and the director's reason to close all the same
    concerns: list[str] = field(default_factory=list)
    despite: Sealed | None = None
    aftercare_due: date | None = None  # the aftercare contact (nazorgcontact), where the approach has one
    aftercare_contacted_on: date | None = None
    aftercare_contact_note: Sealed | None = None

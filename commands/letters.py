"""Letters written for partners (brieven aan partners): they name the household to the partner.

The advice to the referrer and an invitation to a meeting leave the municipality with a
household's name on them, so writing one is a disclosure and goes into the case (and from
there into the disclosure trail). Letters to the residents themselves are only a print.
"""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar, Self

from pydantic import Field, model_validator

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Input, Result, handles
from casusregie.commands.meetings import check_partners
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.letters import PARTNER_LETTERS, LetterKind, PartnerLetterKind

__all__ = ["PARTNER_LETTERS", "LetterKind", "LetterRequest", "RecordPartnerLetter"]

REGIE = "regie-uitvoering"


#: Options that only some kinds use: option -> kinds.
ONLY_FOR: dict[str, tuple[str, ...]] = {
    "meeting": ("uitnodiging-mdo",),
    "place": ("uitnodiging-mdo",),
    "visit_date": ("aankondiging-achter-de-voordeur",),
    "time": ("uitnodiging-mdo", "aankondiging-achter-de-voordeur"),
}
_TIME = re.compile(r"^([01]\d|2[0-3])[:.]([0-5]\d)$")


class LetterRequest(Input):
    """What a director asks for in a case letter: the same model for the CLI, the API and the web."""

    kind: LetterKind
    case: str = Field(min_length=1, max_length=64, description="case number (e.g. C7KQ2MX) or id")
    on: date = Field(default_factory=date.today, description="the letter's date")
    to: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="a household member (person ref; default the main resident), or for an invitation one "
        "participating partner (default all participants)",
    )
    signatory: str | None = Field(default=None, min_length=1, max_length=200, description="the name under the letter")
    meeting: str | None = Field(default=None, min_length=1, max_length=64, description="uitnodiging-mdo: the meeting")
    place: str | None = Field(default=None, min_length=1, max_length=200, description="uitnodiging-mdo: where")
    visit_date: date | None = Field(default=None, description="aankondiging-achter-de-voordeur: the day of the visit")
    time: str | None = Field(default=None, max_length=5, description="the time of the meeting or the visit (HH:MM)")
    markdown: bool = Field(default=False, description="Markdown instead of a PDF")

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> Self:
        for option, kinds in ONLY_FOR.items():
            if getattr(self, option) is not None and self.kind not in kinds:
                raise ValueError(f"{option} is for {' and '.join(kinds)}, not for {self.kind}")
        if self.time is not None and _TIME.match(self.time) is None:
            raise ValueError(f"time {self.time!r} is not a time HH:MM")
        return self

    @property
    def time_text(self) -> str | None:
        """The time as a letter writes it ("10.30 uur")."""
        match = _TIME.match(self.time) if self.time is not None else None
        return f"{match[1]}.{match[2]} uur" if match else None


class RecordPartnerLetter(CaseCommand):
    """A letter written for one or more partners, with the household members it names."""

    name: ClassVar[str] = "case.partner-letter"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.DISCLOSE
    kind: PartnerLetterKind
    to: list[str] = Field(min_length=1, max_length=50, description="the partners the letter is for")
    persons: list[str] = Field(default_factory=list, max_length=200, description="household members it names")


@handles(RecordPartnerLetter)
def record_partner_letter(s: Session, cmd: RecordPartnerLetter) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) writes its letters", case)
    check_partners(s, cmd.to, case)
    municipality = s.profile.organisation_id
    to = [org for org in dict.fromkeys(cmd.to) if org != municipality]
    persons = [case.member(p).person_id for p in dict.fromkeys(cmd.persons)]
    if not to:
        return Result(f"the {cmd.kind} stays within the municipality: nothing is disclosed", {"to": []})
    case.write_partner_letter(cmd.kind, to, persons, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=persons)
    return Result(
        f"the {cmd.kind} for {', '.join(to)} is recorded in case {case.case_number}",
        {"to": to, "persons": [str(p) for p in persons]},
    )

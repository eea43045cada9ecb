"""The case journal (contactjournaal): notes and contact moments, corrected but never edited."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.journal import Channel
from casusregie.domain.sealed import case_key_id, person_key_id

REGIE = "regie-uitvoering"


class WriteJournalEntry(CaseCommand):
    """A note (notitie) or, with a channel, a contact moment (contactmoment) in the case journal."""

    name: ClassVar[str] = "case.note"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.CREATE
    text: Text = Field(min_length=1, max_length=10000)
    about: str | None = Field(default=None, max_length=40, description="a household member (person ref)")
    channel: Channel | None = Field(default=None, description="how the contact took place; none for a note")
    with_whom: Text | None = Field(default=None, min_length=1, max_length=500, description="who the contact was with")
    corrects: str | None = Field(default=None, max_length=20, description="the entry this one corrects (e.g. N2)")

    @model_validator(mode="after")
    def _a_contact_has_a_channel(self) -> WriteJournalEntry:
        if self.with_whom is not None and self.channel is None:
            raise ValueError("a contact moment names its channel (with whom it was needs how it was)")
        return self


@handles(WriteJournalEntry)
def write_journal_entry(s: Session, cmd: WriteJournalEntry) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) writes in the journal", case)
    subject = case.member(cmd.about).person_id if cmd.about is not None else None
    # about one person: their key, so their erasure takes the entry with it; else the household's
    key = person_key_id(subject) if subject is not None else case_key_id(case.id)
    entry_id = case.write_journal_entry(
        text=s.seal(key, "journal", cmd.text),
        subject=subject,
        channel=str(cmd.channel) if cmd.channel is not None else None,
        with_whom=s.seal(key, "journal_with", cmd.with_whom) if cmd.with_whom is not None else None,
        corrects=cmd.corrects,
        on=cmd.on,
        by=s.actor.user_id,
    )
    s.commit(cmd, case, case=case, subjects=[subject] if subject is not None else None)
    what = "contact moment" if cmd.channel is not None else "note"
    corrected = f", correcting {cmd.corrects}" if cmd.corrects else ""
    return Result(
        f"{what} {entry_id} written in the journal of case {case.case_number}{corrected}", {"entry": entry_id}
    )

"""The casusoverleg across cases (seed 003: every six weeks in each neighbourhood).

One meeting, several cases: a chair, the partner organisations at the table, an agenda of
cases. What is said about a case is recorded on that case (its minutes sealed with the case's
key, seen only by those who may see the case's minutes), never on the meeting: the meeting
itself holds no personal data, only which cases were on the agenda and who sat at the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from casusregie.domain.errors import DomainRuleViolation, ValidationFailed


@dataclass
class AgendaItem:
    case_id: UUID
    case_number: str
    added_on: date
    added_by: str
    discussed: bool = False


class Conference(Aggregate):
    """A casusoverleg (wijkoverleg) covering several cases."""

    @staticmethod
    def create_id(conference_id: UUID, **_: object) -> UUID:
        return conference_id

    @classmethod
    def plan(
        cls,
        *,
        conference_id: UUID,
        reference: str,
        neighbourhood: str,
        scheduled_for: date,
        chair: str,
        participants: list[str],
        by: str,
        on: date,
    ) -> Conference:
        if not participants:
            raise ValidationFailed("a casusoverleg has at least one partner at the table")
        if scheduled_for < on:
            raise ValidationFailed(f"a casusoverleg is planned ahead, not for {scheduled_for} (before {on})")
        return cls(
            conference_id=conference_id,
            reference=reference,
            neighbourhood=neighbourhood,
            scheduled_for=scheduled_for,
            chair=chair,
            participants=list(dict.fromkeys(participants)),
            by=by,
            on=on,
        )

    @event("Planned")
    def __init__(
        self,
        conference_id: UUID,
        reference: str,
        neighbourhood: str,
        scheduled_for: date,
        chair: str,
        participants: list[str],
        by: str,
        on: date,
    ) -> None:
        self.reference = reference
        self.neighbourhood = neighbourhood
        self.scheduled_for = scheduled_for
        self.chair = chair
        self.participants = participants
        self.planned_by = by
        self.agenda: list[AgendaItem] = []
        self.held_on: date | None = None
        self.attended: list[str] = []

    def _require_open(self) -> None:
        if self.held_on is not None:
            raise DomainRuleViolation(f"casusoverleg {self.reference} was held on {self.held_on}")

    def item(self, case_id: UUID) -> AgendaItem:
        for item in self.agenda:
            if item.case_id == case_id:
                return item
        raise ValidationFailed(f"that case is not on the agenda of casusoverleg {self.reference}")

    def put_on_agenda(self, case_id: UUID, case_number: str, on: date, by: str) -> None:
        self._require_open()
        if any(item.case_id == case_id for item in self.agenda):
            raise DomainRuleViolation(f"case {case_number} is already on the agenda of {self.reference}")
        self._put_on_agenda(case_id=case_id, case_number=case_number, on=on, by=by)

    @event("CaseOnAgenda")
    def _put_on_agenda(self, case_id: UUID, case_number: str, on: date, by: str) -> None:
        self.agenda.append(AgendaItem(case_id=case_id, case_number=case_number, added_on=on, added_by=by))

    def discussed(self, case_id: UUID, on: date, by: str) -> None:
        """The case was discussed (its minutes are on the case)."""
        item = self.item(case_id)
        self._require_open()
        if item.discussed:
            raise DomainRuleViolation(f"case {item.case_number} was already discussed at {self.reference}")
        if on < self.scheduled_for:
            raise ValidationFailed(f"casusoverleg {self.reference} is planned for {self.scheduled_for}, not {on}")
        self._discussed(case_id=case_id, on=on, by=by)

    @event("CaseDiscussed")
    def _discussed(self, case_id: UUID, on: date, by: str) -> None:
        self.item(case_id).discussed = True

    def close(self, held_on: date, attended: list[str], by: str) -> None:
        """The meeting is over: who sat at the table; cases not discussed stay on their own worklists."""
        self._require_open()
        if held_on < self.scheduled_for:
            raise ValidationFailed(f"casusoverleg {self.reference} is planned for {self.scheduled_for}, not {held_on}")
        strangers = sorted(set(attended) - set(self.participants))
        if strangers:
            raise ValidationFailed(f"not invited to {self.reference}: {', '.join(strangers)}")
        self._held(held_on=held_on, attended=list(dict.fromkeys(attended)), by=by)

    @event("Held")
    def _held(self, held_on: date, attended: list[str], by: str) -> None:
        self.held_on = held_on
        self.attended = attended

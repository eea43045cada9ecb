"""Reminders sent by e-mail (herinneringen): one log per user of what they were sent.

A reminder is about one worklist item at one stage: ``due-soon`` (the deadline is within the
notice period) or ``overdue`` (it has passed). Each (kind, reference, due date, stage) is
mailed to a user once: the log is how a run knows what went out before. A new due date (a
rescheduled measure, an extended request) is a new deadline and is reminded of again.

The events hold no personal data: the item's kind, its reference (a random case, request or
measure number, as the worklist has it), the due date and the stage; never the user's
address, the household, or any text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from casusregie.domain.errors import DomainRuleViolation

DUE_SOON = "due-soon"
OVERDUE = "overdue"
STAGES = (DUE_SOON, OVERDUE)


@dataclass(frozen=True)
class Reminder:
    """One worklist item at one stage, as it is mailed and remembered."""

    kind: str
    ref: str
    due_on: str  # ISO date, as the worklist gives it
    stage: str

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.ref}|{self.due_on}|{self.stage}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "ref": self.ref, "due_on": self.due_on, "stage": self.stage}


class ReminderLog(Aggregate):
    """What one user was reminded of by e-mail, mail by mail."""

    @staticmethod
    def create_id(store_id: str, user_id: str, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"casusregie:{store_id}:reminders:{user_id}")

    @event("Opened")
    def __init__(self, store_id: str, user_id: str) -> None:
        self.store_id = store_id
        self.user_id = user_id
        self.sent: dict[str, str] = {}  # reminder key -> the Message-ID it went out in
        self.mails = 0

    def was_sent(self, reminder: Reminder) -> bool:
        return reminder.key in self.sent

    def record_mail(self, message_id: str, sent_at: datetime, on: date, reminders: list[Reminder]) -> None:
        """A mail the server has taken, with the reminders in it (each at most once in the log)."""
        fresh = [r for r in reminders if not self.was_sent(r)]
        if not fresh or len(fresh) != len(reminders):
            raise DomainRuleViolation(f"user {self.user_id} was already reminded of these items")
        wrong = sorted({r.stage for r in fresh} - set(STAGES))
        if wrong:
            raise DomainRuleViolation(f"unknown reminder stage {', '.join(wrong)}")
        self._mail_sent(message_id=message_id, sent_at=sent_at, on=on, items=[r.as_dict() for r in fresh])

    @event("MailSent")
    def _mail_sent(self, message_id: str, sent_at: datetime, on: date, items: list[dict[str, str]]) -> None:
        for item in items:
            self.sent[Reminder(**item).key] = message_id
        self.mails += 1

"""A data subject's request (verzoek van een betrokkene): access, rectification, erasure,
restriction or objection (AVG art. 15-18 and 21), from receipt to decision.

Deadlines follow AVG art. 12(3): one calendar month from receipt, extendable once by at
most two further months, only before the first month has passed, with a motivation and a
notice to the person. For an access request the privacy officer may withhold single items
on a ground of UAVG art. 41(1) (or Wbp art. 43 for cases from before 25 May 2018), always
with a motivation of necessity and proportionality, and decides per item whether the
person is told. The issued decision (besluit, Awb) is frozen in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from casusregie.domain.calendar import add_calendar_months
from casusregie.domain.errors import DomainRuleViolation, ValidationFailed
from casusregie.domain.sealed import Sealed

WBP_UNTIL = date(2018, 5, 25)  # the AVG applies from 25 May 2018; before that the Wbp


class RequestKind(StrEnum):
    ACCESS = "access"  # inzage, art. 15
    RECTIFICATION = "rectification"  # rectificatie, art. 16
    ERASURE = "erasure"  # wissing, art. 17
    RESTRICTION = "restriction"  # beperking, art. 18
    OBJECTION = "objection"  # bezwaar tegen de verwerking, art. 21


ARTICLES = {"access": 15, "rectification": 16, "erasure": 17, "restriction": 18, "objection": 21}
UAVG_GROUNDS = tuple("abcdefghij")
WBP_GROUNDS = tuple("abcde")
RESTRICTION_GROUNDS = {  # AVG art. 18(2): processing of restricted data is allowed only ...
    "consent": "met toestemming van de betrokkene (art. 18 lid 2 AVG)",
    "legal-claims": "voor de instelling, uitoefening of onderbouwing van een rechtsvordering (art. 18 lid 2 AVG)",
    "rights-of-others": "ter bescherming van de rechten van een andere persoon (art. 18 lid 2 AVG)",
    "public-interest": "om gewichtige redenen van algemeen belang (art. 18 lid 2 AVG)",
}


@dataclass
class Withholding:
    """One item withheld from an access answer, wholly or partly (weigering per gegeven).

    The texts are sealed like every other free text about the person (plain in records from
    before they were), so they are erased with the person.
    """

    item: str
    regime: str  # "uavg" or "wbp"
    ground: str  # letter of UAVG art. 41(1) or Wbp art. 43
    motivation: Sealed | str  # why necessary and proportionate
    partly: bool
    what: Sealed | str | None  # how the person is told what kind of item it was, without its content
    tell_person: bool
    not_telling_reason: Sealed | str | None
    decided_on: date
    decided_by: str


class SubjectRequest(Aggregate):
    """One request of a data subject, handled by a privacy officer."""

    @staticmethod
    def create_id(request_id: UUID, **_: object) -> UUID:
        """Chosen before the request exists: the requester's sealed details are bound to it."""
        return request_id

    @event("Registered")
    def __init__(
        self,
        request_id: UUID,
        reference: str,
        kind: str,
        person_id: UUID | None,
        requester: Sealed | None,
        received_on: date,
        channel: str,
        identity_check: Sealed | str,
        scope: Sealed | str,
        due_on: date,
        registered_by: str,
    ) -> None:
        self.reference = reference
        self.kind = kind
        self.person_id = person_id
        self.requester = requester
        self.received_on = received_on
        self.channel = channel
        self.identity_check = identity_check
        self.scope = scope
        self.due_on = due_on
        self.first_due_on = due_on
        self.registered_by = registered_by
        self.extension: dict[str, Any] | None = None
        self.withheld: dict[str, Withholding] = {}
        self.released: set[str] = set()  # household texts the privacy officer reviewed and gives (AVG 15(4))
        self.decision: dict[str, Any] | None = None
        self.tasks: dict[str, dict[str, Any]] = {}

    @staticmethod
    def deadline(received_on: date) -> date:
        """One calendar month after receipt (AVG art. 12(3))."""
        return add_calendar_months(received_on, 1)

    @property
    def decided(self) -> bool:
        return self.decision is not None

    def _require_open(self) -> None:
        if self.decided:
            raise DomainRuleViolation(f"request {self.reference} was already decided")

    # --- deadline ---------------------------------------------------------------------

    def extend(self, months: int, motivation: Sealed, notice_sent_on: date, on: date, by: str) -> None:
        """Extend once, by at most two months, before the first deadline passes, with notice."""
        self._require_open()
        if self.extension is not None:
            raise DomainRuleViolation(f"request {self.reference} was already extended once")
        if on > self.first_due_on:
            raise DomainRuleViolation(
                f"the deadline of {self.first_due_on} has passed; an extension must be decided before it"
            )
        if months not in (1, 2):
            raise ValidationFailed("an extension is one or two further months (art. 12(3) AVG)")
        if notice_sent_on > self.first_due_on or notice_sent_on < self.received_on:
            raise ValidationFailed("the person must be told of the extension within the first month")
        self._extended(
            months=months,
            motivation=motivation,
            notice_sent_on=notice_sent_on,
            on=on,
            by=by,
            due_on=add_calendar_months(self.received_on, 1 + months),
        )

    @event("Extended")
    def _extended(
        self, months: int, motivation: Sealed | str, notice_sent_on: date, on: date, by: str, due_on: date
    ) -> None:
        self.extension = {
            "months": months,
            "motivation": motivation,
            "notice_sent_on": notice_sent_on,
            "on": on,
            "by": by,
        }
        self.due_on = due_on

    # --- withholding (access requests) -------------------------------------------------

    def withhold(
        self,
        item: str,
        regime: str,
        ground: str,
        motivation: Sealed,
        partly: bool,
        what: Sealed | None,
        tell_person: bool,
        not_telling_reason: Sealed | None,
        on: date,
        by: str,
    ) -> None:
        """Withhold one item; the texts were checked and sealed by the caller.

        A silent withholding is always whole: a partly given item would point the person to
        a notice that, being silent, is not there.
        """
        self._require_open()
        if self.kind != RequestKind.ACCESS:
            raise DomainRuleViolation("items are withheld only from an access answer")
        if item in self.withheld:
            raise DomainRuleViolation(f"item {item} is already withheld")
        grounds = UAVG_GROUNDS if regime == "uavg" else WBP_GROUNDS if regime == "wbp" else ()
        if ground not in grounds:
            law = "UAVG art. 41(1) a-j" if regime == "uavg" else "Wbp art. 43 a-e"
            raise ValidationFailed(f"ground {ground!r} is not one of {law}")
        if not tell_person and not_telling_reason is None:
            raise ValidationFailed("record why telling the person would itself defeat the ground")
        if tell_person and what is None:
            raise ValidationFailed("describe for the person what kind of item is withheld (without its content)")
        if partly and not tell_person:
            raise ValidationFailed(
                "a silent withholding is whole: a partly given item would point to a notice the person does not get"
            )
        self._withheld(
            item=item,
            regime=regime,
            ground=ground,
            motivation=motivation,
            partly=partly,
            what=what,
            tell_person=tell_person,
            not_telling_reason=not_telling_reason,
            on=on,
            by=by,
        )

    @event("ItemWithheld")
    def _withheld(
        self,
        item: str,
        regime: str,
        ground: str,
        motivation: Sealed | str,
        partly: bool,
        what: Sealed | str | None,
        tell_person: bool,
        not_telling_reason: Sealed | str | None,
        on: date,
        by: str,
    ) -> None:
        self.withheld[item] = Withholding(
            item, regime, ground, motivation, partly, what, tell_person, not_telling_reason, on, by
        )

    def release(self, item: str, reason: Sealed, on: date, by: str, *, awaiting_review: bool = False) -> None:
        """Give a withheld item after all, or give a household text that awaited review (AVG 15(4))."""
        self._require_open()
        if item in self.withheld:
            self._released(item=item, reason=reason, on=on, by=by)
        elif awaiting_review and item not in self.released:
            self._reviewed(item=item, reason=reason, on=on, by=by)
        else:
            raise ValidationFailed(f"item {item} is not withheld")

    @event("ItemReleased")
    def _released(self, item: str, reason: Sealed | str, on: date, by: str) -> None:
        del self.withheld[item]

    @event("HouseholdTextReleased")
    def _reviewed(self, item: str, reason: Sealed, on: date, by: str) -> None:
        self.released.add(item)

    # --- decision ------------------------------------------------------------------------

    def decide(
        self,
        outcome: str,
        motivation: Sealed | None,
        document: Sealed | None,
        on: date,
        by: str,
        tasks: list[str] | None = None,
    ) -> None:
        """Decide the request (besluit); for access, ``document`` is the frozen decision."""
        self._require_open()
        if on < self.received_on:
            raise ValidationFailed("a decision cannot precede the request")
        if outcome not in ("granted", "partly-granted", "refused", "not-found"):
            raise ValidationFailed(f"unknown outcome {outcome!r}")
        if outcome in ("refused", "partly-granted") and motivation is None:
            raise ValidationFailed("a (partial) refusal needs its ground and motivation")
        self._decided(
            outcome=outcome,
            motivation=motivation,
            document=document,
            on=on,
            by=by,
            late=on > self.due_on,
            tasks=list(tasks or []),
        )

    @event("Decided")
    def _decided(
        self,
        outcome: str,
        motivation: Sealed | str | None,
        document: Sealed | None,
        on: date,
        by: str,
        late: bool,
        tasks: list[str],
    ) -> None:
        self.decision = {
            "outcome": outcome,
            "motivation": motivation,
            "document": document,
            "on": on,
            "by": by,
            "late": late,
        }
        for organisation in tasks:
            self.tasks[organisation] = {"organisation": organisation, "done_on": None}

    def complete_task(self, organisation: str, on: date, by: str) -> None:
        """Art. 19 AVG: a recipient was informed of the rectification, restriction or erasure."""
        task = self.tasks.get(organisation)
        if task is None:
            raise ValidationFailed(f"request {self.reference} has no task for {organisation}")
        if task["done_on"] is not None:
            raise DomainRuleViolation(f"{organisation} was already informed")
        self._task_done(organisation=organisation, on=on, by=by)

    @event("RecipientInformed")
    def _task_done(self, organisation: str, on: date, by: str) -> None:
        self.tasks[organisation]["done_on"] = on

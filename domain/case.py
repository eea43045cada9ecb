"""The case (casus) of one household, from referral to closure, as one aggregate.

Each public method checks a rule of the workflow and then records one event; the
``@event`` methods only change state. Personal data arrives sealed (see ``sealed.py``);
dates are business dates given by the user, deadlines are computed from the profile
when the event happens and recorded in it, so replaying history never depends on a
profile that may have changed since.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from casusregie.domain.calendar import add_calendar_months, due_date
from casusregie.domain.closure import Closure, ClosureOutcome, Judgement
from casusregie.domain.document import Document, DocumentType
from casusregie.domain.errors import DomainRuleViolation, ValidationFailed
from casusregie.domain.escalation import Escalation
from casusregie.domain.household import Member
from casusregie.domain.information import (
    DisclosedItem,
    InformationRequest,
    RequestStatus,
    check_disclosure,
    check_request_categories,
)
from casusregie.domain.journal import Channel, JournalEntry
from casusregie.domain.meetings import Meeting
from casusregie.domain.plan import (
    Goal,
    Measure,
    PlanRevision,
    ProgressNote,
    check_measure_transition,
)
from casusregie.domain.profile import DeadlineRule, Profile
from casusregie.domain.sealed import Sealed


class CaseStatus(StrEnum):
    REFERRED = "referred"  # aangemeld, in toetsing
    TAKEN_ON = "taken-on"  # in regie genomen
    DECLINED = "declined"  # niet in regie genomen
    CLOSED = "closed"  # afgesloten


def _due(start: date, rule: DeadlineRule | None) -> date | None:
    return None if rule is None else due_date(start, rule)


class Case(Aggregate):
    """A household's case (casus / dossier), directed by one case director."""

    # Snapshots (the projection's stored states, the store's own) of an older shape are brought up
    # to date by the upcast methods below, as the eventsourcing library does it.
    class_version = 6

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """v2: problems can change during the case (added, updated, resolved)."""
        state.setdefault("resolved_problems", {})
        state.setdefault("problem_history", [])

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """v3: the case journal (notes and contact moments)."""
        state.setdefault("journal", {})

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """v4: organisations involved ad hoc."""
        state.setdefault("ad_hoc", {})

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        """v5: documents attached to the case."""
        state.setdefault("documents", {})

    @staticmethod
    def upcast_v5_v6(state: dict[str, Any]) -> None:
        """v6: letters written for partners (they name the household to the partner)."""
        state.setdefault("partner_letters", [])

    # --- referral (aanmelding) -----------------------------------------------------------

    @staticmethod
    def create_id(case_id: UUID, **_: object) -> UUID:
        """The id is chosen before the case exists: its key and references are bound to it."""
        return case_id

    @classmethod
    def refer(
        cls,
        *,
        profile: Profile,
        case_id: UUID,
        case_number: str,
        referred_on: date,
        referring_org: str,
        referring_worker: Sealed | str,  # the referring professional's name; sealed (plain in older records)
        reason: Sealed,
        problems: dict[str, Sealed],
        members: list[dict[str, Any]],
        home_corporation: str | None,
        consent_given_on: date | None,
        team: str,
        director: str | None,
        registered_by: str,
    ) -> Case:
        """A professional of a partner organisation refers a household (never a resident)."""
        if not members:
            raise ValidationFailed("a referral names at least one household member")
        unknown = sorted(set(problems) - set(profile.life_domains))
        if unknown:
            raise ValidationFailed(
                f"unknown life domain {', '.join(unknown)}; this profile has: {', '.join(profile.life_domains)}"
            )
        if not problems:
            raise ValidationFailed("a referral describes the problems on at least one life domain")
        consent_required = profile.resident_consent_required and profile.consent_moment == "referral"
        if consent_given_on is not None and consent_given_on > referred_on:
            raise ValidationFailed("consent cannot be given after the referral date it precedes")
        return cls(
            case_id=case_id,
            case_number=case_number,
            referred_on=referred_on,
            referring_org=referring_org,
            referring_worker=referring_worker,
            reason=reason,
            problems=problems,
            members=members,
            home_corporation=home_corporation,
            consent_required=profile.resident_consent_required,
            consent_given_on=consent_given_on,
            consent_due=_due(referred_on, profile.deadlines.consent_answer)
            if consent_required and consent_given_on is None
            else None,
            intake_due=_due(referred_on, profile.deadlines.intake_decision),
            team=team,
            director=director,
            registered_by=registered_by,
        )

    @event("Referred")
    def __init__(
        self,
        case_id: UUID,
        case_number: str,
        referred_on: date,
        referring_org: str,
        referring_worker: Sealed | str,  # the referring professional's name; sealed (plain in older records)
        reason: Sealed,
        problems: dict[str, Sealed],
        members: list[dict[str, Any]],
        home_corporation: str | None,
        consent_required: bool,
        consent_given_on: date | None,
        consent_due: date | None,
        intake_due: date | None,
        team: str,
        director: str | None,
        registered_by: str,
    ) -> None:
        self.case_number = case_number
        self.status: str = CaseStatus.REFERRED
        self.referred_on = referred_on
        self.referring_org = referring_org
        self.referring_worker = referring_worker
        self.reason = reason
        self.problems = dict(problems)
        self.resolved_problems: dict[str, dict[str, Any]] = {}
        # each change, with the description it replaced (updated) or the note it was solved with
        self.problem_history: list[dict[str, Any]] = []
        self.members: dict[str, Member] = {}
        for data in members:
            member = Member.from_event(dict(data))
            self.members[str(member.person_id)] = member
        self.home_corporation = home_corporation
        self.consent_required = consent_required
        self.consent_given_on = consent_given_on
        self.consent_refused_on: date | None = None
        self.consent_due = consent_due
        self.intake_due = intake_due
        self.team = team
        self.director = director
        self.registered_by = registered_by
        self.involved: list[str] = [referring_org]
        self.corporation_consent: dict[str, Any] | None = None
        self.assessment: dict[str, Any] | None = None
        self.requests: dict[str, InformationRequest] = {}
        self.decision: dict[str, Any] | None = None
        self.letter: dict[str, Any] | None = None
        self.meetings: dict[str, Meeting] = {}
        self.goals: dict[str, Goal] = {}
        self.measures: dict[str, Measure] = {}
        self.revisions: list[PlanRevision] = []
        self.evaluations: list[dict[str, Any]] = []
        self.escalations: dict[str, Escalation] = {}
        self.closure: Closure | None = None
        self.closures: list[Closure] = []
        self.reopenings: list[dict[str, Any]] = []
        self.plan_due: date | None = None
        self.letter_due: date | None = None
        self.next_evaluation: date | None = None
        self.next_casusoverleg: date | None = None
        self.counters: dict[str, int] = {}
        self.home_visits: list[dict[str, Any]] = []
        self.journal: dict[str, JournalEntry] = {}
        self.ad_hoc: dict[str, dict[str, Any]] = {}  # organisations involved ad hoc, outside the profile
        self.documents: dict[str, Document] = {}  # documents (stukken); their content is stored apart
        self.partner_letters: list[dict[str, Any]] = []  # letters written for partners, in order

    # --- helpers ----------------------------------------------------------------------

    def _next(self, prefix: str) -> str:
        return f"{prefix}{self.counters.get(prefix, 0) + 1}"

    def _count(self, identifier: str) -> None:
        prefix = identifier.rstrip("0123456789")
        self.counters[prefix] = max(self.counters.get(prefix, 0), int(identifier[len(prefix) :]))

    def _require_open(self) -> None:
        if self.status == CaseStatus.CLOSED:
            raise DomainRuleViolation(f"case {self.case_number} is closed; reopen it first")
        if self.status == CaseStatus.DECLINED:
            raise DomainRuleViolation(f"case {self.case_number} was not taken on; refer it again if needed")

    def _require_taken_on(self, what: str) -> None:
        self._require_open()
        if self.status != CaseStatus.TAKEN_ON:
            raise DomainRuleViolation(f"{what} needs the case to be taken on first (case {self.case_number})")

    def _not_before_referral(self, on: date, what: str) -> None:
        if on < self.referred_on:
            raise ValidationFailed(f"{what} ({on}) cannot be before the referral ({self.referred_on})")

    def member(self, person: str) -> Member:
        for member in self.members.values():
            if person in (str(member.person_id), member.ref):
                return member
        raise ValidationFailed(f"no household member {person} in case {self.case_number}")

    @property
    def open_requests(self) -> list[InformationRequest]:
        return [r for r in self.requests.values() if r.status == RequestStatus.OPEN]

    @property
    def plan_revision(self) -> int:
        return self.revisions[-1].revision if self.revisions else 1

    def is_involved(self, organisation: str) -> bool:
        return organisation in self.involved

    # --- assignment and household -------------------------------------------------------

    def assign_director(self, director: str, team: str, on: date, by: str) -> None:
        self._require_open()
        if director == self.director:
            raise DomainRuleViolation(f"{director} already directs case {self.case_number}")
        self._director_assigned(director=director, team=team, on=on, by=by)

    @event("DirectorAssigned")
    def _director_assigned(self, director: str, team: str, on: date, by: str) -> None:
        self.director = director
        self.team = team

    def add_member(self, member: dict[str, Any], on: date, by: str) -> None:
        self._require_open()
        self._not_before_referral(on, "adding a member")
        self._member_added(member=member, on=on, by=by)

    @event("MemberAdded")
    def _member_added(self, member: dict[str, Any], on: date, by: str) -> None:
        added = Member.from_event(dict(member))
        self.members[str(added.person_id)] = added

    # --- problems on the life domains (problematiek), as they change during the case ---------

    def add_problem(self, life_domain: str, description: Sealed, on: date, by: str, profile: Profile) -> None:
        """A problem on a life domain that came to light after the referral (or came back)."""
        self._require_open()
        self._check_domain(life_domain, profile)
        self._not_before_referral(on, "the problem")
        if life_domain in self.problems:
            raise DomainRuleViolation(
                f"case {self.case_number} already has a problem on {life_domain}; update it instead"
            )
        self._problem_added(life_domain=life_domain, description=description, on=on, by=by)

    @event("ProblemAdded")
    def _problem_added(self, life_domain: str, description: Sealed, on: date, by: str) -> None:
        self.problems[life_domain] = description
        self.resolved_problems.pop(life_domain, None)
        self.problem_history.append(
            {"life_domain": life_domain, "change": "added", "text": description, "on": on, "by": by}
        )

    def update_problem(self, life_domain: str, description: Sealed, on: date, by: str) -> None:
        """The problem is now described differently; the earlier description stays in the history."""
        self._require_open()
        self._require_problem(life_domain)
        self._not_before_referral(on, "the update")
        self._problem_updated(life_domain=life_domain, description=description, on=on, by=by)

    @event("ProblemUpdated")
    def _problem_updated(self, life_domain: str, description: Sealed, on: date, by: str) -> None:
        self.problem_history.append(
            {"life_domain": life_domain, "change": "updated", "text": self.problems[life_domain], "on": on, "by": by}
        )
        self.problems[life_domain] = description

    def resolve_problem(self, life_domain: str, note: Sealed | None, on: date, by: str) -> None:
        """The problem on this life domain is solved (opgelost); it leaves the current problems."""
        self._require_open()
        self._require_problem(life_domain)
        self._not_before_referral(on, "the resolution")
        if len(self.problems) == 1 and self.status == CaseStatus.REFERRED:
            raise DomainRuleViolation("a referral keeps at least one problem until it is decided on")
        self._problem_resolved(life_domain=life_domain, note=note, on=on, by=by)

    @event("ProblemResolved")
    def _problem_resolved(self, life_domain: str, note: Sealed | None, on: date, by: str) -> None:
        description = self.problems.pop(life_domain)
        self.resolved_problems[life_domain] = {"text": description, "note": note, "on": on, "by": by}
        self.problem_history.append(
            {"life_domain": life_domain, "change": "resolved", "text": note, "on": on, "by": by}
        )

    def _require_problem(self, life_domain: str) -> None:
        if life_domain not in self.problems:
            current = ", ".join(self.problems) or "none"
            raise ValidationFailed(
                f"case {self.case_number} has no open problem on {life_domain!r}; open problems: {current}"
            )

    # --- the journal (contactjournaal) ---------------------------------------------------------

    def write_journal_entry(
        self,
        text: Sealed,
        subject: UUID | None,
        channel: str | None,
        with_whom: Sealed | None,
        corrects: str | None,
        on: date,
        by: str,
    ) -> str:
        """A note or contact moment; a correction names the entry it corrects, which stays as it was."""
        self._not_before_referral(on, "the journal entry")
        if subject is not None:
            self.member(str(subject))
        if channel is not None:
            Channel(channel)
        if corrects is not None:
            wrong = self.journal.get(corrects)
            if wrong is None:
                raise ValidationFailed(f"case {self.case_number} has no journal entry {corrects}")
            if wrong.corrected_by is not None:
                raise DomainRuleViolation(
                    f"{corrects} was already corrected by {wrong.corrected_by}; correct {wrong.corrected_by} instead"
                )
            if on < wrong.on:
                raise ValidationFailed(f"a correction ({on}) cannot precede the entry it corrects ({wrong.on})")
        entry_id = self._next("N")
        self._journal_written(
            entry_id=entry_id,
            text=text,
            subject=subject,
            channel=channel,
            with_whom=with_whom,
            corrects=corrects,
            on=on,
            by=by,
        )
        return entry_id

    @event("JournalEntryWritten")
    def _journal_written(
        self,
        entry_id: str,
        text: Sealed,
        subject: UUID | None,
        channel: str | None,
        with_whom: Sealed | None,
        corrects: str | None,
        on: date,
        by: str,
    ) -> None:
        self._count(entry_id)
        self.journal[entry_id] = JournalEntry(
            entry_id=entry_id,
            on=on,
            by=by,
            text=text,
            subject=subject,
            channel=channel,
            with_whom=with_whom,
            corrects=corrects,
        )
        if corrects is not None:
            self.journal[corrects].corrected_by = entry_id

    # --- documents (stukken) ------------------------------------------------------------------

    def attach_document(
        self,
        *,
        storage_id: str,
        key_id: str,
        kind: str,
        dated: date,
        source_org: str | None,
        source: Sealed | None,
        title: Sealed | None,
        subject: UUID | None,
        size: int,
        chunks: int,
        chunk_size: int,
        digest: str,
        on: date,
        by: str,
    ) -> str:
        """A document about one household member (``subject``) or the household; its content is stored apart."""
        self._require_open()
        self._not_before_referral(on, "attaching a document")
        DocumentType(kind)
        if subject is not None:
            self.member(str(subject))
        if dated > on:
            raise ValidationFailed(f"the document's date ({dated}) lies after the day it is attached ({on})")
        if (source_org is None) == (source is None):
            raise ValidationFailed("a document names its source: an organisation or a description")
        if size < 1 or chunks < 1:
            raise ValidationFailed("a document has content")
        document_id = self._next("D")
        self._document_attached(
            document_id=document_id,
            storage_id=storage_id,
            key_id=key_id,
            kind=kind,
            dated=dated,
            source_org=source_org,
            source=source,
            title=title,
            subject=subject,
            size=size,
            chunks=chunks,
            chunk_size=chunk_size,
            digest=digest,
            on=on,
            by=by,
        )
        return document_id

    @event("DocumentAttached")
    def _document_attached(
        self,
        document_id: str,
        storage_id: str,
        key_id: str,
        kind: str,
        dated: date,
        source_org: str | None,
        source: Sealed | None,
        title: Sealed | None,
        subject: UUID | None,
        size: int,
        chunks: int,
        chunk_size: int,
        digest: str,
        on: date,
        by: str,
    ) -> None:
        self._count(document_id)
        self.documents[document_id] = Document(
            document_id=document_id,
            storage_id=storage_id,
            key_id=key_id,
            kind=kind,
            dated=dated,
            source_org=source_org,
            source=source,
            title=title,
            subject=subject,
            size=size,
            chunks=chunks,
            chunk_size=chunk_size,
            digest=digest,
            attached_on=on,
            attached_by=by,
        )

    def document(self, document_id: str) -> Document:
        found = self.documents.get(document_id.strip().upper())
        if found is None:
            raise ValidationFailed(f"case {self.case_number} has no document {document_id}")
        return found

    def withdraw_document(self, document_id: str, reason: Sealed, on: date, by: str) -> None:
        """A compensating event: the document stays (in the file and in access answers), marked withdrawn."""
        document = self.document(document_id)
        if document.withdrawn:
            raise DomainRuleViolation(
                f"document {document.document_id} was already withdrawn on {document.withdrawn_on}"
            )
        if on < document.attached_on:
            raise ValidationFailed(
                f"a document cannot be withdrawn ({on}) before it was attached ({document.attached_on})"
            )
        self._document_withdrawn(document_id=document.document_id, reason=reason, on=on, by=by)

    @event("DocumentWithdrawn")
    def _document_withdrawn(self, document_id: str, reason: Sealed, on: date, by: str) -> None:
        document = self.documents[document_id]
        document.withdrawn_on = on
        document.withdrawn_by = by
        document.withdraw_reason = reason

    # --- consent ------------------------------------------------------------------------

    def record_resident_consent(self, given: bool, on: date, by: str) -> None:
        """The residents' consent (toestemming) where the approach asks for it."""
        self._require_open()
        if not self.consent_required:
            raise DomainRuleViolation("this approach does not ask the residents' consent")
        if self.consent_given_on is not None or self.consent_refused_on is not None:
            raise DomainRuleViolation("the residents' answer on consent is already recorded")
        self._resident_consent(given=given, on=on, by=by)

    @event("ResidentConsentRecorded")
    def _resident_consent(self, given: bool, on: date, by: str) -> None:
        if given:
            self.consent_given_on = on
        else:
            self.consent_refused_on = on
        self.consent_due = None

    def request_corporation_consent(self, on: date, by: str, profile: Profile) -> None:
        """Ask the housing corporation's consent when the home is a corporation home (seed 003)."""
        self._require_open()
        if self.home_corporation is None:
            raise DomainRuleViolation("the home is not a corporation home; no corporation consent is needed")
        if self.corporation_consent is not None:
            raise DomainRuleViolation("corporation consent was already requested")
        self._not_before_referral(on, "the consent request")
        due = _due(on, profile.deadlines.corporation_consent)
        self._corporation_consent_requested(corporation=self.home_corporation, on=on, due_on=due, by=by)

    @event("CorporationConsentRequested")
    def _corporation_consent_requested(self, corporation: str, on: date, due_on: date | None, by: str) -> None:
        self.corporation_consent = {
            "corporation": corporation,
            "requested_on": on,
            "due_on": due_on,
            "answer": None,
            "answered_on": None,
            "answered_by": None,
        }
        self._involve(corporation)

    def answer_corporation_consent(self, consent: bool, on: date, by: str, organisation: str) -> None:
        if self.corporation_consent is None:
            raise DomainRuleViolation("no corporation consent was requested for this case")
        if organisation != self.corporation_consent["corporation"]:
            raise DomainRuleViolation("only the corporation that owns the home can answer the consent request")
        if self.corporation_consent["answer"] is not None:
            raise DomainRuleViolation("the corporation has already answered")
        if on < self.corporation_consent["requested_on"]:
            raise ValidationFailed("the answer cannot precede the request")
        self._corporation_consent_answered(consent=consent, on=on, by=by)

    @event("CorporationConsentAnswered")
    def _corporation_consent_answered(self, consent: bool, on: date, by: str) -> None:
        assert self.corporation_consent is not None
        self.corporation_consent.update(answer=consent, answered_on=on, answered_by=by)

    # --- home visit (huisbezoek, Zwolle) ------------------------------------------------------

    def record_home_visit(self, invited: bool, note: Sealed | None, on: date, by: str, profile: Profile) -> None:
        """The chair visits the client at home, or invites them to come (seed 004)."""
        self._require_open()
        if not profile.intake.home_visit:
            raise DomainRuleViolation("this approach has no home visit at intake")
        self._not_before_referral(on, "the home visit")
        self._home_visited(invited=invited, note=note, on=on, by=by)

    @event("HomeVisited")
    def _home_visited(self, invited: bool, note: Sealed | None, on: date, by: str) -> None:
        self.home_visits.append({"invited": invited, "note": note, "on": on, "by": by})

    # --- intake assessment (toetsing) -----------------------------------------------------

    def assess(self, criteria_met: list[str], acute_reason: Sealed | None, on: date, by: str, profile: Profile) -> None:
        """Check the referral against the profile's criteria (e.g. Utrecht: two of six)."""
        self._require_open()
        if self.status != CaseStatus.REFERRED:
            raise DomainRuleViolation(f"case {self.case_number} was already decided; no new intake assessment")
        self._not_before_referral(on, "the assessment")
        known = {c.id for c in profile.intake.criteria}
        unknown = sorted(set(criteria_met) - known)
        if unknown:
            raise ValidationFailed(f"unknown criterion {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if acute_reason is not None and not profile.intake.acute_override_allowed:
            raise DomainRuleViolation("this approach has no acute override of the criteria")
        meets = len(set(criteria_met)) >= profile.intake.threshold
        self._assessed(
            criteria_met=sorted(set(criteria_met)),
            threshold=profile.intake.threshold,
            meets=meets,
            acute=acute_reason is not None,
            acute_reason=acute_reason,
            on=on,
            by=by,
        )

    @event("IntakeAssessed")
    def _assessed(
        self,
        criteria_met: list[str],
        threshold: int,
        meets: bool,
        acute: bool,
        acute_reason: Sealed | None,
        on: date,
        by: str,
    ) -> None:
        self.assessment = {
            "criteria_met": criteria_met,
            "threshold": threshold,
            "meets": meets,
            "acute": acute,
            "acute_reason": acute_reason,
            "on": on,
            "by": by,
        }

    # --- information round (informatieronde) --------------------------------------------

    def request_information(
        self,
        partner: str,
        purpose: Sealed,
        legal_basis: str,
        categories: list[str],
        subjects: list[UUID],
        on: date,
        by: str,
        profile: Profile,
    ) -> str:
        self._require_open()
        self._not_before_referral(on, "the information request")
        if not categories:
            raise ValidationFailed("an information request asks for at least one category")
        if not legal_basis.strip():
            raise ValidationFailed("an information request needs a legal basis")
        check_request_categories(profile, partner, categories)
        for subject in subjects:
            self.member(str(subject))
        request_id = self._next("R")
        self._information_requested(
            request_id=request_id,
            partner=partner,
            purpose=purpose,
            legal_basis=legal_basis,
            categories=list(dict.fromkeys(categories)),
            subjects=list(subjects),
            on=on,
            due_on=_due(on, profile.deadlines.information_request),
            by=by,
        )
        return request_id

    @event("InformationRequested")
    def _information_requested(
        self,
        request_id: str,
        partner: str,
        purpose: Sealed | str,  # plain text in records from before purposes were sealed
        legal_basis: str,
        categories: list[str],
        subjects: list[UUID],
        on: date,
        due_on: date | None,
        by: str,
    ) -> None:
        self._count(request_id)
        self.requests[request_id] = InformationRequest(
            request_id=request_id,
            partner=partner,
            purpose=purpose,
            legal_basis=legal_basis,
            categories=categories,
            subjects=subjects,
            requested_on=on,
            due_on=due_on,
            requested_by=by,
        )
        self._involve(partner)

    def request(self, request_id: str) -> InformationRequest:
        try:
            return self.requests[request_id]
        except KeyError:
            raise ValidationFailed(f"case {self.case_number} has no information request {request_id}") from None

    def disclose(
        self,
        request_id: str,
        items: list[dict[str, Any]],
        partner_legal_basis: str,
        om_consent: dict[str, Any] | None,
        on: date,
        by: str,
        organisation: str,
        profile: Profile,
    ) -> None:
        """The partner's answer: the information it discloses (verstrekking)."""
        self._require_open()
        request = self.request(request_id)
        if organisation != request.partner:
            raise DomainRuleViolation(f"request {request_id} is addressed to {request.partner}, not to {organisation}")
        if on < request.requested_on:
            raise ValidationFailed("a disclosure cannot precede the request")
        for item in items:
            if item["subject"] is not None:
                self.member(str(item["subject"]))
        check_disclosure(profile, request, [i["category"] for i in items], om_consent)
        self._information_disclosed(
            request_id=request_id,
            items=items,
            partner_legal_basis=partner_legal_basis,
            om_consent=om_consent,
            on=on,
            by=by,
            organisation=organisation,
        )

    @event("InformationDisclosed")
    def _information_disclosed(
        self,
        request_id: str,
        items: list[dict[str, Any]],
        partner_legal_basis: str,
        om_consent: dict[str, Any] | None,
        on: date,
        by: str,
        organisation: str,
    ) -> None:
        request = self.requests[request_id]
        request.status = RequestStatus.DISCLOSED
        request.answered_on = on
        request.answered_by = by
        request.partner_legal_basis = partner_legal_basis
        request.om_consent = om_consent
        request.items = [
            DisclosedItem(category=i["category"], subject=i["subject"], content=i["content"]) for i in items
        ]

    def decline_request(self, request_id: str, reason: Sealed, on: date, by: str, organisation: str) -> None:
        """The partner declines to disclose, with its reason (weigering)."""
        self._require_open()
        request = self.request(request_id)
        if organisation != request.partner:
            raise DomainRuleViolation(f"request {request_id} is addressed to {request.partner}, not to {organisation}")
        if request.status != RequestStatus.OPEN:
            raise DomainRuleViolation(f"request {request_id} was already answered ({request.status})")
        if on < request.requested_on:
            raise ValidationFailed("a decline cannot precede the request")
        self._request_declined(request_id=request_id, reason=reason, on=on, by=by)

    @event("InformationDeclined")
    def _request_declined(self, request_id: str, reason: Sealed, on: date, by: str) -> None:
        request = self.requests[request_id]
        request.status = RequestStatus.DECLINED
        request.answered_on = on
        request.answered_by = by
        request.decline_reason = reason

    # --- decision (besluit in regie te nemen) -----------------------------------------------

    def _check_decision_in_time(self, on: date, late_reason: Sealed | None) -> None:
        """A decision after the intake deadline is allowed, but never silently: the reason is recorded."""
        late = self.intake_due is not None and on > self.intake_due
        if late and late_reason is None:
            raise DomainRuleViolation(
                f"the intake decision on case {self.case_number} was due on {self.intake_due}; "
                f"a decision on {on} is late and needs the reason recorded (--late-reason; late_reason in the API)"
            )
        if not late and late_reason is not None:
            raise ValidationFailed(
                f"the decision on {on} is within the intake deadline ({self.intake_due or 'none'}); "
                "there is no lateness to explain"
            )

    def take_on(self, on: date, by: str, profile: Profile, late_reason: Sealed | None = None) -> None:
        self._require_open()
        if self.status != CaseStatus.REFERRED:
            raise DomainRuleViolation(f"case {self.case_number} was already decided")
        self._not_before_referral(on, "the decision")
        if self.assessment is None:
            raise DomainRuleViolation("assess the referral against the criteria before taking it on")
        if not (self.assessment["meets"] or self.assessment["acute"]):
            raise DomainRuleViolation(
                f"the referral meets {len(self.assessment['criteria_met'])} of the "
                f"{self.assessment['threshold']} required criteria and no acute override was recorded"
            )
        if self.consent_required and self.consent_given_on is None:
            raise DomainRuleViolation("the residents' consent is required before the case is taken on")
        if profile.corporation_consent_required and self.home_corporation is not None:
            consent = self.corporation_consent
            if consent is None or consent["answer"] is not True:
                raise DomainRuleViolation("the housing corporation must consent before the case is taken on")
        if self.director is None:
            raise DomainRuleViolation("assign a case director before taking the case on")
        self._check_decision_in_time(on, late_reason)
        self._taken_on(
            on=on,
            by=by,
            late_reason=late_reason,
            plan_due=_due(on, profile.deadlines.plan),
            letter_due=_due(on, profile.deadlines.resident_letter) if profile.resident_letter else None,
            next_evaluation=_due(on, profile.deadlines.evaluation_interval),
            next_casusoverleg=_due(on, profile.deadlines.casusoverleg_interval),
        )

    @event("TakenOn")
    def _taken_on(
        self,
        on: date,
        by: str,
        plan_due: date | None,
        letter_due: date | None,
        next_evaluation: date | None,
        next_casusoverleg: date | None,
        late_reason: Sealed | None = None,  # absent in records from before late decisions were explained
    ) -> None:
        self.status = CaseStatus.TAKEN_ON
        self.decision = {
            "taken_on": True,
            "on": on,
            "by": by,
            "advice": None,
            "due": self.intake_due,
            "late_reason": late_reason,
        }
        self.plan_due = plan_due
        self.letter_due = letter_due
        self.next_evaluation = next_evaluation
        self.next_casusoverleg = next_casusoverleg
        self.intake_due = None

    def decline(self, advice: Sealed, on: date, by: str, late_reason: Sealed | None = None) -> None:
        """Not taken on: the referrer gets advice instead (seed 001)."""
        self._require_open()
        if self.status != CaseStatus.REFERRED:
            raise DomainRuleViolation(f"case {self.case_number} was already decided")
        self._not_before_referral(on, "the decision")
        self._check_decision_in_time(on, late_reason)
        self._declined(advice=advice, on=on, by=by, late_reason=late_reason)

    @event("Declined")
    def _declined(self, advice: Sealed, on: date, by: str, late_reason: Sealed | None = None) -> None:
        self.status = CaseStatus.DECLINED
        self.decision = {
            "taken_on": False,
            "on": on,
            "by": by,
            "advice": advice,
            "due": self.intake_due,
            "late_reason": late_reason,
        }
        self.intake_due = None

    # --- informing the residents (brief aan bewoners) ------------------------------------

    def inform_residents(self, on: date, by: str, profile: Profile) -> None:
        self._require_taken_on("informing the residents")
        if not profile.resident_letter:
            raise DomainRuleViolation("this approach does not send residents a letter")
        if self.letter is not None:
            raise DomainRuleViolation("the residents' letter was already recorded")
        self._residents_informed(on=on, by=by)

    @event("ResidentsInformed")
    def _residents_informed(self, on: date, by: str) -> None:
        self.letter = {"sent": True, "on": on, "by": by, "ground": None, "motivation": None, "due": self.letter_due}
        self.letter_due = None

    def withhold_letter(self, ground: str, motivation: Sealed, on: date, by: str) -> None:
        """Record the well-founded reasons not to inform the residents (e.g. safety of others)."""
        self._require_taken_on("recording why no letter is sent")
        if self.letter is not None:
            raise DomainRuleViolation("the residents' letter was already recorded")
        self._letter_withheld(ground=ground, motivation=motivation, on=on, by=by)

    @event("ResidentLetterWithheld")
    def _letter_withheld(self, ground: str, motivation: Sealed, on: date, by: str) -> None:
        self.letter = {
            "sent": False,
            "on": on,
            "by": by,
            "ground": ground,
            "motivation": motivation,
            "due": self.letter_due,
        }
        self.letter_due = None

    def write_partner_letter(self, kind: str, to: list[str], persons: list[UUID], on: date, by: str) -> None:
        """A letter written for partners (the advice to the referrer, an invitation to a meeting).

        Recorded when it is written, not when it is posted: the system cannot see the post, and a
        disclosure trail that waits for someone to remember would miss the letters nobody recorded.
        """
        self._not_before_referral(on, "the letter")
        if not to:
            raise ValidationFailed("a letter for partners names at least one partner")
        for person in persons:
            self.member(str(person))
        self._partner_letter_written(kind=kind, to=list(to), persons=list(persons), on=on, by=by)

    @event("PartnerLetterWritten")
    def _partner_letter_written(self, kind: str, to: list[str], persons: list[UUID], on: date, by: str) -> None:
        self.partner_letters.append({"kind": kind, "to": to, "persons": persons, "on": on, "by": by})

    # --- partners and meetings (MDO / casusoverleg) --------------------------------------

    def _involve(self, partner: str) -> None:
        if partner not in self.involved:
            self.involved.append(partner)

    def involve_partner(
        self, partner: str, on: date, by: str, name: str | None = None, legal_basis: str | None = None
    ) -> None:
        """Involve a partner; one that is not a standing partner of the profile (the Veiligheidshuis, a
        mental-health provider) is involved ad hoc, by name and with the legal basis for sharing with it."""
        self._require_open()
        if partner in self.involved:
            raise DomainRuleViolation(f"{partner} is already involved in case {self.case_number}")
        if (name is None) != (legal_basis is None) or (legal_basis is not None and not legal_basis.strip()):
            raise ValidationFailed("an organisation involved ad hoc needs both its name and the legal basis")
        self._partner_involved(partner=partner, on=on, by=by, name=name, legal_basis=legal_basis)

    @event("PartnerInvolved")
    def _partner_involved(
        self, partner: str, on: date, by: str, name: str | None = None, legal_basis: str | None = None
    ) -> None:
        self._involve(partner)
        if name is not None:
            self.ad_hoc[partner] = {"name": name, "legal_basis": legal_basis, "on": on, "by": by}

    def schedule_meeting(
        self, kind: str, on: date, participants: list[str], by: str, conference: str | None = None
    ) -> str:
        self._require_taken_on("a case conference")
        self._not_before_referral(on, "the meeting")
        outsiders = sorted(set(participants) - set(self.involved))
        if outsiders:
            raise DomainRuleViolation(f"only involved partners sit at the table; not involved: {', '.join(outsiders)}")
        meeting_id = self._next("O")
        self._meeting_scheduled(
            meeting_id=meeting_id,
            kind=kind,
            scheduled_for=on,
            participants=list(dict.fromkeys(participants)),
            by=by,
            conference=conference,
        )
        return meeting_id

    def meeting_at(self, conference: str) -> Meeting:
        """This case's meeting at a casusoverleg across cases."""
        for meeting in self.meetings.values():
            if meeting.conference == conference:
                return meeting
        raise ValidationFailed(f"case {self.case_number} is not on the agenda of casusoverleg {conference}")

    @event("MeetingScheduled")
    def _meeting_scheduled(
        self,
        meeting_id: str,
        kind: str,
        scheduled_for: date,
        participants: list[str],
        by: str,
        conference: str | None = None,  # absent in records from before casusoverleg across cases
    ) -> None:
        self._count(meeting_id)
        self.meetings[meeting_id] = Meeting(
            meeting_id=meeting_id,
            kind=kind,
            scheduled_for=scheduled_for,
            participants=participants,
            conference=conference,
        )

    def hold_meeting(
        self,
        meeting_id: str,
        held_on: date,
        attended: list[str],
        minutes: Sealed,
        by: str,
        profile: Profile,
        persons: list[UUID] | None = None,
    ) -> None:
        """The meeting was held; ``persons``: the client or their network who took part (seed 004)."""
        self._require_taken_on("a case conference")
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            raise ValidationFailed(f"case {self.case_number} has no meeting {meeting_id}")
        if meeting.held_on is not None:
            raise DomainRuleViolation(f"meeting {meeting_id} was already held")
        outsiders = sorted(set(attended) - set(self.involved))
        if outsiders:
            raise DomainRuleViolation(f"not involved in this case: {', '.join(outsiders)}")
        for person in persons or []:
            self.member(str(person))
        self._not_before_referral(held_on, "the meeting")
        self._meeting_held(
            meeting_id=meeting_id,
            held_on=held_on,
            attended=list(dict.fromkeys(attended)),
            minutes=minutes,
            by=by,
            next_casusoverleg=_due(held_on, profile.deadlines.casusoverleg_interval),
            persons=list(dict.fromkeys(persons or [])),
        )

    @event("MeetingHeld")
    def _meeting_held(
        self,
        meeting_id: str,
        held_on: date,
        attended: list[str],
        minutes: Sealed,
        by: str,
        next_casusoverleg: date | None,
        persons: list[UUID] | None = None,  # absent in records from before persons took part
    ) -> None:
        meeting = self.meetings[meeting_id]
        meeting.held_on = held_on
        meeting.attended = attended
        meeting.minutes = minutes
        meeting.persons = list(persons or [])
        self.next_casusoverleg = next_casusoverleg

    # --- the plan (plan van aanpak) ---------------------------------------------------------

    def set_goal(self, life_domain: str, description: Sealed, on: date, by: str, profile: Profile) -> str:
        self._require_taken_on("a plan goal")
        self._check_domain(life_domain, profile)
        self._not_before_referral(on, "the goal")
        goal_id = self._next("G")
        self._goal_set(
            goal_id=goal_id, life_domain=life_domain, description=description, on=on, by=by, revision=self.plan_revision
        )
        return goal_id

    @event("GoalSet")
    def _goal_set(self, goal_id: str, life_domain: str, description: Sealed, on: date, by: str, revision: int) -> None:
        self._count(goal_id)
        self.goals[goal_id] = Goal(
            goal_id=goal_id, life_domain=life_domain, description=description, revision=revision, set_on=on
        )
        self.plan_due = None

    @staticmethod
    def _check_domain(life_domain: str, profile: Profile) -> None:
        if life_domain not in profile.life_domains:
            raise ValidationFailed(
                f"unknown life domain {life_domain!r}; this profile has: {', '.join(profile.life_domains)}"
            )

    def agree_measure(
        self,
        life_domain: str,
        owner: str,
        description: Sealed,
        due_on: date,
        goal_id: str | None,
        subject: UUID | None,
        kind: str,
        on: date,
        by: str,
        profile: Profile,
    ) -> str:
        self._require_taken_on("a measure")
        self._check_domain(life_domain, profile)
        self._not_before_referral(on, "the measure")
        self._not_before_referral(due_on, "the due date")
        if due_on < on:
            raise ValidationFailed(f"the due date {due_on} lies before the day the measure is agreed ({on})")
        if goal_id is not None and goal_id not in self.goals:
            raise ValidationFailed(f"case {self.case_number} has no goal {goal_id}")
        if subject is not None:
            self.member(str(subject))
        measure_id = self._next("M")
        self._measure_agreed(
            measure_id=measure_id,
            life_domain=life_domain,
            owner=owner,
            description=description,
            due_on=due_on,
            goal_id=goal_id,
            subject=subject,
            kind=kind,
            on=on,
            by=by,
            revision=self.plan_revision,
        )
        return measure_id

    @event("MeasureAgreed")
    def _measure_agreed(
        self,
        measure_id: str,
        life_domain: str,
        owner: str,
        description: Sealed,
        due_on: date,
        goal_id: str | None,
        subject: UUID | None,
        kind: str,
        on: date,
        by: str,
        revision: int,
    ) -> None:
        self._count(measure_id)
        self.measures[measure_id] = Measure(
            measure_id=measure_id,
            life_domain=life_domain,
            owner=owner,
            description=description,
            due_on=due_on,
            agreed_on=on,
            revision=revision,
            goal_id=goal_id,
            subject=subject,
            kind=kind,
        )
        self._involve(owner)
        self.plan_due = None

    def measure(self, measure_id: str) -> Measure:
        try:
            return self.measures[measure_id]
        except KeyError:
            raise ValidationFailed(f"case {self.case_number} has no measure {measure_id}") from None

    def report_progress(self, measure_id: str, status: str, note: Sealed | None, on: date, by: str) -> None:
        self._require_taken_on("progress on a measure")
        measure = self.measure(measure_id)
        check_measure_transition(measure_id, measure.status, status)
        if on < measure.agreed_on:
            raise ValidationFailed("progress cannot be reported before the measure was agreed")
        self._progress_reported(measure_id=measure_id, status=status, note=note, on=on, by=by)

    @event("MeasureProgressReported")
    def _progress_reported(self, measure_id: str, status: str, note: Sealed | None, on: date, by: str) -> None:
        measure = self.measures[measure_id]
        measure.status = status
        measure.history.append(ProgressNote(on=on, status=status, by=by, note=note))

    def reschedule_measure(self, measure_id: str, due_on: date, reason: Sealed, on: date, by: str) -> None:
        self._require_taken_on("rescheduling a measure")
        measure = self.measure(measure_id)
        if measure.finished:
            raise DomainRuleViolation(f"measure {measure_id} is {measure.status}; it cannot be rescheduled")
        if due_on < measure.agreed_on:
            raise ValidationFailed("the new due date lies before the day the measure was agreed")
        self._measure_rescheduled(measure_id=measure_id, due_on=due_on, reason=reason, on=on, by=by)

    @event("MeasureRescheduled")
    def _measure_rescheduled(self, measure_id: str, due_on: date, reason: Sealed | str, on: date, by: str) -> None:
        self.measures[measure_id].due_on = due_on

    def revise_plan(self, reason: Sealed, on: date, by: str) -> int:
        self._require_taken_on("a plan revision")
        revision = self.plan_revision + 1
        self._plan_revised(revision=revision, reason=reason, on=on, by=by)
        return revision

    @event("PlanRevised")
    def _plan_revised(self, revision: int, reason: Sealed | str, on: date, by: str) -> None:
        if not self.revisions:
            self.revisions.append(PlanRevision(revision=1, on=self.referred_on, reason="eerste plan"))
        self.revisions.append(PlanRevision(revision=revision, on=on, reason=reason))

    def record_client_agreement(self, on: date, signed: bool, by: str, profile: Profile) -> None:
        """The residents agree to the plan; in Zwolle they sign the agreements (seed 004)."""
        self._require_taken_on("the client's agreement")
        if not self.goals and not self.measures:
            raise DomainRuleViolation("there is no plan yet to agree to")
        if profile.client_signature_required and not signed:
            raise DomainRuleViolation("this approach requires the client's signature under the plan (--signed)")
        current = self.revisions[-1] if self.revisions else None
        if current is not None and current.client_agreed_on is not None:
            raise DomainRuleViolation(f"plan revision {current.revision} was already agreed")
        self._client_agreed(revision=self.plan_revision, on=on, signed=signed, by=by)

    @event("ClientAgreed")
    def _client_agreed(self, revision: int, on: date, signed: bool, by: str) -> None:
        if not self.revisions:
            self.revisions.append(PlanRevision(revision=1, on=on, reason="eerste plan"))
        self.revisions[-1].client_agreed_on = on
        self.revisions[-1].client_signed = signed

    # --- evaluation and escalation ---------------------------------------------------------

    def evaluate(self, summary: Sealed, on: date, by: str, profile: Profile) -> None:
        self._require_taken_on("an evaluation")
        self._not_before_referral(on, "the evaluation")
        self._evaluated(summary=summary, on=on, by=by, next_evaluation=_due(on, profile.deadlines.evaluation_interval))

    @event("Evaluated")
    def _evaluated(self, summary: Sealed, on: date, by: str, next_evaluation: date | None) -> None:
        self.evaluations.append({"on": on, "by": by, "summary": summary})
        self.next_evaluation = next_evaluation

    def escalate(self, level: int, reason: Sealed, on: date, by: str, profile: Profile) -> str:
        """Escalate a stalled case to a level of the profile's ladder (opschaling)."""
        self._require_taken_on("an escalation")
        self._not_before_referral(on, "the escalation")
        try:
            rung = profile.escalation_level(level)
        except KeyError:
            levels = ", ".join(f"{e.level} ({e.name})" for e in profile.escalation)
            raise ValidationFailed(f"no escalation level {level}; levels: {levels}") from None
        if any(e.open and e.level == level for e in self.escalations.values()):
            raise DomainRuleViolation(f"the case is already escalated to level {level}; record its outcome first")
        escalation_id = self._next("E")
        self._escalated(escalation_id=escalation_id, level=level, level_name=rung.name, reason=reason, on=on, by=by)
        return escalation_id

    @event("Escalated")
    def _escalated(self, escalation_id: str, level: int, level_name: str, reason: Sealed, on: date, by: str) -> None:
        self._count(escalation_id)
        self.escalations[escalation_id] = Escalation(
            escalation_id=escalation_id, level=level, level_name=level_name, reason=reason, raised_on=on, raised_by=by
        )

    def resolve_escalation(self, escalation_id: str, outcome: Sealed, on: date, by: str) -> None:
        escalation = self.escalations.get(escalation_id)
        if escalation is None:
            raise ValidationFailed(f"case {self.case_number} has no escalation {escalation_id}")
        if not escalation.open:
            raise DomainRuleViolation(f"escalation {escalation_id} already has an outcome")
        if on < escalation.raised_on:
            raise ValidationFailed("the outcome cannot precede the escalation")
        self._escalation_resolved(escalation_id=escalation_id, outcome=outcome, on=on, by=by)

    @event("EscalationResolved")
    def _escalation_resolved(self, escalation_id: str, outcome: Sealed, on: date, by: str) -> None:
        escalation = self.escalations[escalation_id]
        escalation.resolved_on = on
        escalation.outcome = outcome
        escalation.resolved_by = by

    @property
    def open_escalations(self) -> list[Escalation]:
        return [e for e in self.escalations.values() if e.open]

    # --- closure, aftercare and reopening -----------------------------------------------------

    def closure_concerns(self, on: date, profile: Profile) -> list[str]:
        """What speaks against closing on ``on``; closing anyway needs the director's recorded reason."""
        concerns = []
        open_measures = [m.measure_id for m in self.measures.values() if not m.finished]
        if open_measures:
            concerns.append(f"measures still open: {', '.join(open_measures)}")
        if profile.resident_letter and self.letter is None:
            concerns.append("the residents' letter is outstanding")
        if not any(m.held_on is not None for m in self.meetings.values()):
            concerns.append("no case conference (MDO) was held")
        taken_on = self.decision["on"] if self.decision and self.decision["taken_on"] else None
        if profile.minimum_guidance_months and taken_on is not None:
            until = add_calendar_months(taken_on, profile.minimum_guidance_months)
            if on < until:
                concerns.append(f"the minimum guidance of {profile.minimum_guidance_months} months runs until {until}")
        return concerns

    def close(
        self,
        outcome: str,
        judgement_neighbours: str,
        judgement_partners: str,
        aftercare: Sealed | None,
        handover_to: str | None,
        note: Sealed | None,
        on: date,
        by: str,
        profile: Profile,
        despite: Sealed | None = None,
    ) -> None:
        if self.status == CaseStatus.CLOSED:
            raise DomainRuleViolation(f"case {self.case_number} is already closed")
        self._require_taken_on("closing")
        self._not_before_referral(on, "the closure")
        ClosureOutcome(outcome)
        Judgement(judgement_neighbours)
        Judgement(judgement_partners)
        if handover_to is not None and aftercare is None:
            raise ValidationFailed("a warm handover needs an aftercare plan")
        concerns = self.closure_concerns(on, profile)
        if concerns and despite is None:
            raise DomainRuleViolation(
                f"case {self.case_number} cannot be closed on {on} without a reason: {'; '.join(concerns)}"
            )
        if despite is not None and not concerns:
            raise ValidationFailed("nothing speaks against closing now; there is no reason to record")
        months = profile.aftercare_contact_months
        self._closed(
            outcome=outcome,
            judgement_neighbours=judgement_neighbours,
            judgement_partners=judgement_partners,
            aftercare=aftercare,
            handover_to=handover_to,
            note=note,
            on=on,
            by=by,
            concerns=concerns,
            despite=despite,
            aftercare_due=add_calendar_months(on, months) if months else None,
        )

    @event("Closed")
    def _closed(
        self,
        outcome: str,
        judgement_neighbours: str,
        judgement_partners: str,
        aftercare: Sealed | None,
        handover_to: str | None,
        note: Sealed | None,
        on: date,
        by: str,
        # absent in records from before closures were checked
        concerns: list[str] | None = None,
        despite: Sealed | None = None,
        aftercare_due: date | None = None,
    ) -> None:
        self.status = CaseStatus.CLOSED
        self.closure = Closure(
            closed_on=on,
            outcome=outcome,
            judgement_neighbours=judgement_neighbours,
            judgement_partners=judgement_partners,
            closed_by=by,
            aftercare=aftercare,
            handover_to=handover_to,
            note=note,
            concerns=list(concerns or []),
            despite=despite,
            aftercare_due=aftercare_due,
        )
        self.closures.append(self.closure)
        if handover_to is not None:
            self._involve(handover_to)

    def record_aftercare_contact(self, note: Sealed | None, on: date, by: str) -> None:
        """Someone contacted the household again after closure (nazorgcontact; seed 002: after half a year)."""
        if self.status != CaseStatus.CLOSED or self.closure is None:
            raise DomainRuleViolation(f"case {self.case_number} is not closed; aftercare follows a closure")
        if on < self.closure.closed_on:
            raise ValidationFailed(
                f"the aftercare contact ({on}) cannot precede the closure ({self.closure.closed_on})"
            )
        if self.closure.aftercare_contacted_on is not None:
            recorded = self.closure.aftercare_contacted_on
            raise DomainRuleViolation(f"the aftercare contact of case {self.case_number} was recorded on {recorded}")
        self._aftercare_contacted(note=note, on=on, by=by)

    @event("AftercareContacted")
    def _aftercare_contacted(self, note: Sealed | None, on: date, by: str) -> None:
        # the current closure and the last of the list are one object until a snapshot copies them apart
        for closure in {id(c): c for c in (self.closure, self.closures[-1]) if c is not None}.values():
            closure.aftercare_contacted_on = on
            closure.aftercare_contact_note = note

    def reopen(self, reason: Sealed, on: date, by: str) -> None:
        """Households come back after closure (seed 002): the same case is reopened."""
        if self.status != CaseStatus.CLOSED:
            raise DomainRuleViolation(f"case {self.case_number} is not closed")
        assert self.closure is not None
        if on < self.closure.closed_on:
            raise ValidationFailed("a case cannot be reopened before it was closed")
        self._reopened(reason=reason, on=on, by=by)

    @event("Reopened")
    def _reopened(self, reason: Sealed, on: date, by: str) -> None:
        self.status = CaseStatus.TAKEN_ON
        self.reopenings.append({"on": on, "by": by, "reason": reason})
        self.closure = None

    # --- privacy: erasure, rectification, restriction (AVG art. 16-18) --------------------------

    @property
    def ended_on(self) -> date | None:
        """When the case ended (last closure, or the decision not to take it on), if it has."""
        if self.status == CaseStatus.CLOSED and self.closure is not None:
            return self.closure.closed_on
        if self.status == CaseStatus.DECLINED and self.decision is not None:
            return self.decision["on"]
        return None

    def rectify(self, person_id: UUID, field: str, value: Sealed, request_id: str, on: date, by: str) -> None:
        """A compensating event: the corrected value replaces the old one in current views."""
        self.member(str(person_id))
        if field not in ("name", "birth_date", "bsn", "address"):
            raise ValidationFailed(f"field {field!r} cannot be rectified; fields: name, birth_date, bsn, address")
        self._member_rectified(person_id=person_id, field=field, value=value, request_id=request_id, on=on, by=by)

    @event("MemberRectified")
    def _member_rectified(self, person_id: UUID, field: str, value: Sealed, request_id: str, on: date, by: str) -> None:
        setattr(self.members[str(person_id)], field, value)

    def set_restriction(self, person_id: UUID, restricted: bool, request_id: str, on: date, by: str) -> None:
        member = self.member(str(person_id))
        if member.restricted == restricted:
            raise DomainRuleViolation(f"{member.ref} is {'already' if restricted else 'not'} restricted")
        self._restriction_set(person_id=person_id, restricted=restricted, request_id=request_id, on=on, by=by)

    @event("RestrictionSet")
    def _restriction_set(self, person_id: UUID, restricted: bool, request_id: str, on: date, by: str) -> None:
        self.members[str(person_id)].restricted = restricted


#: The value objects a case's state is made of; snapshots and projections store them.
STATE_TYPES: tuple[type, ...] = (
    Member,
    InformationRequest,
    DisclosedItem,
    Meeting,
    Goal,
    Measure,
    ProgressNote,
    PlanRevision,
    Escalation,
    Closure,
    JournalEntry,
    Document,
)

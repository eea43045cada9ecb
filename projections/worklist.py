"""The worklist (werkvoorraad): what is due or overdue in a case, derived from its state.

Items: intake decisions, consent answers (residents and corporation), unanswered
information requests, the residents' letter, the plan, measures past their due date,
evaluations and the casusoverleg, and open escalations for the managers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from casusregie.domain.case import Case, CaseStatus
from casusregie.domain.information import RequestStatus


@dataclass(frozen=True)
class WorkItem:
    """One thing someone must do by a date."""

    kind: str
    ref: str
    due_on: date
    owner: str  # organisation that must act
    what: str  # short description, without personal data

    def overdue(self, today: date) -> bool:
        return self.due_on < today


def items_for(case: Case, municipality: str) -> list[WorkItem]:
    """Every open deadline of one case (pure; the projection stores the result)."""
    if case.status == CaseStatus.CLOSED:
        return _aftercare(case, municipality)
    if case.status == CaseStatus.DECLINED:
        return []
    items: list[WorkItem] = []
    if case.status == CaseStatus.REFERRED and case.intake_due is not None:
        items.append(
            WorkItem(
                "intake",
                case.case_number,
                case.intake_due,
                municipality,
                "besluit over aanmelding: in regie nemen of niet",
            )
        )
    if case.consent_due is not None and case.consent_given_on is None and case.consent_refused_on is None:
        items.append(WorkItem("consent", case.case_number, case.consent_due, municipality, "toestemming bewoners"))
    consent = case.corporation_consent
    if consent is not None and consent["answer"] is None and consent["due_on"] is not None:
        items.append(
            WorkItem(
                "corporation-consent",
                case.case_number,
                consent["due_on"],
                consent["corporation"],
                f"toestemming van {consent['corporation']}",
            )
        )
    for request in case.requests.values():
        if request.status == RequestStatus.OPEN and request.due_on is not None:
            items.append(
                WorkItem(
                    "information",
                    request.request_id,
                    request.due_on,
                    request.partner,
                    f"informatieverzoek {request.request_id} aan {request.partner}",
                )
            )
    if case.status == CaseStatus.TAKEN_ON:
        if case.letter_due is not None and case.letter is None:
            items.append(WorkItem("letter", case.case_number, case.letter_due, municipality, "brief aan bewoners"))
        if case.plan_due is not None:
            items.append(WorkItem("plan", case.case_number, case.plan_due, municipality, "plan van aanpak opstellen"))
        for measure in case.measures.values():
            if not measure.finished:
                items.append(
                    WorkItem(
                        "measure",
                        measure.measure_id,
                        measure.due_on,
                        measure.owner,
                        f"maatregel {measure.measure_id} ({measure.life_domain}) door {measure.owner}",
                    )
                )
        if case.next_evaluation is not None:
            items.append(
                WorkItem("evaluation", case.case_number, case.next_evaluation, municipality, "evaluatie van het plan")
            )
        if case.next_casusoverleg is not None:
            items.append(
                WorkItem("casusoverleg", case.case_number, case.next_casusoverleg, municipality, "casusoverleg")
            )
    for escalation in case.open_escalations:
        items.append(
            WorkItem(
                "escalation",
                escalation.escalation_id,
                escalation.raised_on,
                municipality,
                f"opschaling {escalation.escalation_id} naar niveau {escalation.level}",
            )
        )
    return items


def _aftercare(case: Case, municipality: str) -> list[WorkItem]:
    """A closed case asks one thing more where the approach has it: the aftercare contact (nazorgcontact)."""
    closure = case.closure
    if closure is None or closure.aftercare_due is None or closure.aftercare_contacted_on is not None:
        return []
    return [WorkItem("aftercare", case.case_number, closure.aftercare_due, municipality, "nazorgcontact na afsluiting")]

"""The commands a user performs over HTTP: one table, from which every endpoint is generated.

Each row names a command model and where it lives under ``/api/v1``. Path parameters fill
fields of the command (``{case}`` is the case number); the body holds the other fields,
validated by the same pydantic model the CLI uses. Operations that are not creation follow
the NL GOV API Design Rules as sub-resources (``POST /cases/{case}/take-on``).

Operator commands (key rotation and purging, the retention run) are not here: they stay
with the CLI on the machine that holds the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import create_model

from casusregie.commands import (
    closure,
    conference,
    decision,
    documents,
    erasure,
    escalation,
    information,
    journal,
    meetings,
    network,
    plan,
    problems,
    referral,
    subject_requests,
    users,
)
from casusregie.commands.base import Command, Input


@dataclass(frozen=True)
class Operation:
    command: type[Command]
    path: str  # under /api/v1
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> command field
    status: int = 200
    tag: str = "cases"

    @property
    def on_case(self) -> bool:
        return "case" in self.params

    @property
    def operation_id(self) -> str:
        return self.command.name.replace(".", "-")


CASE = {"case": "case"}
REQUEST = {"request": "request"}

OPERATIONS: tuple[Operation, ...] = (
    # referral and intake (aanmelding en intake)
    Operation(referral.ReferCase, "/cases", status=201),
    Operation(referral.AssignDirector, "/cases/{case}/assign", CASE),
    Operation(referral.AddMember, "/cases/{case}/members", CASE, status=201),
    Operation(network.AddNetworkPerson, "/cases/{case}/network", CASE, status=201),
    Operation(referral.RecordConsent, "/cases/{case}/consent", CASE),
    Operation(referral.RequestCorporationConsent, "/cases/{case}/corporation-consent-request", CASE),
    Operation(referral.AnswerCorporationConsent, "/cases/{case}/corporation-consent", CASE),
    Operation(referral.AssessIntake, "/cases/{case}/assess", CASE),
    Operation(referral.RecordHomeVisit, "/cases/{case}/home-visit", CASE),
    Operation(journal.WriteJournalEntry, "/cases/{case}/journal", CASE, status=201),
    Operation(documents.AttachDocument, "/cases/{case}/documents", CASE, status=201),
    Operation(
        documents.WithdrawDocument, "/cases/{case}/documents/{document}/withdraw", CASE | {"document": "document"}
    ),
    Operation(problems.AddProblem, "/cases/{case}/problems", CASE, status=201),
    Operation(problems.UpdateProblem, "/cases/{case}/problem-updates", CASE, status=201),
    Operation(problems.ResolveProblem, "/cases/{case}/problem-resolutions", CASE, status=201),
    Operation(decision.TakeOn, "/cases/{case}/take-on", CASE),
    Operation(decision.DeclineCase, "/cases/{case}/decline", CASE),
    Operation(decision.InformResidents, "/cases/{case}/letter", CASE),
    Operation(decision.WithholdLetter, "/cases/{case}/no-letter", CASE),
    # information round (informatieronde)
    Operation(information.RequestInformation, "/cases/{case}/information-requests", CASE, status=201),
    Operation(
        information.DiscloseInformation,
        "/cases/{case}/information-requests/{request}/disclosures",
        CASE | REQUEST,
        status=201,
    ),
    Operation(information.DeclineRequest, "/cases/{case}/information-requests/{request}/decline", CASE | REQUEST),
    # network and meetings (netwerk en overleg)
    Operation(meetings.InvolvePartner, "/cases/{case}/involved-partners", CASE, status=201),
    Operation(meetings.ScheduleMeeting, "/cases/{case}/meetings", CASE, status=201),
    Operation(meetings.HoldMeeting, "/cases/{case}/meetings/{meeting}/held", CASE | {"meeting": "meeting"}),
    # the casusoverleg across cases (wijkoverleg)
    Operation(conference.PlanConference, "/case-conferences", status=201, tag="case-conferences"),
    Operation(
        conference.PutOnAgenda,
        "/cases/{case}/case-conferences/{overleg}/agenda",
        CASE | {"overleg": "overleg"},
        status=201,
    ),
    Operation(
        conference.DiscussCase,
        "/cases/{case}/case-conferences/{overleg}/minutes",
        CASE | {"overleg": "overleg"},
        status=201,
    ),
    Operation(
        conference.CloseConference, "/case-conferences/{overleg}/held", {"overleg": "overleg"}, tag="case-conferences"
    ),
    # the plan (plan van aanpak)
    Operation(plan.SetGoal, "/cases/{case}/goals", CASE, status=201),
    Operation(plan.AgreeMeasure, "/cases/{case}/measures", CASE, status=201),
    Operation(plan.ReportProgress, "/cases/{case}/measures/{measure}/progress", CASE | {"measure": "measure"}),
    Operation(plan.RescheduleMeasure, "/cases/{case}/measures/{measure}/reschedule", CASE | {"measure": "measure"}),
    Operation(plan.RevisePlan, "/cases/{case}/plan/revise", CASE),
    Operation(plan.RecordAgreement, "/cases/{case}/plan/agreement", CASE),
    Operation(plan.Evaluate, "/cases/{case}/evaluations", CASE, status=201),
    # escalation and closure (opschaling en afsluiting)
    Operation(escalation.Escalate, "/cases/{case}/escalations", CASE, status=201),
    Operation(
        escalation.ResolveEscalation,
        "/cases/{case}/escalations/{escalation}/outcome",
        CASE | {"escalation": "escalation"},
    ),
    Operation(closure.CloseCase, "/cases/{case}/close", CASE),
    Operation(closure.RecordAftercareContact, "/cases/{case}/aftercare-contact", CASE, status=201),
    Operation(closure.ReopenCase, "/cases/{case}/reopen", CASE),
    # rights of data subjects (rechten van betrokkenen)
    Operation(subject_requests.RegisterRequest, "/subject-requests", status=201, tag="subject-requests"),
    Operation(subject_requests.ExtendRequest, "/subject-requests/{request}/extend", REQUEST, tag="subject-requests"),
    Operation(
        subject_requests.WithholdItem,
        "/subject-requests/{request}/items/{item}/withhold",
        REQUEST | {"item": "item"},
        tag="subject-requests",
    ),
    Operation(
        subject_requests.ReleaseItem,
        "/subject-requests/{request}/items/{item}/release",
        REQUEST | {"item": "item"},
        tag="subject-requests",
    ),
    Operation(
        subject_requests.IssueAccessDecision,
        "/subject-requests/{request}/access-decision",
        REQUEST,
        status=201,
        tag="subject-requests",
    ),
    Operation(
        subject_requests.DecideRectification, "/subject-requests/{request}/rectify", REQUEST, tag="subject-requests"
    ),
    Operation(
        subject_requests.DecideRestriction, "/subject-requests/{request}/restrict", REQUEST, tag="subject-requests"
    ),
    Operation(subject_requests.DecideObjection, "/subject-requests/{request}/object", REQUEST, tag="subject-requests"),
    Operation(subject_requests.DecideErasure, "/subject-requests/{request}/erase", REQUEST, tag="subject-requests"),
    Operation(
        subject_requests.RecordRecipientInformed,
        "/subject-requests/{request}/recipients-informed",
        REQUEST,
        tag="subject-requests",
    ),
    Operation(erasure.ErasePerson, "/persons/{person}/erase", {"person": "person"}, tag="subject-requests"),
    # users (gebruikersbeheer)
    Operation(users.AddUser, "/users", status=201, tag="users"),
    Operation(users.LinkSubject, "/users/{user}/subject", {"user": "user_id"}, tag="users"),
    Operation(users.DeactivateUser, "/users/{user}/deactivate", {"user": "user_id"}, tag="users"),
)


def body_model(operation: Operation) -> type[Input]:
    """The request body: the command's fields less those the path gives (same rules, same checks)."""
    in_path = set(operation.params.values())
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in operation.command.model_fields.items() if name not in in_path
    }
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{operation.command.__name__}Body",
        __base__=Input,
        __doc__=operation.command.__doc__,
        **fields,
    )

"""The information round (informatieronde): requests, disclosures and declines."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from casusregie.commands.authorization import acts_for, directs
from casusregie.commands.base import CaseCommand, Input, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.sealed import case_key_id, person_key_id

INFO = "informatie-uitwisseling"


class RequestInformation(CaseCommand):
    """Ask a partner for information (informatieverzoek): purpose, legal basis, categories."""

    name: ClassVar[str] = "info.request"
    activity: ClassVar[str] = INFO
    action: ClassVar[Action] = Action.DISCLOSE
    partner: str = Field(min_length=1)
    purpose: Text = Field(min_length=1, max_length=1000)
    legal_basis: str = Field(min_length=1, max_length=500)
    categories: list[str] = Field(min_length=1)
    subjects: list[str] = Field(default_factory=list, description="person refs; empty = whole household")


@handles(RequestInformation)
def request_information(s: Session, cmd: RequestInformation) -> Result:
    case = s.case(cmd.case)
    if cmd.partner not in {p.id for p in s.profile.partners}:
        raise ValidationFailed(f"unknown partner {cmd.partner!r}")
    s.require(directs(s.actor, case), cmd, "only the case's director sends information requests", case)
    subjects = [case.member(ref).person_id for ref in cmd.subjects]
    # About one person: sealed with their key (erased with them); else with the household's.
    key = person_key_id(subjects[0]) if len(set(subjects)) == 1 else case_key_id(case.id)
    request_id = case.request_information(
        cmd.partner,
        s.seal(key, "purpose", cmd.purpose),
        cmd.legal_basis,
        cmd.categories,
        subjects,
        cmd.on,
        s.actor.user_id,
        s.profile,
    )
    s.commit(cmd, case, case=case, subjects=subjects or None)
    due = case.requests[request_id].due_on
    return Result(
        f"request {request_id} sent to {cmd.partner}" + (f", answer due {due}" if due else ""), {"request": request_id}
    )


class DisclosureItem(Input):
    """One item of a disclosure: a category, about one person or the household, and its content."""

    category: str = Field(min_length=1)
    content: Text = Field(min_length=1, max_length=20000)
    subject: str | None = Field(default=None, description="person ref; None = the household")


class DiscloseInformation(CaseCommand):
    """A partner answers a request by disclosing (verstrekken) what it may."""

    name: ClassVar[str] = "info.disclose"
    activity: ClassVar[str] = INFO
    action: ClassVar[Action] = Action.DISCLOSE
    request: str = Field(min_length=1)
    items: list[DisclosureItem] = Field(min_length=1)
    partner_legal_basis: str = Field(default="", max_length=500)
    om_consent: str | None = Field(default=None, description="reference of the OM's consent, if any")


@handles(DiscloseInformation)
def disclose(s: Session, cmd: DiscloseInformation) -> Result:
    case = s.case(cmd.case)
    request = case.request(cmd.request)
    s.require(
        acts_for(s.actor, request.partner),
        cmd,
        f"request {cmd.request} is addressed to {request.partner}; only its professionals answer it",
        case,
    )
    items = []
    subjects: list[UUID] = []
    for item in cmd.items:
        if item.subject is None:
            subject_id = None
            sealed = s.seal(case_key_id(case.id), f"disclosure:{item.category}", item.content)
        else:
            subject_id = case.member(item.subject).person_id
            subjects.append(subject_id)
            sealed = s.seal(person_key_id(subject_id), f"disclosure:{item.category}", item.content)
        items.append({"category": item.category, "subject": subject_id, "content": sealed})
    om = {"reference": cmd.om_consent, "recorded_on": cmd.on} if cmd.om_consent else None
    case.disclose(
        cmd.request, items, cmd.partner_legal_basis, om, cmd.on, s.actor.user_id, s.actor.organisation, s.profile
    )
    household = any(i["subject"] is None for i in items)
    s.commit(cmd, case, case=case, subjects=None if household else subjects)
    return Result(f"{len(items)} item(s) disclosed in answer to {cmd.request}")


class DeclineRequest(CaseCommand):
    """A partner declines an information request, with its reason."""

    name: ClassVar[str] = "info.decline"
    activity: ClassVar[str] = INFO
    action: ClassVar[Action] = Action.UPDATE
    request: str = Field(min_length=1)
    reason: Text = Field(min_length=1, max_length=5000)


@handles(DeclineRequest)
def decline_request(s: Session, cmd: DeclineRequest) -> Result:
    case = s.case(cmd.case)
    request = case.request(cmd.request)
    s.require(
        acts_for(s.actor, request.partner),
        cmd,
        f"request {cmd.request} is addressed to {request.partner}; only its professionals answer it",
        case,
    )
    reason = s.seal(case_key_id(case.id), "decline_reason", cmd.reason)
    case.decline_request(cmd.request, reason, cmd.on, s.actor.user_id, s.actor.organisation)
    s.commit(cmd, case, case=case, subjects=request.subjects or None)
    return Result(f"request {cmd.request} declined")

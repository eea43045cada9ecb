"""Requests of data subjects (verzoeken van betrokkenen), handled by privacy officers.

Access (inzage, art. 15) with lawful refusals per item and a decision letter; rectification
(16) as a compensating event with art. 19 tasks for the recipients of the wrong value;
erasure (17) by crypto-shredding or a refusal with its ground; restriction (18); and
objection (21). Every step is an event on the request, with its own access record.
"""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import Field, model_validator

from casusregie.commands.authorization import is_role
from casusregie.commands.base import Command, Result, Text, handles
from casusregie.commands.erasure import backups_note, erase_person_in
from casusregie.commands.referral import MemberInput
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.case import Case
from casusregie.domain.errors import NotFound, ValidationFailed
from casusregie.domain.findable import terms
from casusregie.domain.roles import Role
from casusregie.domain.sealed import Sealed, person_key_id
from casusregie.domain.subject_request import ARTICLES, WBP_UNTIL, RequestKind, SubjectRequest
from casusregie.privacy_audit import access_records
from casusregie.privacy_audit.decision_document import AccessDecision, Address
from casusregie.privacy_audit.inzage import AnswerItem, Compiled, assemble, compile_answer
from casusregie.privacy_audit.key_hierarchy import KeyShredded
from casusregie.privacy_audit.need_to_know import Opener, keyring_opener
from casusregie.projections.access import AccessLogProjection
from casusregie.projections.reader import Reader
from casusregie.projections.trail import TrailProjection

RIGHTS = "rechten-betrokkenen"


def request_key_id(request_id: UUID) -> str:
    return f"request-{request_id}"


def _key_for_texts(s: Session, request_id: UUID, person_id: UUID | None) -> str:
    """The key that seals a request's texts: the person's own, so that erasing them erases these too.

    A request that matches nobody in the store (or someone already erased) gets a key of its
    own, made here when first needed.
    """
    keyring = s.app.store.keyring
    if person_id is not None and not keyring.is_shredded(person_key_id(person_id)):
        return person_key_id(person_id)
    key = request_key_id(request_id)
    if keyring.storage.get(key) is None and key not in s.pending_keys:
        s.new_key(key, purpose="request", subject=f"request {request_id}")
    return key


def text_key(s: Session, request: SubjectRequest) -> str:
    """The key for anything written on this request from now on (see ``_key_for_texts``)."""
    if request.requester is not None and not s.app.store.keyring.is_shredded(request.requester.key_id):
        return request.requester.key_id
    return _key_for_texts(s, request.id, None)


def seal_text(s: Session, request: SubjectRequest, field: str, text: str | None) -> Sealed | None:
    """A free text on a request, sealed with the request's key; empty text is no text."""
    if text is None or not text.strip():
        return None
    return s.seal(text_key(s, request), field, text)


class RequestCommand(Command):
    request: str = Field(min_length=1, description="the request's reference, e.g. AVG-2026-K3QX")
    on: date = Field(default_factory=date.today)


def _officer(s: Session, cmd: Command) -> None:
    s.require(is_role(s.actor, Role.PRIVACY_OFFICER), cmd, "only privacy officers handle requests of data subjects")


def load_request(s: Session, reference: str) -> SubjectRequest:
    found = s.refs.resolve(reference, "request")
    if found is None:
        raise NotFound(f"unknown request {reference}")
    request = s.app.get(found[0])
    assert isinstance(request, SubjectRequest)
    return request


def _request_of_kind(s: Session, reference: str, kind: RequestKind) -> SubjectRequest:
    request = load_request(s, reference)
    if request.kind != kind:
        raise ValidationFailed(f"request {request.reference} is a {request.kind} request, not a {kind} request")
    return request


def _case_of(s: Session, person_id: UUID | None) -> Case | None:
    if person_id is None:
        return None
    return s.app.get(s.person(str(person_id))[1])


# --- intake -------------------------------------------------------------------------------


class RegisterRequest(Command):
    """Register a request: who, which right, when received, how identity was checked, scope."""

    name: ClassVar[str] = "request.register"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.CREATE
    kind: RequestKind
    person: str | None = Field(default=None, description="person ref, if already known")
    match_name: str | None = None
    match_born: date | None = None
    match_bsn: str | None = None
    requester_name: str = Field(min_length=1, max_length=200)
    requester_address: str = Field(default="", max_length=300)
    received_on: date
    channel: Literal["brief", "e-mail", "balie", "digitaal", "telefoon"] = "brief"
    identity_check: str = Field(min_length=1, max_length=300, description="how identity was verified")
    scope: Text = Field(default="alle gegevens", max_length=1000)

    @model_validator(mode="after")
    def _not_in_future(self) -> RegisterRequest:
        if self.received_on > date.today():
            raise ValueError("the request cannot have been received in the future")
        return self


@handles(RegisterRequest)
def register_request(s: Session, cmd: RegisterRequest) -> Result:
    _officer(s, cmd)
    person_id: UUID | None
    if cmd.person:
        person_id = s.person(cmd.person)[0]
    else:
        bsn = MemberInput(name="x", birth_date=date(2000, 1, 1), bsn=cmd.match_bsn).bsn if cmd.match_bsn else None
        pairs = [p for p in terms(cmd.match_name, cmd.match_born, bsn) if not (p[0] == "name" and cmd.match_born)]
        found = s.find_persons(pairs)
        if len(found) > 1:
            raise ValidationFailed(f"{len(found)} persons match; choose one with --person (see `regie person find`)")
        person_id = found[0] if found else None
    case = _case_of(s, person_id)
    request_id = uuid4()
    key = _key_for_texts(s, request_id, person_id)
    requester = s.seal(key, "requester", {"name": cmd.requester_name, "address": cmd.requester_address})
    reference = f"AVG-{cmd.received_on.year}-" + "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(4)
    )
    s.add_ref(reference, "request", request_id, case.id if case else request_id)
    request = SubjectRequest(
        request_id=request_id,
        reference=reference,
        kind=str(cmd.kind),
        person_id=person_id,
        requester=requester,
        received_on=cmd.received_on,
        channel=cmd.channel,
        identity_check=s.seal(key, "identity_check", cmd.identity_check),
        scope=s.seal(key, "scope", cmd.scope),
        due_on=SubjectRequest.deadline(cmd.received_on),
        registered_by=s.actor.user_id,
    )
    s.commit(cmd, request, subjects=[person_id] if person_id else [])
    who = case.member(str(person_id)).ref if case and person_id else "not found in the store"
    return Result(
        f"request {reference} ({cmd.kind}, art. {ARTICLES[cmd.kind]} AVG) registered; person: {who}; "
        f"decide by {request.due_on}",
        {"request": reference, "due_on": request.due_on.isoformat(), "person_found": person_id is not None},
    )


# --- deadline -------------------------------------------------------------------------------


class ExtendRequest(RequestCommand):
    """Extend the deadline once by one or two months, with a motivation and a notice to the person."""

    name: ClassVar[str] = "request.extend"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    months: int = Field(default=2, ge=1, le=2)
    motivation: Text = Field(min_length=1, max_length=2000)
    notice_sent_on: date


@handles(ExtendRequest)
def extend_request(s: Session, cmd: ExtendRequest) -> Result:
    _officer(s, cmd)
    request = load_request(s, cmd.request)
    motivation = seal_text(s, request, "extension", cmd.motivation)
    assert motivation is not None
    request.extend(cmd.months, motivation, cmd.notice_sent_on, cmd.on, s.actor.user_id)
    s.commit(cmd, request, subjects=[request.person_id] if request.person_id else [])
    return Result(f"request {request.reference} extended to {request.due_on}")


# --- compiling an access answer -----------------------------------------------------------


def compiled_for(s: Session, request: SubjectRequest, open_: Opener | None = None) -> Compiled:
    """Every item of the person's access answer, read from the indexed views.

    ``open_`` opens personal fields (default: all of them, for the privacy officer answering).
    """
    reader = Reader(s)
    reader.runner.catch_up()
    trail = next(p for p in reader.runner.projections if isinstance(p, TrailProjection))
    case = None
    with s.app.store.db.transaction(commit=False) as tx:
        if request.person_id is not None:
            case = reader.cases.get(tx, s.person(str(request.person_id))[1])
            entries = trail.query(tx, person=request.person_id)
            consulted = AccessLogProjection.consultations(tx, request.person_id)
        else:
            entries, consulted = [], []
    consulted = access_records.authenticated(s.app, consulted)
    erased = request.person_id is not None and s.app.store.keyring.is_shredded(person_key_id(request.person_id))
    return compile_answer(
        profile=s.profile,
        person_id=request.person_id or uuid4(),
        case=case,
        trail=entries,
        consultations=consulted,
        open_=open_ or reader.open,
        erased=erased,
    )


def _regime(s: Session, request: SubjectRequest, item: AnswerItem, named: str | None) -> str:
    """The law whose grounds apply follows the date of the processing the item shows.

    Before 25 May 2018 that is the Wbp (art. 43), from then on the AVG with the UAVG (art. 41).
    A ground of the other law is refused rather than silently printed in the letter.
    """
    processed_on = item.processed_on
    if processed_on is None:
        case = _case_of(s, request.person_id)
        processed_on = case.referred_on if case is not None else None
    regime = "wbp" if processed_on is not None and processed_on < WBP_UNTIL else "uavg"
    if named is not None and named != regime:
        when = f"on {processed_on}" if processed_on else "at an unknown date"
        if regime == "uavg":
            raise ValidationFailed(
                f"item {item.item_id} was processed {when}, after the Wbp was repealed (25 May 2018): "
                "use a ground of UAVG art. 41(1), a-j"
            )
        raise ValidationFailed(
            f"item {item.item_id} was processed {when}, before the AVG applied (25 May 2018): "
            "use a ground of Wbp art. 43 (wbp:a-e)"
        )
    return regime


class WithholdItem(RequestCommand):
    """Withhold one item of an access answer on a ground of UAVG art. 41(1) (or Wbp art. 43)."""

    name: ClassVar[str] = "request.withhold"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    item: str = Field(min_length=1)
    ground: str = Field(min_length=1, description="a-j (UAVG art. 41(1)); wbp:a-e for cases before 25 May 2018")
    motivation: Text = Field(default="", max_length=5000)
    partly: bool = False
    what: str = Field(default="", max_length=500)
    tell_person: bool = True
    not_telling_reason: Text = Field(default="", max_length=2000)


@handles(WithholdItem)
def withhold_item(s: Session, cmd: WithholdItem) -> Result:
    _officer(s, cmd)
    request = load_request(s, cmd.request)
    known = {item.item_id: item for item in compiled_for(s, request).items}
    if cmd.item not in known:
        raise ValidationFailed(f"request {request.reference} has no item {cmd.item}; see `regie request items`")
    if not cmd.motivation.strip():
        raise ValidationFailed("a refusal needs a motivation of why it is necessary and proportionate")
    named, _, ground = cmd.ground.rpartition(":")
    if named not in ("", "wbp", "uavg"):
        raise ValidationFailed(f"ground {cmd.ground!r}: a letter a-j (UAVG art. 41(1)), or wbp:a-e (Wbp art. 43)")
    regime = _regime(s, request, known[cmd.item], named or None)
    motivation = seal_text(s, request, "withholding", cmd.motivation)
    assert motivation is not None
    request.withhold(
        cmd.item,
        regime,
        ground,
        motivation,
        cmd.partly,
        seal_text(s, request, "withheld_what", cmd.what),
        cmd.tell_person,
        seal_text(s, request, "not_telling_reason", cmd.not_telling_reason),
        cmd.on,
        s.actor.user_id,
    )
    s.commit(cmd, request, subjects=[request.person_id] if request.person_id else [])
    told = "the person is told" if cmd.tell_person else "the person is not told (reason recorded)"
    return Result(f"item {cmd.item} withheld {'partly' if cmd.partly else 'wholly'} on ground {cmd.ground}; {told}")


class ReleaseItem(RequestCommand):
    """Undo a withholding before the decision is issued."""

    name: ClassVar[str] = "request.release"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    item: str = Field(min_length=1)
    reason: Text = Field(min_length=1, max_length=1000)


@handles(ReleaseItem)
def release_item(s: Session, cmd: ReleaseItem) -> Result:
    _officer(s, cmd)
    request = load_request(s, cmd.request)
    awaiting = cmd.item not in request.withheld and any(
        item.item_id == cmd.item and item.review for item in compiled_for(s, request).items
    )
    reason = seal_text(s, request, "release", cmd.reason)
    assert reason is not None
    request.release(cmd.item, reason, cmd.on, s.actor.user_id, awaiting_review=awaiting)
    s.commit(cmd, request, subjects=[request.person_id] if request.person_id else [])
    if awaiting:
        return Result(f"item {cmd.item} was reviewed and will be given (art. 15 lid 4 AVG)")
    return Result(f"item {cmd.item} will be given after all")


class IssueAccessDecision(RequestCommand):
    """Issue the decision on an access request: a besluit, frozen in the log, with the letter."""

    name: ClassVar[str] = "request.decide-access"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.EXPORT
    signatory: str = Field(min_length=1, max_length=200)
    signatory_title: str = Field(default="privacy officer", max_length=200)


def build_decision(s: Session, request: SubjectRequest, cmd: IssueAccessDecision) -> AccessDecision:
    compiled = compiled_for(s, request)
    sections, notices = assemble(
        compiled.items, request.withheld, request.released, keyring_opener(s.app.store.keyring)
    )
    try:
        requester = s.app.store.keyring.unseal(request.requester) if request.requester else {}
    except KeyShredded:
        requester = {}
    profile = s.profile
    found = request.person_id is not None and bool(compiled.items)
    address = requester.get("address") or ""
    objection_to = f"het college van burgemeester en wethouders van {profile.municipality}"
    if profile.postal_address:
        objection_to += f", {profile.postal_address}"
    return AccessDecision(
        municipality=profile.municipality,
        organisation_name=profile.organisation_name,
        department=profile.privacy_department,
        reference=request.reference,
        decision_date=cmd.on,
        received_on=request.received_on,
        deadline=request.first_due_on,
        extended_to=request.due_on if request.extension else None,
        requester=Address(
            name=requester.get("name") or compiled.subject_name or "betrokkene",
            lines=[address] if address else compiled.address_lines,
        ),
        subject_name=compiled.subject_name or requester.get("name") or "betrokkene",
        processes_data=found,
        data=sections["data"] if found else [],
        purposes=compiled.purposes if found else [],
        recipients=sections["recipient"] if found else [],
        sources=sections["source"] if found else [],
        consultations=sections["consultation"] if found else [],
        withheld=notices if found else [],
        objection_to=objection_to,
        signatory=cmd.signatory,
        signatory_title=cmd.signatory_title,
    )


@handles(IssueAccessDecision)
def issue_access_decision(s: Session, cmd: IssueAccessDecision) -> Result:
    _officer(s, cmd)
    request = _request_of_kind(s, cmd.request, RequestKind.ACCESS)
    if cmd.on < request.received_on:
        raise ValidationFailed(
            f"a decision dated {cmd.on} would precede the request itself (received {request.received_on})"
        )
    decision = build_decision(s, request, cmd)
    document = s.seal(text_key(s, request), "decision", decision.to_json())
    outcome = "partly-granted" if request.withheld else ("granted" if decision.processes_data else "not-found")
    opened = keyring_opener(s.app.store.keyring)
    motivation = "; ".join(
        f"{w.item}: grond {w.regime} {w.ground}: {opened(w.motivation)}" for w in request.withheld.values()
    )
    request.decide(outcome, seal_text(s, request, "motivation", motivation), document, cmd.on, s.actor.user_id)
    s.commit(cmd, request, subjects=[request.person_id] if request.person_id else [])
    late = " (after the deadline)" if request.decision and request.decision["late"] else ""
    return Result(
        f"decision on {request.reference} issued on {cmd.on}: {outcome}{late}",
        {"request": request.reference, "decision": json.loads(decision.to_json())},
    )


def issued_decision(s: Session, request: SubjectRequest) -> AccessDecision:
    """The frozen decision, exactly as it was issued; gone for good once the person was erased."""
    if request.decision is None or request.decision["document"] is None:
        raise ValidationFailed(f"request {request.reference} has no issued access decision")
    try:
        return AccessDecision.from_json(s.app.store.keyring.unseal(request.decision["document"]))
    except KeyShredded:
        raise ValidationFailed(
            f"the decision on {request.reference} was erased with the person's data; it can no longer be shown "
            "or printed"
        ) from None


# --- the other rights ------------------------------------------------------------------------


def _person_case(s: Session, request: SubjectRequest) -> tuple[UUID, Case]:
    if request.person_id is None:
        raise ValidationFailed(f"request {request.reference} concerns no person in this store")
    case = _case_of(s, request.person_id)
    assert case is not None
    return request.person_id, case


def _recipients_before(s: Session, person_id: UUID, categories: set[str]) -> list[str]:
    """Organisations that received this person's data in these categories (art. 19 AVG)."""
    reader = Reader(s)
    reader.runner.catch_up()
    trail = next(p for p in reader.runner.projections if isinstance(p, TrailProjection))
    with s.app.store.db.transaction(commit=False) as tx:
        entries = trail.query(tx, person=person_id)
    municipality = s.profile.organisation_id
    return sorted(
        {
            e.to_org
            for e in entries
            if e.kind == "disclosure" and e.from_org == municipality and categories & set(e.categories)
        }
    )


class DecideRectification(RequestCommand):
    """Rectify a field (art. 16) by a compensating event; the old value stays in the history."""

    name: ClassVar[str] = "request.rectify"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    field: Literal["name", "birth_date", "bsn", "address"]
    value: str = Field(min_length=1, max_length=300)


@handles(DecideRectification)
def decide_rectification(s: Session, cmd: DecideRectification) -> Result:
    _officer(s, cmd)
    request = _request_of_kind(s, cmd.request, RequestKind.RECTIFICATION)
    person_id, case = _person_case(s, request)
    value: object = cmd.value
    if cmd.field == "birth_date":
        value = date.fromisoformat(cmd.value)
    if cmd.field == "bsn":
        value = MemberInput(name="x", birth_date=date(2000, 1, 1), bsn=cmd.value).bsn
    sealed = s.seal(person_key_id(person_id), cmd.field, value)
    case.rectify(person_id, cmd.field, sealed, request.reference, cmd.on, s.actor.user_id)
    member = case.member(str(person_id))
    keyring = s.app.store.keyring
    current = {
        f: keyring.unseal(getattr(member, f)) if getattr(member, f) else None for f in ("name", "birth_date", "bsn")
    }
    born = date.fromisoformat(current["birth_date"]) if current["birth_date"] else None
    s.unindex_person(person_id)
    s.index_person(person_id, current["name"], born, current["bsn"])
    tasks = _recipients_before(s, person_id, {"identificatie"})
    motivation = seal_text(s, request, "motivation", f"{cmd.field} gerectificeerd")
    request.decide("granted", motivation, None, cmd.on, s.actor.user_id, tasks=tasks)
    s.commit(cmd, case, request, case=case, subjects=[person_id])
    return Result(
        f"{cmd.field} of {member.ref} rectified; inform {len(tasks)} recipient(s) (art. 19 AVG): "
        f"{', '.join(tasks) or '-'}",
        {"tasks": tasks},
    )


class DecideRestriction(RequestCommand):
    """Restrict the processing of a person's data (art. 18), or lift the restriction."""

    name: ClassVar[str] = "request.restrict"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    lift: bool = False


@handles(DecideRestriction)
def decide_restriction(s: Session, cmd: DecideRestriction) -> Result:
    _officer(s, cmd)
    request = _request_of_kind(s, cmd.request, RequestKind.RESTRICTION)
    person_id, case = _person_case(s, request)
    case.set_restriction(person_id, not cmd.lift, request.reference, cmd.on, s.actor.user_id)
    tasks = _recipients_before(s, person_id, {"identificatie", "signalen", "plan"}) if not cmd.lift else []
    request.decide(
        "granted",
        seal_text(s, request, "motivation", "beperking opgeheven" if cmd.lift else "verwerking beperkt"),
        None,
        cmd.on,
        s.actor.user_id,
        tasks=tasks,
    )
    s.commit(cmd, case, request, case=case, subjects=[person_id])
    return Result(
        f"processing of {case.member(str(person_id)).ref}'s data "
        f"{'no longer restricted' if cmd.lift else 'restricted (art. 18 AVG)'}",
        {"tasks": tasks},
    )


class DecideObjection(RequestCommand):
    """Decide an objection to the processing (art. 21) and record it."""

    name: ClassVar[str] = "request.object"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    upheld: bool
    motivation: Text = Field(min_length=1, max_length=5000)


@handles(DecideObjection)
def decide_objection(s: Session, cmd: DecideObjection) -> Result:
    _officer(s, cmd)
    request = _request_of_kind(s, cmd.request, RequestKind.OBJECTION)
    motivation = seal_text(s, request, "motivation", cmd.motivation)
    request.decide("granted" if cmd.upheld else "refused", motivation, None, cmd.on, s.actor.user_id)
    s.commit(cmd, request, subjects=[request.person_id] if request.person_id else [])
    return Result(f"objection {request.reference} {'upheld' if cmd.upheld else 'rejected'}")


class DecideErasure(RequestCommand):
    """Grant an erasure request by crypto-shredding, or refuse it with its ground (e.g. art. 17(3)(b))."""

    name: ClassVar[str] = "request.erase"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.ERASE
    grant: bool
    ground: str = Field(default="", max_length=300, description="refusal ground, e.g. 'art. 17 lid 3 sub b AVG'")
    motivation: Text = Field(default="", max_length=5000)


@handles(DecideErasure)
def decide_erasure(s: Session, cmd: DecideErasure) -> Result:
    _officer(s, cmd)
    request = _request_of_kind(s, cmd.request, RequestKind.ERASURE)
    person_id, case = _person_case(s, request)
    if not cmd.grant:
        if not cmd.ground.strip():
            raise ValidationFailed("a refused erasure needs its ground, e.g. 'art. 17 lid 3 sub b AVG' (legal task)")
        motivation = seal_text(s, request, "motivation", f"{cmd.ground}: {cmd.motivation}")
        request.decide("refused", motivation, None, cmd.on, s.actor.user_id)
        s.commit(cmd, request, subjects=[person_id])
        return Result(f"erasure refused on {cmd.ground}")
    tasks = _recipients_before(s, person_id, {"identificatie", "signalen", "plan"})
    erasure = erase_person_in(s, person_id, case.id, "granted-request", cmd.on, request.reference)
    # No text: whatever would be sealed with the person's key is destroyed in this same transaction.
    request.decide("granted", None, None, cmd.on, s.actor.user_id, tasks=tasks)
    s.commit(cmd, erasure, request, case=case, subjects=[person_id])
    s.app.store.keys.purge()
    return Result(
        f"{case.member(str(person_id)).ref} erased; inform {len(tasks)} recipient(s) (art. 19 AVG)" + backups_note(s),
        {"tasks": tasks},
    )


class RecordRecipientInformed(RequestCommand):
    """Record that a recipient was informed of a rectification, restriction or erasure (art. 19)."""

    name: ClassVar[str] = "request.informed"
    activity: ClassVar[str] = RIGHTS
    action: ClassVar[Action] = Action.UPDATE
    organisation: str = Field(min_length=1)


@handles(RecordRecipientInformed)
def record_recipient_informed(s: Session, cmd: RecordRecipientInformed) -> Result:
    _officer(s, cmd)
    request = load_request(s, cmd.request)
    request.complete_task(cmd.organisation, cmd.on, s.actor.user_id)
    s.commit(cmd, request, subjects=[])
    open_tasks = [t for t in request.tasks.values() if t["done_on"] is None]
    return Result(f"{cmd.organisation} informed; {len(open_tasks)} recipient(s) still to inform")

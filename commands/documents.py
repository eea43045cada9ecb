"""Documents (stukken): attach, list, read, withdraw, and copies for an access request (AVG 15(3)).

Who may do what with a case's documents (need-to-know):

* the case's director and team attach, list, read and withdraw every document of the case;
* a partner professional of an organisation involved in the case attaches documents that come
  from its own organisation, and lists and reads only those (what it supplied itself; seeing
  it again discloses nothing new): a police report is seen by the police and the director,
  not by the housing corporation;
* managers, auditors, privacy officers and administrators do not read documents. The case
  view shows auditors that documents exist (type, date; personal fields as their grant
  allows), never their content. A privacy officer gives a data subject a copy of a document
  that is part of their access answer and not withheld (``copy_for_request``).

Every read of content is an access record (``export``: the content leaves the system as a
file) committed before the content is handed back. The content is sealed under the key of the
person it is about, or of the case; after that key is destroyed it is gone for everyone.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import Field, field_validator

from casusregie.adapters.document_store import (
    MAX_BYTES,
    DocumentDamaged,
    DocumentErased,
    DocumentStore,
    open_content,
    seal_content,
)
from casusregie.commands.authorization import directs, partner_involved
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.commands.subject_requests import compiled_for, load_request
from casusregie.domain.access import Action, Outcome
from casusregie.domain.case import Case
from casusregie.domain.document import (
    CEILING_BYTES,
    DEFAULT_MAX_BYTES,
    Document,
    DocumentType,
    base64_length,
    type_name,
)
from casusregie.domain.errors import AccessDenied, DomainRuleViolation, ValidationFailed
from casusregie.domain.roles import Role
from casusregie.domain.sealed import case_key_id, person_key_id
from casusregie.domain.subject_request import RequestKind
from casusregie.privacy_audit.key_hierarchy import KeyShredded
from casusregie.privacy_audit.need_to_know import (
    ERASED,
    RESTRICTED_FIELD,
    RESTRICTION,
    Refusal,
    case_visibility,
    keyring_opener,
)

REGIE = "regie-uitvoering"
RIGHTS = "rechten-betrokkenen"
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MiB"


def size_limit(s: Session) -> int:
    """The store's size limit of one document (config ``document_max_bytes``, default 20 MiB)."""
    return int(s.app.store.extra.get(MAX_BYTES, DEFAULT_MAX_BYTES))


class AttachDocument(CaseCommand):
    """Attach a document (stuk toevoegen) to a case: about one household member, or the household."""

    name: ClassVar[str] = "document.attach"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.CREATE
    type: DocumentType = Field(description="the kind of document (soort stuk)")
    dated: date = Field(description="the date of the document itself (YYYY-MM-DD)")
    source: str = Field(
        min_length=1,
        max_length=200,
        description="where it came from: an organisation of the profile (its id, e.g. politie), or a description",
    )
    about: str | None = Field(default=None, max_length=40, description="a household member (person ref)")
    title: Text | None = Field(default=None, min_length=1, max_length=500, description="a short title or description")
    content_base64: str = Field(
        min_length=4,
        max_length=base64_length(CEILING_BYTES),
        repr=False,
        description="the file's content, base64 (RFC 4648, no line breaks); at most the store's size limit "
        "(default 20 MiB before encoding)",
    )

    @field_validator("content_base64")
    @classmethod
    def _base64(cls, value: str) -> str:
        if len(value) % 4 or _BASE64.fullmatch(value) is None:
            raise ValueError("not base64 (RFC 4648: A-Z a-z 0-9 + /, padded with =, no line breaks)")
        return value


class WithdrawDocument(CaseCommand):
    """Withdraw a document (stuk intrekken): it stays in the file and in access answers, marked withdrawn."""

    name: ClassVar[str] = "document.withdraw"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.UPDATE
    document: str = Field(min_length=1, max_length=20, description="the document (e.g. D1)")
    reason: Text = Field(min_length=1, max_length=2000)


def _organisations(s: Session) -> set[str]:
    return {s.profile.organisation_id, *(p.id for p in s.profile.partners)}


def _decode(s: Session, cmd: AttachDocument) -> bytes:
    """The content, refused when over the limit before it is decoded."""
    limit = size_limit(s)
    if len(cmd.content_base64) > base64_length(limit):
        raise ValidationFailed(f"the document is larger than the limit of {_mib(limit)} ({limit} bytes)")
    try:
        content = base64.b64decode(cmd.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("content_base64 is not base64") from None
    if not content:
        raise ValidationFailed("the document is empty")
    if len(content) > limit:
        raise ValidationFailed(f"the document is larger than the limit of {_mib(limit)} ({limit} bytes)")
    return content


@handles(AttachDocument)
def attach_document(s: Session, cmd: AttachDocument) -> Result:
    case = s.case(cmd.case)
    actor = s.actor
    if actor.role == Role.PARTNER:
        s.require(partner_involved(actor, case), cmd, f"{actor.organisation} is not involved in this case", case)
        if cmd.source != actor.organisation:
            raise ValidationFailed(
                f"a partner attaches documents of its own organisation: give --source {actor.organisation}"
            )
    else:
        s.require(
            directs(actor, case),
            cmd,
            "only the case's director (or team), or an involved partner, attaches documents",
            case,
        )
    content = _decode(s, cmd)
    subject = case.member(cmd.about).person_id if cmd.about is not None else None
    # about one person: their key, so that their erasure takes the document with it; else the household's
    key = person_key_id(subject) if subject is not None else case_key_id(case.id)
    keyring = s.app.store.keyring
    if keyring.is_shredded(key):
        raise DomainRuleViolation(f"{cmd.about or 'the household'} was erased; no document can be attached")
    source_org = cmd.source if cmd.source in _organisations(s) else None
    storage_id = str(uuid4())
    stored = seal_content(
        keyring.cipher(key), key, content, store_id=keyring.store_id, case_id=case.id, storage_id=storage_id
    )
    document_id = case.attach_document(
        storage_id=storage_id,
        key_id=key,
        kind=str(cmd.type),
        dated=cmd.dated,
        source_org=source_org,
        source=None if source_org is not None else s.seal(key, "document_source", cmd.source),
        title=s.seal(key, "document_title", cmd.title) if cmd.title is not None else None,
        subject=subject,
        size=stored.size,
        chunks=stored.chunks,
        chunk_size=stored.chunk_size,
        digest=stored.digest,
        on=cmd.on,
        by=actor.user_id,
    )
    s.add_extra(stored.insert_op())
    s.commit(cmd, case, case=case, subjects=[subject] if subject is not None else None)
    return Result(
        f"document {document_id} ({type_name(str(cmd.type)).lower()}, {stored.size} bytes) attached to case "
        f"{case.case_number}",
        {"document": document_id, "size": stored.size},
    )


@handles(WithdrawDocument)
def withdraw_document(s: Session, cmd: WithdrawDocument) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) withdraws documents", case)
    document = case.document(cmd.document)
    if s.app.store.keyring.is_shredded(document.key_id):
        raise DomainRuleViolation(f"document {document.document_id} was erased; there is nothing to withdraw")
    case.withdraw_document(
        document.document_id, s.seal(document.key_id, "document_withdrawn", cmd.reason), cmd.on, s.actor.user_id
    )
    s.commit(cmd, case, case=case, subjects=[document.subject] if document.subject is not None else None)
    return Result(f"document {document.document_id} of case {case.case_number} withdrawn; it stays in the file")


# --- reading ---------------------------------------------------------------------------------


def _visible(s: Session, case: Case, name: str, action: Action) -> tuple[Any, list[Document]]:
    """The reader's view of the case and the documents they may see; a refusal is logged and raised."""
    visibility = case_visibility(s.actor, case, s.profile)
    if isinstance(visibility, Refusal):
        s.deny(name, REGIE, action, visibility.reason, case)
    assert not isinstance(visibility, Refusal)
    role = s.actor.role
    if role == Role.REGISSEUR:
        return visibility, list(case.documents.values())
    if role == Role.PARTNER:
        return visibility, [d for d in case.documents.values() if d.seen_by_organisation(s.actor.organisation)]
    s.deny(name, REGIE, action, f"a {role} does not read a case's documents", case)
    raise AssertionError("unreachable")


def _subjects(case: Case, documents: list[Document]) -> list[UUID]:
    """Whose data a list of documents shows: the person each is about; the household for the others."""
    out: list[UUID] = []
    for document in documents:
        if document.subject is not None:
            out.append(document.subject)
        else:
            out += [m.person_id for m in case.members.values() if not m.in_network]
    return list(dict.fromkeys(out))


def _restricted(case: Case) -> set[UUID]:
    return {m.person_id for m in case.members.values() if m.restricted}


def describe(case: Case, document: Document, open_: Any, *, erased: bool, restricted: bool) -> dict[str, Any]:
    refs = {str(m.person_id): m.ref for m in case.members.values()}
    hidden = ERASED if erased else RESTRICTED_FIELD if restricted else None
    return {
        "document": document.document_id,
        "type": document.kind,
        "dated": document.dated.isoformat(),
        "source": document.source_org or (hidden or open_(document.source)),
        "title": None if document.title is None else (hidden or open_(document.title)),
        "about": None if document.subject is None else refs.get(str(document.subject), str(document.subject)),
        "size": document.size,
        "attached_on": document.attached_on.isoformat(),
        "attached_by": document.attached_by,
        "withdrawn_on": None if document.withdrawn_on is None else document.withdrawn_on.isoformat(),
        "withdraw_reason": None if document.withdraw_reason is None else (hidden or open_(document.withdraw_reason)),
        "erased": erased,
    }


def list_documents(s: Session, case_ref: str) -> dict[str, Any]:
    """The documents of a case the reader may see (never their content); logged before it is shown."""
    case = s.case(case_ref)
    _, documents = _visible(s, case, "document.list", Action.READ)
    keyring = s.app.store.keyring
    erased = {d.key_id for d in documents if keyring.is_shredded(d.key_id)}
    restricted = _restricted(case)
    shown = [p for p in _subjects(case, [d for d in documents if d.key_id not in erased]) if p not in restricted]
    s.log_read("document.list", REGIE, Action.READ, case.id, shown)
    open_ = keyring_opener(keyring)
    return {
        "case": case.case_number,
        "documents": [
            describe(case, d, open_, erased=d.key_id in erased, restricted=d.subject in restricted) for d in documents
        ],
    }


def _content(s: Session, case: Case, document: Document, name: str, activity: str, subjects: list[UUID]) -> bytes:
    """The decrypted content, checked against what was attached; damage is logged as an error, never returned."""
    keyring = s.app.store.keyring
    erased = f"document {document.document_id} of case {case.case_number} was erased (its key was destroyed)"
    if keyring.is_shredded(document.key_id):
        raise DocumentErased(erased)
    try:
        return open_content(
            keyring.cipher(document.key_id),
            DocumentStore(s.app.store.db).bodies(document.storage_id),
            store_id=keyring.store_id,
            case_id=case.id,
            storage_id=document.storage_id,
            count=document.chunks,
            digest=document.digest,
            size=document.size,
        )
    except KeyShredded:
        raise DocumentErased(erased) from None
    except DocumentDamaged as exc:
        reason = f"document {document.document_id}: {exc}; the store may have been tampered with"
        s.record_outcome(name, activity, Action.EXPORT, reason, case.id, subjects, Outcome.ERROR)
        raise DocumentDamaged(
            f"document {document.document_id} of case {case.case_number} cannot be given: {exc}. Nothing was "
            "written; this is recorded in the access log (run `regie audit verify`)"
        ) from None


@dataclass(frozen=True)
class Fetched:
    """A document's content as handed out, with what the access record of writing it out names."""

    document: Document
    content: bytes = field(repr=False)
    case_number: str
    case_id: UUID
    subjects: list[UUID]
    name: str
    activity: str


def read_document(s: Session, case_ref: str, document_ref: str) -> Fetched:
    """A document's content for the director's team, or for the partner it came from; logged as an export."""
    case = s.case(case_ref)
    _, documents = _visible(s, case, "document.get", Action.EXPORT)
    wanted = document_ref.strip().upper()
    document = next((d for d in documents if d.document_id == wanted), None)
    if document is None:
        if s.actor.role == Role.PARTNER:  # a partner learns nothing about documents it does not see
            s.deny(
                "document.get",
                REGIE,
                Action.EXPORT,
                f"{s.actor.organisation} reads only documents from its own organisation; {document_ref} is not one",
                case,
            )
        case.document(document_ref)  # the director's team: no such document
    assert document is not None
    subjects = _subjects(case, [document])
    restricted = _restricted(case) & set(subjects)
    if document.subject is not None and restricted:
        s.record_denial("document.get", REGIE, Action.EXPORT, RESTRICTION, case.id, sorted(restricted))
        raise AccessDenied(f"{s.actor.user_id} ({s.actor.role}): {RESTRICTION}")
    content = _content(s, case, document, "document.get", REGIE, subjects)
    s.log_read("document.get", REGIE, Action.EXPORT, case.id, subjects, reason=f"document {document.document_id}")
    return Fetched(document, content, case.case_number, case.id, subjects, "document.get", REGIE)


def copy_for_request(s: Session, request_ref: str, document_ref: str) -> Fetched:
    """A copy of a document for the data subject (AVG art. 15(3)): only one listed in their answer and given."""
    request = load_request(s, request_ref)
    name = "request.document-copy"  # handling the person's own request: not listed among consultations
    if s.actor.role != Role.PRIVACY_OFFICER:
        s.deny(name, RIGHTS, Action.EXPORT, "only privacy officers give copies to data subjects (art. 15(3) AVG)")
    if request.kind != RequestKind.ACCESS:
        raise ValidationFailed(f"request {request.reference} is a {request.kind} request; copies go with access")
    if request.person_id is None:
        raise ValidationFailed(f"request {request.reference} matches nobody in the store; there is nothing to copy")
    item_id = f"document:{document_ref.strip().upper()}"
    if s.app.store.keyring.is_shredded(person_key_id(request.person_id)):
        raise DocumentErased(f"the person of request {request.reference} was erased; their documents are gone")
    items = compiled_for(s, request).items
    item = next((i for i in items if i.item_id == item_id), None)
    if item is None:
        raise ValidationFailed(
            f"{document_ref} is not a document of the answer to request {request.reference}; see `regie request items`"
        )
    withheld = {i.key for i in items if i.item_id in request.withheld}
    if item.key in withheld:
        raise DomainRuleViolation(f"{item_id} is withheld from the answer to request {request.reference}; no copy")
    if item.review and item.item_id not in request.released:
        raise DomainRuleViolation(
            f"{item_id} is about the household and awaits review (art. 15(4) AVG): release it with "
            "`regie request release` before giving a copy"
        )
    case = s.app.get(s.person(str(request.person_id))[1])
    assert isinstance(case, Case)
    document = case.document(document_ref)
    subjects = [request.person_id]
    content = _content(s, case, document, name, RIGHTS, subjects)
    s.log_read(
        name,
        RIGHTS,
        Action.EXPORT,
        case.id,
        subjects,
        reason=f"copy of document {document.document_id} for request {request.reference}",
    )
    return Fetched(document, content, case.case_number, case.id, subjects, name, RIGHTS)

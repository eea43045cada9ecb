"""Reading requests of data subjects: the list, the answer's items, and the file for auditors.

Privacy officers see the compiled items (to choose what to withhold or release); auditors
whom the profile grants withheld items see every withholding with its ground and
motivation, and the withheld content only where the profile also grants them personal
data. None of this ever reaches the person's documents.
"""

from __future__ import annotations

from typing import Any

from casusregie.commands.session import Session
from casusregie.commands.subject_requests import compiled_for, issued_decision, load_request
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.roles import Role
from casusregie.domain.subject_request import SubjectRequest
from casusregie.privacy_audit.decision_document import AccessDecision, ground_label
from casusregie.privacy_audit.inzage import AnswerItem
from casusregie.privacy_audit.need_to_know import ERASED, REDACTED, keyring_opener, opener_for, reader_visibility
from casusregie.projections.reader import Reader
from casusregie.projections.requests import RequestProjection

RIGHTS = "rechten-betrokkenen"
AUDIT = "toezicht-audit"


def _subjects(request: SubjectRequest) -> list[Any]:
    return [request.person_id] if request.person_id else []


def _may_read(s: Session, what: str, request: SubjectRequest | None = None) -> str:
    role = s.actor.role
    if role == Role.PRIVACY_OFFICER:
        return RIGHTS
    if role == Role.AUDITOR and "withheld_items" in s.profile.auditors.sees:
        return AUDIT
    s.deny(what, RIGHTS, Action.READ, f"a {role} may not read requests of data subjects")
    raise AssertionError("unreachable")


def request_list(s: Session) -> list[dict[str, Any]]:
    activity = _may_read(s, "request.list")
    reader = Reader(s)
    reader.runner.refresh()
    with s.app.store.db.transaction(commit=False) as tx:
        rows = RequestProjection.all(tx)
    s.log_read("request.list", activity, Action.READ, None, [])
    keys = ("request", "kind", "person_id", "received_on", "due_on", "extended", "status", "decided_on", "outcome")
    return [dict(zip(keys, row, strict=True)) | {"extended": bool(row[5])} for row in rows]


def request_items(s: Session, reference: str) -> list[dict[str, Any]]:
    """The compiled answer's items, with ids to withhold or release, for the privacy officer."""
    request = load_request(s, reference)
    if s.actor.role != Role.PRIVACY_OFFICER:
        s.deny("request.items", RIGHTS, Action.READ, "only privacy officers compile answers")
    compiled = compiled_for(s, request)
    s.log_read("request.items", RIGHTS, Action.READ, None, _subjects(request))
    withheld_by_origin = {
        item.key: (item.item_id, request.withheld[item.item_id])
        for item in compiled.items
        if item.item_id in request.withheld
    }
    out = []
    for item in compiled.items:
        out.append(
            {
                "item": item.item_id,
                "section": item.section,
                "summary": item.summary,
                "withheld": _state(item, withheld_by_origin.get(item.key), request.released),
            }
        )
    return out


def _state(item: AnswerItem, withholding: tuple[str, Any] | None, released: set[str]) -> str | None:
    """How the item stands in the answer: withheld (itself or with another), awaiting review, or given."""
    if withholding is not None:
        source, w = withholding
        how = f"{'partly' if w.partly else 'wholly'}, ground {w.regime} {w.ground}"
        return how if source == item.item_id else f"{how}, with {source}"
    if item.review and item.item_id not in released:
        return "awaiting review (AVG 15(4)): release to give it"
    return None


def request_file(s: Session, reference: str) -> dict[str, Any]:
    """The request as the privacy officer's file or an auditor's view: steps, withholdings, decision.

    Who may read the file reads how the request was handled (grounds, motivations, dates);
    the personal data in it (the withheld content, the issued decision, how identity was
    checked) opens only through the need-to-know filter: for auditors, only when the profile
    grants them personal data.
    """
    request = load_request(s, reference)
    activity = _may_read(s, "request.show", request)
    handling = keyring_opener(s.app.store.keyring)
    visibility = reader_visibility(s.actor, s.profile, "withheld_items")
    personal = opener_for(visibility, handling)
    compiled = {i.item_id: i for i in compiled_for(s, request, personal).items} if request.person_id else {}
    s.log_read("request.show", activity, Action.READ, None, _subjects(request))
    withheld = []
    for w in request.withheld.values():
        label, text = ground_label(w.ground, w.regime)  # type: ignore[arg-type]
        item = compiled.get(w.item)
        withheld.append(
            {
                "item": w.item,
                "ground": label,
                "ground_text": text,
                "motivation": handling(w.motivation),
                "partly": w.partly,
                "told_to_person": w.tell_person,
                "description_for_person": handling(w.what),
                "why_not_told": handling(w.not_telling_reason) or None,
                "decided_on": w.decided_on.isoformat(),
                "decided_by": w.decided_by,
                "content": item.entry.model_dump(mode="json") if item is not None else "(no longer in the store)",
            }
        )
    return {
        "request": request.reference,
        "kind": request.kind,
        "received_on": request.received_on.isoformat(),
        "channel": request.channel,
        "identity_check": personal(request.identity_check),
        "scope": personal(request.scope),
        "due_on": request.due_on.isoformat(),
        "first_due_on": request.first_due_on.isoformat(),
        "extension": None
        if request.extension is None
        else {
            k: handling(v) if k == "motivation" else (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in request.extension.items()
        },
        "withheld": withheld,
        "released_after_review": sorted(request.released),
        "decision": None
        if request.decision is None
        else {
            "outcome": request.decision["outcome"],
            "on": request.decision["on"].isoformat(),
            "by": request.decision["by"],
            "late": request.decision["late"],
            "motivation": handling(request.decision["motivation"]),
        },
        "issued_document": _issued(s, request, visibility.personal_data),
        "tasks": [
            {"organisation": t["organisation"], "done_on": t["done_on"].isoformat() if t["done_on"] else None}
            for t in request.tasks.values()
        ],
    }


def _issued(s: Session, request: SubjectRequest, personal_data: bool) -> Any:
    """The frozen decision as issued; redacted for who may not see personal data; erased with the person."""
    if request.decision is None or request.decision["document"] is None:
        return None
    if not personal_data:
        return REDACTED
    try:
        return issued_decision(s, request).model_dump(mode="json")
    except ValidationFailed:
        return ERASED


def decision_to_print(s: Session, reference: str) -> tuple[AccessDecision, list[Any]]:
    """The issued decision on an access request, to be printed again (privacy officers; logged as a print).

    Returns the decision and the persons its printing concerns, for the record of a failure after it.
    """
    request = load_request(s, reference)
    if s.actor.role != Role.PRIVACY_OFFICER:
        s.deny("request.letter", RIGHTS, Action.PRINT, "only privacy officers print decisions")
    decision = issued_decision(s, request)
    subjects = [request.person_id] if request.person_id else []
    s.log_read("request.letter", RIGHTS, Action.PRINT, None, subjects)
    return decision, subjects


def decision_preview(
    s: Session, reference: str, signatory: str, signatory_title: str
) -> tuple[AccessDecision, list[Any]]:
    """The decision on an access request as it would be issued today, before it is (privacy officers).

    Nothing is recorded but the read: the preview is built exactly as the issuing command builds it,
    so what the officer sees is what the person will get. Logged as a print of the person's data.
    """
    from datetime import date

    from casusregie.commands.subject_requests import IssueAccessDecision, build_decision

    request = load_request(s, reference)
    if s.actor.role != Role.PRIVACY_OFFICER:
        s.deny("request.preview", RIGHTS, Action.PRINT, "only privacy officers preview decisions")
    if str(request.kind) != "access":
        raise ValidationFailed(f"request {reference} is not an access request: it has no letter to preview")
    if request.decision is not None:
        raise ValidationFailed(f"request {reference} is decided already; print the issued decision instead")
    command = IssueAccessDecision(
        request=reference, signatory=signatory, signatory_title=signatory_title, on=date.today()
    )
    decision = build_decision(s, request, command)
    subjects = _subjects(request)
    s.log_read("request.preview", RIGHTS, Action.PRINT, None, subjects)
    return decision, subjects

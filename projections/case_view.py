"""The case view (dossieroverzicht): a case's current state as a plain document.

Built from a ``Case`` state (from the projection, or replayed from the event store: the
two must always agree) and filtered by a ``Visibility``. Sealed fields are opened by the
given ``opener``, which decides what an erased or restricted person's fields show.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from casusregie.domain.case import Case
from casusregie.domain.sealed import Sealed
from casusregie.privacy_audit.need_to_know import (
    ERASED,
    FULL_SECTIONS,
    REDACTED,
    Opener,
    Visibility,
    opener_for,
)

__all__ = ["ERASED", "FULL", "REDACTED", "Opener", "render_case", "subjects_shown"]

FULL = Visibility(sections=FULL_SECTIONS)


def _d(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def render_case(
    case: Case, opener: Opener, visibility: Visibility = FULL, erased: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The case as a JSON-ready dict, showing only what ``visibility`` allows.

    ``erased`` holds the ids of members whose key was destroyed (a fact of the keyring, not
    of the case's events).
    """
    v = visibility
    open_ = opener_for(v, opener)

    refs: dict[str, str] = {str(m.person_id): m.ref for m in case.members.values()}

    def ref(person: UUID | None) -> str | None:
        return None if person is None else refs.get(str(person), str(person))

    doc: dict[str, Any] = {
        "case": case.case_number,
        "id": str(case.id),
        "status": str(case.status),
        "director": case.director,
        "team": case.team,
        "referred_on": _d(case.referred_on),
        "referring_org": case.referring_org,
        "involved": list(case.involved),
        "version": case.version,
    }
    if v.sees("members"):
        doc["members"] = [
            _member(m, open_, identity=v.sees("identity"), erased=str(m.person_id) in erased)
            for m in case.members.values()
            if not m.in_network or v.sees("network")
        ]
    if v.sees("network") and case.ad_hoc:
        doc["ad_hoc_organisations"] = [
            {"organisation": org, "name": a["name"], "legal_basis": a["legal_basis"], "on": _d(a["on"]), "by": a["by"]}
            for org, a in case.ad_hoc.items()
        ]
    if v.sees("signals"):
        doc["referring_worker"] = open_(case.referring_worker)
        doc["reason"] = open_(case.reason)
        doc["problems"] = {domain: open_(text) for domain, text in case.problems.items()}
        doc["resolved_problems"] = [
            {
                "life_domain": domain,
                "description": open_(r["text"]),
                "resolved_on": _d(r["on"]),
                "by": r["by"],
                "note": open_(r["note"]),
            }
            for domain, r in case.resolved_problems.items()
        ]
        doc["problem_history"] = [
            {
                "life_domain": h["life_domain"],
                "change": h["change"],
                "on": _d(h["on"]),
                "by": h["by"],
                "text": open_(h["text"]),
            }
            for h in case.problem_history
        ]
        doc["home_corporation"] = case.home_corporation
    if v.sees("consent"):
        doc["consent"] = {
            "required": case.consent_required,
            "given_on": _d(case.consent_given_on),
            "refused_on": _d(case.consent_refused_on),
            "due_on": _d(case.consent_due),
        }
        doc["corporation_consent"] = (
            None
            if case.corporation_consent is None
            else {k: (_d(x) if isinstance(x, date) else x) for k, x in case.corporation_consent.items()}
        )
    if v.sees("assessment") and case.home_visits:
        doc["home_visits"] = [
            {"on": _d(h["on"]), "by": h["by"], "invited": h["invited"], "note": open_(h["note"])}
            for h in case.home_visits
        ]
    if v.sees("assessment") and case.assessment is not None:
        a = case.assessment
        doc["assessment"] = {
            "criteria_met": a["criteria_met"],
            "threshold": a["threshold"],
            "meets": a["meets"],
            "acute": a["acute"],
            "acute_reason": open_(a["acute_reason"]),
            "on": _d(a["on"]),
            "by": a["by"],
        }
    requests = [r for r in case.requests.values() if v.sees_request(r.partner)]
    if requests:
        doc["requests"] = [
            {
                "request": r.request_id,
                "partner": r.partner,
                "purpose": open_(r.purpose),
                "legal_basis": r.legal_basis,
                "categories": r.categories,
                "subjects": [ref(s) for s in r.subjects] or ["huishouden"],
                "requested_on": _d(r.requested_on),
                "due_on": _d(r.due_on),
                "status": str(r.status),
                "answered_on": _d(r.answered_on),
                "answered_by": r.answered_by,
                "partner_legal_basis": r.partner_legal_basis or None,
                "decline_reason": open_(r.decline_reason),
                "om_consent": None
                if r.om_consent is None
                else {k: (_d(x) if isinstance(x, date) else x) for k, x in r.om_consent.items()},
                "items": [
                    {"category": i.category, "subject": ref(i.subject) or "huishouden", "content": open_(i.content)}
                    for i in r.items
                    if v.sees_disclosure(r.partner, i.category)
                ],
            }
            for r in requests
        ]
    if v.sees("decision") and case.decision is not None:
        doc["decision"] = {
            "taken_on": case.decision["taken_on"],
            "on": _d(case.decision["on"]),
            "by": case.decision["by"],
            "advice": open_(case.decision["advice"]),
            "due_on": _d(case.decision.get("due")),
            "late_reason": open_(case.decision.get("late_reason")),
        }
    if v.sees("letter"):
        doc["letter"] = (
            None
            if case.letter is None
            else {
                "sent": case.letter["sent"],
                "on": _d(case.letter["on"]),
                "by": case.letter["by"],
                "ground": case.letter["ground"],
                "motivation": open_(case.letter["motivation"]),
            }
        )
    if v.sees("letter") and case.partner_letters:
        doc["partner_letters"] = [
            {
                "kind": letter["kind"],
                "to": letter["to"],
                "persons": [ref(p) for p in letter["persons"]],
                "on": _d(letter["on"]),
                "by": letter["by"],
            }
            for letter in case.partner_letters
        ]
    meetings = [m for m in case.meetings.values() if v.sees("meetings") or v.organisation in m.participants]
    if meetings:
        doc["meetings"] = [
            {
                "meeting": m.meeting_id,
                "kind": m.kind,
                "scheduled_for": _d(m.scheduled_for),
                "participants": m.participants,
                "held_on": _d(m.held_on),
                "attended": m.attended,
                "minutes": open_(m.minutes) if v.sees("minutes") else None,
                "conference": m.conference,
                "persons": [ref(p) for p in m.persons] if v.sees("minutes") else [],
            }
            for m in meetings
        ]
    measures = [m for m in case.measures.values() if v.sees_measure(m.owner)]
    if v.sees("plan") or measures:
        doc["plan"] = {
            "revision": case.plan_revision,
            "revisions": [
                {
                    "revision": r.revision,
                    "on": _d(r.on),
                    "reason": open_(r.reason),
                    "client_agreed_on": _d(r.client_agreed_on),
                    "client_signed": r.client_signed,
                }
                for r in case.revisions
            ]
            if v.sees("plan")
            else [],
            "goals": [
                {
                    "goal": g.goal_id,
                    "life_domain": g.life_domain,
                    "description": open_(g.description),
                    "revision": g.revision,
                    "set_on": _d(g.set_on),
                }
                for g in case.goals.values()
            ]
            if v.sees("plan")
            else [],
            "measures": [
                {
                    "measure": m.measure_id,
                    "life_domain": m.life_domain,
                    "owner": m.owner,
                    "kind": m.kind,
                    "goal": m.goal_id,
                    "subject": ref(m.subject),
                    "description": open_(m.description),
                    "due_on": _d(m.due_on),
                    "agreed_on": _d(m.agreed_on),
                    "status": str(m.status),
                    "revision": m.revision,
                    "history": [
                        {"on": _d(h.on), "status": str(h.status), "by": h.by, "note": open_(h.note)} for h in m.history
                    ],
                }
                for m in measures
            ],
        }
    if v.sees("evaluations"):
        doc["evaluations"] = [
            {"on": _d(e["on"]), "by": e["by"], "summary": open_(e["summary"])} for e in case.evaluations
        ]
    if v.sees("escalations"):
        doc["escalations"] = [
            {
                "escalation": e.escalation_id,
                "level": e.level,
                "level_name": e.level_name,
                "reason": open_(e.reason),
                "raised_on": _d(e.raised_on),
                "raised_by": e.raised_by,
                "resolved_on": _d(e.resolved_on),
                "outcome": open_(e.outcome),
                "resolved_by": e.resolved_by,
            }
            for e in case.escalations.values()
        ]
    if v.sees("closure"):
        doc["closures"] = [
            {
                "closed_on": _d(c.closed_on),
                "outcome": c.outcome,
                "judgement_neighbours": c.judgement_neighbours,
                "judgement_partners": c.judgement_partners,
                "closed_by": c.closed_by,
                "aftercare": open_(c.aftercare),
                "handover_to": c.handover_to,
                "note": open_(c.note),
                "concerns": list(c.concerns),
                "despite": open_(c.despite),
                "aftercare_due": _d(c.aftercare_due),
                "aftercare_contacted_on": _d(c.aftercare_contacted_on),
                "aftercare_contact_note": open_(c.aftercare_contact_note),
            }
            for c in case.closures
        ]
        doc["reopenings"] = [{"on": _d(r["on"]), "by": r["by"], "reason": open_(r["reason"])} for r in case.reopenings]
    if v.sees("journal"):
        doc["journal"] = [
            {
                "entry": e.entry_id,
                "on": _d(e.on),
                "by": e.by,
                "kind": "contact" if e.is_contact else "note",
                "channel": e.channel,
                "with": open_(e.with_whom),
                "about": ref(e.subject),
                "text": open_(e.text),
                "corrects": e.corrects,
                "corrected_by": e.corrected_by,
            }
            for e in case.journal.values()
        ]
    documents = [d for d in case.documents.values() if v.sees("documents") or d.seen_by_organisation(v.organisation)]
    if documents:
        doc["documents"] = [
            {
                "document": d.document_id,
                "type": d.kind,
                "dated": _d(d.dated),
                "source": d.source_org or open_(d.source),
                "title": open_(d.title),
                "about": ref(d.subject),
                "size": d.size,
                "attached_on": _d(d.attached_on),
                "attached_by": d.attached_by,
                "withdrawn_on": _d(d.withdrawn_on),
                "withdraw_reason": open_(d.withdraw_reason),
            }
            for d in documents
        ]
    if v.sees("plan") or v.sees("decision"):
        doc["deadlines"] = {
            "intake": _d(case.intake_due),
            "letter": _d(case.letter_due),
            "plan": _d(case.plan_due),
            "evaluation": _d(case.next_evaluation),
            "casusoverleg": _d(case.next_casusoverleg),
        }
    return doc


def _member(member: Any, open_: Callable[[Sealed | None], Any], *, identity: bool, erased: bool) -> dict[str, Any]:
    doc = {
        "person": member.ref,
        "role": member.role,
        "minor": member.minor,
        "name": open_(member.name),
        "erased": erased,
        "restricted": member.restricted,
    }
    if member.household is not None:
        doc["household"] = member.household
    if identity:
        doc |= {"birth_date": open_(member.birth_date), "bsn": open_(member.bsn), "address": open_(member.address)}
        if member.in_network:
            doc["contact"] = open_(member.contact)
    return doc


def subjects_shown(case: Case, visibility: Visibility) -> list[UUID]:
    """The persons whose data a rendered view contains: one access record each."""
    if visibility.sees("members") or visibility.sees("signals") or visibility.sees("plan"):
        return [m.person_id for m in case.members.values() if not m.in_network or visibility.sees("network")]
    return []

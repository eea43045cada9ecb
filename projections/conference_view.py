"""A casusoverleg as one reader may see it: the table and the agenda, each case only for who may see it.

The meeting holds no personal data, but which households are on a neighbourhood's agenda is
itself sensitive: a partner at the table sees the case numbers of the cases its organisation is
involved in and only a count of the others; the minutes stay on each case (``case show``).
"""

from __future__ import annotations

from typing import Any

from casusregie.domain.access import Action
from casusregie.domain.case import Case
from casusregie.domain.conference import Conference
from casusregie.domain.errors import NotFound
from casusregie.domain.roles import Role
from casusregie.privacy_audit.need_to_know import Refusal, case_visibility

REGIE = "regie-uitvoering"


def conference_view(session: Any, reference: str) -> dict[str, Any]:
    found = session.refs.resolve(reference, "conference")
    if found is None:
        raise NotFound(f"unknown casusoverleg {reference}")
    conference = session.app.get(found[0])
    assert isinstance(conference, Conference)
    actor = session.actor
    at_table = actor.role == Role.PARTNER and actor.organisation in conference.participants
    if actor.role not in (Role.REGISSEUR, Role.MANAGER) and not at_table:
        session.deny(
            "overleg.show", REGIE, Action.READ, f"{actor.organisation or actor.role} is not at the table of {reference}"
        )
    agenda, others = [], 0
    for item in conference.agenda:
        case = session.app.get(item.case_id)
        assert isinstance(case, Case)
        if isinstance(case_visibility(actor, case, session.profile), Refusal):
            others += 1
            continue
        meeting = case.meeting_at(conference.reference)
        agenda.append(
            {
                "case": item.case_number,
                "meeting": meeting.meeting_id,
                "discussed": item.discussed,
                "added_by": item.added_by,
            }
        )
    session.log_read("overleg.show", REGIE, Action.READ, None, [])
    return {
        "overleg": conference.reference,
        "neighbourhood": conference.neighbourhood,
        "scheduled_for": conference.scheduled_for.isoformat(),
        "chair": conference.chair,
        "participants": conference.participants,
        "held_on": conference.held_on.isoformat() if conference.held_on else None,
        "attended": conference.attended,
        "agenda": agenda,
        "other_cases": others,
    }

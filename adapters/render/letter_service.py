"""Writing a case letter for a user: the one path the CLI and the web application share.

The letter is made from the case view the user may see (that read is refused or logged by the
reader), only by the case's director and team, and the print is logged for the persons in the
letter before the letter leaves (the caller then writes or sends it). A letter for partners is
also recorded in the case as a disclosure to them, so the disclosure trail holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from casusregie.adapters.render.case_letters import CaseLetter, LetterOptions, compose_case_letter
from casusregie.adapters.render.case_letters import render_case_letter as render
from casusregie.commands.letters import LetterRequest, RecordPartnerLetter
from casusregie.domain.access import Action
from casusregie.domain.roles import Role
from casusregie.projections.reader import REGIE, Reader

NAME = "case.letter"


@dataclass(frozen=True)
class WrittenLetter:
    body: bytes
    composed: CaseLetter
    view: dict[str, Any]
    case_id: UUID
    subjects: list[UUID]


def options_of(request: LetterRequest) -> LetterOptions:
    return LetterOptions(
        on=request.on,
        to=request.to,
        signatory=request.signatory,
        meeting=request.meeting,
        visit_date=request.visit_date,
        time=request.time_text,
        place=request.place,
    )


def write_case_letter(session: Any, request: LetterRequest) -> WrittenLetter:
    kind, case_ref, options, markdown = request.kind, request.case, options_of(request), request.markdown
    reader = Reader(session)
    reader.runner.refresh()
    case = reader.case_state(case_ref)
    if session.actor.role != Role.REGISSEUR:
        session.deny(
            NAME,
            REGIE,
            Action.PRINT,
            f"a {session.actor.role} does not write letters for a case; its director and their team do",
            case,
        )
    view = reader.case(case_ref)  # need-to-know checked (a director outside the team is refused) and logged
    composed = compose_case_letter(kind, view, session.profile, options)
    body = render(composed, options.on, markdown=markdown)
    refs = {m.ref: m.person_id for m in case.members.values()}
    subjects = [refs[p] for p in composed.persons if p in refs]
    if composed.partners:
        session.execute(
            RecordPartnerLetter(
                case=str(case.id),
                kind=kind,
                to=list(composed.partners),
                persons=list(composed.persons),
                on=options.on,
            )
        )
    session.log_read(NAME, REGIE, Action.PRINT, case.id, subjects)  # audit first: before the letter leaves
    return WrittenLetter(body, composed, view, case.id, subjects)

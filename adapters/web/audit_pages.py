"""The auditor's pages: the log's verification and its latest signed checkpoint, a case replayed as of a
moment with its narrative, the access log, and a case's bundle to verify elsewhere.

Verification reads every record, so it runs when the auditor asks for it (a form), not at every view.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from casusregie.adapters.auditing import case_bundle, verification
from casusregie.adapters.checkpoint_files import store_checkpoints
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.roles import Role
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.privacy_audit.replay import AUDIT_ACTIVITY, BUSINESS, RECORDED, parse_moment, replay_case

if TYPE_CHECKING:
    from casusregie.adapters.web.app import Web
    from casusregie.adapters.web.sessions import WebSession

MAX_LOG_ROWS = 500
#: The replay's time axis (query ``volgens``): the value in the URL -> the axis, and its label.
AXES_NL = {"registratietijd": RECORDED, "feitelijke-datum": BUSINESS}


def _auditor(regie: Session, name: str) -> None:
    if regie.actor.role != Role.AUDITOR:
        regie.deny(name, AUDIT_ACTIVITY, Action.READ, f"only auditors may run {name}")


def routes(web: Web) -> list[Route]:
    async def overview(request: Request) -> Response:
        def work(regie: Session, session: WebSession, form: FormData | None) -> Response:
            # "verify now": what was added since the last verification, or every record
            report = None if form is None else verification(regie, full=form.get("volledig") == "1")
            if report is None:
                _auditor(regie, "audit.status")
                regie.log_read("audit.status", AUDIT_ACTIVITY, Action.READ, None, [])
            latest = None
            checkpoints = store_checkpoints(regie.app.store)
            if checkpoints:
                cp = max(checkpoints, key=lambda c: c.size).checkpoint
                latest = {
                    "size": cp.size,
                    "timestamp": cp.timestamp.isoformat() if cp.timestamp else None,
                    "root": cp.root.hex()[:32],
                }
            return web.render(
                "audit.html",
                **web.frame(regie, session, title="Audit", nav="audit", latest=latest, report=report),
            )

        return await web.page(request, "audit.verify", work)

    async def replay(request: Request) -> Response:
        number = request.query_params.get("zaak", "").strip()[:64]
        as_of = request.query_params.get("peildatum", "").strip()[:40] or None
        according = request.query_params.get("volgens", "").strip()[:40] or "registratietijd"

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            axis = AXES_NL.get(according)
            if axis is None:
                raise ValidationFailed(f"onbekende tijdas {according!r}: kies registratietijd of feitelijke-datum")
            moment = parse_moment(as_of)
            history = replay_case(regie, number, moment, axis=axis) if number else None
            return web.render(
                "audit_zaak.html",
                **web.frame(
                    regie, session, title="Geschiedenis van een casus", nav="geschiedenis", history=history,
                    as_of=as_of or "", number=number, according=according,
                ),
            )  # fmt: skip

        return await web.page(request, "audit.replay", work)

    async def bundle(request: Request) -> Response:
        def work(regie: Session, session: WebSession, form: FormData | None) -> Response:
            made = case_bundle(regie, str((form or {}).get("zaak", "")).strip()[:64])
            body = json.dumps(made.bundle, indent=1, ensure_ascii=False) + "\n"
            return Response(
                body.encode("utf-8"),
                media_type="application/json",
                headers={
                    "Content-Disposition": f'attachment; filename="bundel-{made.case}.json"',
                    "Cache-Control": "no-store",
                },
            )

        return await web.page(request, "audit.bundle", work)

    async def access(request: Request) -> Response:
        case = request.query_params.get("zaak", "").strip()[:64] or None
        user = request.query_params.get("gebruiker", "").strip()[:64] or None

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            rows = PrivacyReader(regie).access_log(case, user, MAX_LOG_ROWS)
            return web.render(
                "toegang.html",
                **web.frame(
                    regie, session, title="Toegangslogboek", nav="toegang", rows=rows[::-1], case=case or "",
                    user_filter=user or "", limit=MAX_LOG_ROWS,
                ),
            )  # fmt: skip

        return await web.page(request, "log.show", work)

    return [
        Route("/audit", overview, methods=["GET", "POST"]),
        Route("/audit/geschiedenis", replay),
        Route("/audit/bundel", bundle, methods=["POST"]),
        Route("/toegang", access),
    ]

"""The privacy officer's pages: the queue of requests, a request's file with its answer item by item,
the letter before and after it is issued, the disclosure trail per person, and finding a person.

The readers decide who may see what and log every read; these pages only show what they return.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from casusregie.adapters.render.letter_pdf import render_pdf
from casusregie.commands.outcome import failure_recorded
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.privacy_audit.request_views import (
    RIGHTS,
    decision_preview,
    decision_to_print,
    request_file,
    request_items,
    request_list,
)

if TYPE_CHECKING:
    from casusregie.adapters.web.app import Web
    from casusregie.adapters.web.sessions import WebSession

ACTIONS_BY_KIND = {
    "access": ["request.extend", "request.decide-access"],
    "rectification": ["request.extend", "request.rectify", "request.informed"],
    "erasure": ["request.extend", "request.erase", "request.informed"],
    "restriction": ["request.extend", "request.restrict", "request.informed"],
    "objection": ["request.extend", "request.object"],
}


def pdf(body: bytes, name: str, *, inline: bool) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{name}"', "Cache-Control": "no-store"},
    )


def routes(web: Web) -> list[Route]:
    async def queue(request: Request) -> Response:
        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            rows = request_list(regie)
            today = date.today().isoformat()
            for row in rows:
                row["overdue"] = row["status"] != "decided" and str(row["due_on"]) < today
            rows.sort(key=lambda r: (r["status"] == "decided", str(r["due_on"])))
            return web.render(
                "verzoeken.html", **web.frame(regie, session, title="Verzoeken", nav="verzoeken", rows=rows)
            )

        return await web.page(request, "request.list", work)

    async def one(request: Request) -> Response:
        reference = request.path_params["request"]

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            file = request_file(regie, reference)
            decided = file.get("decision") is not None
            items = request_items(regie, reference) if file["kind"] == "access" and not decided else []
            actions = [] if decided and file["kind"] == "access" else ACTIONS_BY_KIND.get(file["kind"], [])
            done = web.done_title(request)
            return web.render(
                "verzoek.html",
                **web.frame(
                    regie, session, title=f"Verzoek {reference}", nav="verzoeken", file=file, items=items,
                    actions=actions, decided=decided, done=done,
                ),
            )  # fmt: skip

        return await web.page(request, "request.show", work)

    async def preview(request: Request) -> Response:
        reference = request.path_params["request"]

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            decision, subjects = decision_preview(regie, reference, regie.actor.user_id, "privacyfunctionaris")
            with failure_recorded(regie, "request.preview", RIGHTS, Action.PRINT, None, subjects):
                body = render_pdf(decision)
            return pdf(body, f"voorbeeld-{decision.reference}.pdf", inline=True)

        return await web.page(request, "request.preview", work)

    async def letter(request: Request) -> Response:
        reference = request.path_params["request"]

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            decision, subjects = decision_to_print(regie, reference)
            with failure_recorded(regie, "request.letter", RIGHTS, Action.PRINT, None, subjects):
                body = render_pdf(decision)
            return pdf(body, f"besluit-{decision.reference}.pdf", inline=False)

        return await web.page(request, "request.letter", work)

    async def trail(request: Request) -> Response:
        wanted = {k: request.query_params.get(k, "").strip()[:64] for k in ("persoon", "zaak", "partner")}

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            entries: list[dict[str, Any]] = []
            if any(wanted.values()):
                entries = PrivacyReader(regie).trail(
                    person=wanted["persoon"] or None,
                    case=wanted["zaak"] or None,
                    organisation=wanted["partner"] or None,
                )
            return web.render(
                "verstrekkingen.html",
                **web.frame(
                    regie, session, title="Verstrekkingen", nav="verstrekkingen", entries=entries, wanted=wanted
                ),
            )

        return await web.page(request, "trail", work)

    async def find(request: Request) -> Response:
        """A name or a BSN is searched for with a POST: it never stands in a URL, nor in a proxy's log."""

        def work(regie: Session, session: WebSession, form: FormData | None) -> Response:
            found: list[dict[str, Any]] | None = None
            error = ""
            sent = {k: str((form or {}).get(k, "")).strip()[:200] for k in ("naam", "geboren", "bsn")}
            if form is not None:
                try:
                    born = date.fromisoformat(sent["geboren"]) if sent["geboren"] else None
                except ValueError:
                    born, error = None, "Geef de geboortedatum als dag, maand en jaar."
                if not error:
                    try:
                        found = PrivacyReader(regie).find(sent["naam"] or None, born, sent["bsn"] or None)
                    except ValidationFailed as exc:
                        error = str(exc)
            return web.render(
                "personen.html",
                422 if error else 200,
                **web.frame(
                    regie, session, title="Persoon zoeken", nav="personen", found=found, error=error, sent=sent
                ),
            )

        return await web.page(request, "person.find", work)

    return [
        Route("/verzoeken", queue),
        Route("/verzoeken/{request}", one),
        Route("/verzoeken/{request}/voorbeeld.pdf", preview),
        Route("/verzoeken/{request}/besluit.pdf", letter),
        Route("/verstrekkingen", trail),
        Route("/personen", find, methods=["GET", "POST"]),
    ]

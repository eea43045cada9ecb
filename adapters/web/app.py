"""The web application: server-rendered pages in Dutch on the same commands and reads as the CLI and the API.

Mounted beside ``/api/v1`` by ``regie serve`` when the config has a ``[web]`` section. Every page
runs as one API call does: the signed-in user's session on the shared store, in its turn
(``Service.run``); every read of personal data is logged by the same readers, with the web
session as the authentication. Forms work without JavaScript; every POST carries the
session's CSRF token.
"""

from __future__ import annotations

import base64
import hmac
import logging
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from casusregie.adapters.db_errors import is_database_error
from casusregie.adapters.http.clients import client_address
from casusregie.adapters.http.operations import OPERATIONS, Operation
from casusregie.adapters.http.problems import status_of
from casusregie.adapters.http.service import Busy, Caller, Service
from casusregie.adapters.http.settings import ApiSettings
from casusregie.adapters.http.tokens import ProviderUnavailable
from casusregie.adapters.render.letter_service import write_case_letter
from casusregie.adapters.web import audit_pages, forms, manage_pages, privacy_pages
from casusregie.adapters.web.labels import DEADLINES, ROLES, TITLES, WORK_KINDS, dutch_date, label, month, task, value
from casusregie.adapters.web.oidc import PendingSignIn, RelyingParty, SignInFailed
from casusregie.adapters.web.sessions import Expired, TooManySignIns, WebSession, WebSessions
from casusregie.adapters.web.settings import CALLBACK, SIGNED_OUT, WebSettings
from casusregie.commands import documents
from casusregie.commands.letters import LetterRequest
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.document import CEILING_BYTES
from casusregie.domain.errors import AccessDenied, NotFound, RegieError
from casusregie.domain.roles import Authentication, Role
from casusregie.projections.conference_view import conference_view
from casusregie.projections.reader import Reader

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "regie_sessie"  # behind https with the __Host- prefix: no other (sub)domain can set it
SIGN_IN_COOKIE = "regie_aanmelding"
BY_NAME = {op.command.name: op for op in OPERATIONS}
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' {provider}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
log = logging.getLogger("casusregie.web")

MENUS = {
    Role.REGISSEUR: [("werkvoorraad", "/werkvoorraad", "Werkvoorraad"), ("zaken", "/zaken", "Casussen"),
                     ("aanmelden", "/acties/case.refer", "Aanmelden"), ("personen", "/personen", "Persoon zoeken"),
                     ("overleg", "/acties/overleg.plan", "Casusoverleg plannen"), ("zoeken", "/zoeken", "Zoeken"),
                     ("rapportage", "/rapportage", "Rapportage")],
    Role.PARTNER: [("werkvoorraad", "/werkvoorraad", "Werkvoorraad"), ("zaken", "/zaken", "Casussen"),
                   ("aanmelden", "/acties/case.refer", "Aanmelden"), ("zoeken", "/zoeken", "Zoeken")],
    Role.MANAGER: [("werkvoorraad", "/werkvoorraad", "Werkvoorraad"), ("zaken", "/zaken", "Casussen"),
                   ("rapportage", "/rapportage", "Caseload en rapportage")],
    Role.PRIVACY_OFFICER: [("verzoeken", "/verzoeken", "Verzoeken"),
                           ("werkvoorraad", "/werkvoorraad", "Termijnen"),
                           ("personen", "/personen", "Persoon zoeken"),
                           ("verstrekkingen", "/verstrekkingen", "Verstrekkingen"),
                           ("toegang", "/toegang", "Toegangslogboek"),
                           ("wissen", "/acties/person.erase", "Persoon wissen")],
    Role.AUDITOR: [("audit", "/audit", "Controle"), ("geschiedenis", "/audit/geschiedenis", "Geschiedenis"),
                   ("toegang", "/toegang", "Toegangslogboek"), ("gebruikers", "/gebruikers", "Gebruikers")],
    Role.BEHEERDER: [("gebruikers", "/gebruikers", "Gebruikers")],
}  # fmt: skip
HOMES = {
    Role.REGISSEUR: "/werkvoorraad",
    Role.PARTNER: "/werkvoorraad",
    Role.MANAGER: "/werkvoorraad",
    Role.PRIVACY_OFFICER: "/verzoeken",
    Role.AUDITOR: "/audit",
    Role.BEHEERDER: "/gebruikers",
}
HORIZONS = ("7", "14", "30", "90")  # days ahead the worklist looks

# What a case director finds among the actions of a case file, by the case's status (the command still
# decides who may, and when: this only keeps what cannot apply now out of the way).
# fmt: off
PROBLEMS = ["case.note", "case.add-person", "case.problem-add", "case.problem-update", "case.problem-resolve"]
INTAKE = ["case.assign", "case.add-member", *PROBLEMS, "case.consent", "case.corporation-consent-request",
          "case.assess", "case.home-visit", "case.take-on", "case.decline", "info.request", "case.involve",
          "meeting.schedule", "meeting.held", "case.escalate", "case.escalation-outcome", "document.attach",
          "document.withdraw"]
DIRECTING = ["case.assign", "case.add-member", *PROBLEMS, "case.consent", "case.letter", "case.no-letter",
             "info.request", "case.involve", "meeting.schedule", "meeting.held", "overleg.agenda", "overleg.discuss",
             "plan.goal", "plan.measure",
             "plan.progress", "plan.reschedule", "plan.revise", "plan.agree", "plan.evaluate", "case.escalate",
             "case.escalation-outcome", "case.close", "document.attach", "document.withdraw"]
# fmt: on
DIRECTOR_ACTIONS = {
    "referred": INTAKE,
    "taken-on": DIRECTING,
    "declined": ["case.note", "case.reopen"],
    "closed": ["case.note", "case.aftercare", "case.reopen"],
}


def case_actions(role: Role, organisation: str, view: dict[str, Any]) -> list[Operation]:
    """The actions the case file offers this user now."""
    if role == Role.REGISSEUR:
        return [BY_NAME[name] for name in DIRECTOR_ACTIONS.get(str(view.get("status")), [])]
    names: list[str] = []
    if role == Role.PARTNER:
        if any(r.get("partner") == organisation and r.get("status") == "open" for r in view.get("requests") or []):
            names += ["info.disclose", "info.decline"]
        measures = (view.get("plan") or {}).get("measures") or []
        if any(m.get("owner") == organisation and m.get("status") in (None, "agreed", "started") for m in measures):
            names.append("plan.progress")
        asked = view.get("corporation_consent") or {}
        if asked.get("corporation") == organisation and asked.get("requested_on") and asked.get("answer") is None:
            names.append("case.corporation-consent")
    elif role == Role.MANAGER:
        names.append("case.assign")  # doorzettingsmacht: any case to any director
        if any(not e.get("resolved_on") for e in view.get("escalations") or []):
            names.append("case.escalation-outcome")
    return [BY_NAME[name] for name in names]


class Stylesheets(StaticFiles):
    """The static files, which hold nothing personal: a browser keeps them (every other answer is no-store)."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


class Page(Exception):
    """A finished answer raised from deep inside a page (a redirect, a refusal page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


class Web:
    def __init__(self, service: Service, api: ApiSettings, web: WebSettings) -> None:
        self.service = service
        self.settings = web
        self.rp = RelyingParty(api, web)
        self.sessions = WebSessions(
            service.store.db, idle_seconds=web.session_idle_minutes * 60, max_seconds=web.session_max_hours * 3600
        )
        self.sessions.create_table()
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True), trim_blocks=True
        )
        self.env.filters.update(datum=dutch_date, maand=month, waarde=value, label=label, taak=task)
        self.env.globals.update(ROLES=ROLES, TITLES=TITLES, DEADLINES=DEADLINES, WORK_KINDS=WORK_KINDS)
        self.csp = CSP.format(provider=api.issuer)
        prefix = "__Host-" if web.secure else ""
        self.session_cookie = prefix + SESSION_COOKIE
        self.sign_in_cookie = prefix + SIGN_IN_COOKIE

    # --- rendering ------------------------------------------------------------------------------

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        headers = {"Content-Security-Policy": self.csp, "Cache-Control": "no-store"}
        return HTMLResponse(html, status_code=status, headers=headers)

    def problem_page(self, status: int, title: str, message: str, **context: Any) -> HTMLResponse:
        return self.render("probleem.html", status, title=title, message=message, **context)

    def forget(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.settings.secure, httponly=True, samesite="lax")

    def cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", secure=self.settings.secure, httponly=True, samesite="lax"
        )

    # --- the frame of every signed-in page ------------------------------------------------------------

    async def in_turn(self, run: Callable[[], Response]) -> Response:
        """``run`` in its turn on the store; whatever goes wrong is a page, never a trace."""
        try:
            return await self.service.run(run)
        except Busy as exc:
            return self.problem_page(503, "Even geduld", str(exc))
        except Exception as exc:
            if is_database_error(exc):
                return self.problem_page(
                    503, "Niet beschikbaar", "De opslag is nu niet te gebruiken; probeer het later."
                )
            reference = uuid.uuid4().hex[:12]
            log.error("internal error %s: %s", reference, type(exc).__name__, exc_info=exc)
            return self.problem_page(500, "Er ging iets mis", f"Er ging iets mis (referentie {reference}).")

    async def page(
        self, request: Request, attempt: str, work: Callable[[Session, WebSession, FormData | None], Response]
    ) -> Response:
        if request.method == "GET" and request.headers.get("sec-fetch-site") == "cross-site":
            # A link on another site: nothing is read in the user's name until they choose to go on here.
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return self.render("doorgaan.html", title="Doorgaan", target=_local(here))
        form = await request.form(max_files=1, max_fields=200) if request.method == "POST" else None
        cookie = request.cookies.get(self.session_cookie, "")

        def run() -> Response:
            try:
                session = self.sessions.find(cookie)
            except Expired:
                response = self.problem_page(
                    401,
                    "Sessie verlopen",
                    "U was een tijd niet actief en bent afgemeld. Meld u opnieuw aan.",
                    sign_in=_sign_in_link(request),
                )
                self.forget(response, self.session_cookie)
                return response
            if session is None:
                return RedirectResponse(_sign_in_link(request), status_code=303)
            if form is not None and not same(form.get("csrf"), session.csrf):
                return self.problem_page(
                    403,
                    "Formulier geweigerd",
                    "Dit formulier komt niet uit uw sessie (geen geldig CSRF-token). Er is niets gedaan.",
                )
            caller = Caller(Authentication(session.subject, session.issuer, session.reference, client_address(request)))
            try:
                with self.service.session(caller, attempt) as regie:
                    return work(regie, session, form)
            except Page as done:
                return done.response
            except AccessDenied as exc:
                return self.problem_page(403, "Geen toegang", str(exc), logged=True)
            except NotFound as exc:
                return self.problem_page(404, "Niet gevonden", str(exc))
            except Busy as exc:
                return self.problem_page(503, "Even geduld", str(exc))
            except RegieError as exc:  # a reference that does not fit, a date that cannot be read: the user's input
                return self.problem_page(status_of(exc), "Dat kan niet", str(exc))

        return await self.in_turn(run)

    def frame(self, regie: Session, session: WebSession, **context: Any) -> dict[str, Any]:
        actor = regie.actor
        return {
            "menu": MENUS.get(actor.role, []),
            "user": actor.user_id,
            "role": str(actor.role),
            "organisation": actor.organisation,
            "csrf": session.csrf,
            "today": date.today(),
            **context,
        }

    # --- signing in and out ------------------------------------------------------------------------------

    # The provider is asked (discovery, the token endpoint, its keys) outside the store's turn, so that a slow
    # provider holds up only the sign-in that waits for it, not every request of the worker.

    async def sign_in(self, request: Request) -> Response:
        pending = PendingSignIn.new(_local(request.query_params.get("next", "/")))
        try:
            target = await run_in_threadpool(self.rp.authorization_url, pending)
        except ProviderUnavailable as exc:
            return self.problem_page(503, "Aanmelden lukt nu niet", f"De identiteitsprovider antwoordt niet ({exc}).")
        address = client_address(request)

        def run() -> Response:
            try:
                cookie = self.sessions.start_sign_in(pending, address)
            except TooManySignIns as exc:
                return self.problem_page(503, "Aanmelden lukt nu niet", str(exc))
            response = RedirectResponse(target, status_code=303)
            self.cookie(response, self.sign_in_cookie, cookie, 600)
            return response

        return await self.in_turn(run)

    async def callback(self, request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if len(v) <= 4096}
        cookie = request.cookies.get(self.sign_in_cookie, "")
        earlier = request.cookies.get(self.session_cookie, "")
        taken: list[PendingSignIn | None] = []

        def take() -> Response:
            taken.append(self.sessions.take_sign_in(cookie))
            return Response(status_code=204)

        answer = await self.in_turn(take)
        if not taken:
            return answer  # the store could not be used: its page says so
        pending = taken[0]
        if pending is None:
            return self.problem_page(
                400,
                "Aanmelden niet gelukt",
                "Deze aanmelding is niet in deze browser begonnen of duurde te lang.",
                sign_in="/aanmelden",
            )
        try:
            signed_in = await run_in_threadpool(self.rp.finish, pending, params)
        except SignInFailed as exc:
            return self.problem_page(400, "Aanmelden niet gelukt", str(exc), sign_in="/aanmelden")
        except ProviderUnavailable as exc:
            return self.problem_page(503, "Aanmelden lukt nu niet", str(exc))
        caller = Caller(Authentication(signed_in.subject, signed_in.issuer, "web:sign-in", client_address(request)))

        def run() -> Response:
            try:
                with self.service.session(caller, "web.sign-in"):
                    pass  # an unknown or deactivated account is refused (and logged) here, before any session exists
            except AccessDenied as exc:
                return self.problem_page(403, "Geen toegang", str(exc), logged=True)
            if earlier:
                self.sessions.close(earlier)  # whoever was signed in in this browser before is not any more
            response = RedirectResponse(pending.next_path, status_code=303)
            self.cookie(response, self.session_cookie, self.sessions.open(signed_in.subject, signed_in.issuer), None)
            self.forget(response, self.sign_in_cookie)
            return response

        return await self.in_turn(run)

    async def sign_out(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        cookie = request.cookies.get(self.session_cookie, "")
        refused: list[Response] = []

        def run() -> Response:
            try:
                session = self.sessions.find(cookie)
            except Expired:
                session = None
            if session is not None and not same(form.get("csrf"), session.csrf):
                refused.append(self.problem_page(403, "Formulier geweigerd", "Dit formulier komt niet uit uw sessie."))
            elif cookie:
                self.sessions.close(cookie)
            return Response(status_code=204)

        answer = await self.in_turn(run)
        if refused or answer.status_code != 204:
            return refused[0] if refused else answer
        try:
            target = await run_in_threadpool(self.rp.end_session_url) or SIGNED_OUT
        except ProviderUnavailable:
            target = SIGNED_OUT
        response = RedirectResponse(target, status_code=303)
        self.forget(response, self.session_cookie)
        return response

    async def signed_out(self, request: Request) -> Response:
        return self.render("afgemeld.html", title="Afgemeld")

    # --- pages -----------------------------------------------------------------------------------------

    @staticmethod
    def directors(regie: Session, operation: Operation) -> list[tuple[str, str]]:
        """The active case directors, as choices for a form's director field: for directors, who choose among
        their colleagues, and managers, who assign (staff data too: the read is logged)."""
        if "director" not in operation.command.model_fields or regie.actor.role not in (Role.REGISSEUR, Role.MANAGER):
            return []
        users = regie.app.setup().users
        regie.log_read("user.directors", operation.command.activity, Action.READ, None, [])
        return sorted(
            (u, str(d.get("team") or "")) for u, d in users.items() if d.get("role") == "regisseur" and d.get("active")
        )

    def done_title(self, request: Request) -> str | None:
        """The command a page was sent back to after (``?gedaan=``): its title, never text from the link."""
        return TITLES.get(request.query_params.get("gedaan", ""))

    async def home(self, request: Request) -> Response:
        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            return RedirectResponse(HOMES.get(regie.actor.role, "/werkvoorraad"), status_code=303)

        return await self.page(request, "web.home", work)

    async def worklist(self, request: Request) -> Response:
        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            if regie.actor.role in (Role.AUDITOR, Role.BEHEERDER):  # no worklist of their own: their start page
                return RedirectResponse(HOMES[regie.actor.role], status_code=303)
            query = request.query_params
            days = int(query["dagen"]) if query.get("dagen") in HORIZONS else 14
            everyone = query.get("iedereen") == "1" and regie.actor.role == Role.REGISSEUR
            items = Reader(regie).worklist(date.today(), days, everyone)
            kinds = sorted({str(i["kind"]) for i in items})
            kind = query.get("soort", "")
            shown = [
                i for i in items if (not kind or i["kind"] == kind) and (query.get("te-laat") != "1" or i["overdue"])
            ]
            filters = {"dagen": str(days), "soort": kind, "te-laat": query.get("te-laat") == "1", "iedereen": everyone}
            return self.render(
                "werkvoorraad.html",
                **self.frame(
                    regie, session, title="Werkvoorraad", nav="werkvoorraad", items=shown, kinds=kinds,
                    filters=filters, horizons=HORIZONS, overdue=sum(1 for i in items if i["overdue"]),
                    done=self.done_title(request),
                ),
            )  # fmt: skip

        return await self.page(request, "worklist", work)

    async def cases(self, request: Request) -> Response:
        closed = request.query_params.get("gesloten") == "1"

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            rows = Reader(regie).case_list(False, closed, limit=500)
            title = "Afgesloten casussen" if closed else "Casussen"
            return self.render(
                "zaken.html", **self.frame(regie, session, title=title, nav="zaken", rows=rows, closed=closed)
            )

        return await self.page(request, "case.list", work)

    async def case(self, request: Request) -> Response:
        number = request.path_params["case"]
        done = self.done_title(request)

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            view = Reader(regie).case(number)
            actions = case_actions(regie.actor.role, regie.actor.organisation, view)
            return self.render(
                "zaak.html",
                **self.frame(
                    regie, session, title=f"Casus {view['case']}", nav="zaken", case=view, actions=actions, done=done
                ),
            )

        return await self.page(request, "case.show", work)

    async def document(self, request: Request) -> Response:
        """A document's content as a download (a logged export, for who may read it)."""
        number, wanted = request.path_params["case"], request.path_params["document"]

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            fetched = documents.read_document(regie, number, wanted)
            name = f"{fetched.case_number}-{fetched.document.document_id}"
            return Response(
                fetched.content,
                media_type="application/octet-stream",
                headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
            )

        return await self.page(request, "document.get", work)

    async def letter(self, request: Request) -> Response:
        """A case letter as a PDF download (a POST from the case page, ``?soort=...``), as the CLI writes it."""
        number = request.path_params["case"]
        kind = request.query_params.get("soort", "")
        try:
            asked = LetterRequest(kind=kind, case=number)
        except ValidationError:
            return self.problem_page(404, "Niet gevonden", "Deze soort brief of deze casus bestaat niet.")

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            written = write_case_letter(regie, asked.model_copy(update={"signatory": regie.actor.user_id}))
            name = f"{kind}-{written.view['case']}.pdf"
            return Response(
                written.body,
                media_type="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
            )

        return await self.page(request, "case.letter", work)

    async def search(self, request: Request) -> Response:
        """Cases whose visible text matches (the CLI's `regie search`): the fields that matched, never the text."""
        text = request.query_params.get("q", "").strip()[:200] or None
        address = request.query_params.get("adres", "").strip()[:200] or None
        person = request.query_params.get("persoon", "").strip()[:200] or None

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            found = Reader(regie).search(text, address, person, 50) if (text or address or person) else None
            context = self.frame(
                regie, session, title="Zoeken", nav="zoeken", found=found, q=text or "", adres=address or "",
                persoon=person or "",
            )  # fmt: skip
            return self.render("zoeken.html", **context)

        return await self.page(request, "case.search", work)

    async def conference(self, request: Request) -> Response:
        reference = request.path_params["overleg"]
        done = self.done_title(request)

        def work(regie: Session, session: WebSession, _: FormData | None) -> Response:
            view = conference_view(regie, reference)
            actions = [BY_NAME["overleg.held"]] if view["held_on"] is None and regie.actor.role != Role.PARTNER else []
            return self.render(
                "overleg.html",
                **self.frame(
                    regie,
                    session,
                    title=f"Casusoverleg {view['overleg']}",
                    nav="zaken",
                    overleg=view,
                    actions=actions,
                    done=done,
                ),
            )

        return await self.page(request, "overleg.show", work)

    async def action(self, request: Request) -> Response:
        operation = BY_NAME.get(request.path_params["action"])
        if operation is None:
            return self.problem_page(404, "Niet gevonden", "Deze actie bestaat niet.")
        # A link fills in only what names the thing acted on (the case, the request, the item): never the
        # rest of a form, which a link from elsewhere could otherwise prepare for one careless click.
        given = {k: v for k, v in request.query_params.items() if k in operation.params.values()}

        def work(regie: Session, session: WebSession, form: FormData | None) -> Response:
            domains = list(regie.profile.life_domains)
            directors = self.directors(regie, operation)
            choices = forms.choices_of(regie.profile, directors)
            sent = {k: v for k, v in (form or {}).items() if isinstance(v, str)}
            sent |= uploaded(form)
            fixed = set(operation.params.values())
            fields = forms.fields_of(
                operation.command, sent or given, fixed=fixed, life_domains=domains, choices=choices
            )
            errors: list[forms.FieldError] = []
            if form is not None:
                data = forms.parse(operation.command, sent, life_domains=domains, choices=choices)
                try:
                    command = operation.command.model_validate(data)
                except ValidationError as exc:
                    errors = forms.errors_of(exc.errors(), fields)
                else:
                    try:
                        result = regie.execute(command)
                    except AccessDenied:
                        raise
                    except RegieError as exc:
                        errors = [forms.FieldError("", str(exc))]
                    else:
                        target = _after(operation, {**data, **result.data}, regie.actor.role)
                        # the page says which command was recorded, never text from the link (no message injection)
                        raise Page(RedirectResponse(f"{target}?gedaan={operation.command.name}", status_code=303))
            context = self.frame(
                regie,
                session,
                title=TITLES.get(operation.command.name, operation.command.name),
                operation=operation,
                fields=fields,
                errors=errors,
                errors_by={e.target: e.message for e in errors if e.target},
            )
            return self.render("actie.html", 422 if errors else 200, **context)

        return await self.page(request, operation.command.name, work)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.problem_page(404, "Niet gevonden", "Deze pagina bestaat niet.")


# An uploaded document is held in memory, never spooled to a temporary file on disk (a document is personal
# data and is stored only encrypted): the parser keeps a file in memory up to the ceiling of a document's size,
# and the request body limit of the service bounds what can arrive at all.
MultiPartParser.spool_max_size = CEILING_BYTES + 1


def uploaded(form: FormData | None) -> dict[str, str]:
    """A file field of the form, as the command takes it: base64 (an empty file field is no file)."""
    found: dict[str, str] = {}
    for name, part in (form or {}).items():
        if name in forms.FILE_FIELDS and isinstance(part, UploadFile):
            content = part.file.read(CEILING_BYTES + 1)
            if content:
                found[name] = base64.b64encode(content).decode("ascii")
    return found


def _after(operation: Operation, data: dict[str, Any], role: Role) -> str:
    """Where a recorded command sends the browser: the page of what it changed, where this user may see it."""
    if role == Role.MANAGER and operation.command.name == "case.assign":
        return "/werkvoorraad"  # a manager sees a case file only once it is escalated
    if operation.tag == "users":
        return "/gebruikers"
    if operation.tag == "subject-requests" and data.get("request"):
        return f"/verzoeken/{quote(str(data['request']))}"
    if operation.tag == "case-conferences" and data.get("overleg"):
        return f"/overleggen/{quote(str(data['overleg']))}"
    if data.get("case"):
        return f"/zaken/{quote(str(data['case']))}"
    return "/"


def same(given: object, expected: str) -> bool:
    """A secret compared in constant time; anything but the same text (another type, other characters) is not."""
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _local(path: str) -> str:
    """A path on this site to return to after signing in; anything else (another site) becomes the start page."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(ord(c) < 0x21 for c in path):
        return "/"
    return path[:512]


def _sign_in_link(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/aanmelden?next=" + quote(_local(here) if request.method == "GET" else "/")


def action_link(operation: Operation, **values: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in values.items() if v)
    return f"/acties/{operation.command.name}" + (f"?{query}" if query else "")


def create_web(service: Service, api: ApiSettings, web: WebSettings, proxies: list[Any]) -> Starlette:
    pages = Web(service, api, web)
    pages.env.globals.update(action_link=action_link, BY_NAME=BY_NAME)
    routes = [
        Route("/", pages.home),
        Route("/aanmelden", pages.sign_in),
        Route(CALLBACK, pages.callback),
        Route("/afmelden", pages.sign_out, methods=["POST"]),
        Route(SIGNED_OUT, pages.signed_out),
        Route("/werkvoorraad", pages.worklist),
        Route("/zaken", pages.cases),
        Route("/zaken/{case}", pages.case),
        Route("/acties/{action}", pages.action, methods=["GET", "POST"]),
        Route("/overleggen/{overleg}", pages.conference),
        Route("/zaken/{case}/stukken/{document}", pages.document),
        Route("/zaken/{case}/brief", pages.letter, methods=["POST"]),  # writing a letter for partners is recorded
        Route("/zoeken", pages.search),
        *privacy_pages.routes(pages),
        *audit_pages.routes(pages),
        *manage_pages.routes(pages),
        # Stylesheets only: compressed (a page's HTML is not, since it holds the CSRF token beside text a link
        # can put there, which BREACH would measure) and kept by the browser for a day.
        Mount("/static", GZipMiddleware(Stylesheets(directory=HERE / "static"), minimum_size=1024), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: pages.not_found})
    app.state.proxies = proxies  # the API's trusted proxies: client addresses are worked out alike
    return app

"""The routes of ``/api/v1``: commands generated from the operations table, and the reads.

Each route authenticates the caller, opens their session and hands over to the same code
the CLI calls (``Session.execute`` for commands, ``Reader`` and the privacy readers for
reads). Nothing here decides who may do what.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from casusregie.adapters.auditing import case_bundle, verification
from casusregie.adapters.http.clients import client_address
from casusregie.adapters.http.operations import OPERATIONS, Operation, body_model
from casusregie.adapters.http.problems import PROBLEM_JSON, Problem, one_line
from casusregie.adapters.http.report_model import PeriodReport
from casusregie.adapters.http.service import Caller, Service
from casusregie.adapters.http.tokens import InvalidToken, KeysNeeded, TokenValidator
from casusregie.adapters.render.letter_pdf import render_pdf
from casusregie.commands import documents
from casusregie.commands.base import ISO_DAY, Command, Input, Result
from casusregie.commands.outcome import failure_recorded
from casusregie.commands.session import Session
from casusregie.commands.users import user_directory
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.roles import Authentication
from casusregie.domain.subject_request import RESTRICTION_GROUNDS
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.privacy_audit.replay import diff_case, parse_moment, replay_case
from casusregie.privacy_audit.request_views import decision_to_print, request_file, request_items, request_list
from casusregie.projections.conference_view import conference_view
from casusregie.projections.reader import MAX_HORIZON_DAYS, Reader

REF = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"  # case numbers, person, request, measure and meeting references
USER = r"^[a-z0-9][a-z0-9._-]{1,63}$"  # user ids (as domain.setup allows them)
ITEM = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"  # items of an access answer, e.g. data:name, disclosure:R1:2
PATTERNS = {"user": USER, "item": ITEM}
MAX_PAGE = 500
log = logging.getLogger("casusregie.http")


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not ISO_DAY.fullmatch(value):
        raise ValueError("a date is written YYYY-MM-DD")  # not a Unix time, as pydantic would read "0"
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
RestrictionGround = Literal[tuple(RESTRICTION_GROUNDS)]  # type: ignore[valid-type]
bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="An access token of the identity provider.")


class Answer(BaseModel):
    """What a command reports: one line for people, and the references it made."""

    model_config = ConfigDict(extra="allow")
    message: str


class Page(BaseModel):
    """One page of a list; ``next`` is the cursor of the following page (absent on the last)."""

    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]]
    next: str | None = None


# --- authentication -----------------------------------------------------------------------


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    """The authenticated caller (401 unless the token is valid).

    Checked on the event loop (a signature check, well under a millisecond) unless the
    provider's keys must be fetched, which is done in a worker thread.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken("no bearer token")
    validator: TokenValidator = request.app.state.validator
    try:
        verified = validator.verify(credentials.credentials, may_fetch=False)
    except KeysNeeded:
        verified = await run_in_threadpool(validator.verify, credentials.credentials)
    return Caller(Authentication(verified.subject, verified.issuer, verified.token_id, client_address(request)))


CallerDep = Annotated[Caller, Depends(caller)]


def in_its_turn(work: Callable[..., Any], *, inline: bool = False) -> Callable[..., Any]:
    """The endpoint ``work`` run by ``Service.run`` in its turn among the worker's requests: on the store
    thread, while the event loop goes on reading requests and checking tokens, or (``inline``, for commands)
    on the loop itself. Its signature stays ``work``'s, which FastAPI reads for the parameters and the OpenAPI
    document."""

    @functools.wraps(work)
    async def endpoint(**values: Any) -> Any:
        request = next(v for v in values.values() if isinstance(v, Request))  # every such endpoint takes one
        service: Service = request.app.state.service
        return await service.run(functools.partial(work, **values), inline=inline)

    return endpoint


@contextmanager
def session_for(request: Request, who: Caller, attempt: str) -> Iterator[Session]:
    service: Service = request.app.state.service
    with service.session(who, attempt) as session:
        yield session


# --- commands -----------------------------------------------------------------------------


def _answer(result: Result, alerts: list[str]) -> dict[str, Any]:
    data = {k: v for k, v in result.data.items() if k not in ("message", "notes")}
    notes = [a for a in alerts if not a.startswith("ALARM")]  # alarms are for the operator's log, not the caller
    return {"message": result.message, **data, **({"notes": notes} if notes else {})}


def _version(if_match: str | None) -> int | None:
    """The case version an ``If-Match`` names (``"12"``); ``*`` asks nothing."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = re.fullmatch(r'\s*(?:W/)?"(\d{1,12})"\s*', if_match)
    if match is None:
        raise ValidationFailed('If-Match takes the ETag of the case as read, such as "12"')
    return int(match.group(1))


def _request_id(who: Caller, key: str | None) -> str | None:
    """The caller's Idempotency-Key in their own namespace: keys of different people never meet, so no
    one learns whether a key was used, or blocks another's command by taking its key first."""
    if key is None:
        return None
    auth = who.authentication
    owner = hashlib.sha256(f"{auth.issuer}\n{auth.subject}".encode()).hexdigest()[:16]
    return f"api:{owner}:{key}"


def command_endpoint(operation: Operation) -> Callable[..., Response]:
    body_type = body_model(operation)
    command_type = operation.command

    required = any(f.is_required() for f in body_type.model_fields.values())

    def endpoint(
        http_request: Request, who: Caller, body: Any, if_match: str | None, idempotency_key: str | None, **path: str
    ) -> Response:
        given = {} if body is None else body.model_dump(exclude_unset=True)
        given.update({operation.params[p]: v for p, v in path.items()})
        try:
            command: Command = command_type.model_validate(given)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        expected = _version(if_match) if operation.on_case else None
        with session_for(http_request, who, command.name) as session:
            session.expected_version = expected
            result = session.execute(command, request_id=_request_id(who, idempotency_key))
            alerts = list(session.app.alerts)
            version = session.case_version
        headers = {}
        if operation.on_case and version is not None:
            headers["ETag"] = f'"{version}"'  # the case as this command left it: the next If-Match
        if operation.status == 201 and command_type.name == "case.refer" and "case" in result.data:
            headers["Location"] = f"{http_request.scope.get('root_path', '')}/api/v1/cases/{result.data['case']}"
        if any(a.startswith("note: request ") for a in alerts):
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(_answer(result, alerts), status_code=operation.status, headers=headers)

    parameters = [
        inspect.Parameter("http_request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("who", inspect.Parameter.KEYWORD_ONLY, annotation=CallerDep),
        inspect.Parameter(
            "body",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=body_type if required else body_type | None,
            default=Body(... if required else None, description=command_type.__doc__),
        ),
        inspect.Parameter(
            "if_match",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str | None,
            default=Header(
                None,
                alias="If-Match",
                max_length=40,
                pattern=r'^\s*(\*|(W/)?"[0-9]{1,12}")\s*$',
                description="the ETag of the case as last read; 412 if it has changed since",
                include_in_schema=operation.on_case,
            ),
        ),
        inspect.Parameter(
            "idempotency_key",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=str | None,
            default=Header(
                None,
                alias="Idempotency-Key",
                max_length=100,
                pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$",
                description="a retry with the same key and body gets the first answer; nothing is done twice",
            ),
        ),
        *(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str,
                default=Path(pattern=PATTERNS.get(name, REF), max_length=128, description=f"the {name}'s reference"),
            )
            for name in operation.params
        ),
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = operation.operation_id.replace("-", "_")
    endpoint.__doc__ = command_type.__doc__
    return in_its_turn(endpoint, inline=True)  # a command's store work is short


# --- pagination ---------------------------------------------------------------------------


def _cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


MAX_POSITION = 10**9


def _after(cursor: str | None, shape: tuple[type, ...] | None = None) -> list[Any] | None:
    """The sort key a cursor names, of the shape this list's keys have (else 422, never a guess)."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        key = None
    if (
        not isinstance(key, list)
        or not all(type(k) in (str, int) for k in key)
        or any(type(k) is int and not 0 <= k < MAX_POSITION for k in key)
        or (shape is not None and tuple(type(k) for k in key) != shape)
    ):
        raise ValidationFailed("cursor is not one this API handed out; start again without it")
    return key


def page(
    items: list[dict[str, Any]], key: Callable[[dict[str, Any]], list[Any]], cursor: str | None, limit: int
) -> Page:
    """Items in a stable order, after the cursor: a row added or removed elsewhere shifts no page."""

    def sort_key(item: dict[str, Any]) -> list[Any]:
        return ["" if value is None else value for value in key(item)]

    ordered = sorted(items, key=sort_key)
    shape = tuple(type(v) for v in sort_key(ordered[0])) if ordered else None
    after = _after(cursor, shape)
    if after is not None:
        ordered = [item for item in ordered if sort_key(item) > after]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return Page(items=chunk, next=_cursor(sort_key(chunk[-1])) if more and chunk else None)


Cursor = Annotated[str | None, Query(max_length=512, description="the `next` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")]


# --- reads --------------------------------------------------------------------------------


def register(app: FastAPI, prefix: str) -> None:
    for operation in OPERATIONS:
        app.add_api_route(
            prefix + operation.path,
            command_endpoint(operation),
            methods=["POST"],
            status_code=operation.status,
            response_model=Answer,
            tags=[operation.tag],
            operation_id=operation.operation_id,
            summary=(operation.command.__doc__ or operation.command.name).strip().splitlines()[0],
        )
    from casusregie.adapters.http import letters  # it builds on this module's helpers

    _reads(app, prefix)
    _more_reads(app, prefix)
    letters.register(app, prefix)
    _health(app, prefix)


def _reads(app: FastAPI, prefix: str) -> None:
    @app.get(prefix + "/cases", tags=["cases"], operation_id="case-list", response_model=Page)
    @in_its_turn
    def list_cases(
        request: Request,
        who: CallerDep,
        all_cases: Annotated[bool, Query(alias="all", description="directors: every case")] = False,
        closed: Annotated[bool, Query(description="include closed and declined cases")] = False,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page:
        """The cases you may see (open ones; `closed=true` for all)."""
        with session_for(request, who, "case.list") as session:
            rows = Reader(session).case_list(all_cases, closed, after=_after(cursor, (str,)), limit=limit)
        # Only this page's households are read (and logged): a full page may be followed by an empty one.
        return Page(items=rows, next=_cursor([rows[-1]["case"]]) if len(rows) == limit else None)

    @app.get(prefix + "/cases/{case}", tags=["cases"], operation_id="case-show")
    @in_its_turn
    def show_case(
        request: Request,
        who: CallerDep,
        case: Annotated[str, Path(pattern=REF, max_length=64)],
        restriction_ground: Annotated[
            RestrictionGround | None, Query(alias="restrictionGround", description="a ground of art. 18(2) AVG")
        ] = None,
    ) -> JSONResponse:
        """The case file as you may see it; its `ETag` is the case's version, for `If-Match`."""
        with session_for(request, who, "case.show") as session:
            view = Reader(session).case(case, restriction_ground)
        return JSONResponse(view, headers={"ETag": f'"{view["version"]}"'})

    @app.get(prefix + "/cases/{case}/documents", tags=["cases"], operation_id="document-list")
    @in_its_turn
    def list_case_documents(
        request: Request, who: CallerDep, case: Annotated[str, Path(pattern=REF, max_length=64)]
    ) -> dict[str, Any]:
        """The documents of the case you may see (type, date, source, title; never the content)."""
        with session_for(request, who, "document.list") as session:
            return documents.list_documents(session, case)

    @app.get(
        prefix + "/cases/{case}/documents/{document}",
        tags=["cases"],
        operation_id="document-get",
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    @in_its_turn
    def get_case_document(
        request: Request,
        who: CallerDep,
        case: Annotated[str, Path(pattern=REF, max_length=64)],
        document: Annotated[str, Path(pattern=REF, max_length=64)],
    ) -> Response:
        """A document's content (logged as an export before it is sent)."""
        with session_for(request, who, "document.get") as session:
            fetched = documents.read_document(session, case, document)
        name = fetched.document.document_id
        return Response(
            fetched.content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{fetched.case_number}-{name}"'},
        )

    @app.get(prefix + "/case-conferences/{overleg}", tags=["case-conferences"], operation_id="overleg-show")
    @in_its_turn
    def show_conference(
        request: Request, who: CallerDep, overleg: Annotated[str, Path(pattern=REF, max_length=64)]
    ) -> dict[str, Any]:
        """A casusoverleg as you may see it: the table and the agenda (each case's minutes are on the case)."""
        with session_for(request, who, "overleg.show") as session:
            return conference_view(session, overleg)

    @app.get(prefix + "/worklist-items", tags=["cases"], operation_id="worklist", response_model=Page)
    @in_its_turn
    def worklist(
        request: Request,
        who: CallerDep,
        on: Annotated[Day | None, Query(alias="date", description="as of this date (default today)")] = None,
        horizon: Annotated[int, Query(ge=0, le=MAX_HORIZON_DAYS)] = 14,
        all_cases: Annotated[bool, Query(alias="all")] = False,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page:
        """What is due and overdue for you (werkvoorraad)."""
        with session_for(request, who, "worklist") as session:
            items = Reader(session).worklist(on or date.today(), horizon, all_cases)
        return page(items, lambda i: [i["due_on"], i["case"], i["kind"], i["ref"]], cursor, limit)

    @app.get(prefix + "/caseloads", tags=["management"], operation_id="caseload", response_model=Page)
    @in_its_turn
    def caseload(request: Request, who: CallerDep, cursor: Cursor = None, limit: Limit = 100) -> Page:
        """Open cases per director and status (no personal data)."""
        with session_for(request, who, "caseload") as session:
            rows = Reader(session).caseload()
        return page(rows, lambda r: [r["director"], r["team"]], cursor, limit)

    @app.get(prefix + "/period-reports", tags=["management"], operation_id="report", response_model=PeriodReport)
    @in_its_turn
    def report(
        request: Request,
        who: CallerDep,
        start: Annotated[Day, Query(alias="from")],
        end: Annotated[Day, Query(alias="to")],
    ) -> dict[str, Any]:
        """Figures for a period (counts only): referrals, decisions, closures by outcome and by the judgements
        of the neighbours and the partners, durations against the profile's result target, escalations,
        deadlines met and missed (data-subject requests included), overdue at the end."""
        if end < start:
            raise ValidationFailed("to lies before from")
        with session_for(request, who, "report") as session:
            return Reader(session).report(start, end)

    @app.get(prefix + "/disclosures", tags=["privacy"], operation_id="trail", response_model=Page)
    @in_its_turn
    def trail(
        request: Request,
        who: CallerDep,
        person: Annotated[str | None, Query(pattern=REF, max_length=64)] = None,
        case: Annotated[str | None, Query(pattern=REF, max_length=64)] = None,
        partner: Annotated[str | None, Query(pattern=REF, max_length=64)] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page:
        """The disclosure trail (verstrekkingen) of a person, a case or a partner organisation."""
        with session_for(request, who, "trail") as session:
            entries = PrivacyReader(session).trail(person=person, case=case, organisation=partner)
        # Keyed by what the entry is, not where it stands: an entry recorded later with an earlier date
        # must not shift the pages already handed out.
        return page(entries, lambda e: [e["on"], str(e["recorded_at"]), str(e["event"]), e["person"]], cursor, limit)

    @app.get(prefix + "/access-log-entries", tags=["privacy"], operation_id="log-show", response_model=Page)
    @in_its_turn
    def access_log(
        request: Request,
        who: CallerDep,
        case: Annotated[str | None, Query(pattern=REF, max_length=64)] = None,
        user: Annotated[str | None, Query(pattern=USER, max_length=64)] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page:
        """The internal access log with user identities (auditors, privacy officers), newest last."""
        with session_for(request, who, "log.show") as session:
            rows = PrivacyReader(session).access_log(case, user, 10_000)
        return page(rows, lambda r: [r["started_at"], r["trace_id"]], cursor, limit)

    @app.get(prefix + "/subject-requests", tags=["subject-requests"], operation_id="request-list", response_model=Page)
    @in_its_turn
    def subject_requests(request: Request, who: CallerDep, cursor: Cursor = None, limit: Limit = 100) -> Page:
        """Requests of data subjects with their deadlines (privacy officers)."""
        with session_for(request, who, "request.list") as session:
            rows = request_list(session)
        return page(rows, lambda r: [r["request"]], cursor, limit)

    @app.get(prefix + "/subject-requests/{request}", tags=["subject-requests"], operation_id="request-show")
    @in_its_turn
    def subject_request(
        http_request: Request, who: CallerDep, request: Annotated[str, Path(pattern=REF, max_length=64)]
    ) -> dict[str, Any]:
        """A request's file: steps, withholdings with ground and motivation, the decision."""
        with session_for(http_request, who, "request.show") as session:
            return request_file(session, request)

    @app.get(
        prefix + "/subject-requests/{request}/items",
        tags=["subject-requests"],
        operation_id="request-items",
        response_model=Page,
    )
    @in_its_turn
    def subject_request_items(
        http_request: Request,
        who: CallerDep,
        request: Annotated[str, Path(pattern=REF, max_length=64)],
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page:
        """The items of an access answer, with the ids to withhold or release."""
        with session_for(http_request, who, "request.items") as session:
            items = request_items(session, request)
        return page(items, lambda i: [i["item"]], cursor, limit)


#: The audit history's time axis: see privacy_audit/replay.py.
AxisQuery = Annotated[
    Literal["recorded", "business"],
    Query(
        description="which time counts: `recorded` (registratietijd: when entered; what the log held then) or "
        "`business` (feitelijke datum: the dates users gave; only the date of the moment counts)"
    ),
]


def _more_reads(app: FastAPI, prefix: str) -> None:
    @app.get(prefix + "/cases/{case}/history", tags=["audit"], operation_id="audit-replay")
    @in_its_turn
    def history(
        request: Request,
        who: CallerDep,
        case: Annotated[str, Path(pattern=REF, max_length=64)],
        as_of: Annotated[str | None, Query(alias="asOf", max_length=40, description="ISO date or date-time")] = None,
        axis: AxisQuery = "recorded",
        access: Annotated[bool, Query(description="also the case's access-log records")] = False,
    ) -> dict[str, Any]:
        """The case as it stood at a moment, and its history up to then (auditors); `axis` in the body says
        which time counted: `recorded` (registratietijd, default) or `business` (feitelijke datum)."""
        moment = parse_moment(as_of)
        with session_for(request, who, "audit.replay") as session:
            return replay_case(session, case, moment, axis=axis, with_access=access)

    @app.get(prefix + "/cases/{case}/changes", tags=["audit"], operation_id="audit-diff")
    @in_its_turn
    def changes(
        request: Request,
        who: CallerDep,
        case: Annotated[str, Path(pattern=REF, max_length=64)],
        start: Annotated[str, Query(alias="from", max_length=40)],
        end: Annotated[str, Query(alias="to", max_length=40)],
        axis: AxisQuery = "recorded",
        access: Annotated[bool, Query()] = False,
    ) -> dict[str, Any]:
        """What changed in the case between two moments (auditors), by `axis` as for the history."""
        t1, t2 = parse_moment(start), parse_moment(end)
        with session_for(request, who, "audit.diff") as session:
            return diff_case(session, case, t1, t2, axis=axis, with_access=access)

    @app.post(prefix + "/log-verifications", tags=["audit"], operation_id="audit-verify")
    @in_its_turn
    def log_verification(request: Request, who: CallerDep, full: Annotated[bool, Query()] = False) -> dict[str, Any]:
        """Check the log, the tree and the signed checkpoints now (auditors): the records added since the last
        verification, on the tree it found whole; with `full`, every record."""
        with session_for(request, who, "audit.verify") as session:
            return verification(session, full=full)

    @app.post(prefix + "/cases/{case}/audit-bundles", tags=["audit"], operation_id="audit-bundle")
    @in_its_turn
    def audit_bundle(
        request: Request, who: CallerDep, case: Annotated[str, Path(pattern=REF, max_length=64)]
    ) -> dict[str, Any]:
        """What an outside auditor needs to verify the case's records offline, proven against a checkpoint
        signed now (auditors; no personal data; `regie audit verify-bundle` checks it)."""
        with session_for(request, who, "audit.bundle") as session:
            return case_bundle(session, case).bundle

    @app.get(prefix + "/users", tags=["users"], operation_id="user-list", response_model=Page)
    @in_its_turn
    def user_list(request: Request, who: CallerDep, cursor: Cursor = None, limit: Limit = 100) -> Page:
        """Users, roles and identity-provider subjects (the beheerder and auditors)."""
        with session_for(request, who, "user.list") as session:
            rows = user_directory(session)
        return page(rows, lambda r: [r["user"]], cursor, limit)

    @app.get(prefix + "/profile", tags=["service"], operation_id="profile-show")
    @in_its_turn
    def profile(request: Request, who: CallerDep) -> dict[str, Any]:
        """The municipality profile this store runs under (no personal data)."""
        with session_for(request, who, "profile.show") as session:
            return session.profile.model_dump(mode="json")

    @app.post(prefix + "/person-searches", tags=["privacy"], operation_id="person-find", response_model=Page)
    @in_its_turn
    def person_search(request: Request, who: CallerDep, body: PersonSearch) -> Page:
        """Find a person by name and date of birth, or BSN, through the blind index (logged as a search).

        A POST, so that a name or a BSN never stands in a URL (and so in a proxy's log).
        """
        with session_for(request, who, "person.find") as session:
            found = PrivacyReader(session).find(body.name, body.born, body.bsn)
        return Page(items=found[:MAX_PAGE])

    @app.get(
        prefix + "/subject-requests/{request}/decision-letter",
        tags=["subject-requests"],
        operation_id="request-letter",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    @in_its_turn
    def decision_letter(
        http_request: Request, who: CallerDep, request: Annotated[str, Path(pattern=REF, max_length=64)]
    ) -> Response:
        """The issued decision on an access request, as the PDF letter (privacy officers; logged as a print)."""
        with session_for(http_request, who, "request.letter") as session:
            decision, subjects = decision_to_print(session, request)
            with failure_recorded(session, "request.letter", "rechten-betrokkenen", Action.PRINT, None, subjects):
                pdf = render_pdf(decision)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="besluit-{decision.reference}.pdf"'},
        )

    @app.get(prefix + "/ldv-records", tags=["privacy"], operation_id="log-export", response_model=Page)
    @in_its_turn
    def ldv_records(
        request: Request,
        who: CallerDep,
        since: Annotated[Day | None, Query()] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page:
        """The access log as Logboek Dataverwerkingen records (pseudonymised), oldest first."""
        after = _after(cursor, (int,))
        start = after[0] + 1 if after else 0
        with session_for(request, who, "log.export") as session:
            lines = PrivacyReader(session).ldv_lines(since)
            chunk = [json.loads(line) for line in itertools.islice(lines, start, start + limit + 1)]
        items = [dict(r, position=start + n) for n, r in enumerate(chunk[:limit])]
        more = len(chunk) > limit
        return Page(items=items, next=_cursor([items[-1]["position"]]) if more else None)


class PersonSearch(Input):
    """Search terms: a name with a date of birth, or a BSN."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    born: date | None = None
    bsn: str | None = Field(default=None, pattern=r"^[0-9]{8,9}$")


def _health(app: FastAPI, prefix: str) -> None:
    @app.get(prefix + "/health", tags=["service"], operation_id="health", response_model=dict[str, str])
    async def health() -> dict[str, str]:
        """The process answers (no authentication, no data)."""
        return {"status": "ok"}

    @app.get(prefix + "/readiness", tags=["service"], operation_id="readiness", response_model=dict[str, Any])
    def readiness(request: Request) -> JSONResponse:
        """The store and the key folder can be used, and the identity provider's keys were fetched."""
        service: Service = request.app.state.service
        problems = service.check_ready()
        try:
            request.app.state.validator.ready()
        except Exception as exc:  # the provider unreachable is "not ready", never a crash
            problems.append(one_line(str(exc)))
        if problems:
            # What is wrong goes to the server's log; the unauthenticated caller learns only that.
            for line in problems:
                log.warning("not ready: %s", line)
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": "Service Unavailable",
                    "status": 503,
                    "detail": "not ready: the store, the key folder or the identity provider cannot be used "
                    "(see the server log)",
                },
                status_code=503,
                media_type=PROBLEM_JSON,
            )
        return JSONResponse({"status": "ready"})


def validation_problem(exc: RequestValidationError) -> tuple[int, str]:
    """(status, one line) for a request that does not fit its schema."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "__root__"))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            return 400, "the body is not valid JSON; nothing was done"
        parts.append(f"{where}: {message}" if where else message)
    return 422, "; ".join(parts) + "; nothing was done"


# --- the OpenAPI document -----------------------------------------------------------------

ERRORS = {
    "400": "The request cannot be read",
    "401": "No valid access token",
    "403": "Refused (role, organisation or need-to-know); the refusal is logged",
    "404": "Unknown reference",
    "409": "The command does not fit the case's state, or someone changed it at the same time",
    "412": "The case changed since the ETag given in If-Match",
    "413": "The body is too large",
    "422": "Invalid input; nothing was done",
    "503": "The store or the identity provider cannot be used now",
}


def openapi_document(app: FastAPI, version: str) -> dict[str, Any]:
    """The generated document, with what the ADR ask of every operation spelled out."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
        contact=app.contact,
        license_info=app.license_info,
        servers=app.servers,
        tags=[
            {"name": "cases", "description": "Referral to closure (casusregie)"},
            {"name": "management", "description": "Caseload and period reports"},
            {"name": "privacy", "description": "Disclosure trail, person search and access log"},
            {"name": "audit", "description": "Replaying a case's history (auditors)"},
            {"name": "subject-requests", "description": "Requests of data subjects (AVG art. 15-21)"},
            {"name": "users", "description": "Users and their identity-provider subjects (beheer)"},
            {"name": "service", "description": "Health and readiness"},
        ],
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    headers = document["components"].setdefault("headers", {})
    headers["API-Version"] = {
        "description": "The full semantic version of this API",
        "schema": {"type": "string", "example": version},
    }
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own validation schema; ours is a problem body
            public = path.endswith(("/health", "/readiness"))
            codes = ["503"] if public else ["400", "401", "403", "404", "409", "413", "422", "503"]
            if method == "post" and "{case}" in path:
                codes.append("412")
            if not public:
                operation["security"] = [{"HTTPBearer": []}]
            for code in codes:
                responses[code] = {"description": ERRORS[code], "content": problem_content}
            for response in responses.values():
                response.setdefault("headers", {})["API-Version"] = {"$ref": "#/components/headers/API-Version"}
            etag = {"description": "the case's version, for If-Match", "schema": {"type": "string"}}
            if path.endswith("/cases/{case}") and method == "get":
                responses["200"]["headers"]["ETag"] = etag
            if method == "post" and "{case}" in path:
                for code in ("200", "201"):
                    if code in responses:
                        responses[code]["headers"]["ETag"] = etag
    app.openapi_schema = document
    return document

"""The API's rules, tried from outside: the design rules (ADR), the OpenAPI document, safe
retries and concurrent directors, pagination, and bad input that writes nothing."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import threading
import time
from typing import Any

import pytest
from api_client import ApiWorld, Caller, api_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios import refer, taken_on_case

from casusregie.adapters.http.app import create_app
from casusregie.adapters.http.openapi import COMMITTED, document
from casusregie.adapters.http.service import Busy, Service


def test_the_committed_openapi_document_is_the_one_the_code_serves(http_api: ApiWorld) -> None:
    api = http_api
    served = api.client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == document()
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == document(), "regenerate it: regie serve --openapi > adapters/http/openapi.json"
    assert committed["info"]["contact"]["email"]
    assert all(path.startswith("/api/v1/") for path in committed["paths"])


def test_every_answer_carries_the_api_version_and_no_store(http_api: ApiWorld) -> None:
    api = http_api
    anna = api.as_("anna")
    for response in (
        api.client.get("/api/v1/health"),
        api.client.get("/api/v1/cases"),  # 401
        anna.get("/cases/CNOSUCH"),  # 404
        anna.get("/nowhere"),  # 404 without a route
        api.client.put("/api/v1/cases", headers=anna.headers()),  # 405
        anna.post("/cases", {"bad": 1}),  # 422
    ):
        assert response.headers["API-Version"] == "1.0.0", response.request.url
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert set(response.json()) <= {"type", "title", "status", "detail", "instance"}


def test_no_trailing_slashes_and_only_the_methods_the_document_names(http_api: ApiWorld) -> None:
    api = http_api
    anna = api.as_("anna")
    assert anna.get("/cases/").status_code == 404  # no redirect either: /cases/ is not /cases
    for method in ("put", "delete", "patch"):
        assert getattr(api.client, method)("/api/v1/cases", headers=anna.headers()).status_code == 405


def test_cors_is_off_unless_configured(http_api: ApiWorld) -> None:
    api = http_api
    from fastapi.testclient import TestClient

    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in api.client.options("/api/v1/cases", headers=preflight).headers
    configured = api_settings(api.provider, cors_origins=("https://regie.gemeente.nl",))
    with TestClient(create_app(api.world.settings, configured)) as client:
        allowed = client.options("/api/v1/cases", headers=preflight | {"Origin": "https://regie.gemeente.nl"})
        refused = client.options("/api/v1/cases", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://regie.gemeente.nl"
    assert "access-control-allow-origin" not in refused.headers


def test_if_match_answers_412_when_the_case_moved_on_and_writes_nothing(api: ApiWorld) -> None:
    case = taken_on_case(api.world)
    anna, carla = api.as_("anna"), api.as_("carla")  # two directors of team west
    etag = anna.get(f"/cases/{case}").headers["ETag"]
    first = anna.post(
        f"/cases/{case}/goals", {"life_domain": "overlast", "description": "rust"}, headers={"If-Match": etag}
    )
    assert first.status_code == 201
    assert first.headers["ETag"] == f'"{int(etag.strip(chr(34))) + 1}"'  # the version the command made
    assert anna.get(f"/cases/{case}").headers["ETag"] == first.headers["ETag"]
    before = api.events()
    second = carla.post(
        f"/cases/{case}/goals", {"life_domain": "overlast", "description": "andere rust"}, headers={"If-Match": etag}
    )
    assert second.status_code == 412, second.text
    assert "read the case again" in second.json()["detail"]
    assert api.events() == before  # not even an access record: nothing was attempted on the case
    fresh = carla.get(f"/cases/{case}").headers["ETag"]
    assert fresh != etag
    headers = {"If-Match": fresh}
    goal = {"life_domain": "overlast", "description": "andere rust"}
    assert carla.post(f"/cases/{case}/goals", goal, headers=headers).status_code == 201
    assert anna.post(f"/cases/{case}/goals", goal, headers={"If-Match": "12 oops"}).status_code == 422


def test_an_idempotency_key_retry_gets_the_first_answer_and_writes_nothing(api: ApiWorld) -> None:
    case = taken_on_case(api.world)
    anna = api.as_("anna")
    body = {"life_domain": "overlast", "description": "rust in de straat"}
    headers = {"Idempotency-Key": "3f1c2a9e-goal-1"}
    first = anna.post(f"/cases/{case}/goals", body, headers=headers)
    assert first.status_code == 201
    before, domain = api.events(), api.domain_events()
    retry = anna.post(f"/cases/{case}/goals", body, headers=headers)
    assert retry.status_code == 201
    assert retry.json()["message"] == first.json()["message"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert (api.events(), api.domain_events()) == (before, domain)
    other = anna.post(f"/cases/{case}/goals", body | {"description": "iets anders"}, headers=headers)
    assert other.status_code == 422
    assert api.domain_events() == domain
    # Keys are per person: carla's same key is her own, carried out, and tells her nothing of anna's.
    by_someone_else = api.as_("carla").post(f"/cases/{case}/goals", body, headers=headers)
    assert by_someone_else.status_code == 201
    assert "Idempotent-Replayed" not in by_someone_else.headers
    assert api.domain_events() == domain + 1
    assert anna.post(f"/cases/{case}/goals", body, headers=headers).headers["Idempotent-Replayed"] == "true"


def test_pages_are_stable_while_cases_are_added(api: ApiWorld) -> None:
    for _ in range(5):
        refer(api.world, director="anna")
    anna = api.as_("anna")
    first = anna.get("/cases", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["next"]
    refer(api.world, director="anna")  # someone refers a case meanwhile
    seen = [c["case"] for c in first["items"]]
    cursor = first["next"]
    while cursor:
        page = anna.get("/cases", params={"limit": 2, "cursor": cursor}).json()
        seen += [c["case"] for c in page["items"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)), "no case twice"
    assert seen == sorted(seen)
    everything = [c["case"] for c in anna.get("/cases", params={"limit": 500}).json()["items"]]
    assert set(everything) - set(seen) <= {c for c in everything if c < seen[1]}  # only new cases before the cursor
    assert anna.get("/cases", params={"cursor": "bm90LWEtY3Vyc29y"}).status_code == 422
    assert anna.get("/cases", params={"limit": 0}).status_code == 422
    assert anna.get("/cases", params={"limit": 501}).status_code == 422


def test_a_page_logs_the_reads_of_the_households_on_it_only(api: ApiWorld) -> None:
    from casusregie.privacy_audit.queries import PrivacyReader

    for _ in range(3):
        refer(api.world, director="anna")
    api.as_("anna").get("/cases", params={"limit": 1})
    log = PrivacyReader(api.world.session("aud")).access_log(limit=1)
    listed = [r for r in PrivacyReader(api.world.session("aud")).access_log(limit=50) if r["name"] == "case.list"]
    assert len(listed[-1]["subjects"]) == 1, listed[-1]
    assert log


REFERRAL: dict[str, Any] = {
    "referring_org": "mitros",
    "referring_worker": "J. Jansen",
    "reason": "overlast",
    "problems": {"overlast": "lawaai"},
    "members": [{"name": "Karel de Vries", "birth_date": "1979-04-12"}],
}

BAD_BODIES: dict[str, tuple[Any, int]] = {
    "not JSON": (b"{nope", 400),
    "a list": ([1, 2], 422),
    "unknown field": (REFERRAL | {"admin": True}, 422),
    "wrong type": (REFERRAL | {"members": "Karel"}, 422),
    "invalid date": (REFERRAL | {"on": "2026-02-30"}, 422),
    "BSN failing the eleven-test": (
        REFERRAL | {"members": [{"name": "K", "birth_date": "1979-04-12", "bsn": "123456789"}]},
        422,
    ),
    "control character": (REFERRAL | {"reason": "over\x1blast"}, 422),
    "bidi override": (REFERRAL | {"referring_worker": "J.\u202eJansen"}, 422),
    "absurd length": (REFERRAL | {"reason": "x" * 100_000}, 422),
    "unknown partner": (REFERRAL | {"referring_org": "nobody"}, 422),
}


@pytest.mark.parametrize("case", list(BAD_BODIES), ids=list(BAD_BODIES))
def test_bad_input_is_a_4xx_problem_with_one_line_and_writes_nothing(http_api: ApiWorld, case: str) -> None:
    api = http_api
    body, status = BAD_BODIES[case]
    piet = api.as_("piet")
    before = api.events()
    if isinstance(body, bytes):
        response = api.client.post(
            "/api/v1/cases", content=body, headers=piet.headers({"Content-Type": "application/json"})
        )
    else:
        response = piet.post("/cases", body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert "\n" not in problem["detail"]
    assert "Traceback" not in response.text
    assert "Karel" not in problem["detail"]
    assert api.events() == before


def test_commands_in_the_wrong_state_or_on_unknown_ids_write_nothing_but_the_refusals(api: ApiWorld) -> None:
    case = refer(api.world, director="anna")
    anna = api.as_("anna")
    domain = api.domain_events()
    assert anna.post(f"/cases/{case}/close", {"outcome": "goals-met"}).status_code in (409, 422)
    assert anna.post("/cases/CNOSUCH/take-on", {}).status_code == 404
    assert anna.post(f"/cases/{case}/measures/MNOSUCH/progress", {"status": "done"}).status_code in (404, 409, 422)
    assert anna.post("/cases/..%2F..%2Fetc/take-on", {}).status_code in (404, 422)
    assert api.domain_events() == domain


def test_an_oversized_body_is_refused_before_it_is_read(http_api: ApiWorld) -> None:
    api = http_api
    piet = api.as_("piet")
    before = api.events()
    big = b'{"reason": "' + b"x" * (api.settings.max_body_bytes + 10) + b'"}'
    response = api.client.post("/api/v1/cases", content=big, headers=piet.headers({"Content-Type": "application/json"}))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert api.events() == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from([*REFERRAL, "on", "team", "director", "x"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.text(max_size=5), max_size=3)),
        max_size=6,
    )
)
def test_any_body_is_an_answer_never_a_server_error(http_api: ApiWorld, body: dict[str, Any]) -> None:
    api = http_api
    response = api.as_("piet").post("/cases", body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


def test_the_client_address_is_taken_from_a_trusted_proxy_only(http_api: ApiWorld) -> None:
    api = http_api
    from fastapi.testclient import TestClient

    from casusregie.privacy_audit.queries import PrivacyReader

    def last_address(client: TestClient, forwarded: str) -> str:
        Caller(client, api.as_("anna").token).get("/worklist-items", headers={"X-Forwarded-For": forwarded})
        rows = PrivacyReader(api.world.session("aud")).access_log(limit=2)
        return next(r for r in reversed(rows) if r["name"] == "worklist")["authentication"]["client_address"]

    assert last_address(api.client, "203.0.113.9") == "testclient"  # no proxy trusted: the header is ignored
    trusting = api_settings(api.provider, trusted_proxies=("127.0.0.0/8",))
    with TestClient(create_app(api.world.settings, trusting), client=("127.0.0.1", 5000)) as client:
        assert last_address(client, "198.51.100.7, 203.0.113.9") == "203.0.113.9"
        assert last_address(client, "not-an-address") == "127.0.0.1"
        # a forged first line, then the proxy's own line: the proxy's is the one that counts
        forged = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "203.0.113.9")]
        client.get("/api/v1/worklist-items", headers=[("Authorization", f"Bearer {api.as_('anna').token}"), *forged])
        rows = PrivacyReader(api.world.session("aud")).access_log(limit=2)
        assert next(r for r in reversed(rows) if r["name"] == "worklist")["authentication"]["client_address"] == (
            "203.0.113.9"
        )


def test_user_ids_with_dots_and_answer_items_with_colons_are_reachable(http_api: ApiWorld) -> None:
    """Path patterns follow what the domain allows: user ids like mitros.jan, item ids like data:name."""
    api = http_api
    admin = api.as_("admin")
    added = admin.post("/users", {"user_id": "mitros.jan", "role": "partner", "organisation": "mitros"})
    assert added.status_code == 201, added.text
    linked = admin.post("/users/mitros.jan/subject", {"subject": "jan-at-idp", "issuer": api.provider.issuer})
    assert linked.status_code == 200, linked.text
    assert admin.post("/users/mitros.jan/deactivate", {"reason": "uit dienst"}).status_code == 200
    case = taken_on_case(api.world)
    person = api.world.session("anna").case(case).members
    main = next(iter(person.values())).ref
    pim = api.as_("pim")
    reference = pim.post(
        "/subject-requests",
        {"kind": "access", "person": main, "requester_name": "K", "received_on": "2026-11-30", "identity_check": "id"},
    ).json()["request"]
    withheld = pim.post(
        f"/subject-requests/{reference}/items/data:bsn/withhold",
        {"ground": "i", "motivation": "bescherming van de betrokkene", "what": "een identificatienummer"},
    )
    assert withheld.status_code == 200, withheld.text


def test_the_server_sees_users_registered_and_deactivated_after_it_started(api: ApiWorld) -> None:
    """The running server keeps the user directory it read, and reads what was added since on every call."""
    from casusregie.commands.users import AddUser, DeactivateUser

    assert api.as_("anna").get("/cases").status_code == 200  # the server has read the directory
    api.world.run(
        "admin", AddUser(user_id="dora", role="regisseur", team="west", subject="dora", issuer=api.provider.issuer)
    )
    assert api.as_("dora").get("/cases").status_code == 200
    api.world.run("admin", DeactivateUser(user_id="dora", reason="uit dienst"))
    refused = api.as_("dora").get("/cases")
    assert refused.status_code == 403
    assert "deactivated" in refused.json()["detail"]


def test_a_request_that_waits_too_long_for_the_worker_is_503_and_does_nothing(http_api: ApiWorld) -> None:
    api = http_api
    from fastapi.testclient import TestClient

    app = create_app(api.world.settings, api_settings(api.provider, timeout_seconds=1))
    with TestClient(app, raise_server_exceptions=False) as client:
        caller = Caller(client, api.as_("piet").token)
        before = api.events()
        service = app.state.service
        assert service.lock.acquire()  # an earlier request that does not end
        try:
            response = caller.post("/cases", REFERRAL)
        finally:
            service.lock.release()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "busy" in response.json()["detail"]
        assert api.events() == before
        assert caller.post("/cases", REFERRAL).status_code == 201


def test_requests_queue_for_the_store_thread_and_one_not_begun_in_time_is_dropped_unbegun(
    http_api: ApiWorld,
) -> None:
    service = Service(http_api.world.settings, wait_seconds=0.3)
    ran: list[str] = []

    async def scenario() -> None:
        gate = threading.Event()
        earlier = asyncio.ensure_future(service.run(lambda: gate.wait(10)))  # holds the store thread
        await asyncio.sleep(0.05)
        with pytest.raises(Busy, match="nothing was done"):
            await service.run(lambda: ran.append("dropped"))
        gate.set()
        assert await earlier is True
        # Begun before the wait ran out: its answer is awaited however long it takes.
        assert await service.run(lambda: time.sleep(0.6) or "slow but done") == "slow but done"
        # In the order they came, one at a time; commands (inline, on the loop) and reads (on the store
        # thread) take the same turns.
        await asyncio.gather(*(service.run(lambda n=n: ran.append(f"r{n}"), inline=n % 2 == 0) for n in range(6)))
        gate.clear()
        holder = asyncio.ensure_future(service.run(lambda: gate.wait(10)))
        await asyncio.sleep(0.05)
        with pytest.raises(Busy, match="nothing was done"):
            await service.run(lambda: ran.append("dropped inline"), inline=True)
        gate.set()
        await holder

    try:
        asyncio.run(scenario())
    finally:
        service.close()
    assert ran == [f"r{n}" for n in range(6)]  # the dropped ones never ran


def test_turns_are_never_held_twice_nor_lost_when_waits_run_out_as_turns_pass(http_api: ApiWorld) -> None:
    """Many requests with waits that run out about when the turn passes: never two at once, and the
    turn is free afterwards (a turn given at the moment a wait ran out is not kept by nobody)."""
    service = Service(http_api.world.settings, wait_seconds=0.004)
    busy, done, overlaps = [0], [0], [0]

    def job(seconds: float) -> None:
        busy[0] += 1
        overlaps[0] += busy[0] > 1
        time.sleep(seconds)
        busy[0] -= 1
        done[0] += 1

    async def scenario() -> int:
        rng = random.Random(7)
        runs = [
            service.run(functools.partial(job, rng.choice((0.0, 0.001, 0.003, 0.005))), inline=rng.random() < 0.5)
            for _ in range(300)
        ]
        answers = await asyncio.gather(*runs, return_exceptions=True)
        dropped = sum(isinstance(a, Busy) for a in answers)
        assert all(a is None or isinstance(a, Busy) for a in answers)
        assert await asyncio.wait_for(service.run(lambda: "free"), 1) == "free"
        return dropped

    try:
        dropped = asyncio.run(scenario())
    finally:
        service.close()
    assert overlaps[0] == 0
    assert done[0] + dropped == 300
    assert 0 < dropped < 300


def test_ldv_records_page_through_the_whole_log_in_order(api: ApiWorld) -> None:
    refer(api.world, director="anna")
    aud = api.as_("aud")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = aud.get("/ldv-records", params=params).json()
        seen += page["items"]
        cursor = page["next"]
        if not cursor:
            break
    everything = aud.get("/ldv-records", params={"limit": 500}).json()["items"]
    assert [r["position"] for r in seen] == list(range(len(seen)))
    assert [r["span_id"] for r in seen] == [r["span_id"] for r in everything[: len(seen)]]
    assert len(seen) >= 3


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "post",
            "/subject-requests",
            {"kind": "access", "requester_name": "X", "identity_check": "id", "received_on": 0},
        ),
        (
            "post",
            "/subject-requests",
            {"kind": "access", "requester_name": "X", "identity_check": "id", "received_on": "0"},
        ),
        ("get", "/worklist-items?date=0", None),
        ("get", "/ldv-records?since=1700000000", None),
        ("post", "/person-searches", {"name": "Karel de Vries", "born": 0}),
    ],
)
def test_a_number_is_not_a_date(http_api: ApiWorld, method: str, path: str, body: dict[str, Any] | None) -> None:
    """pydantic would read 0 as 1 January 1970: a request received then is long overdue."""
    api = http_api
    caller = api.as_("pim")
    before = api.domain_events()
    response = caller.get(path) if method == "get" else caller.post(path, body)
    assert response.status_code == 422, response.text
    assert "YYYY-MM-DD" in response.json()["detail"]
    assert api.domain_events() == before


def test_405_names_every_method_of_the_path(http_api: ApiWorld) -> None:
    api = http_api
    response = api.client.request("OPTIONS", "/api/v1/cases", headers=api.as_("anna").headers())
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_a_command_without_required_fields_needs_no_body_and_one_with_them_says_so(http_api: ApiWorld) -> None:
    api = http_api
    case = refer(api.world, director="anna")
    anna = api.as_("anna")
    assert anna.post(f"/cases/{case}/corporation-consent-request").status_code == 200  # no body at all
    response = api.client.post(f"/api/v1/cases/{case}/decline", headers=anna.headers())
    assert response.status_code == 422
    assert "Field required" in response.json()["detail"]


def test_a_query_key_given_twice_is_refused(http_api: ApiWorld) -> None:
    api = http_api
    case = refer(api.world, director="anna")
    response = api.as_("anna").get(f"/cases/{case}?restrictionGround=a&restrictionGround=b")
    assert response.status_code == 400
    assert "more than once" in response.json()["detail"]
    assert api.as_("anna").get("/cases?limit=1&limit=2").status_code == 400


def test_an_access_decision_dated_before_the_request_is_refused_with_one_line(http_api: ApiWorld) -> None:
    """Found by schemathesis: the decision's own model refused the date, and the server said 500."""
    api = http_api
    case = taken_on_case(api.world)
    main = next(iter(api.world.session("anna").case(case).members.values())).ref
    pim = api.as_("pim")
    reference = pim.post(
        "/subject-requests",
        {"kind": "access", "person": main, "requester_name": "K", "received_on": "2026-11-30", "identity_check": "id"},
    ).json()["request"]
    before = api.domain_events()
    response = pim.post(f"/subject-requests/{reference}/access-decision", {"signatory": "P", "on": "1518-03-12"})
    assert response.status_code == 422, response.text
    assert "precede the request" in response.json()["detail"]
    assert api.domain_events() == before


def test_a_forged_cursor_is_422_on_every_list(http_api: ApiWorld) -> None:
    """Found by review: cursors of the wrong shape (a number where a text belongs) were 500s."""
    import base64

    api = http_api
    refer(api.world, director="anna")

    def forged(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    for user, path in (
        ("anna", "/cases"),
        ("anna", "/worklist-items"),
        ("admin", "/users"),
        ("aud", "/access-log-entries"),
        ("aud", "/ldv-records"),
        ("pim", "/disclosures?partner=mitros"),
    ):
        for value in ([1], ["a"], [-5], [10**20], [True], [None], {"a": 1}, ["a", "b", "c", "d", "e"]):
            response = api.as_(user).get(path, params={"cursor": forged(value)})
            assert response.status_code in (200, 422), (path, value, response.status_code, response.text)
            assert response.status_code < 500


def test_moments_at_the_edge_of_the_calendar_are_422(http_api: ApiWorld) -> None:
    api = http_api
    case = refer(api.world, director="anna")
    aud = api.as_("aud")
    for path, params in (
        (f"/cases/{case}/history", {"asOf": "9999-12-31T23:59:59-01:00"}),
        (f"/cases/{case}/changes", {"from": "0001-01-01T00:00:00+01:00", "to": "2030-01-01"}),
    ):
        response = aud.get(path, params=params)
        assert response.status_code == 422, response.text


def test_a_streamed_body_over_the_limit_is_413(http_api: ApiWorld) -> None:
    """Found by review: without a Content-Length the framework's own read error made it a 400."""
    api = http_api
    before = api.events()

    def chunks() -> Any:
        for _ in range(30):
            yield b"x" * 100_000

    headers = api.as_("piet").headers({"Content-Type": "application/json"})
    response = api.client.post("/api/v1/cases", content=chunks(), headers=headers)
    assert response.status_code == 413, response.text
    assert api.events() == before

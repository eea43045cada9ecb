"""Schemathesis against the running service, as every role: no server error, and every answer as documented.

``regie serve`` runs on a SQLite store with a case, an information request, a measure and a data
subject's request in it. For each role (regisseur anna, partner piet, manager mia, privacy officer
pim, auditor aud, beheerder admin) every operation of the served OpenAPI document gets generated
requests with that user's real access token: valid input (positive) and input that breaks the schema
(negative). Path parameters are now and then the seeded references, so the requests reach real
cases and requests, not only 404s. Every answer is checked with schemathesis' own checks:
``not_a_server_error``, ``response_schema_conformance``, ``status_code_conformance``,
``content_type_conformance``, ``response_headers_conformance`` and ``unsupported_method``.
(``negative_data_rejection`` is left out: input is trimmed before its length is checked, and a query
string cannot tell an object from text, so it reports requests that were rightly accepted.)

Failures are collected over the whole run (no shrinking, no early stop) and reported together, each
with a curl command that reproduces it (schemathesis masks the token). ``REGIE_FUZZ_EXAMPLES``
(default 6) sets the examples per operation, role and mode.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
import requests
import schemathesis
from api_client import link_everyone
from helpers import make_world
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from live_server import LiveServer, development_api, serve
from oidc import Provider
from scenarios import first_person, measure, police_disclosure, refer, taken_on_case
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from casusregie.adapters.config import Settings
from casusregie.commands.subject_requests import RegisterRequest

ROLES = ("anna", "piet", "mia", "pim", "aud", "admin")  # the beheerder last: their commands change users
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    unsupported_method,  # a method the document does not name is 405
]
EXAMPLES = int(os.environ.get("REGIE_FUZZ_EXAMPLES", "4"))  # more in a soak: REGIE_FUZZ_EXAMPLES=40
MODES = ((GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, max(EXAMPLES // 2, 2)))


@dataclass
class Target:
    server: LiveServer
    provider: Provider
    schema: Any  # schemathesis' OpenApiSchema
    known: dict[str, list[str]]  # path parameter -> seeded references
    bodies: dict[str, dict[str, Any]]  # operation label -> a valid body


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, oidc_provider: Provider) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("fuzz")
    store = Settings(store=str(folder / "store.db"), key_dir=folder / "keys", checkpoint_dir=None, config_file=None)
    world = make_world(store)
    try:
        link_everyone(world, oidc_provider.issuer)
        case = taken_on_case(world)
        request = police_disclosure(world, case)
        planned = measure(world, case)
        person = first_person(world, case)
        referred = refer(world, name="Els Bakker")  # not yet taken on
        subject_request = world.run(
            "pim",
            RegisterRequest(
                kind="access",
                person=person,
                requester_name="K. de Vries",
                received_on=date.today(),
                identity_check="paspoort",
            ),
        ).data["request"]
    finally:
        world.store.close()
    known = {
        "case": [case, referred],
        "request": [request, str(subject_request)],
        "measure": [planned],
        "person": [person],
    }
    today = date.today().isoformat()
    bodies = {
        "POST /api/v1/cases": {
            "referring_org": "mitros",
            "referring_worker": "J. Jansen",
            "reason": "overlast",
            "problems": {"overlast": "lawaai"},
            "members": [{"name": "Piet Pieters", "birth_date": "1970-01-01", "bsn": "123456782"}],
        },
        "POST /api/v1/cases/{case}/goals": {"life_domain": "overlast", "description": "rust in huis"},
        "POST /api/v1/subject-requests": {
            "kind": "access",
            "person": person,
            "requester_name": "K. de Vries",
            "received_on": today,
            "identity_check": "paspoort",
        },
    }
    api = development_api(oidc_provider.issuer)
    with serve(folder, store=str(store.store), key_dir=store.key_dir, api=api) as server:
        schema = schemathesis.openapi.from_url(f"{server.api}/openapi.json")
        yield Target(server, oidc_provider, schema, known, bodies)


@dataclass
class Report:
    role: str
    requests: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (operation, failure) -> curl

    def fail(self, operation: str, what: str, curl: str) -> None:
        self.failures.setdefault((operation, what), []).append(curl)

    def describe(self) -> str:
        lines = [f"{len(self.failures)} distinct failure(s) as {self.role} in {self.requests} requests:"]
        for (operation, what), curls in sorted(self.failures.items()):
            lines.append(f"- {operation} ({len(curls)}x): {what}\n    {curls[0]}")
        return "\n".join(lines)


def strategy(target: Target, operation: Any, mode: GenerationMode) -> st.SearchStrategy[Any]:
    """Generated cases, and as often cases on seeded references (with a valid body, where we know one)."""
    generated = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    seeded = {name: st.sampled_from(target.known[name]) for name in names if name in target.known}
    body = target.bodies.get(operation.label) if mode == GenerationMode.POSITIVE else None
    if not seeded and body is None:
        return generated

    def on_seeded(path: dict[str, str]) -> st.SearchStrategy[Any]:
        options = [operation.as_strategy(generation_mode=mode, path_parameters=path or None)]
        if body is not None:
            options.append(operation.as_strategy(generation_mode=mode, path_parameters=path or None, body=body))
        return st.one_of(options)

    return st.one_of(generated, st.fixed_dictionaries(seeded).flatmap(on_seeded))


def fuzz(target: Target, operation: Any, mode: GenerationMode, examples: int, token: str, report: Report) -> None:
    base_url = target.server.url
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is recorded, none raised
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(target, operation, mode))
    def run(case: Any) -> None:
        report.requests += 1
        try:
            response = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
        except (Failure, FailureGroup) as exc:
            failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
            for failure in failures:
                summary = " ".join(str(failure).split())[:300]
                report.fail(operation.label, f"[{mode.value}] {summary}", case.as_curl_command(base_url=base_url))
            return
        except requests.RequestException as exc:  # no answer at all: the server died or hung
            report.fail(
                operation.label,
                f"[{mode.value}] no answer: {type(exc).__name__}",
                case.as_curl_command(base_url=base_url),
            )
            return
        report.statuses[(operation.label, response.status_code)] += 1

    try:
        run()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE, operation.label  # nothing to break in an operation without input


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(target: Target, role: str) -> None:
    token = target.provider.token(role, fresh=True)
    report = Report(role)
    operations = [result.ok() for result in target.schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        for mode, examples in MODES:
            fuzz(target, operation, mode, examples, token, report)

    assert not report.failures, report.describe()
    assert "Traceback" not in target.server.stderr(), target.server.stderr()
    assert target.server.running
    # The token opened the door: the role got answers beyond the public health checks.
    public = {"GET /api/v1/health", "GET /api/v1/readiness"}
    authenticated_ok = sum(n for (label, status), n in report.statuses.items() if status < 300 and label not in public)
    assert authenticated_ok > 0, report.statuses
    assert report.requests > 2 * len(operations), report.requests

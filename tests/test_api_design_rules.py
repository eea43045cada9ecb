"""The HTTP API's OpenAPI document follows the NL GOV API Design Rules, linted by Spectral.

The ruleset is tests/api-rules/adr.spectral.yaml (each rule cites its ADR rule id). Beside the real
document, small specs prove the lint can fail: each breaks one rule and must be reported under that
rule's code, and a minimal correct spec passes. Spectral comes from tests/node (``npm ci``); where it
is missing these tests skip, unless REGIE_REQUIRE_NODE=1 (.ci/run) makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import skip_unless_required

ROOT = Path(__file__).resolve().parents[1]
SPECTRAL = ROOT / "tests" / "node" / "node_modules" / ".bin" / "spectral"
RULESET = ROOT / "tests" / "api-rules" / "adr.spectral.yaml"
OPENAPI = ROOT / "adapters" / "http" / "openapi.json"
REQUIRE_NODE = os.environ.get("REGIE_REQUIRE_NODE") == "1"


def require_spectral() -> None:
    if shutil.which("node") is None:
        problem = "Node.js (node) is not installed"
    elif not SPECTRAL.exists():
        problem = f"{SPECTRAL} is not installed: run `make test` or `npm ci --prefix tests/node`"
    else:
        return
    skip_unless_required(f"no Spectral: {problem}", REQUIRE_NODE, "REGIE_REQUIRE_NODE")


def spectral(*documents: Path, output_format: str = "text") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            *map(str, documents),
            "--ruleset",
            str(RULESET),
            "--fail-severity=warn",
            "--format",
            output_format,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_api_openapi_document_follows_the_design_rules() -> None:
    require_spectral()
    assert OPENAPI.exists(), f"{OPENAPI.relative_to(ROOT)} is missing: run the API's OpenAPI export"
    result = spectral(OPENAPI)
    assert result.returncode == 0, f"spectral found problems:\n{result.stdout}{result.stderr}"


# -- the ruleset itself --------------------------------------------------------------------------------

PROBLEM = {"$ref": "#/components/responses/Problem"}
OK = {"$ref": "#/components/responses/Ok"}


def good_spec() -> dict[str, Any]:
    """A minimal document that follows every rule."""
    case_id = {"name": "casusId", "in": "path", "required": True, "schema": {"type": "string"}}
    version_header = {"API-Version": {"$ref": "#/components/headers/API-Version"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Casusregie API",
            "version": "1.2.0",
            "contact": {"name": "Team Casusregie", "email": "casusregie@example.org", "url": "https://example.org"},
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/casussen": {
                "get": {
                    "operationId": "listCases",
                    "parameters": [{"name": "pageSize", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": OK, "400": PROBLEM, "401": PROBLEM},
                },
                "post": {
                    "operationId": "openCase",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"201": OK, "400": PROBLEM, "401": PROBLEM},
                },
            },
            "/casussen/{casusId}": {
                "get": {
                    "operationId": "getCase",
                    "parameters": [case_id],
                    "responses": {"200": OK, "400": PROBLEM, "404": PROBLEM},
                },
            },
            "/openapi.json": {"get": {"operationId": "openapi", "responses": {"200": OK}}},
        },
        "components": {
            "headers": {"API-Version": {"description": "The full version", "schema": {"type": "string"}}},
            "schemas": {
                "Problem": {
                    "type": "object",
                    "properties": {
                        name: {"type": kind}
                        for name, kind in [
                            ("type", "string"),
                            ("title", "string"),
                            ("status", "integer"),
                            ("detail", "string"),
                            ("instance", "string"),
                        ]
                    },
                }
            },
            "responses": {
                "Ok": {
                    "description": "Done",
                    "headers": version_header,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "Problem": {
                    "description": "A problem (RFC 9457)",
                    "headers": version_header,
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                },
            },
        },
    }


def _rename_path(spec: dict[str, Any], old: str, new: str) -> None:
    spec["paths"][new] = spec["paths"].pop(old)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def mutate(spec: dict[str, Any]) -> None:
        node = spec
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


_DELETE = object()
_CASES_GET = "paths./casussen.get"
_PROBLEM_RESPONSE = "components.responses.Problem"

# case -> (how the good spec is broken, the rule code that must report it)
BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "trailing-slash": (lambda s: _rename_path(s, "/casussen", "/casussen/"), "adr:no-trailing-slash"),
    "camel-case-segment": (lambda s: _rename_path(s, "/casussen", "/zorgCasussen"), "adr:path-segments-kebab-case"),
    "snake-case-segment": (lambda s: _rename_path(s, "/casussen", "/zorg_casussen"), "adr:path-segments-kebab-case"),
    "file-extension": (
        lambda s: _rename_path(s, "/casussen/{casusId}", "/casussen/{casusId}.pdf"),
        "adr:no-file-extensions",
    ),
    "singular-collection": (
        lambda s: _rename_path(s, "/casussen/{casusId}", "/dossier/{casusId}"),
        "adr:naming-collections",
    ),
    "no-version-header": (_set("components.responses.Ok.headers", _DELETE), "adr:version-header"),
    "error-not-problem-json": (
        _set(f"{_PROBLEM_RESPONSE}.content", {"application/json": {"schema": {"type": "object"}}}),
        "adr:problem-details",
    ),
    "error-without-body": (_set(f"{_PROBLEM_RESPONSE}.content", _DELETE), "adr:problem-details"),
    "problem-without-detail": (_set("components.schemas.Problem.properties.detail", _DELETE), "adr:problem-details"),
    "no-contact": (_set("info.contact", _DELETE), "adr:doc-openapi-contact"),
    "contact-without-email": (_set("info.contact.email", _DELETE), "adr:doc-openapi-contact"),
    "no-major-version-in-uri": (_set("servers", [{"url": "/api"}]), "adr:uri-version"),
    "minor-version-in-uri": (_set("servers", [{"url": "/api/v1.2"}]), "adr:uri-version"),
    "uri-version-not-info-major": (_set("info.version", "2.0.0"), "adr:uri-version"),
    "no-servers": (_set("servers", _DELETE), "adr:servers"),
    "plain-http-server": (_set("servers", [{"url": "http://127.0.0.1:8000/api/v1"}]), "adr:servers-https"),
    "not-semver": (_set("info.version", "1.2"), "adr:semver"),
    "trace-method": (
        _set("paths./casussen.trace", {"operationId": "trace", "responses": {"200": OK}}),
        "adr:http-methods",
    ),
    "head-method": (
        _set("paths./casussen.head", {"operationId": "head", "responses": {"200": OK}}),
        "adr:http-methods",
    ),
    "snake-case-query-key": (
        _set(f"{_CASES_GET}.parameters", [{"name": "page_size", "in": "query", "schema": {"type": "integer"}}]),
        "adr:query-keys-camel-case",
    ),
    "no-400-for-input": (_set("paths./casussen.post.responses", {"201": OK, "401": PROBLEM}), "adr:invalid-input"),
    "openapi-2": (_set("openapi", "2.0.0"), "adr:doc-openapi"),
    "not-openapi-at-all": (_set("openapi", _DELETE), "adr:doc-openapi"),
    "invalid-openapi-structure": (_set("components.responses.Ok.description", _DELETE), "oas3-schema"),
}


@pytest.fixture(scope="module")
def lint_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """One Spectral run over the good spec and every bad one: findings per case ("good" included)."""
    require_spectral()
    folder = tmp_path_factory.mktemp("adr-specs")
    documents = {"good": good_spec()}
    for case, (mutate, _code) in BAD.items():
        documents[case] = good_spec()
        mutate(documents[case])
    files = {}
    for case, document in documents.items():
        files[case] = folder / f"{case}.json"
        files[case].write_text(json.dumps(document, indent=2))
    result = spectral(*files.values(), output_format="json")
    assert result.returncode == 1, f"spectral did not report problems (exit {result.returncode}):\n{result.stderr}"
    findings: dict[str, list[dict[str, Any]]] = {case: [] for case in files}
    by_source = {str(path.resolve()): case for case, path in files.items()}
    for finding in json.loads(result.stdout):
        findings[by_source[str(Path(finding["source"]).resolve())]].append(finding)
    return findings


def _summary(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {f['code']}: {f['message']} at {'.'.join(map(str, f['path']))}" for f in findings)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_broken_rule_is_reported_under_its_code(case: str, lint_results: dict[str, list[dict[str, Any]]]) -> None:
    code = BAD[case][1]
    findings = lint_results[case]
    assert code in {f["code"] for f in findings}, f"{case}: expected {code}, spectral said:\n{_summary(findings)}"


def test_the_minimal_good_spec_has_no_findings(lint_results: dict[str, list[dict[str, Any]]]) -> None:
    assert lint_results["good"] == [], _summary(lint_results["good"])


def test_spectral_exits_0_on_the_minimal_good_spec(tmp_path: Path) -> None:
    """The exit status the real document's test relies on (a bad spec's 1 is checked by lint_results)."""
    require_spectral()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(good_spec()))
    result = spectral(good)
    assert result.returncode == 0, result.stdout + result.stderr

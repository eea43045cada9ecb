"""Every role, through the API, refused outside its scope; every refusal logged with the
authenticated subject, issuer, token and client address beside the user, and nothing else written."""

from __future__ import annotations

from typing import Any

import pytest
from api_client import ApiWorld
from scenarios import refer

from casusregie.commands.users import DeactivateUser
from casusregie.privacy_audit.queries import PrivacyReader

REFER = {
    "referring_org": "mitros",
    "referring_worker": "J. Jansen",
    "reason": "overlast",
    "problems": {"overlast": "lawaai"},
    "members": [{"name": "Karel de Vries", "birth_date": "1979-04-12"}],
}

# (user, method, path, body): each outside that user's scope on a case of team west (anna's)
ATTEMPTS: dict[str, tuple[str, str, str, dict[str, Any] | None]] = {
    "a partner not involved reads the case": ("lies", "get", "/cases/{case}", None),
    "a director of another team takes the case on": ("bram", "post", "/cases/{case}/take-on", {}),
    "a manager reads a case that was never escalated": ("mia", "get", "/cases/{case}", None),
    "a privacy officer lists case files": ("pim", "get", "/cases", None),
    "an auditor refers a household": ("aud", "post", "/cases", REFER),
    "the beheerder reads a case file": ("admin", "get", "/cases/{case}", None),
    "a partner reads the access log": ("piet", "get", "/access-log-entries", None),
    "a director adds a user": ("anna", "post", "/users", {"user_id": "eve", "role": "auditor"}),
    "a partner reads the inzage requests": ("piet", "get", "/subject-requests", None),
    "a partner replays the case's history": ("piet", "get", "/cases/{case}/history", None),
    "a partner searches persons by BSN": ("piet", "post", "/person-searches", {"bsn": "111222333"}),
    "a manager lists the users": ("mia", "get", "/users", None),
    "a director exports the access log": ("anna", "get", "/ldv-records", None),
    "a partner reads the period report": ("piet", "get", "/period-reports?from=2026-01-01&to=2026-12-31", None),
}


def denials(api: ApiWorld) -> list[dict[str, Any]]:
    rows = PrivacyReader(api.world.session("aud")).access_log(limit=5000)
    return [r for r in rows if r["outcome"] == "denied"]


@pytest.mark.parametrize("attempt", list(ATTEMPTS), ids=list(ATTEMPTS))
def test_each_role_is_refused_outside_its_scope_and_the_refusal_is_logged(http_api: ApiWorld, attempt: str) -> None:
    # One backend: who may do what is decided above the store; the refusals' records on both
    # backends are tried by the tests below and by the CLI's refusal tests.
    api = http_api
    user, method, path, body = ATTEMPTS[attempt]
    case = refer(api.world, by="piet", director="anna")
    caller = api.as_(user)
    before, domain_before = len(denials(api)), api.domain_events()
    target = path.format(case=case)
    response = caller.get(target) if method == "get" else caller.post(target, body)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) <= {"type", "title", "status", "detail", "instance"}
    assert problem["status"] == 403
    assert "Karel" not in response.text
    assert api.domain_events() == domain_before  # a refusal changes nothing
    new = denials(api)[before:]
    assert len(new) == 1, new
    refusal = new[0]
    assert refusal["actor"] == user
    assert refusal["authentication"] == {
        "subject": user,
        "issuer": api.provider.issuer,
        "token_id": refusal["authentication"]["token_id"],
        "client_address": "testclient",
    }
    assert refusal["authentication"]["token_id"]
    assert caller.token not in str(refusal)


def test_a_subject_the_store_does_not_know_is_refused_and_logged(api: ApiWorld) -> None:
    stranger = api.as_("mallory")  # a real token from the real provider, for a subject no one registered
    before = len(denials(api))
    response = stranger.get("/cases")
    assert response.status_code == 403
    assert "not a registered user" in response.json()["detail"]
    assert stranger.get("/worklist-items").status_code == 403  # again, at once: refused, not recorded again
    refusal = denials(api)[before:]
    assert [(r["actor"], r["authentication"]["subject"], r["action"]) for r in refusal] == [("", "mallory", "access")]


def test_a_deactivated_user_is_refused_and_logged(api: ApiWorld) -> None:
    api.world.run("admin", DeactivateUser(user_id="carla", reason="uit dienst"))
    before = len(denials(api))
    response = api.as_("carla").get("/cases")
    assert response.status_code == 403
    assert "deactivated" in response.json()["detail"]
    refusal = denials(api)[before:]
    assert [(r["actor"], r["authentication"]["subject"]) for r in refusal] == [("carla", "carla")]


def test_a_user_tied_to_another_issuer_is_not_this_subject(api: ApiWorld, second_provider: Any) -> None:
    """The same ``sub`` at another provider is another person: the token of that provider is not even valid."""
    from api_client import Caller

    foreign = Caller(api.client, second_provider.token("anna"))
    before = api.events()
    response = foreign.get("/cases")
    assert response.status_code == 401
    assert api.events() == before


def test_if_match_tells_a_caller_without_access_nothing_about_the_case(api: ApiWorld) -> None:
    """A 412 would say the case exists and how far it is: an outsider gets the 403, and it is logged."""
    case = refer(api.world, by="piet", director="anna")
    before = len(denials(api))
    for user in ("bram", "pol"):
        response = api.as_(user).post(f"/cases/{case}/take-on", {}, headers={"If-Match": '"0"'})
        assert response.status_code == 403, response.text
        assert "version" not in response.json()["detail"]
    assert len(denials(api)) == before + 2
    assess = {"criteria": ["woninggebonden", "meerdere-vormen"]}
    wrong = api.as_("anna").post(f"/cases/{case}/assess", assess, headers={"If-Match": '"0"'})
    assert wrong.status_code == 412  # the director, who may act, is told the case moved on

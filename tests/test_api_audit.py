"""What an auditor runs on the server over the API: the log's verification and a case's bundle.

The same functions as `regie audit verify` / `audit bundle` and the auditor's web pages
(adapters/auditing.py); here through the HTTP surface, with tokens from the real provider.
"""

from __future__ import annotations

from api_client import ApiWorld, api
from scenarios import taken_on_case

from casusregie.adapters.checkpoint_files import read_verifier_key
from casusregie.privacy_audit.proofs import verify_bundle

__all__ = ["api"]  # fixture


def test_an_auditor_verifies_the_whole_log_and_the_verification_is_logged(api: ApiWorld) -> None:
    taken_on_case(api.world)
    answer = api.as_("aud").post("/log-verifications")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is True
    assert report["records"] == report["tree_size"] > 0
    assert report["problems"] == []
    log = api.as_("pim").get("/access-log-entries", params={"user": "aud"}).json()["items"]
    assert [e["name"] for e in log][-1] == "audit.verify"


def test_only_an_auditor_verifies_the_log_over_the_api(api: ApiWorld) -> None:
    before = api.events()
    for user in ("anna", "piet", "pim"):
        answer = api.as_(user).post("/log-verifications")
        assert answer.status_code == 403, (user, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert api.events() == before + 3  # each refusal is an access record, and nothing else was written


def test_an_auditor_takes_a_bundle_that_verifies_offline_and_holds_no_personal_data(api: ApiWorld) -> None:
    case = taken_on_case(api.world)
    answer = api.as_("aud").post(f"/cases/{case}/audit-bundles")
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    report = verify_bundle(bundle, read_verifier_key(api.world.store))
    assert report.ok, report
    assert "Karel" not in answer.text
    refused = api.as_("anna").post(f"/cases/{case}/audit-bundles")
    assert refused.status_code == 403
    unknown = api.as_("aud").post("/cases/CNOSUCH/audit-bundles")
    assert unknown.status_code == 404

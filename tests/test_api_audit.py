"""What an auditor runs on the server over the API: the log's verification and a case's bundle.

The same functions as `regie audit verify` / `audit bundle` and the auditor's web pages
(adapters/auditing.py); here through the HTTP surface, with tokens from the real provider.
"""

from __future__ import annotations

from api_client import ApiWorld, api
from scenarios import day, taken_on_case

from casusregie.adapters.checkpoint_files import read_verifier_key
from casusregie.privacy_audit.proofs import verify_bundle

__all__ = ["api"]  # fixture


def test_an_auditor_verifies_the_log_incrementally_or_in_full_and_each_is_logged(api: ApiWorld) -> None:
    taken_on_case(api.world)
    answer = api.as_("aud").post("/log-verifications")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is True
    assert report["records"] == report["tree_size"] > 0
    assert report["problems"] == []
    assert report["mode"] == "full"  # the first verification reads every record
    again = api.as_("aud").post("/log-verifications").json()
    assert again["ok"] is True
    assert again["mode"] == "incremental"
    assert again["verified_from"]["size"] == report["tree_size"]
    assert again["records"] == again["tree_size"] - report["tree_size"] > 0  # the first one's access record
    full = api.as_("aud").post("/log-verifications", params={"full": "true"}).json()
    assert (full["mode"], full["records"]) == ("full", full["tree_size"])
    assert full["tree_size"] == again["tree_size"] + 1  # the second one's access record
    log = api.as_("pim").get("/access-log-entries", params={"user": "aud"}).json()["items"]
    assert [e["name"] for e in log][-3:] == ["audit.verify"] * 3


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


def test_an_auditor_replays_a_case_entered_late_by_either_time_axis(api: ApiWorld) -> None:
    case = taken_on_case(api.world)  # entered today, with the dates it happened on: referred 60 days ago
    aud = api.as_("aud")
    as_of = day(2).isoformat()  # after the referral, before it was taken on (day 3)
    recorded = aud.get(f"/cases/{case}/history", params={"asOf": as_of})
    assert recorded.status_code == 200, recorded.text
    body = recorded.json()
    assert (body["axis"], body["events"], body["state"]) == ("recorded", 0, None)  # not entered yet then
    assert body["other_axis"]["axis"] == "business"
    assert body["other_axis"]["events"] > 0
    assert "were recorded after" in body["hint"]
    business = aud.get(f"/cases/{case}/history", params={"asOf": as_of, "axis": "business"}).json()
    assert (business["axis"], business["as_of"]) == ("business", as_of)
    assert business["events"] == body["other_axis"]["events"]
    assert business["state"]["status"] == "referred"
    window = {"from": day(2).isoformat(), "to": day(3).isoformat()}
    changes = aud.get(f"/cases/{case}/changes", params={**window, "axis": "business"}).json()
    assert changes["axis"] == "business"
    assert [e["event"] for e in changes["narrative"]] == ["TakenOn"]
    assert {"path": "status", "before": "referred", "after": "taken-on"} in changes["changes"]
    assert aud.get(f"/cases/{case}/changes", params=window).json()["narrative"] == []  # by recording time
    for path, params in ((f"/cases/{case}/history", {}), (f"/cases/{case}/changes", window)):
        bad = aud.get(path, params={**params, "axis": "sideways"})
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert "axis" in bad.json()["detail"]

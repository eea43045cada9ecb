"""A whole case through the HTTP API, each step by the user whose work it is, with their own token
from the real OpenID Provider; then an inzage request to its decision.

The access log must name, for every step, the authenticated subject, the issuer, the token and
the client address beside the user (NEN 7513).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from api_client import ApiWorld
from scenarios import day


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["API-Version"] == "1.0.0"
    return dict(response.json())


def test_a_whole_case_and_an_inzage_request_through_the_api(api: ApiWorld) -> None:
    piet, anna, pol, lies, mia, pim, aud = (api.as_(u) for u in ("piet", "anna", "pol", "lies", "mia", "pim", "aud"))

    # referral by the housing corporation's professional (aanmelding)
    referred = ok(
        piet.post(
            "/cases",
            {
                "referring_org": "mitros",
                "referring_worker": "J. Jansen",
                "reason": "Ernstige overlast en huurachterstand",
                "problems": {"overlast": "lawaai en bedreiging", "financiën": "huurachterstand"},
                "members": [
                    {"name": "Karel de Vries", "birth_date": "1979-04-12", "bsn": "111222333"},
                    {"name": "Noor de Vries", "birth_date": "2013-02-14", "role": "kind"},
                ],
                "home_corporation": "mitros",
                "director": "anna",
                "on": day(0).isoformat(),
            },
        ),
        201,
    )
    case = referred["case"]
    main_person = next(iter(referred["members"]))

    # intake and decision, each command on the version just read (If-Match)
    view = anna.get(f"/cases/{case}")
    assert view.headers["ETag"] == f'"{view.json()["version"]}"'
    ok(
        anna.post(
            f"/cases/{case}/assess",
            {"criteria": ["woninggebonden", "meerdere-vormen"], "on": day(1).isoformat()},
            headers={"If-Match": view.headers["ETag"]},
        )
    )
    ok(anna.post(f"/cases/{case}/corporation-consent-request", {"on": day(1).isoformat()}))
    ok(piet.post(f"/cases/{case}/corporation-consent", {"consent": True, "on": day(2).isoformat()}))
    ok(anna.post(f"/cases/{case}/take-on", {"on": day(3).isoformat()}))

    # information round: the police disclose, the care provider declines
    request = ok(
        anna.post(
            f"/cases/{case}/information-requests",
            {
                "partner": "politie",
                "purpose": "zicht op overlast",
                "legal_basis": "Wpg art. 20",
                "categories": ["politie.meldingen"],
                "on": day(4).isoformat(),
            },
        ),
        201,
    )["request"]
    ok(
        pol.post(
            f"/cases/{case}/information-requests/{request}/disclosures",
            {
                "items": [
                    {"category": "politie.meldingen", "subject": main_person, "content": "12 meldingen sinds juni"}
                ],
                "on": day(5).isoformat(),
            },
        ),
        201,
    )
    declined = ok(
        anna.post(
            f"/cases/{case}/information-requests",
            {
                "partner": "lister",
                "purpose": "woonbegeleiding?",
                "legal_basis": "convenant",
                "categories": ["zorg.woonbegeleiding"],
                "on": day(4).isoformat(),
            },
        ),
        201,
    )["request"]
    ok(
        lies.post(
            f"/cases/{case}/information-requests/{declined}/decline",
            {"reason": "geen cliënt", "on": day(5).isoformat()},
        )
    )

    # one plan: a goal, measures, the agreement, progress by the partner
    ok(anna.post(f"/cases/{case}/letter", {"on": day(6).isoformat()}))
    ok(anna.post(f"/cases/{case}/goals", {"life_domain": "overlast", "description": "overlast stopt"}), 201)
    measure = ok(
        anna.post(
            f"/cases/{case}/measures",
            {
                "life_domain": "overlast",
                "owner": "mitros",
                "description": "gesprek over huisregels",
                "due": day(30).isoformat(),
                "on": day(6).isoformat(),
            },
        ),
        201,
    )["measure"]
    ok(anna.post(f"/cases/{case}/plan/agreement", {"on": day(12).isoformat()}))
    ok(piet.post(f"/cases/{case}/measures/{measure}/progress", {"status": "done", "on": day(20).isoformat()}))

    # escalation to the manager (opschaling), and its outcome
    ok(anna.post(f"/cases/{case}/escalations", {"level": 2, "reason": "zorg stokt", "on": day(26).isoformat()}), 201)
    ok(mia.post(f"/cases/{case}/escalations/E1/outcome", {"outcome": "plek geregeld", "on": day(28).isoformat()}))

    # closure
    ok(
        anna.post(
            f"/cases/{case}/close",
            {
                "outcome": "goals-met",
                "judgement_neighbours": "improved",
                "judgement_partners": "improved",
                "aftercare": "buurtteam volgt",
                "handover_to": "lister",
                "despite": "het buurtteam neemt het over; een MDO is niet meer nodig",
                "on": day(40).isoformat(),
            },
        )
    )
    final = ok(anna.get(f"/cases/{case}"))
    assert final["status"] == "closed"
    assert [r["status"] for r in final["requests"]] == ["disclosed", "declined"]
    assert final["requests"][0]["items"][0]["content"] == "12 meldingen sinds juni"
    assert final["escalations"][0]["outcome"] == "plek geregeld"
    closed = ok(anna.get("/cases", params={"closed": "true"}))["items"]
    assert [c["case"] for c in closed] == [case]

    # an inzage request (art. 15 AVG) by the main resident, to its decision
    registered = ok(
        pim.post(
            "/subject-requests",
            {
                "kind": "access",
                "person": main_person,
                "requester_name": "K. de Vries",
                "requester_address": "Kanaalstraat 12, Utrecht",
                "received_on": (date.today() - timedelta(days=3)).isoformat(),
                "channel": "balie",
                "identity_check": "identiteitskaart gezien",
            },
        ),
        201,
    )
    reference = registered["request"]
    items = ok(pim.get(f"/subject-requests/{reference}/items"))["items"]
    assert items, "the answer lists the person's data"
    decided = ok(
        pim.post(f"/subject-requests/{reference}/access-decision", {"signatory": "P. Jansen"}),
        201,
    )
    sources = {s["organisation"] for s in decided["decision"]["sources"]}
    assert any("olitie" in s for s in sources), sources  # the police disclosure is named as a source
    assert ok(pim.get(f"/subject-requests/{reference}"))["decision"] is not None
    letter = pim.get(f"/subject-requests/{reference}/decision-letter")
    assert letter.status_code == 200
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.content.startswith(b"%PDF")
    found = ok(pim.post("/person-searches", {"name": "Karel de Vries", "born": "1979-04-12"}))["items"]
    assert [(f["person"], f["case"]) for f in found] == [(main_person, case)]

    # the auditor replays the case; the beheerder sees who signs in as whom
    history = ok(aud.get(f"/cases/{case}/history"))
    assert history["state"]["status"] == "closed"
    assert len(history["narrative"]) == history["events"]
    users = {u["user"]: u for u in ok(api.as_("admin").get("/users"))["items"]}
    assert users["anna"]["subject"] == "anna"
    assert users["anna"]["issuer"] == api.provider.issuer
    ldv = ok(aud.get("/ldv-records", params={"limit": 500}))["items"]
    assert ldv
    assert all("anna" not in str(record) for record in ldv)  # pseudonymised: no user or person names

    # every step is in the access log with the authenticated subject beside the user
    log = ok(aud.get("/access-log-entries", params={"case": case, "limit": 500}))["items"]
    by_name = {}
    for entry in log:
        by_name.setdefault(entry["name"], entry)
    for name, user in (("case.refer", "piet"), ("info.disclose", "pol"), ("case.escalation-outcome", "mia")):
        entry = by_name[name]
        assert entry["actor"] == user
        assert entry["authentication"]["subject"] == user
        assert entry["authentication"]["issuer"] == api.provider.issuer
        assert entry["authentication"]["client_address"] == "testclient"
        assert entry["authentication"]["token_id"]  # the token's jti, never the token
        assert api.as_(user).token not in str(entry)

"""Documents and the casusoverleg over the HTTP API: what the CLI does, with tokens from the real provider."""

from __future__ import annotations

import base64
from typing import Any

from api_client import ApiWorld
from scenarios import day, taken_on_case

from casusregie.commands.meetings import InvolvePartner, ScheduleMeeting


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response


def test_a_document_goes_in_and_out_through_the_api_and_only_to_who_may_read_it(api: ApiWorld) -> None:
    anna, pol = api.as_("anna"), api.as_("pol")
    case = taken_on_case(api.world)
    content = b"%PDF-1.4 vonnis MARKER-API-7781\n" * 50
    attached = ok(
        anna.post(
            f"/cases/{case}/documents",
            {
                "type": "vonnis",
                "dated": day(3).isoformat(),
                "source": "Rechtbank Midden-Nederland",
                "title": "Vonnis ontruiming",
                "content_base64": base64.b64encode(content).decode(),
                "on": day(4).isoformat(),
            },
        ),
        201,
    ).json()
    assert attached["document"] == "D1"
    listed = ok(anna.get(f"/cases/{case}/documents")).json()
    assert "Vonnis ontruiming" in str(listed)
    got = ok(anna.get(f"/cases/{case}/documents/D1"))
    assert got.content == content
    assert got.headers["content-type"] == "application/octet-stream"
    refused = pol.get(f"/cases/{case}/documents/D1")
    assert refused.status_code in (403, 404)
    assert b"MARKER-API" not in refused.content


def test_a_casusoverleg_is_planned_and_read_through_the_api(api: ApiWorld) -> None:
    anna, lies = api.as_("anna"), api.as_("lies")
    case = taken_on_case(api.world)
    planned = ok(
        anna.post(
            "/case-conferences",
            {"neighbourhood": "West", "date": day(70).isoformat(), "participants": ["mitros"]},
        ),
        201,
    ).json()
    reference = planned["overleg"]
    ok(anna.post(f"/cases/{case}/case-conferences/{reference}/agenda", {"on": day(5).isoformat()}), 201)
    shown = ok(anna.get(f"/case-conferences/{reference}")).json()
    assert [item["case"] for item in shown["agenda"]] == [case]
    assert lies.get(f"/case-conferences/{reference}").status_code == 403


def test_a_case_letter_comes_from_the_api_as_from_the_cli_and_one_for_partners_is_recorded(api: ApiWorld) -> None:
    anna, pol = api.as_("anna"), api.as_("pol")
    case = taken_on_case(api.world)
    pdf = ok(anna.post(f"/cases/{case}/letters/bewonersbrief", {"signatory": "A. de Wit"}))
    assert (pdf.headers["content-type"], pdf.content[:5]) == ("application/pdf", b"%PDF-")
    assert pdf.headers["content-disposition"] == f'attachment; filename="bewonersbrief-{case}.pdf"'
    text = ok(anna.post(f"/cases/{case}/letters/bewonersbrief", {"markdown": True})).text
    assert "Karel de Vries" in text
    assert "111222333" not in text  # never a BSN
    before = api.domain_events()
    for body, wrong in (
        ({"place": "Stadhuis"}, "place is for uitnodiging-mdo"),
        ({"time": "10:30"}, "time is for uitnodiging-mdo and aankondiging-achter-de-voordeur"),
        ({"signatory": "A\x1b[31m"}, "signatory"),
        ({"colour": "red"}, "colour"),
    ):
        answer = anna.post(f"/cases/{case}/letters/bewonersbrief", body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert wrong in answer.text
    unknown = anna.post(f"/cases/{case}/letters/onzin", {})
    assert (unknown.status_code, "begeleidingsovereenkomst" in unknown.text) == (422, True)  # the kinds there are
    assert pol.post(f"/cases/{case}/letters/bewonersbrief", {}).status_code == 403
    assert api.domain_events() == before  # refusals and the residents' letter record nothing in the case

    api.world.run("anna", InvolvePartner(case=case, partner="lister", on=day(3)))
    api.world.run("anna", ScheduleMeeting(case=case, date=day(20), participants=["mitros", "lister"], on=day(3)))
    bad_time = anna.post(f"/cases/{case}/letters/uitnodiging-mdo", {"time": "25:00"})
    assert (bad_time.status_code, "not a time HH:MM" in bad_time.text) == (422, True)
    ok(anna.post(f"/cases/{case}/letters/uitnodiging-mdo", {"to": "lister", "place": "Stadhuis", "time": "10:30"}))
    letters = ok(anna.get(f"/cases/{case}")).json()["partner_letters"]
    assert [(x["kind"], x["to"], x["by"]) for x in letters] == [("uitnodiging-mdo", ["lister"], "anna")]
    trail = ok(api.as_("pim").get("/disclosures", params={"case": case})).json()["items"]
    assert [e["to"] for e in trail if e["event"] == "PartnerLetterWritten"] == ["lister"]

"""Documents and the casusoverleg over the HTTP API: what the CLI does, with tokens from the real provider."""

from __future__ import annotations

import base64
from typing import Any

from api_client import ApiWorld
from scenarios import day, taken_on_case


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

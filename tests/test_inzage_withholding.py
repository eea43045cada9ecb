"""What an access answer leaves out, it leaves out entirely.

* A silently withheld item leaves no trace: the letter is the same as the letter of a store
  in which that item never existed (the data item, its source, its category, consultations).
* Household texts also tell about the other members, so they are withheld until the privacy
  officer has reviewed and released them (AVG art. 15(4)); the person's own data is not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import PG_DSN, World, drop_schema, make_world, new_schema
from scenarios import day, first_person, taken_on_case

from casusregie.adapters.config import Settings
from casusregie.adapters.render.letter_markdown import render_markdown
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.referral import MemberInput
from casusregie.commands.subject_requests import (
    IssueAccessDecision,
    RegisterRequest,
    WithholdItem,
    build_decision,
    load_request,
)
from casusregie.domain.errors import ValidationFailed
from casusregie.privacy_audit.decision_document import AccessDecision
from casusregie.privacy_audit.request_views import request_items

RECEIVED = date.today() - timedelta(days=2)
INVESTIGATION = "Onderzoek naar bedreiging met een vuurwapen"


@pytest.fixture
def other_world(backend: str, tmp_path: Path) -> Iterator[World]:
    """A second, independent store on the same backend."""
    if backend == "sqlite":
        location, schema = str(tmp_path / "other.db"), None
    else:
        schema = new_schema()
        location = f"{PG_DSN}?schema={schema}"
    w = make_world(Settings(store=location, key_dir=tmp_path / "other-keys", checkpoint_dir=None, config_file=None))
    yield w
    w.store.close()
    if schema:
        drop_schema(schema)


def police_round(world: World, *, investigation: bool, reports: bool = True) -> tuple[str, str]:
    """The police answer a request about the main resident: the reports and/or the investigation item.

    With neither, the request stays unanswered.
    """
    case = taken_on_case(world)
    person = first_person(world, case)
    world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose="zicht op de overlast",
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen", "politie.lopend-onderzoek"],
            subjects=[person],
            on=day(4),
        ),
    )
    items = []
    if reports:
        items.append(DisclosureItem(category="politie.meldingen", subject=person, content="12 meldingen sinds juni"))
    if investigation:
        items.append(DisclosureItem(category="politie.lopend-onderzoek", subject=person, content=INVESTIGATION))
    if items:
        world.run("pol", DiscloseInformation(case=case, request="R1", items=items, om_consent="OM-2026-17", on=day(5)))
    return case, person


def access(world: World, person: str) -> str:
    return str(
        world.run(
            "pim",
            RegisterRequest(
                kind="access",
                person=person,
                requester_name="K. de Vries",
                requester_address="Kanaalstraat 12",
                received_on=RECEIVED,
                identity_check="id gezien",
            ),
        ).data["request"]
    )


def decide(world: World, reference: str) -> AccessDecision:
    data = world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen", on=date.today()))
    return AccessDecision.model_validate(data.data["decision"])


def _normal(text: str, reference: str, case: str) -> str:
    return re.sub(r"\bP[A-Z2-9]{6}\b", "P?", text.replace(reference, "REF").replace(case, "CASE"))


@pytest.mark.parametrize("reports", [True, False], ids=["with-other-items", "only-item"])
def test_a_silent_withholding_makes_the_letter_as_if_the_item_never_existed(
    world: World, other_world: World, reports: bool
) -> None:
    case_a, person_a = police_round(world, investigation=True, reports=reports)
    reference_a = access(world, person_a)
    item = next(
        i["item"]
        for i in request_items(world.session("pim"), reference_a)
        if i["section"] == "data" and INVESTIGATION in i["summary"]
    )
    world.run(
        "pim",
        WithholdItem(
            request=reference_a,
            item=item,
            ground="d",
            motivation="lopend strafrechtelijk onderzoek",
            tell_person=False,
            not_telling_reason="melden zou het onderzoek verraden",
        ),
    )
    states = {i["item"]: i["withheld"] for i in request_items(world.session("pim"), reference_a)}
    assert any(s and s.endswith(f"with {item}") for s in states.values())  # its source goes with it
    with_item = decide(world, reference_a)

    case_b, person_b = police_round(other_world, investigation=False, reports=reports)
    reference_b = access(other_world, person_b)
    without_item = decide(other_world, reference_b)

    a = _normal(with_item.to_json(), reference_a, case_a)
    b = _normal(without_item.to_json(), reference_b, case_b)
    assert json.loads(a) == json.loads(b)
    assert _normal(render_markdown(with_item), reference_a, case_a) == _normal(
        render_markdown(without_item), reference_b, case_b
    )
    assert INVESTIGATION not in a


def test_silent_withholding_is_whole(world: World) -> None:
    _, person = police_round(world, investigation=True)
    reference = access(world, person)
    with pytest.raises(ValidationFailed, match="silent withholding is whole"):
        world.run(
            "pim",
            WithholdItem(
                request=reference,
                item="data:name",
                ground="i",
                motivation="m",
                partly=True,
                tell_person=False,
                not_telling_reason="r",
            ),
        )


def test_household_texts_are_withheld_until_the_privacy_officer_releases_them(world: World, cli: Any) -> None:
    case = taken_on_case(
        world,
        members=[
            MemberInput(name="Karin Visser", birth_date=date(1980, 5, 5)),
            MemberInput(name="Noor Visser", birth_date=date(2012, 3, 3), role="kind"),
        ],
    )
    mother = first_person(world, case)
    reference = access(world, mother)
    items = {i["item"]: i for i in request_items(world.session("pim"), reference)}
    assert items["data:name"]["withheld"] is None  # her own data
    problems = [k for k in items if k.startswith("data:problem:")]
    assert problems
    assert all("awaiting review" in items[k]["withheld"] for k in ["data:reason", *problems])

    first = decide_copy(world, reference)
    assert "Karin Visser" in {d.value for d in first.data}
    assert not any(d.label.startswith("Problemen") or d.label == "Reden van aanmelding" for d in first.data)
    assert [n.ground for n in first.withheld] == ["art. 15 lid 4 AVG"]

    released = problems[0]
    result = cli("request", "release", reference, released, "--reason", "gaat alleen over haar", user="pim")
    assert result.code == 0, result.err
    assert "reviewed" in result.out
    second = decide(world, reference)
    labels = {d.label for d in second.data}
    assert any(label.startswith("Problemen") for label in labels)
    assert "Reden van aanmelding" not in labels  # still awaiting review
    assert [n.ground for n in second.withheld] == ["art. 15 lid 4 AVG"]


def decide_copy(world: World, reference: str) -> AccessDecision:
    """The decision as it would be issued now, without issuing it."""
    session = world.session("pim")
    return build_decision(
        session, load_request(session, reference), IssueAccessDecision(request=reference, signatory="P. Jansen")
    )

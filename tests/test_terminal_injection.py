"""Text one user typed cannot steer another user's terminal: refused on input, escaped on output."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from helpers import World
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from scenarios import START, take_on

from casusregie.adapters.profile_file import builtin_profiles
from casusregie.adapters.render.letter_markdown import render_markdown
from casusregie.commands.information import DeclineRequest, RequestInformation
from casusregie.commands.referral import MemberInput, ReferCase
from casusregie.commands.subject_requests import IssueAccessDecision, RegisterRequest, ReleaseItem
from casusregie.domain.text import UNSAFE
from casusregie.privacy_audit.decision_document import AccessDecision

ESC = "\x1b]2:owned\x07\x1b[2J\x1b[31m"  # retitle the window, clear the screen, turn red
BIDI = "\u202e"
CR = "\r"


def test_a_referral_with_an_escape_sequence_is_refused_and_writes_nothing(world: World, cli: Any) -> None:
    before = world.count()
    for member in (f"name=K{ESC};born=1979-04-12", f"name=K{BIDI};born=1979-04-12"):
        result = cli(
            "case", "refer", "--from", "mitros", "--worker", "w", "--reason", "r", "--problem", "overlast=x",
            "--member", member, user="piet",
        )  # fmt: skip
        assert result.code == 1
        assert "invalid input" in result.err
        assert not any(c in result.err for c in ("\x1b", BIDI))
    assert world.count() == before


@pytest.mark.parametrize("field", ["reason", "worker"])
def test_a_line_break_is_free_texts_only(world: World, field: str) -> None:
    values = {"reason": "eerste regel\ntweede regel", "worker": "J. Jansen"}
    values[field] += "\ninjected line"
    make = {
        "referring_org": "mitros",
        "referring_worker": values["worker"],
        "reason": values["reason"],
        "problems": {"overlast": "x"},
        "members": [MemberInput(name="A", birth_date=date(1980, 1, 1))],
    }
    if field == "reason":
        ReferCase(**make)  # free text may span lines
    else:
        with pytest.raises(ValidationError, match="line break"):
            ReferCase(**make)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
def test_input_accepts_exactly_the_printable_text(text: str) -> None:
    unsafe = any(UNSAFE.match(c) or c in "\t\n\r" for c in text)
    try:
        MemberInput(name=f"A{text}B", birth_date=date(1980, 1, 1))
    except ValidationError:
        assert unsafe
    else:
        assert not unsafe


def _plant_old_records(world: World) -> str:
    """Records as an older version stored them, before input was checked (validation bypassed)."""
    member = MemberInput.model_construct(
        name=f"Karel{ESC}de Vries{BIDI}", birth_date=date(1979, 4, 12), role="hoofdbewoner", bsn=None, address=None
    )
    referral = ReferCase.model_construct(
        referring_org="mitros",
        referring_worker=f"J.{CR}Jansen",
        reason=f"overlast{ESC}",
        problems={"overlast": f"lawaai{ESC}"},
        members=[member],
        home_corporation="mitros",
        consent_given_on=None,
        director="anna",
        team=None,
        on=START,
    )
    case = str(world.run("piet", referral).data["case"])
    take_on(world, case)
    request = world.run(
        "anna",
        RequestInformation.model_construct(
            case=case,
            partner="lister",
            purpose=f"zicht{ESC}",
            legal_basis=f"convenant{BIDI}",
            categories=["zorg.woonbegeleiding"],
            subjects=[],
            on=START,
        ),
    ).data["request"]
    world.run("lies", DeclineRequest.model_construct(case=case, request=request, reason=f"nee{ESC}", on=START))
    return case


def test_old_records_with_control_characters_are_printed_escaped(world: World, cli: Any) -> None:
    case = _plant_old_records(world)
    runs = [
        (("case", "show", case), "anna"),
        (("case", "list"), "anna"),
        (("worklist",), "anna"),
        (("trail", "--case", case), "anna"),
        (("audit", "replay", case), "aud"),
        (("log", "show"), "aud"),
    ]
    for args, user in runs:
        for extra in ((), ("--json",)):
            result = cli(*args, *extra, user=user)
            assert result.code == 0, (args, result.err)
            for stream in (result.out, result.err):
                assert not any(c in stream for c in ("\x1b", BIDI, CR)), (args, extra)
    shown = cli("case", "show", case, user="anna").out
    assert "\\x1b" in shown  # visible, not hidden: the reader sees something odd was stored


def test_letters_from_old_records_carry_no_control_characters(world: World, tmp_path: Any) -> None:
    case = _plant_old_records(world)
    person = next(iter(world.session("anna").case(case).members.values())).ref
    reference = world.run(
        "pim",
        RegisterRequest(
            kind="access",
            person=person,
            requester_name="K. de Vries",
            received_on=date.today(),
            identity_check="id gezien",
        ),
    ).data["request"]
    world.run("pim", ReleaseItem(request=reference, item="data:reason", reason="alleen over hem"))
    issued = world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen")).data["decision"]
    decision = AccessDecision.model_validate(issued)
    assert "Karel" in decision.to_json()
    for text in (decision.to_json(), render_markdown(decision)):
        assert not any(c in text for c in ("\x1b", BIDI, CR))


def test_a_profile_with_control_characters_is_refused(cli: Any, tmp_path: Any) -> None:
    text = builtin_profiles()["utrecht-extreme-woonoverlast"].read_text(encoding="utf-8")
    evil = text.replace('name = "Lister"', 'name = "Lis\\u001B[31mter\\u202E"')
    assert evil != text
    profile = tmp_path / "evil.toml"
    profile.write_text(evil, encoding="utf-8")
    checked = cli("profile", "check", str(profile))
    assert checked.code == 1
    assert "name holds the invisible or control character U+001B" in checked.out
    assert cli("init", "--profile", str(profile)).code == 1

"""A retried command with the same request id is carried out once and answers as the first time."""

from __future__ import annotations

import json
import string
from datetime import UTC, date, datetime, timedelta

import pytest
from helpers import World
from hypothesis import given, settings
from hypothesis import strategies as st
from scenarios import refer, taken_on_case

from casusregie.adapters.request_ids import KEEP, RequestIds
from casusregie.commands.idempotency import checked_request_id
from casusregie.commands.plan import SetGoal
from casusregie.commands.referral import MemberInput, ReferCase
from casusregie.domain.errors import ValidationFailed


def referral(name: str = "Karel de Vries") -> ReferCase:
    return ReferCase(
        referring_org="mitros",
        referring_worker="J. Jansen",
        reason="Overlast",
        problems={"overlast": "lawaai"},
        members=[MemberInput(name=name, birth_date=date(1979, 4, 12))],
        director="anna",
    )


def test_a_retry_with_the_same_request_id_returns_the_first_answer_and_writes_nothing(world: World) -> None:
    first = world.session("piet").execute(referral(), request_id="ref-1")
    events = world.count()

    again = world.session("piet").execute(referral(), request_id="ref-1")

    assert again == first
    assert world.count() == events
    assert any("carried out before" in alert for alert in world.app.alerts)


def test_the_same_request_id_for_another_command_is_refused_and_writes_nothing(world: World) -> None:
    world.session("piet").execute(referral(), request_id="ref-2")
    events = world.count()

    with pytest.raises(ValidationFailed, match="already used for another command"):
        world.session("piet").execute(referral("Noor de Vries"), request_id="ref-2")
    with pytest.raises(ValidationFailed, match="already used"):  # the same input by someone else
        world.session("lies").execute(referral(), request_id="ref-2")
    assert world.count() == events


def test_a_retry_on_another_day_without_a_date_is_the_same_command(world: World) -> None:
    case = taken_on_case(world)
    first = SetGoal(case=case, life_domain="overlast", description="rust")
    world.session("anna").execute(first, request_id="goal-1")
    later = SetGoal.model_validate({"case": case, "life_domain": "overlast", "description": "rust"})
    later_events = world.count()

    world.session("anna").execute(later, request_id="goal-1")  # its default date may be another day: not given

    assert world.count() == later_events


def test_when_the_answer_was_lost_the_retry_still_does_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RequestIds, "answer", lambda self, request_id, answer: None)  # killed before keeping it
    world.session("piet").execute(referral(), request_id="ref-3")
    events = world.count()

    again = world.session("piet").execute(referral(), request_id="ref-3")

    assert world.count() == events
    assert "already carried out" in again.message
    assert again.data["repeated"] is True


def test_a_simultaneous_retry_that_loses_the_race_gets_the_winners_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.session("piet").execute(referral(), request_id="ref-4")
    events = world.count()
    real_find = RequestIds.find
    calls: list[str] = []

    def not_yet_stored(self, request_id):  # type: ignore[no-untyped-def]
        calls.append(request_id)
        return None if len(calls) == 1 else real_find(self, request_id)  # as if both looked at the same moment

    monkeypatch.setattr(RequestIds, "find", not_yet_stored)
    again = world.session("piet").execute(referral(), request_id="ref-4")

    assert again == first
    assert world.count() == events  # the loser's events were rolled back with its claim


def test_a_refused_command_is_not_remembered(world: World) -> None:
    case = refer(world)
    from casusregie.commands.closure import CloseCase
    from casusregie.domain.errors import AccessDenied

    with pytest.raises(AccessDenied):
        world.session("piet").execute(CloseCase(case=case, outcome="goals-met"), request_id="close-1")
    assert world.store.request_ids.find("close-1") is None


def test_answers_kept_for_retries_hold_no_personal_data(world: World) -> None:
    world.session("piet").execute(referral("Zoë Bijzonder"), request_id="ref-5")
    with world.store.db.transaction(commit=False) as tx:
        rows = tx.execute("SELECT request_id, actor, fingerprint, answer FROM regie_request_ids").fetchall()
    stored = json.dumps(rows)
    assert "Bijzonder" not in stored
    assert "1979" not in stored


def test_request_ids_are_forgotten_after_a_while(world: World) -> None:
    world.session("piet").execute(referral(), request_id="old-1")
    long_ago = (datetime.now(UTC) - KEEP - timedelta(hours=1)).isoformat()
    with world.store.db.transaction(commit=True) as tx:
        tx.execute("UPDATE regie_request_ids SET stored_at = ? WHERE request_id = 'old-1'", (long_ago,))

    world.session("piet").execute(referral("Noor de Vries"), request_id="new-1")

    assert world.store.request_ids.find("old-1") is None
    assert world.store.request_ids.find("new-1") is not None


# --- the CLI ---------------------------------------------------------------------------------------

REFER = (
    "case",
    "refer",
    "--from",
    "mitros",
    "--worker",
    "J. Jansen",
    "--reason",
    "overlast",
    "--problem",
    "overlast=lawaai",
    "--member",
    "name=Karel de Vries;born=1979-04-12;role=hoofdbewoner",
    "--director",
    "anna",
    "--json",
)


def _cli_world(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--profile", "utrecht", "--admin", "beheer").code == 0
    assert cli("user", "add", "anna", "--role", "regisseur", "--team", "west", user="beheer").code == 0
    assert cli("user", "add", "piet", "--role", "partner", "--org", "mitros", user="beheer").code == 0


def _cases(cli) -> int:  # type: ignore[no-untyped-def]
    return len(cli("case", "list", "--json", user="anna").json())


def test_cli_retry_with_request_id_prints_the_first_answer(env, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _cli_world(cli)
    first = cli("--request-id", "9b2f0c1e-1", *REFER, user="piet")
    again = cli("--request-id", "9b2f0c1e-1", *REFER, user="piet")
    monkeypatch.setenv("REGIE_REQUEST_ID", "9b2f0c1e-1")
    by_env = cli(*REFER, user="piet")

    assert first.code == again.code == by_env.code == 0
    assert first.json() == again.json() == by_env.json()
    assert "carried out before" in again.err
    assert _cases(cli) == 1


@pytest.mark.parametrize("bad", ["", "with space", "tab\there", "a" * 129, "-leading-dash", "nul\x00", "é"])
def test_cli_refuses_a_malformed_request_id_and_writes_nothing(env, cli, bad: str) -> None:  # type: ignore[no-untyped-def]
    _cli_world(cli)
    result = cli("--request-id", bad, *REFER, user="piet")
    if bad == "":
        assert result.code == 0  # an empty value is no request id, as for every REGIE_ setting
        return
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "request id" in result.err
    assert _cases(cli) == 0


ALLOWED = string.ascii_letters + string.digits + "._:-"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=140))
def test_request_id_form(value: str) -> None:
    ok = len(value) <= 128 and value[0] in string.ascii_letters + string.digits and all(c in ALLOWED for c in value)
    if ok:
        assert checked_request_id(value) == value
    else:
        with pytest.raises(ValidationFailed):
            checked_request_id(value)

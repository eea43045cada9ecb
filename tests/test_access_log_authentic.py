"""The access log is told from its records, not from the view that indexes them.

Someone with write access to the database but no keys can edit or delete rows of the view
(`regie_access_traces`); that must not change what `log show` or the LDV export tell the
privacy officer, and the difference is found.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from helpers import World
from scenarios import refer

from casusregie.privacy_audit.access_records import view_differences
from casusregie.projections.reader import Reader


def _reads(world: World, case: str) -> tuple[str, str]:
    Reader(world.session("anna")).case(case)
    Reader(world.session("carla")).case(case)
    reader = Reader(world.session("pim"))
    reader.runner.catch_up()
    with world.store.db.transaction(commit=False) as tx:
        anna, carla = (
            tx.scalar("SELECT trace_id FROM regie_access_traces WHERE actor = ? AND name = 'case.show'", (user,))
            for user in ("anna", "carla")
        )
    return str(anna), str(carla)


def test_editing_or_deleting_view_rows_does_not_change_the_log_and_is_found(world: World, cli: Any) -> None:
    case = refer(world, director="anna")
    anna_read, carla_read = _reads(world, case)
    assert view_differences(world.app) == []
    with world.store.db.transaction(commit=True) as tx:
        tx.execute("UPDATE regie_access_traces SET actor = 'mia' WHERE trace_id = ?", (anna_read,))
        tx.execute("DELETE FROM regie_access_traces WHERE trace_id = ?", (carla_read,))
        tx.execute("DELETE FROM regie_access_subjects WHERE trace_id = ?", (carla_read,))

    shown = cli("log", "show", "--json", user="aud").json()
    by_trace = {r["trace_id"]: r for r in shown}
    assert by_trace[anna_read]["actor"] == "anna"
    assert by_trace[carla_read]["actor"] == "carla"
    assert [r["trace_id"] for r in cli("log", "show", "--user", "carla", "--json", user="aud").json()] == [carla_read]
    export = cli("log", "export", user="aud").out
    assert carla_read in export

    found = "\n".join(view_differences(world.app))
    assert f"access record {anna_read} differs" in found
    assert f"access record {carla_read} is missing from the view" in found
    checked = cli("projections", "check", user="aud")
    assert checked.code == 1
    assert "regie projections rebuild" in checked.err
    assert cli("projections", "rebuild", user="admin").code == 0
    assert cli("projections", "check", user="aud").code == 0


def test_a_forged_view_row_for_a_consultation_fails_closed_in_an_access_answer(world: World, cli: Any) -> None:
    case = refer(world, director="anna")
    _reads(world, case)
    person = Reader(world.session("anna")).case(case)["members"][0]["person"]
    with world.store.db.transaction(commit=True) as tx:
        person_id = tx.scalar("SELECT person_id FROM regie_persons WHERE ref = ?", (person,))
        tx.execute(
            "INSERT INTO regie_access_traces SELECT 'z' || substr(trace_id, 2), span_id, name, actor, on_behalf_of, "
            "role, organisation, action, activity, case_id, outcome, reason, started_at, ended_at "
            "FROM regie_access_traces WHERE name = 'case.show' AND actor = 'anna'"
        )
        tx.execute(
            "INSERT INTO regie_access_subjects (trace_id, span_id, subject_id, subject_type) "
            "SELECT trace_id, span_id, ?, 'person' FROM regie_access_traces WHERE trace_id LIKE 'z%' "
            "AND name = 'case.show'",
            (person_id,),
        )
    registered = cli(
        "request", "register", "--kind", "access", "--person", person, "--requester-name", "K",
        "--received", str(date.today() - timedelta(days=3)), "--identity-check", "id", "--json", user="pim",
    )  # fmt: skip
    assert registered.code == 0, registered.err
    items = cli("request", "items", registered.json()["request"], user="pim")
    assert items.code == 1
    assert "regie audit verify" in items.err

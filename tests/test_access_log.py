"""The access log comes first: every read and command is logged before data moves, fail closed."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from helpers import World
from scenarios import day, first_person, police_disclosure, refer, taken_on_case

from casusregie.commands.base import CaseCommand, Result, handles
from casusregie.commands.plan import SetGoal
from casusregie.domain.access import Action
from casusregie.domain.errors import AccessDenied, StoreProblem
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.projections.access import AccessLogProjection
from casusregie.projections.reader import Reader


def break_access_log(world: World) -> None:
    """Make the database refuse every new access-log record, as a full disk or a broken log would."""
    with world.store.db.transaction() as tx:
        if world.store.db.dialect == "sqlite":
            tx.execute(
                "CREATE TRIGGER no_access_log BEFORE INSERT ON stored_events "
                "WHEN NEW.topic LIKE '%AccessTrace%' BEGIN SELECT RAISE(ABORT, 'access log unavailable'); END"
            )
        else:
            tx.execute(
                "CREATE FUNCTION no_access_log() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN IF NEW.topic LIKE '%AccessTrace%' THEN RAISE EXCEPTION 'access log unavailable'; END IF; "
                "RETURN NEW; END $$"
            )
            tx.execute(
                "CREATE TRIGGER no_access_log BEFORE INSERT ON stored_events FOR EACH ROW "
                "EXECUTE FUNCTION no_access_log()"
            )


def test_when_the_access_log_cannot_be_written_reads_return_nothing_and_commands_write_nothing(
    world: World,
) -> None:
    case = taken_on_case(world)
    Reader(world.session("anna")).runner.catch_up()
    break_access_log(world)
    before = world.count()
    with pytest.raises(StoreProblem, match="access log unavailable"):
        Reader(world.session("anna")).case(case)
    with pytest.raises(StoreProblem, match="access log unavailable"):
        world.run("anna", SetGoal(case=case, life_domain="overlast", description="rust", on=day(5)))
    assert world.count() == before
    assert world.session("anna").case(case).goals == {}


def test_the_cli_prints_no_data_when_the_log_write_fails(world: World, cli: Any) -> None:
    case = taken_on_case(world)
    world.store.close()
    assert cli("case", "show", case, "--json", user="anna").code == 0
    world = world.reopen()
    break_access_log(world)
    result = cli("case", "show", case, "--json", user="anna")
    assert result.code == 1
    assert result.out == ""
    assert "access log unavailable" in result.err
    world.store.close()


def test_one_record_per_person_touched_linked_by_trace(world: World) -> None:
    case = refer(world)
    Reader(world.session("anna")).case(case)
    runner = Reader(world.session("aud")).runner
    runner.catch_up()
    with world.store.db.transaction(commit=False) as tx:
        traces = AccessLogProjection.stream(tx)
    show = [(t, kids) for t, kids in traces if t.name == "case.show"]
    assert len(show) == 1
    trace, children = show[0]
    assert (trace.actor, trace.role, trace.action, trace.activity, trace.outcome) == (
        "anna",
        "regisseur",
        "read",
        "regie-uitvoering",
        "ok",
    )
    assert len(children) == 2  # the household has two members: two linked records, one per person
    assert len({span for span, _, _ in children}) == 2
    assert trace.span_id in {span for span, _, _ in children}  # the root record carries the first person
    refer_trace = next(t for t, _ in traces if t.name == "case.refer")
    assert refer_trace.action == "create"


def test_on_behalf_of_is_recorded(world: World, cli: Any) -> None:
    case = refer(world)
    world.store.close()
    assert cli("--on-behalf-of", "carla", "case", "show", case, user="anna").code == 0
    world = world.reopen()
    rows = PrivacyReader(world.session("aud")).access_log(user="anna")
    assert (rows[-1]["name"], rows[-1]["on_behalf_of"]) == ("case.show", "carla")
    world.store.close()


class UndeclaredProcessing(CaseCommand):
    name: ClassVar[str] = "test.undeclared"
    activity: ClassVar[str] = "marketing"
    action: ClassVar[Action] = Action.READ


@handles(UndeclaredProcessing)
def _never_runs(s: Any, cmd: UndeclaredProcessing) -> Result:  # pragma: no cover - must be refused first
    raise AssertionError("an undeclared processing reached its handler")


def test_a_processing_activity_outside_the_register_is_refused_and_logged(world: World) -> None:
    case = refer(world)
    denied = world.count("AccessTrace.Started")
    with pytest.raises(AccessDenied, match="'marketing', which is not in the register"):
        world.run("anna", UndeclaredProcessing(case=case))
    assert world.count("AccessTrace.Started") == denied + 1


def test_ldv_export_has_the_logboek_dataverwerkingen_shape(world: World, cli: Any, tmp_path: Any) -> None:
    case = taken_on_case(world)
    police_disclosure(world, case)
    person_ref = first_person(world, case)
    world.store.close()
    out = tmp_path / "ldv.jsonl"
    result = cli("log", "export", "--format", "ldv", "--out", str(out), user="aud")
    assert result.code == 0, result.err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records
    roots = {r["span_id"]: r for r in records if r["parent_span_id"] is None}
    children = [r for r in records if r["parent_span_id"] is not None]
    assert children
    assert any("dpl.core.data_subject_id" in r for r in roots.values())  # a record of zero or one person
    assert any("dpl.core.data_subject_id" not in r for r in roots.values())
    for record in records:
        assert len(record["trace_id"]) == 32
        assert int(record["trace_id"], 16) >= 0
        assert len(record["span_id"]) == 16
        assert record["status"] in ("Ok", "Error")
        assert record["dpl.core.processing_activity_id"]
        assert "anna" not in json.dumps(record)  # user identities stay in the internal log
    for child in children:
        assert child["parent_span_id"] in roots
        assert roots[child["parent_span_id"]]["trace_id"] == child["trace_id"]
    for record in records:
        if "dpl.core.data_subject_id" in record:
            assert record["dpl.core.data_subject_id_type"] == "casusregie-pseudoniem"
            assert len(record["dpl.core.data_subject_id"]) == 64
    world = world.reopen()
    person_id = world.session("anna").person(person_ref)[0]
    assert str(person_id) not in out.read_text()  # pseudonymised, not the internal id
    world.store.close()

"""A rebuild of the views from scratch gives exactly the views that catching up step by step gave.

Every view table is compared whole, on SQLite and PostgreSQL: the case states (decrypted and
rendered, erased persons included), the worklist, persons, disclosure trail (its sealed details
opened), access log and subject requests. Hypothesis varies the commands, where the catch-ups
fall, and the sizes of pages and batches, so that cases and their kept states cross page and
batch boundaries. Further: the states a runner keeps between batches are never used after
another process moved the views, nor after a batch that failed; and the fast paths (the row's
associated data, the access rows) give the same bytes and rows as the plain ones.
"""

from __future__ import annotations

import gc
import secrets
import sys
from dataclasses import astuple
from pathlib import Path
from typing import Any
from uuid import UUID

import hypothesis.strategies as st
import pytest
from helpers import PG_DSN, World, drop_schema, make_world, new_schema, require_postgres
from hypothesis import HealthCheck, given, settings

from casusregie.adapters.config import Settings
from casusregie.adapters.mapper import RowAad, row_aad
from casusregie.commands.erasure import ErasePerson
from casusregie.commands.users import AddUser
from casusregie.domain.access import AccessTrace
from casusregie.domain.roles import Role
from casusregie.privacy_audit.need_to_know import keyring_opener
from casusregie.projections.access import AccessLogProjection, AccessRow, _trace_row
from casusregie.projections.case_view import render_case
from casusregie.projections.cases import CaseProjection
from casusregie.projections.reader import view_runner
from casusregie.projections.registry import projections_for
from casusregie.projections.runner import REBUILD_CACHE_MIB, SELDOM, ViewRunner, collecting_seldom
from casusregie.projections.trail import TrailProjection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks package, for its workload

from benchmarks.soak import Workload

PLAIN_TABLES = (
    "regie_worklist",
    "regie_persons",
    "regie_access_traces",
    "regie_access_subjects",
    "regie_access_authentication",
    "regie_requests",
    "regie_request_tasks",
    "regie_view_position",
)


def views(app: Any) -> dict[str, Any]:
    """Every view table of the store, whole; encrypted columns by what they hold."""
    runner = view_runner(app)
    cases = next(p for p in runner.projections if isinstance(p, CaseProjection))
    trail = next(p for p in runner.projections if isinstance(p, TrailProjection))
    open_ = keyring_opener(app.store.keyring)
    with app.store.db.transaction(commit=False) as tx:
        out: dict[str, Any] = {t: sorted(tx.execute(f"SELECT * FROM {t}").fetchall()) for t in PLAIN_TABLES}
        out["regie_case_views"] = sorted(
            tx.execute(
                "SELECT case_id, case_number, status, director, team, referred_on, involved, escalated, version, topic "
                "FROM regie_case_views"
            ).fetchall()
        )
        out["case states"] = {str(c.id): render_case(c, open_) for c in cases.all_states(tx)}
        out["regie_trail"] = sorted(
            tx.execute(
                "SELECT entry_id, person_id, case_id, case_number, on_date, recorded_at, kind, from_org, to_org, "
                "categories, request_id FROM regie_trail"
            ).fetchall()
        )
        out["trail entries"] = sorted((repr(e) for e in trail.query(tx)), key=str)
    return out


def open_world(backend: str, tmp: Path) -> tuple[World, str]:
    unique = secrets.token_hex(4)
    schema = ""
    if backend == "sqlite":
        location = str(tmp / f"s-{unique}.db")
    else:
        schema = new_schema()
        location = f"{PG_DSN}?schema={schema}"
    world = make_world(Settings(store=location, key_dir=tmp / f"k-{unique}", checkpoint_dir=None, config_file=None))
    world.run("admin", AddUser(user_id="bert", role=Role.REGISSEUR, team="oost"))  # the workload's second director
    return world, schema


def close_world(world: World, schema: str) -> None:
    world.store.close()
    if schema:
        drop_schema(schema)


def drive(world: World, work: Workload, commands: int, catch_up_every: int, runner: ViewRunner) -> None:
    for i in range(commands):
        slot, (user, command) = work.next_command()
        work.done(slot, world.run(user, command))
        if i % catch_up_every == 0:
            runner.catch_up()


def erase_someone(world: World, work: Workload) -> None:
    """A privacy officer erases the first member of the oldest case in flight."""
    ref = next(c.ref for c in work.cases if c.ref)
    person = next(iter(world.session("anna").case(ref).members.values())).ref
    world.run("pim", ErasePerson(person=person, ground="granted-request"))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_rebuild_gives_the_views_the_catch_ups_gave(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        require_postgres()

    @settings(
        max_examples=25 if backend == "sqlite" else 10,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        seed=st.integers(0, 1_000),
        commands=st.integers(40, 140),
        catch_up_every=st.integers(1, 30),
        page=st.integers(1, 40),
        chunk=st.integers(1, 200),
        rebuild_every=st.integers(1, 400),
        erase=st.booleans(),
        first=st.integers(1, 60),
    )
    def check(
        seed: int,
        commands: int,
        catch_up_every: int,
        page: int,
        chunk: int,
        rebuild_every: int,
        erase: bool,
        first: int,
    ) -> None:
        world, schema = open_world(backend, tmp_path)
        try:
            app = world.app
            runner = view_runner(app)
            runner.page_size, runner.commit_every = page, chunk
            work = Workload(world, in_flight=4, seed=seed)  # type: ignore[arg-type]  # World has run, session, app
            drive(world, work, commands, catch_up_every, runner)
            if erase:  # the last thing: the workload's next commands would speak of the erased person
                erase_someone(world, work)
            runner.catch_up(chunk=first)  # as a read does: small batches first, growing to ``chunk``
            incremental = views(app)
            assert incremental["case states"]
            # the same runner (its kept states dropped with the views), in batches of another size
            runner.rebuild_every = rebuild_every
            runner.rebuild()
            assert views(app) == incremental
            # a fresh runner, with the sizes it has by default
            ViewRunner(app, projections_for(app)).rebuild()
            assert views(app) == incremental
        finally:
            close_world(world, schema)

    check()


def test_kept_states_are_not_used_after_another_runner_moved_the_views(backend: str, tmp_path: Path) -> None:
    world, schema = open_world(backend, tmp_path)
    try:
        app = world.app
        ours, theirs = (ViewRunner(app, projections_for(app), page_size=7, commit_every=20) for _ in range(2))
        kept = next(p for p in ours.projections if isinstance(p, CaseProjection))._warm
        work = Workload(world, in_flight=3, seed=7)  # type: ignore[arg-type]
        drive(world, work, 60, 1_000, theirs)
        seen: list[int] = []

        def meanwhile(count: int) -> None:
            """Between two batches of ours: another process catches the views up, and more commands come."""
            seen.append(len(kept))
            if len(seen) <= 3:
                theirs.catch_up()
                for _ in range(15):
                    slot, (user, command) = work.next_command()
                    work.done(slot, world.run(user, command))

        ours.catch_up(progress=meanwhile)
        assert len(seen) > 1
        assert seen[0] > 0  # ours kept the states of its first batch
        assert not kept  # and nothing once its catch-up ended
        incremental = views(app)
        ViewRunner(app, projections_for(app)).rebuild()
        assert views(app) == incremental
    finally:
        close_world(world, schema)


def test_a_failed_batch_leaves_no_kept_state_behind(backend: str, tmp_path: Path, monkeypatch: Any) -> None:
    world, schema = open_world(backend, tmp_path)
    try:
        app = world.app
        runner = ViewRunner(app, projections_for(app), page_size=5, commit_every=30)
        access = next(p for p in runner.projections if isinstance(p, AccessLogProjection))
        work = Workload(world, in_flight=3, seed=3)  # type: ignore[arg-type]
        drive(world, work, 80, 1_000, runner)

        # After the first batch, a later projection fails in the middle of the second one: the
        # case states were advanced in memory, their transaction is rolled back.
        def fail(tx: Any, events: Any) -> None:
            raise RuntimeError("disk on fire")

        with pytest.raises(RuntimeError, match="disk on fire"):
            runner.catch_up(progress=lambda count: monkeypatch.setattr(access, "apply", fail))
        monkeypatch.undo()
        assert 0 < runner.position() < runner.head()
        runner.catch_up()
        incremental = views(app)
        ViewRunner(app, projections_for(app)).rebuild()
        assert views(app) == incremental
    finally:
        close_world(world, schema)


@settings(max_examples=200, deadline=None)
@given(
    store_id=st.text(min_size=1, max_size=40),
    originator=st.uuids(),
    version=st.integers(0, 2**62),
    topic=st.text(max_size=80),
    as_text=st.booleans(),
)
def test_the_row_aad_made_from_parts_is_the_row_aad(
    store_id: str, originator: UUID, version: int, topic: str, as_text: bool
) -> None:
    made = RowAad(store_id)
    oid: UUID | str = str(originator) if as_text else originator
    assert made(oid, version, topic) == row_aad(store_id, oid, version, topic)
    assert made(oid, version, topic) == row_aad(store_id, oid, version, topic)  # the topic's part, kept


def test_the_access_rows_are_the_access_row_fields(world: World) -> None:
    world.run("admin", AddUser(user_id="bert", role=Role.REGISSEUR, team="oost"))
    work = Workload(world, in_flight=2, seed=1)  # type: ignore[arg-type]
    drive(world, work, 15, 1_000, view_runner(world.app))
    page = world.app.recorder.select_notifications(start=0, limit=10_000, inclusive_of_start=False)
    started = [e for e in world.app.mapper.to_domain_events(page) if isinstance(e, AccessTrace.Started)]
    assert started
    assert [_trace_row(e) for e in started] == [astuple(AccessRow.of(e)) for e in started]
    assert world.app.mapper.to_domain_events(page)[-1].__dict__ == world.app.mapper.to_domain_event(page[-1]).__dict__


def test_a_rebuild_collects_garbage_seldom_and_puts_the_collector_back(world: World) -> None:
    app = world.app
    seen: list[tuple[int, int, int]] = []

    class Watching(TrailProjection):
        def apply(self, tx: Any, events: Any) -> None:
            seen.append(gc.get_threshold())

    before = gc.get_threshold()
    assert before[0] < SELDOM
    runner = ViewRunner(app, [Watching(app)])
    runner.rebuild()
    assert seen
    assert all(threshold == (SELDOM, *before[1:]) for threshold in seen)
    assert gc.get_threshold() == before
    seen.clear()
    runner.catch_up()  # a read's catch-up leaves the collector as it is
    world.run("admin", AddUser(user_id="bea", role=Role.REGISSEUR, team="oost"))
    runner.catch_up()
    assert seen == [before]

    class Failing(Watching):
        def apply(self, tx: Any, events: Any) -> None:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        ViewRunner(app, [Failing(app)]).rebuild()
    assert gc.get_threshold() == before


def test_overlapping_rebuilds_put_back_the_thresholds_from_before_the_first() -> None:
    before = gc.get_threshold()
    first, second = collecting_seldom(), collecting_seldom()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] == SELDOM
    first.__exit__(None, None, None)  # the first to start ends first: the other still runs
    assert gc.get_threshold()[0] == SELDOM
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_a_rebuild_writes_with_a_bigger_page_cache_and_puts_it_back(world: World) -> None:
    app = world.app
    seen: list[int] = []
    if app.store.db.dialect == "postgres":  # the server's shared buffers: the block changes nothing
        with app.store.db.transaction() as tx, tx.page_cache(8):
            tx.execute("SELECT 1")
        assert ViewRunner(app, projections_for(app)).rebuild() > 0
        return

    class Watching(TrailProjection):
        def apply(self, tx: Any, events: Any) -> None:
            seen.append(int(tx.scalar("PRAGMA cache_size")))

    ViewRunner(app, [Watching(app)]).rebuild()
    assert seen
    assert set(seen) == {-1024 * REBUILD_CACHE_MIB}  # KiB
    with app.store.db.transaction() as tx:
        before = int(tx.scalar("PRAGMA cache_size"))
        with tx.page_cache(8):
            assert int(tx.scalar("PRAGMA cache_size")) == -8 * 1024
        assert int(tx.scalar("PRAGMA cache_size")) == before
    assert before != -1024 * REBUILD_CACHE_MIB
    seen.clear()
    world.run("admin", AddUser(user_id="bea", role=Role.REGISSEUR, team="oost"))
    ViewRunner(app, [Watching(app)]).catch_up()  # a read's catch-up: the connection's own cache
    assert seen
    assert -1024 * REBUILD_CACHE_MIB not in seen


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_read_far_behind_catches_up_in_growing_batches(backend: str, tmp_path: Path) -> None:
    if backend == "postgres":
        require_postgres()
    world, schema = open_world(backend, tmp_path)
    try:
        app = world.app
        work = Workload(world, in_flight=3, seed=5)  # type: ignore[arg-type]
        runner = ViewRunner(app, projections_for(app), page_size=5, commit_every=40)
        drive(world, work, 60, 1_000, runner)
        behind = runner.head() - runner.position()
        assert behind > 120
        batches: list[int] = []
        assert runner.catch_up(progress=batches.append, chunk=5) == behind
        # 5 events, then as many as applied so far (doubling), up to commit_every; whole pages of 5
        assert batches[:4] == [5, 5, 10, 20]
        assert set(batches[4:-1]) == {40}
        assert 0 < batches[-1] <= 40
        incremental = views(app)
        ViewRunner(app, projections_for(app)).rebuild()
        assert views(app) == incremental
    finally:
        close_world(world, schema)

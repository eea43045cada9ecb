"""The rows the case projection derives (worklist, persons, trail, case columns) are the same
after many small catch-ups, which skip rows that did not change, as after a rebuild from
scratch; and the cache of resolved references stays bounded."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import World

from casusregie.adapters import lookup
from casusregie.commands.users import AddUser
from casusregie.domain.roles import Role
from casusregie.projections.reader import view_runner
from casusregie.projections.trail import TrailProjection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks package, for its workload

from benchmarks.soak import Workload


def _rows(world: World) -> dict[str, Any]:
    trail = next(p for p in view_runner(world.app).projections if isinstance(p, TrailProjection))
    with world.store.db.transaction(commit=False) as tx:
        return {
            "cases": sorted(
                tx.execute(
                    "SELECT case_id, case_number, status, director, team, referred_on, involved, escalated, version "
                    "FROM regie_case_views"
                ).fetchall()
            ),
            "worklist": sorted(tx.execute("SELECT * FROM regie_worklist").fetchall()),
            "persons": sorted(tx.execute("SELECT * FROM regie_persons").fetchall()),
            "trail": sorted(trail.query(tx), key=repr),
        }


def _workload(world: World, in_flight: int, seed: int) -> Workload:
    """The soak benchmark's cases (directed by anna, team west, and bert, team oost)."""
    world.run("admin", AddUser(user_id="bert", role=Role.REGISSEUR, team="oost"))
    return Workload(world, in_flight=in_flight, seed=seed)  # type: ignore[arg-type]  # World has run, session, app


def test_rows_after_small_catch_ups_equal_a_rebuild(world: World) -> None:
    work = _workload(world, in_flight=4, seed=3)
    runner = view_runner(world.app)
    for i in range(260):  # referrals, consent, disclosures, meetings, plan work, escalations, closures
        slot, (user, command) = work.next_command()
        work.done(slot, world.run(user, command))
        if i % 7 == 0:
            runner.catch_up()
    runner.catch_up()
    assert work.closed >= 1
    incremental = _rows(world)
    assert incremental["worklist"]
    assert incremental["trail"]
    runner.rebuild()
    assert _rows(world) == incremental


def test_resolved_references_are_cached_within_a_bound(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    work = _workload(world, in_flight=5, seed=5)
    for slot in range(5):  # five referrals: five case refs
        _, (user, command) = work.next_command(slot)
        work.done(slot, world.run(user, command))
    refs = [c.ref for c in work.cases]
    index = lookup.RefIndex(world.store.db)
    monkeypatch.setattr(lookup, "KNOWN_MAX", 3)
    found = [index.resolve(ref, "case") for ref in refs + refs]
    assert len(index._known) == 3
    assert found[:5] == found[5:]
    assert all(f is not None for f in found)

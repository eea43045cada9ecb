"""The rebuild benchmark's store grows as a city's log does: cases come and go, a bounded number open at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks package

from benchmarks import lifecycle
from benchmarks.common import temp_location


@pytest.mark.slow
def test_a_bigger_store_has_cases_that_made_way_for_newer_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "ACTIVE_CASES", 3)
    monkeypatch.setattr(lifecycle, "PLAN_STEPS", 12)
    with temp_location("sqlite", "shape") as at:
        world = lifecycle.ProjectWorld(at)
        try:
            built = lifecycle.build_store(world, 1_200, full_sample=5)
            with world.db.transaction(commit=False) as tx:  # the rowid is the position in the log (SQLite)
                spans = tx.execute(
                    "SELECT MIN(rowid), MAX(rowid) FROM stored_events "
                    "WHERE topic LIKE 'casusregie.domain.case:Case.%' GROUP BY originator_id "
                    "ORDER BY MIN(rowid)"
                ).fetchall()
        finally:
            world.close()
    assert built["cases"] == 12
    assert built["active_cases_at_once"] == 3
    assert built["events"] >= 1_200
    assert len(spans) == 12
    # The first case's work was over before the last case was referred; no more than three overlap.
    assert spans[0][1] < spans[-1][0]
    for first, _ in spans:
        open_then = sum(1 for start, end in spans if start <= first <= end)
        assert open_then <= 3 + 1  # the three at work and, for a moment, the one replacing a finished case

"""If keeping the tree fails, the events are not stored either (one transaction, on both backends)."""

from __future__ import annotations

import pytest
from helpers import World
from scenarios import refer

from casusregie.adapters import merkle_log


def test_a_failing_tree_update_stores_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = world.count()
    with world.store.db.transaction(commit=False) as tx:
        leaves = tx.scalar("SELECT count(*) FROM regie_merkle_leaves")
    keep = merkle_log.append

    def half_done(tx: object, stored: object, ids: object) -> int:
        keep(tx, stored, ids)  # leaves and nodes written ...
        raise ValueError("the tree update failed half way")  # ... then something goes wrong

    monkeypatch.setattr(merkle_log, "append", half_done)
    with pytest.raises(ValueError, match="half way"):  # the real cause, not a stand-in
        refer(world, director="anna")
    monkeypatch.setattr(merkle_log, "append", keep)
    assert world.count() == before
    with world.store.db.transaction(commit=False) as tx:
        assert tx.scalar("SELECT count(*) FROM regie_merkle_leaves") == leaves
    refer(world, director="anna")  # and the store works on
    assert world.count() > before

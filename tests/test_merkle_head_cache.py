"""The tree head a writer caches between its commands (adapters/merkle_log.HeadCache).

A writer that appends straight after its own last commit uses the head it committed instead
of reading it back; whenever anyone else appended in between, or the cache is wrong for any
reason, the tree must still come out whole: gap-free positions, a head that matches them, and
a log that verifies. On both backends, with writers in one process and in several.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from helpers import World
from scenarios import refer
from test_audit_hardening_log import attacker

from casusregie.adapters import merkle_log
from casusregie.adapters.config import Settings
from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.privacy_audit.merkle import Frontier
from casusregie.privacy_audit.verify import LogTampered, verify_store


def second_writer(world: World) -> World:
    """Another writer on the same store, as another process would be: its own connections and cache."""
    store = open_store(world.settings)
    return World(world.settings, store, RegieApplication(store))


def head_cache(world: World) -> merkle_log.HeadCache:
    cache = world.app.recorder.tree_head
    assert isinstance(cache, merkle_log.HeadCache)
    return cache


def assert_whole(world: World) -> None:
    """Positions 0..n-1, one per stored event, a head of size n, and a log that verifies."""
    events = world.count()
    with world.store.db.transaction(commit=False) as tx:
        positions = [p for (p,) in tx.execute("SELECT position FROM regie_merkle_leaves ORDER BY position").fetchall()]
        size = tx.scalar("SELECT size FROM regie_merkle_head WHERE id = 1")
    assert positions == list(range(events))
    assert size == events
    report = verify_store(world.store)
    assert report.ok, report.problems


def test_a_writer_extends_its_own_head_and_reads_the_head_after_anyone_else(world: World) -> None:
    other = second_writer(world)
    try:
        refer(world)
        cache = head_cache(world)
        hits = cache.hits
        refer(world)
        assert cache.hits > hits  # straight after its own commit: the cached head
        refer(other)  # now the cache of the first writer is behind
        misses = cache.misses
        refer(world)
        assert cache.misses > misses  # it noticed (ids do not follow on) and read the head
        refer(other)
        refer(world)
        assert_whole(world)
    finally:
        other.store.close()


def _last_id_handed_out(world: World) -> int:
    """The newest notification id given out, committed or not: a PostgreSQL sequence also skips ids
    that a rolled-back insert took, and the next append's first id follows this one."""
    db = world.store.db
    with db.transaction(commit=False) as tx:
        if db.dialect == "postgres":
            sequence = tx.scalar("SELECT pg_get_serial_sequence('stored_events', 'notification_id')")
            return int(tx.scalar(f"SELECT last_value FROM {sequence}"))
    return int(world.app.recorder.max_notification_id() or 0)


def test_a_stale_head_that_looks_fresh_is_never_written_over(world: World) -> None:
    """The compare-and-swap stops a cached head that is wrong though its ids seem to follow on."""
    other = second_writer(world)
    try:
        refer(world)
        refer(world)
        cache = head_cache(world)
        with cache._lock:
            assert cache._head is not None
            stale = cache._head[0].copy()
        refer(other)  # appends after the head this writer cached
        last = _last_id_handed_out(world)
        with cache._lock:
            cache._head = (stale, last)  # the ids of the next append follow on: it looks fresh
        before, stale_before = world.count(), cache.stale
        counts = (cache.hits, cache.misses)
        refer(world)  # PostgreSQL: the swap fails the transaction, which runs again; SQLite: redone in it
        assert world.count() > before
        assert cache.stale == stale_before + 1, (counts, cache.hits, cache.misses)
        assert_whole(world)
        refer(world)
        assert_whole(world)
    finally:
        other.store.close()


def test_a_failed_insert_forgets_the_head(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    refer(world)
    refer(world)
    cache = head_cache(world)
    assert cache._head is not None
    keep = merkle_log.append

    def fails_after_the_tree_rows(tx: Any, stored: Any, ids: Any) -> int:
        size = keep(tx, stored, ids)  # the new head is staged ...
        tx.execute("INSERT INTO no_such_table VALUES (1)")  # ... then the transaction fails (PostgreSQL: at the commit)
        return size

    monkeypatch.setattr(merkle_log, "append", fails_after_the_tree_rows)
    before = world.count()
    with pytest.raises(Exception, match="(?i)no.such.table|does not exist"):
        refer(world)
    monkeypatch.setattr(merkle_log, "append", keep)
    assert world.count() == before
    assert cache._head is None  # neither the staged head nor the one before it is trusted now
    refer(world)
    assert_whole(world)


def test_a_damaged_head_refuses_the_write_of_a_writer_with_a_cached_head(world: World) -> None:
    refer(world)
    refer(world)
    assert head_cache(world)._head is not None
    with attacker(world) as db:
        db.q("UPDATE regie_merkle_head SET size = size + 1")
        damaged = db.q("SELECT size, frontier FROM regie_merkle_head")
    before = world.count()
    with pytest.raises(LogTampered, match="tree head is damaged"):
        refer(world)
    assert world.count() == before
    with attacker(world) as db:
        assert db.q("SELECT size, frontier FROM regie_merkle_head") == damaged  # the evidence stays as it was
        db.q("UPDATE regie_merkle_head SET size = size - 1")
    refer(world)
    assert_whole(world)


def test_the_empty_tree_takes_its_first_head_once(world: World) -> None:
    """The swap's insert branch: only an empty table takes a first head; a head that stands refuses a second."""
    with world.store.db.transaction(commit=False) as tx:
        size = tx.scalar("SELECT size FROM regie_merkle_head WHERE id = 1")
    assert size == world.count() > 0
    if world.store.db.dialect != "postgres":
        return
    leaf = merkle_log.leaf_for(0, "x", 1, "t", b"")
    first = Frontier()
    first.append(leaf)
    with pytest.raises(Exception, match="regie_merkle_head"), world.store.db.transaction(commit=True) as tx:
        # As if no head were stored: expected size 0. A head stands, so the statement fails.
        merkle_log._write_in_one_statement(tx, [], [], [], (first.size, first.to_bytes()), (0, Frontier().to_bytes()))
    assert_whole(world)


# --- writers in several processes ----------------------------------------------------------------------------


def _write_in_a_process(settings: Settings, commands: int, out: Any) -> None:
    store = open_store(settings)
    try:
        world = World(settings, store, RegieApplication(store))
        for _ in range(commands):
            refer(world)
        cache = world.app.recorder.tree_head
        out.put((cache.hits, cache.misses))
    finally:
        store.close()


@pytest.mark.slow
def test_writers_in_several_processes_build_one_whole_tree(world: World, tmp_path: Path) -> None:
    refer(world)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    writers = [context.Process(target=_write_in_a_process, args=(world.settings, 8, out)) for _ in range(3)]
    for writer in writers:
        writer.start()
    for _ in range(4):
        refer(world)  # and this process too, in between
    for writer in writers:
        writer.join(timeout=180)
        assert writer.exitcode == 0
    counts = [out.get(timeout=5) for _ in writers]
    assert all(hits + misses >= 8 for hits, misses in counts), counts
    assert_whole(world)

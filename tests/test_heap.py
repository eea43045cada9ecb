"""A long-running process freezes its start-up heap: full collections no longer walk it, and
cycles made afterwards are still collected. Its bounded caches hold nothing the collector walks."""

from __future__ import annotations

import gc
import os
import weakref
from uuid import UUID

from helpers import World
from scenarios import refer

from casusregie.adapters import lookup
from casusregie.adapters.heap import settle_after_start
from casusregie.privacy_audit.key_hierarchy import KeyCache, entry_for


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_the_start_up_heap_is_frozen_and_later_cycles_are_still_collected() -> None:
    try:
        frozen = settle_after_start()
        assert frozen == gc.get_freeze_count() > 1000  # modules, classes, functions of this process
        a, b = _Node(), _Node()
        a.other, b.other = b, a  # a cycle only the collector can free
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
        assert gc.isenabled()
    finally:
        gc.unfreeze()  # the rest of the test session keeps the ordinary collector


def _tracked_after_a_full_collection() -> int:
    """Tracked tuples and UUIDs: what a cache entry would be made of (the store's driver has
    its own bounded bookkeeping of weak references beside it)."""
    gc.collect()
    return sum(type(o) in (tuple, UUID) or type(o).__name__ == "_Entry" for o in gc.get_objects())


def test_a_full_key_cache_adds_nothing_the_collector_walks() -> None:
    cache = KeyCache(2000)
    before = _tracked_after_a_full_collection()
    for n in range(2000):
        cache.put(f"person-{n}", entry_for(os.urandom(32)))
    assert len(cache) == 2000
    assert _tracked_after_a_full_collection() - before < 100  # not one (or three) per key


def test_a_full_reference_cache_adds_nothing_the_collector_walks(world: World) -> None:
    refs = [refer(world, name=f"Persoon {n}") for n in range(30)]
    index = lookup.RefIndex(world.store.db)
    assert index.resolve("C-NOSUCH", "case") is None  # the query path is warm: its own objects exist
    before = _tracked_after_a_full_collection()
    for ref in refs:
        index.resolve(ref, "case")
    assert _tracked_after_a_full_collection() - before < 10  # not a tuple and two UUIDs per reference
    first, again = [index.resolve(ref, "case") for ref in refs], [index.resolve(ref, "case") for ref in refs]
    assert first == again
    assert all(found is not None for found in again)

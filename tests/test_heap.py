"""A long-running process freezes its start-up heap: full collections no longer walk it, and
cycles made afterwards are still collected."""

from __future__ import annotations

import gc
import weakref

from casusregie.adapters.heap import settle_after_start


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

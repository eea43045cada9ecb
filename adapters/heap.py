"""The heap of a long-running process (the API server, the soak benchmark).

Once a process has imported its modules and opened its store, most of the objects it
tracks (modules, classes, functions, the profile: about 75,000) live as long as the process.
CPython's full garbage collection walks all of them every time, which on these machines is
40-60 ms added to whichever request happens to trigger it: the soak measured that as
``case show`` p99 doubling over 100,000 commands. Freezing the start-up heap leaves the
collector only the objects made since, and cycles among those are still collected.
"""

from __future__ import annotations

import gc


def settle_after_start() -> int:
    """Collect what start-up left behind, then freeze the rest; the number of objects frozen.

    Call once, after the store is open and before serving. Calling it again freezes what has
    accumulated since (caches filled since are long-lived too), which does no harm.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

"""Where the command time goes: cProfile of casusregie's typical command next to the bare library's.

    python -m benchmarks.profile_command [--backend sqlite|postgres] [--commands 1000] [--cases 25] [--top 15]

Sets up the sides as the foundation benchmark does (cases with fresh measures; Dogs with as
many events in a library app without snapshots and in one that snapshots at casusregie's
interval), profiles ``--commands`` commands per side in interleaved chunks of 50, and
prints (1) milliseconds per command spent in each phase, side by side, and (2)
casusregie's top functions by cumulative time. cProfile slows Python code more than C
code, so read shares, not absolute times (those are in the foundation table).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import (
    SNAPSHOT_EVERY,
    TRICKS,
    ProjectWorld,
    bare_app,
    bare_command,
    bare_dogs,
    progress,
    progress_queue,
    temp_location,
)

# (label, [(file suffix, function name), ...]): the first pair that matches anything is used,
# and its cumulative time is reported per command.
PHASES: tuple[tuple[str, list[tuple[str, str]]], ...] = (
    ("whole command", [("benchmarks/profile_command.py", "one_command")]),
    ("validate command (pydantic)", [("pydantic/main.py", "__init__")]),
    ("resolve case number (regie_refs)", [("adapters/lookup.py", "resolve")]),
    ("load aggregate (repository.get)", [("eventsourcing/application.py", "_reconstruct_aggregate")]),
    ("  decrypt + decode events", [("adapters/mapper.py", "to_domain_event"), ("persistence.py", "to_domain_event")]),
    ("  library's isinstance(Protocol) assert", [("typing.py", "__instancecheck__")]),
    ("authorise (acts_for)", [("commands/authorization.py", "acts_for")]),
    ("seal note (per-person key)", [("privacy_audit/key_hierarchy.py", "seal")]),
    ("build access record", [("privacy_audit/access_log.py", "build_trace")]),
    ("app.save", [("eventsourcing/application.py", "save")]),
    (
        "  encode + compress + encrypt",
        [("adapters/mapper.py", "to_stored_event"), ("persistence.py", "to_stored_event")],
    ),
    ("  Merkle rows", [("adapters/merkle_log.py", "append")]),
    (
        "  COMMIT (SQLite only: PostgreSQL's is in the round trips)",
        [("~", "<method 'commit' of 'sqlite3.Connection' objects>")],
    ),
    (
        "  snapshots",
        [("commands/application.py", "_take_snapshots"), ("eventsourcing/application.py", "_take_snapshots")],
    ),
    ("signed checkpoint if due", [("commands/application.py", "_checkpoint_if_due")]),
    ("  head-size query after every commit", [("adapters/checkpoint_files.py", "_head_size")]),
    ("  writing the checkpoint (every N records)", [("adapters/checkpoint_files.py", "write_checkpoint")]),
    ("waiting on PostgreSQL (every round trip)", [("psycopg/connection.py", "wait")]),
)


def per_command_ms(stats: pstats.Stats, matchers: list[tuple[str, str]], commands: int) -> float | None:
    """Cumulative time of the first matcher that finds a function, in ms per command."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for suffix, name in matchers:
        found = [v[3] for (file, _, func), v in raw.items() if func == name and file.endswith(suffix)]
        if found:
            return sum(found) * 1e3 / commands
    return None


def profile_interleaved(fn: Callable[[Any], None], sides: list[list[Any]], chunk: int = 50) -> list[pstats.Stats]:
    """One profiler per side, switched on for alternate chunks of ``chunk`` commands (A B A B ...)."""
    profilers = [cProfile.Profile() for _ in sides]
    for start in range(0, max(len(items) for items in sides), chunk):
        for profiler, items in zip(profilers, sides, strict=True):
            profiler.enable()
            for item in items[start : start + chunk]:
                fn(item)
            profiler.disable()
    return [pstats.Stats(p) for p in profilers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_command", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=25)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    warmup = 20
    with (
        temp_location(args.backend, "project") as project_at,
        temp_location(args.backend, "bare") as bare_at,
        temp_location(args.backend, "bare-snapshots") as snap_at,
    ):
        world = ProjectWorld(project_at)
        bares = {
            "bare library": bare_app(bare_at),
            "library+snapshots": bare_app(snap_at, snapshot_every=SNAPSHOT_EVERY),
        }
        try:
            measures = math.ceil((warmup + args.commands) / args.cases / 2)
            plans = world.new_cases(args.cases)
            world.bulk(plan.agree() for plan in plans for _ in range(measures))
            version = world.case_version(plans[0].ref)
            queue = progress_queue([p.ref for p in plans], measures)[: warmup + args.commands]
            sides: dict[str, list[Any]] = {}
            for name, app in bares.items():
                dogs = bare_dogs(app, args.cases, version)
                sides[name] = [(app, dogs[i % len(dogs)].id, TRICKS[i % len(TRICKS)]) for i in range(len(queue))]
            sides["casusregie"] = queue

            def one_command(item: Any) -> None:
                if isinstance(item[0], str):
                    world.run("piet", progress(item))
                else:
                    bare_command(*item)

            for items in sides.values():
                for item in items[:warmup]:
                    one_command(item)
            stats = dict(
                zip(sides, profile_interleaved(one_command, [s[warmup:] for s in sides.values()]), strict=True)
            )
        finally:
            world.close()
            for app in bares.values():
                app.close()

    table = Table(
        title=f"ms per command under cProfile, {args.backend}, {args.commands} commands per side over "
        f"{args.cases} aggregates starting at version {version}; library+snapshots every {SNAPSHOT_EVERY} events",
        title_justify="left",
    )
    table.add_column("phase")
    for name in stats:
        table.add_column(name, justify="right")
    for label, matchers in PHASES:
        cells = [per_command_ms(st, matchers, args.commands) for st in stats.values()]
        if any(c is not None for c in cells):
            table.add_row(label, *("—" if c is None else f"{c:.3f}" for c in cells))
    out.print(table)

    ours = stats["casusregie"]
    text = io.StringIO()
    ours.stream = text  # type: ignore[attr-defined]
    ours.sort_stats("cumulative").print_stats(args.top)
    prefix = sys.prefix.rstrip("/") + "/lib/"
    cleaned = text.getvalue().replace(prefix, "").replace(str(Path(__file__).resolve().parents[1]) + "/", "")
    out.print(f"casusregie, top {args.top} by cumulative time:", cleaned.strip().split("\n", 2)[-1], sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

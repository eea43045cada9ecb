"""Foundation: what casusregie's command and read paths cost next to the bare eventsourcing library.

Per backend, both sides in one process on the same database server (or two SQLite files in
one temp folder), measured in interleaved rounds:

* commands: casusregie runs ``Session.execute(ReportProgress(...))``; the library runs
  get + one mutation + save on a Dog whose event is as large as casusregie's (JSON body
  and stored bytes are reported side by side). Both spread their commands round-robin
  over the same number of aggregates, which hold the same number of events when the
  timing starts.
* replay: read the same number of events back from each notification log, decrypting and
  decoding every one (casusregie through its row-bound mapper, the library through its own).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.common import (
    SNAPSHOT_EVERY,
    BareApplication,
    ProjectWorld,
    bare_app,
    bare_body,
    bare_dogs,
    bare_fill,
    compare_commands,
    count_events,
    event_sizes,
    figure,
    interleave,
    log,
    replay,
    section,
    summary,
    temp_location,
    time_once,
)

NAME = "foundation"


@dataclass(frozen=True)
class Sizes:
    aggregates: int  # cases on one side, dogs on the other
    rounds: int
    batch: int  # commands per side per round
    warmup: int
    replay_rounds: int


FULL = Sizes(aggregates=50, rounds=10, batch=200, warmup=50, replay_rounds=5)
QUICK = Sizes(aggregates=10, rounds=4, batch=25, warmup=10, replay_rounds=3)


def run(results: dict[str, Any], *, quick: bool, backends: list[str]) -> None:
    out = section(results, NAME, "casusregie's command and replay paths next to the bare library")
    sizes = QUICK if quick else FULL
    for backend in backends:
        out["backends"][backend] = measure(backend, sizes)
    out["notes"] += [
        "command: casusregie = Session.execute(ReportProgress) by a partner on a fresh measure about one person "
        f"(validation, authorisation, sealed note, access record, Merkle rows, a snapshot every {SNAPSHOT_EVERY} case "
        "events, one transaction); library = repository.get + one mutation + save (AES-GCM cipher, zlib), without "
        f"snapshots, and ('vs library+snapshots' rows) with the library's own snapshots every {SNAPSHOT_EVERY} events",
        "replay: select_notifications in pages of 500 + mapper.to_domain_event, same event count on both sides; "
        "casusregie's log holds its real mix (case events, access records, set-up)",
        "ratio = casusregie / library: below 1 for rates means slower, above 1 for latencies means slower",
    ]


def measure(backend: str, sizes: Sizes) -> dict[str, Any]:
    """Set up both sides on one backend, then compare commands and replay."""
    with (
        temp_location(backend, "project") as project_at,
        temp_location(backend, "bare") as bare_at,
        temp_location(backend, "bare-snapshots") as snap_at,
    ):
        world, app, snap = ProjectWorld(project_at), bare_app(bare_at), bare_app(snap_at, snapshot_every=SNAPSHOT_EVERY)
        try:
            return _measure(backend, sizes, world, app, snap)
        finally:
            world.close()
            app.close()
            snap.close()


def _measure(
    backend: str, sizes: Sizes, world: ProjectWorld, app: BareApplication, snap: BareApplication
) -> dict[str, Any]:
    started = time.perf_counter()
    measures = math.ceil((sizes.warmup + sizes.rounds * sizes.batch) / sizes.aggregates / 2)
    plans = world.new_cases(sizes.aggregates)
    world.bulk(plan.agree() for plan in plans for _ in range(measures))
    start_version = world.case_version(plans[0].ref)
    dogs = bare_dogs(app, sizes.aggregates, start_version)
    snap_dogs = [d.id for d in bare_dogs(snap, sizes.aggregates, start_version)]
    log(
        f"{NAME}/{backend}: {sizes.aggregates} cases and dogs at version {start_version} "
        f"({time.perf_counter() - started:.1f}s); timing {sizes.rounds}×{sizes.batch} commands per side"
    )

    commands = compare_commands(
        world,
        app,
        [p.ref for p in plans],
        [d.id for d in dogs],
        measures,
        rounds=sizes.rounds,
        batch=sizes.batch,
        warmup=sizes.warmup,
        more_bares={"bare_snapshots": (snap, snap_dogs)},
    )
    end_version = world.case_version(plans[0].ref)

    events = count_events(world.app)
    bare_fill(app, [app.repository.get(d.id) for d in dogs], events - count_events(app))
    log(f"{NAME}/{backend}: replaying {events:,} events per side, {sizes.replay_rounds} rounds")
    reads = interleave(
        {
            "bare": lambda r: time_once(lambda: replay(app, events)),
            "project": lambda r: time_once(lambda: replay(world.app, events)),
        },
        sizes.replay_rounds,
    )
    replayed = {side: reads[side][0].ops for side in reads}
    assert replayed == {"bare": events, "project": events}, replayed

    ours = event_sizes(world.app, world.app.mapper.decrypt_body, "Case.MeasureProgressReported")
    theirs = event_sizes(app, bare_body(app), "Dog.TrickAdded")
    bare, snapped, project = commands["bare"], commands["bare_snapshots"], commands["project"]
    rate = {side: summary(reads[side])["per_s"] for side in reads}
    return {
        "figures": {
            "commands_per_s": figure("commands/s", bare["per_s"], project["per_s"]),
            "command_p50_ms": figure("command p50 (ms)", bare["p50_ms"], project["p50_ms"]),
            "command_p99_ms": figure("command p99 (ms)", bare["p99_ms"], project["p99_ms"]),
            "commands_per_s_vs_snapshots": figure(
                f"commands/s vs library+snapshots/{SNAPSHOT_EVERY}", snapped["per_s"], project["per_s"]
            ),
            "command_p50_ms_vs_snapshots": figure(
                f"command p50 (ms) vs library+snapshots/{SNAPSHOT_EVERY}", snapped["p50_ms"], project["p50_ms"]
            ),
            "events_per_command": figure(
                "events written per command", bare["events_per_command"], project["events_per_command"]
            ),
            "replay_events_per_s": figure("replay+decrypt events/s", rate["bare"], rate["project"]),
            "typical_event_json_bytes": figure(
                "command's event: JSON bytes", theirs["typical_json_bytes"], ours["typical_json_bytes"]
            ),
            "typical_event_stored_bytes": figure(
                "command's event: stored bytes", theirs["typical_stored_bytes"], ours["typical_stored_bytes"]
            ),
            "replayed_event_json_bytes": figure(
                "replayed events: mean JSON bytes", theirs["json_bytes"], ours["json_bytes"]
            ),
        },
        "details": {
            "commands": commands,
            "replay": {
                side: {"events": events, "round_rates": [round(b.ops / b.seconds) for b in reads[side]]}
                for side in reads
            },
            "case_version_during_timing": [start_version, end_version],
            "event_sizes": {"bare": theirs, "project": ours},
            "seconds": round(time.perf_counter() - started, 1),
        },
    }

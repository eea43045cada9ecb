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
* round trips and statements: after the timing, a few more commands per side run with every
  pooled connection traced (PostgreSQL: libpq's own protocol trace, one file per connection;
  SQLite: sqlite3's statement trace callback), and the exchanges are counted (see ``traced``).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from eventsourcing.sqlite import SQLiteConnectionPool
from psycopg import pq
from psycopg_pool import ConnectionPool

from benchmarks.common import (
    SNAPSHOT_EVERY,
    TRICKS,
    BareApplication,
    ProjectWorld,
    bare_app,
    bare_body,
    bare_command,
    bare_dogs,
    bare_fill,
    compare_commands,
    count_events,
    event_sizes,
    figure,
    interleave,
    log,
    progress,
    progress_queue,
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
TRACED = 20  # commands per side run traced after the timing, for the round-trip and statement counts


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
        f"round trips and statements per command: {TRACED} more commands per side after the timing, warm, every "
        "pooled connection traced. PostgreSQL: libpq's protocol trace (PQtrace, one file per connection); a round "
        "trip is each time the client, having sent messages, reads the server's answer (a line from the server "
        "after lines to it), so a pipelined batch of statements counts once, as it crosses the network once; "
        "statements = Execute and Query messages sent (BEGIN and COMMIT included). SQLite, in process, has no round "
        "trips: statements = the runs sqlite3's trace callback reports (each row of an executemany is one)",
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
    timed = sizes.warmup + sizes.rounds * sizes.batch
    measures = math.ceil((timed + TRACED) / sizes.aggregates / 2)
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
    exchanges = count_exchanges(backend, world, app, [p.ref for p in plans], dogs, measures, timed)

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
            **exchanges["figures"],
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
            "exchanges_per_command": exchanges["details"],
            "event_sizes": {"bare": theirs, "project": ours},
            "seconds": round(time.perf_counter() - started, 1),
        },
    }


# --- round trips and statements ------------------------------------------------------------


def count_exchanges(
    backend: str,
    world: ProjectWorld,
    app: BareApplication,
    cases: list[str],
    dogs: list[Any],
    measures: int,
    skip: int,
) -> dict[str, Any]:
    """Round trips (PostgreSQL) and statements per command, both sides, over TRACED warm commands each.

    The same commands as the timing: casusregie's next progress reports (the queue after the
    ``skip`` the timing used), and the library's get + mutation + save round-robin on its dogs.
    """
    queue = progress_queue(cases, measures)[skip : skip + TRACED]
    assert len(queue) == TRACED, (len(queue), TRACED)
    head = world.app.recorder.tree_head
    before = (head.hits, head.misses, head.stale)

    def bare() -> None:
        for i in range(TRACED):
            bare_command(app, dogs[i % len(dogs)].id, TRICKS[i % len(TRICKS)])

    def project() -> None:
        for item in queue:
            world.run("piet", progress(item))

    sides: dict[str, Callable[[], None]] = {"bare": bare, "project": project}
    counted: dict[str, dict[str, float]] = {}
    for side, run in sides.items():
        with traced(backend) as counts:
            run()
        counted[side] = {name: value / TRACED for name, value in counts.items()}
    hits, misses, stale = (now - then for now, then in zip((head.hits, head.misses, head.stale), before, strict=True))
    figures = {
        "statements_per_command": figure(
            "statements per command", counted["bare"]["statements"], counted["project"]["statements"]
        )
    }
    if backend == "postgres":
        figures = {
            "round_trips_per_command": figure(
                "round trips per command", counted["bare"]["round_trips"], counted["project"]["round_trips"]
            ),
            **figures,
        }
    details = {
        "commands": TRACED,
        **counted,
        "project_tree_head": {"cached": hits, "read": misses, "stale": stale},
    }
    return {"figures": figures, "details": details}


@contextlib.contextmanager
def traced(backend: str) -> Iterator[dict[str, int]]:
    """Count what every pooled connection of this process exchanges with the database meanwhile.

    PostgreSQL: each connection the pools hand out gets libpq's protocol trace in a file of its
    own (``PQtrace``; a connection talks to the server one message at a time, so its file is in
    order), read when the block ends. SQLite: each connection the pools hand out reports every
    statement it runs to sqlite3's trace callback. Connections made outside the pools (none on
    either side's command path) are not seen.
    """
    counts = {"round_trips": 0, "statements": 0} if backend == "postgres" else {"statements": 0}
    if backend == "postgres":
        files: dict[int, tuple[Any, IO[str]]] = {}
        getconn = ConnectionPool.getconn
        with contextlib.ExitStack() as stack:

            def tracing_getconn(pool: ConnectionPool, timeout: float | None = None) -> Any:
                conn = getconn(pool, timeout)
                if id(conn) not in files:
                    out = stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"))
                    conn.pgconn.trace(out.fileno())
                    conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                    files[id(conn)] = (conn, out)
                return conn

            ConnectionPool.getconn = tracing_getconn  # type: ignore[method-assign]
            try:
                yield counts
            finally:
                ConnectionPool.getconn = getconn  # type: ignore[method-assign]
                for conn, out in files.values():
                    conn.pgconn.untrace()  # flushes the trace
                    out.seek(0)
                    _tally(out, counts)
        return
    seen: dict[int, Any] = {}
    get_connection = SQLiteConnectionPool.get_connection

    def statement(_: str) -> None:
        counts["statements"] += 1

    def tracing_get_connection(pool: Any, *args: Any, **kwargs: Any) -> Any:
        conn = get_connection(pool, *args, **kwargs)
        if id(conn) not in seen:
            seen[id(conn)] = conn
            conn._sqlite_conn.set_trace_callback(statement)
        return conn

    SQLiteConnectionPool.get_connection = tracing_get_connection  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        SQLiteConnectionPool.get_connection = get_connection  # type: ignore[method-assign]
        for conn in seen.values():
            with contextlib.suppress(Exception):  # a connection closed meanwhile
                conn._sqlite_conn.set_trace_callback(None)


def _tally(trace: IO[str], counts: dict[str, int]) -> None:
    """Round trips and statements in one connection's libpq trace (``F`` lines: to the server, ``B``: from it)."""
    previous = ""
    for line in trace:
        direction = line[:1]
        if direction not in ("F", "B"):
            continue
        if direction == "B" and previous == "F":
            counts["round_trips"] += 1
        elif direction == "F" and ("\tExecute\t" in line or "\tQuery\t" in line):
            counts["statements"] += 1
        previous = direction

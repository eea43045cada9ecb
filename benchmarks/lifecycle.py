"""Case lifecycle: commands on a long-lived case, and rebuilding the read models from the whole log.

(a) The typical command (progress on a measure) on cases that already hold 200 events,
    next to the library's get + mutate + save on Dogs with 200 events. casusregie
    snapshots a case every SNAPSHOT_EVERY events, so its repository loads a snapshot plus
    the events since; the library baseline has no snapshots and replays every event. A
    second library variant snapshots at casusregie's interval, for a like-for-like view.
(b) A projection rebuild, ``view_runner(app).rebuild()``, over a log of real casusregie
    events (100k; 2k with --quick), next to a bare-library catch-up projection over as
    many events: read the notification log in pages of 500, decrypt and decode, upsert
    one row per aggregate and advance the position in the same transaction, one
    transaction per page: the shape of casusregie's ViewRunner, minus what its views do
    (which commits a rebuild in batches of 50,000 events, decrypting a page at a time).
"""

from __future__ import annotations

import dataclasses
import gc
import math
import time
from dataclasses import dataclass
from itertools import islice
from typing import Any
from uuid import UUID

from benchmarks.common import (
    SNAPSHOT_EVERY,
    BareApplication,
    Dog,
    Location,
    ProjectWorld,
    bare_app,
    bare_dogs,
    bare_fill,
    compare_commands,
    count_events,
    figure,
    interleave,
    log,
    replay,
    round_robin,
    scale_records,
    section,
    summary,
    temp_location,
    time_once,
)
from casusregie.adapters.sql import Database
from casusregie.projections.reader import view_runner
from casusregie.projections.runner import ViewRunner

NAME = "lifecycle"
PAGE = 500  # events per page (and per transaction here), as casusregie's ViewRunner reads them


@dataclass(frozen=True)
class Sizes:
    long_cases: int  # cases (and dogs) at LONG_VERSION events, commands round-robin over them
    rounds: int
    batch: int
    warmup: int
    rebuild_events: int
    rebuild_rounds: int
    full_sample: int  # commands run through Session.execute while building the rebuild store


LONG_VERSION = 200
# Ten years of a large city: ~500 households referred a year, directed for up to two years.
ACTIVE_CASES = 1_000
PLAN_STEPS = 95  # plan-work commands a case gets before a new one takes its place (~100 case events)
FULL = Sizes(long_cases=5, rounds=8, batch=25, warmup=10, rebuild_events=100_000, rebuild_rounds=3, full_sample=300)
QUICK = Sizes(long_cases=2, rounds=4, batch=5, warmup=4, rebuild_events=2_000, rebuild_rounds=3, full_sample=30)


def run(results: dict[str, Any], *, quick: bool, backends: list[str]) -> None:
    out = section(results, NAME, "a 200-event case, and a projection rebuild over the whole log")
    sizes = QUICK if quick else FULL
    if scale_records():  # --scale: the rebuild over ten years of a large city (one round a side)
        sizes = dataclasses.replace(sizes, rebuild_events=scale_records(), rebuild_rounds=1)
    for backend in backends:
        into = out["backends"][backend] = {"figures": {}, "details": {}}
        long_case(backend, sizes, into)
        rebuild(backend, sizes, into)
        out["notes"].append(_where_time_goes(backend, into["details"]["rebuild"]))
        log(f"{NAME}/{backend}: done")
    rebuilt = {", ".join(b["details"]["rebuild"]["projections"]) for b in out["backends"].values()}
    out["notes"] += [
        f"(a) casusregie snapshots a case every {SNAPSHOT_EVERY} events (from the aggregate in hand), so a command "
        f"loads a snapshot plus < {SNAPSHOT_EVERY} events; the library baseline has no snapshots and replays all "
        f"{LONG_VERSION}+ events per get; the 'vs library+snapshots' rows use the library's own snapshotting every "
        f"{SNAPSHOT_EVERY} events (which reloads the aggregate to take one)",
        "(b) the store holds real events: cases referred, assessed and taken on, then round-robin plan work (agree, "
        "start, reschedule, finish a measure, evaluate) with access records; the first commands go through "
        "Session.execute, the rest through the same handlers with 50 commands per transaction (see details); "
        f"at most {ACTIVE_CASES:,} cases are open at once: in a bigger store a case that had its plan work makes "
        "way for a newly referred one, as in a city that takes ~500 households a year for up to two years",
        "(b) library baseline = decrypt+decode every event and upsert one trivial row per aggregate per page; "
        "casusregie's rebuild decrypts a page at a time and commits every 50,000 events (ViewRunner.rebuild_every): "
        "its CaseProjection advances each case in memory, carried from one batch to the next, and re-encrypts and "
        "stores the state of every case touched once per batch, with its worklist and persons; the access log "
        "and the disclosure trail (encrypted details) get a row per trace, subject and disclosure",
        f"(b) casusregie's projections rebuilt: {' / '.join(sorted(rebuilt)) or '—'}",
    ]


# --- (a) a long-lived case ---------------------------------------------------------------------


def long_case(backend: str, sizes: Sizes, into: dict[str, Any]) -> None:
    """Commands on cases of 200 events next to get+mutate+save on 200-event Dogs."""
    with (
        temp_location(backend, "project") as project_at,
        temp_location(backend, "bare") as bare_at,
        temp_location(backend, "bare-snapshots") as snap_at,
    ):
        world, app, snap = ProjectWorld(project_at), bare_app(bare_at), bare_app(snap_at, snapshot_every=SNAPSHOT_EVERY)
        try:
            started = time.perf_counter()
            measures = math.ceil((sizes.warmup + sizes.rounds * sizes.batch) / sizes.long_cases / 2)
            plans = world.new_cases(sizes.long_cases)
            world.bulk(plan.agree() for plan in plans for _ in range(measures))
            filler = LONG_VERSION - world.case_version(plans[0].ref)
            world.bulk(round_robin(plans, filler * len(plans)))
            versions = {world.case_version(plan.ref) for plan in plans}
            assert versions == {LONG_VERSION}, versions
            dogs = bare_dogs(app, sizes.long_cases, LONG_VERSION)
            snap_dogs = bare_dogs(snap, sizes.long_cases, LONG_VERSION)
            setup = time.perf_counter() - started
            log(f"{NAME}/{backend}: {sizes.long_cases} cases and dogs at version {LONG_VERSION} ({setup:.1f}s)")
            commands = compare_commands(
                world,
                app,
                [p.ref for p in plans],
                [d.id for d in dogs],
                measures,
                rounds=sizes.rounds,
                batch=sizes.batch,
                warmup=sizes.warmup,
                more_bares={"bare_snapshots": (snap, [d.id for d in snap_dogs])},
            )
            case_id = world.session("anna").case(plans[0].ref).id
            snapshots = [s.originator_version for s in world.app.snapshots.get(case_id)]  # type: ignore[union-attr]
            end_version = world.case_version(plans[0].ref)
        finally:
            world.close()
            app.close()
            snap.close()
    bare, snapped, project = commands["bare"], commands["bare_snapshots"], commands["project"]
    into["figures"].update(
        long_commands_per_s=figure(f"{LONG_VERSION}-event aggregate: commands/s", bare["per_s"], project["per_s"]),
        long_command_p50_ms=figure(f"{LONG_VERSION}-event aggregate: p50 (ms)", bare["p50_ms"], project["p50_ms"]),
        long_command_p99_ms=figure(f"{LONG_VERSION}-event aggregate: p99 (ms)", bare["p99_ms"], project["p99_ms"]),
        long_commands_per_s_vs_snapshots=figure(
            f"{LONG_VERSION}-event: commands/s vs library+snapshots/{SNAPSHOT_EVERY}",
            snapped["per_s"],
            project["per_s"],
        ),
        long_command_p50_ms_vs_snapshots=figure(
            f"{LONG_VERSION}-event: p50 (ms) vs library+snapshots/{SNAPSHOT_EVERY}",
            snapped["p50_ms"],
            project["p50_ms"],
        ),
    )
    into["details"]["long_case"] = {
        "commands": commands,
        "case_version_during_timing": [LONG_VERSION, end_version],
        "case_snapshot_versions": snapshots,
        "setup_seconds": round(setup, 1),
    }


# --- (b) projection rebuild ----------------------------------------------------------------------


class BareProjection:
    """The library-only catch-up projection of the rebuild baseline: per page of 500 events,
    decode them, then in one transaction advance the position (compare-and-set, as
    casusregie's ViewRunner does) and upsert one row per Dog (version, number of tricks)."""

    def __init__(self, app: BareApplication, location: Location) -> None:
        self.app = app
        recorder: Any = app.recorder
        self.db = Database(recorder.datastore, "postgres" if location.backend == "postgres" else "sqlite")
        prefix = f'"{location.schema}".' if location.schema else ""
        self.view, self.position = f"{prefix}bench_dogs", f"{prefix}bench_position"
        with self.db.transaction() as tx:
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {self.view} "
                "(id TEXT PRIMARY KEY, version BIGINT NOT NULL, tricks BIGINT NOT NULL)"
            )
            tx.execute(f"CREATE TABLE IF NOT EXISTS {self.position} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
            tx.execute(f"INSERT INTO {self.position} (name, position) VALUES ('dogs', 0) ON CONFLICT (name) DO NOTHING")

    def rebuild(self) -> int:
        """Empty the view and replay the whole log into it; returns the number of events applied."""
        with self.db.transaction() as tx:
            tx.execute(f"DELETE FROM {self.view}")
            tx.execute(f"UPDATE {self.position} SET position = 0")
        applied = 0
        while True:
            with self.db.transaction(commit=False) as tx:
                start = int(tx.scalar(f"SELECT position FROM {self.position} WHERE name = 'dogs'"))
            page = self.app.recorder.select_notifications(start=start, limit=PAGE, inclusive_of_start=False)
            if not page:
                return applied
            rows: dict[UUID, list[int]] = {}
            for notification in page:
                event = self.app.mapper.to_domain_event(notification)
                row = rows.setdefault(event.originator_id, [0, 0])
                row[0] = event.originator_version
                row[1] += isinstance(event, Dog.TrickAdded)
            with self.db.transaction() as tx:
                moved = tx.execute(
                    f"UPDATE {self.position} SET position = ? WHERE name = 'dogs' AND position = ? RETURNING position",
                    (page[-1].id, start),
                ).fetchone()
                assert moved is not None, "another process moved the position"
                tx.executemany(
                    f"INSERT INTO {self.view} AS v (id, version, tricks) VALUES (?, ?, ?) ON CONFLICT (id) "
                    "DO UPDATE SET version = excluded.version, tricks = v.tricks + excluded.tricks",
                    [(str(key), version, tricks) for key, (version, tricks) in rows.items()],
                )
            applied += len(page)


def build_store(world: ProjectWorld, target: int, full_sample: int) -> dict[str, Any]:
    """Fill ``world`` with at least ``target`` real events (case events and their access records); report
    how long it took.

    As a city's log grows: at most ACTIVE_CASES cases are worked on at once (round-robin), and a
    case that has had PLAN_STEPS plan commands (about 200 events with their access records) makes
    way for a newly referred one. Up to 100,000 events, ``target // 100`` cases are open from start
    to end; ten years of a large city (--scale) are thousands of cases that came and went.
    """
    cases = max(10, target // 100)
    started = time.perf_counter()
    window = world.new_cases(min(cases, ACTIVE_CASES))
    referred = len(window)
    created = time.perf_counter() - started
    steps = round_robin(window, 10**12)
    before, t0 = count_events(world.app), time.perf_counter()
    for user, command in islice(steps, full_sample):
        world.run(user, command)
    full_seconds, full_events = time.perf_counter() - t0, count_events(world.app) - before
    before, t0 = count_events(world.app), time.perf_counter()
    chunk = min(300, max(10, target // 200))
    while count_events(world.app) < target:
        done = [i for i, plan in enumerate(window) if plan.step >= PLAN_STEPS]
        if done and referred < cases:
            fresh = world.new_cases(min(len(done), cases - referred), first=referred)
            for i, plan in zip(done, fresh, strict=False):
                window[i] = plan
            referred += len(fresh)
        world.bulk(islice(steps, chunk))
    bulk_seconds, bulk_events = time.perf_counter() - t0, count_events(world.app) - before
    full_rate = full_events / full_seconds
    return {
        "cases": referred,
        "active_cases_at_once": min(cases, ACTIVE_CASES),
        "events": count_events(world.app),
        "create_cases_seconds": round(created, 1),
        "full_path": {
            "commands": full_sample,
            "events": full_events,
            "seconds": round(full_seconds, 2),
            "events_per_s": round(full_rate),
            "extrapolated_seconds_for_target": round(target / full_rate),
        },
        "bulk_path": {
            "events": bulk_events,
            "seconds": round(bulk_seconds, 1),
            "events_per_s": round(bulk_events / bulk_seconds),
        },
    }


def rebuild(backend: str, sizes: Sizes, into: dict[str, Any]) -> None:
    """view_runner(app).rebuild() next to the bare catch-up projection, same number of events."""
    with temp_location(backend, "project") as project_at, temp_location(backend, "bare") as bare_at:
        world, app = ProjectWorld(project_at), bare_app(bare_at)
        try:
            log(f"{NAME}/{backend}: building a store of {sizes.rebuild_events:,} events")
            built = build_store(world, sizes.rebuild_events, sizes.full_sample)
            events = built["events"]
            dogs = [Dog(name=f"dog {i}") for i in range(built["cases"])]
            app.save(*dogs)
            bare_fill(app, dogs, events - len(dogs))
            assert count_events(app) == events
            log(
                f"{NAME}/{backend}: built {events:,} events in {built['create_cases_seconds']}s (cases) + "
                f"{built['full_path']['seconds']}s (full path) + {built['bulk_path']['seconds']}s (bulk); "
                f"rebuilding, {sizes.rebuild_rounds} rounds per side"
            )
            runner, baseline = view_runner(world.app), BareProjection(app, bare_at)
            projections = [p.name for p in runner.projections]
            runs = interleave(
                {
                    "bare": lambda r: time_once(baseline.rebuild),
                    "replay": lambda r: time_once(lambda: replay(world.app, events)),
                    "project": lambda r: time_once(runner.rebuild),
                },
                sizes.rebuild_rounds,
            )
            log(f"{NAME}/{backend}: where a rebuild's time goes (one group of views at a time)")
            parts = breakdown(world.app, runner)
        finally:
            world.close()
            app.close()
    assert all(b.ops == events for batches in runs.values() for b in batches), "a rebuild missed events"
    bare, same, project = summary(runs["bare"]), summary(runs["replay"]), summary(runs["project"])
    into["figures"].update(
        rebuild_events_per_s=figure(f"rebuild of {events:,} events: events/s", bare["per_s"], project["per_s"]),
        rebuild_vs_replay=figure(
            f"rebuild vs replay+decrypt of the same {events:,}: ev/s", same["per_s"], project["per_s"]
        ),
        rebuild_seconds=figure(
            f"rebuild of {events:,} events: seconds", events / bare["per_s"], events / project["per_s"]
        ),
    )
    into["details"]["rebuild"] = {
        "events": events,
        "projections": projections,
        "bare": bare,
        "replay_same_events": same,
        "project": project,
        "seconds_by_part": parts,
        "store": built,
    }


def _where_time_goes(backend: str, rebuild: dict[str, Any]) -> str:
    parts = dict(rebuild["seconds_by_part"])
    floor_label, floor = next(iter(parts.items()))
    rest = "; ".join(f"{label} +{max(s - floor, 0):.2f} s" for label, s in list(parts.items())[1:])
    whole = rebuild["events"] / rebuild["project"]["per_s"]
    return (
        f"(b) {backend}: where the rebuild of {rebuild['events']:,} events ({whole:.2f} s) spends its time, each "
        f"group of views rebuilt alone: {floor_label} {floor:.2f} s; {rest} (a group's time minus the floor)"
    )


class _NoViews:
    """A projection that keeps nothing: a rebuild with only this one reads, decrypts and decodes the log."""

    name = "none"

    def create_tables(self, db: Any, tx: Any) -> None: ...
    def apply(self, tx: Any, events: Any) -> None: ...
    def reset(self, tx: Any) -> None: ...


class _Part(ViewRunner):
    """A runner over some of the store's projections, whose tables the whole runner made."""

    def ensure_tables(self) -> None:  # the store's schema fingerprint stays the whole runner's
        pass


def breakdown(app: Any, runner: ViewRunner) -> dict[str, float]:
    """Seconds of a rebuild with no views (reading, decrypting and decoding: the floor) and with each group
    of views alone (a projection with those that follow it); what a group costs is its time minus the floor.

    Each leaves the other views' tables as they were and the position at the end: the store is not
    whole afterwards (it is thrown away).
    """
    groups: dict[str, list[Any]] = {"read + decrypt + decode, no views": [_NoViews()]}
    followers = {id(f) for p in runner.projections for f in getattr(p, "followers", ())}
    for projection in runner.projections:
        if id(projection) not in followers:
            group = [projection, *getattr(projection, "followers", ())]
            groups[" + ".join(p.name for p in group)] = group
    seconds = {}
    for label, group in groups.items():
        gc.collect()
        seconds[label] = round(time_once(_Part(app, group, rebuild_every=runner.rebuild_every).rebuild).seconds, 2)
    return seconds

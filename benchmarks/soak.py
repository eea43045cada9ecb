"""Soak: latency and memory stay flat over a long run of commands and reads.

100,000 commands and 10,000 reads (one read after every 10 commands) through the
in-process path, on each backend: ``Session.execute`` of the commands a case team issues
(referrals, corporation consent, intake, take-on, information requests and disclosures,
declined requests, the residents' letter, partners involved, case conferences, goals,
measures with their progress, rescheduling and evaluations, escalations and their outcome,
closure) spread over 60 cases in flight at once, each case run from referral to closure
and a new one referred in its place; and the reads the same people do through ``Reader``:
``case show``, the worklist, the disclosure trail of a case and the case list. Before the
clock starts, the cases in flight are brought to random stages of their lives (a store in
use holds cases of every age, and a young case is cheaper to load and store than an old one).

Reported per window of 10,000 commands: p50/p99 of the commands and of each kind of read
(wall clock, and the CPU time of this process, which other work on a shared machine
disturbs less), the process's resident memory (VmRSS) at the start and after every
window, the store's size, and a probe that splits a read in two: the catch-up of what
others wrote since the last read, and ``case show`` with the views already level. The
figures compare the last window with the first. Targets: p99 of the last window <= 1.5x
the first (commands and ``case show``); RSS growth <= 20%. Each backend runs in a fresh
process, so its memory figures are its own; like the API server, it freezes its start-up heap
(``adapters.heap``) so that full garbage collections do not rescan it.

    python -m benchmarks --only soak [--soak-commands N] [--backends sqlite,postgres]

``--soak-commands N`` (or ``REGIE_SOAK_COMMANDS``) runs N commands instead of 100,000
(200 with ``--quick``); ``REGIE_SOAK_WINDOW`` sets the window (default N/10, at most
10,000; N/4 with ``--quick``).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import resource
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql

from benchmarks.common import (
    CRITERIA,
    DAY,
    EVALUATION,
    MEASURE,
    NOTE,
    PG_DSN,
    Location,
    ProjectWorld,
    count_events,
    log,
    percentile,
    refer_command,
    section,
    temp_location,
)
from casusregie.adapters.heap import settle_after_start
from casusregie.commands.base import Command, Result
from casusregie.commands.closure import CloseCase
from casusregie.commands.decision import InformResidents, TakeOn, WithholdLetter
from casusregie.commands.escalation import Escalate, ResolveEscalation
from casusregie.commands.information import DeclineRequest, DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.meetings import HoldMeeting, InvolvePartner, ScheduleMeeting
from casusregie.commands.plan import AgreeMeasure, Evaluate, ReportProgress, RescheduleMeasure, SetGoal
from casusregie.commands.referral import (
    AnswerCorporationConsent,
    AssessIntake,
    RequestCorporationConsent,
)
from casusregie.commands.users import AddUser
from casusregie.domain.roles import Role
from casusregie.privacy_audit.queries import PrivacyReader
from casusregie.projections.reader import Reader, view_runner

NAME = "soak"
COMMANDS_ENV = "REGIE_SOAK_COMMANDS"
WINDOW_ENV = "REGIE_SOAK_WINDOW"
READ_EVERY = 10  # one read per ten commands
FULL_COMMANDS = 100_000
QUICK_COMMANDS = 200
IN_FLIGHT = 60  # cases worked on at once; a closed case is replaced by a new referral
QUICK_IN_FLIGHT = 4
TYPICAL_CASE = 70  # commands in a typical case, referral to closure
# Reads in turn: case show twice as often as each other kind.
READ_KINDS = ("case show", "worklist", "case show", "trail", "case list")
EXTRA_USERS = (
    ("bert", Role.REGISSEUR, None, "oost"),
    ("pol", Role.PARTNER, "politie", ""),
    ("lies", Role.PARTNER, "lister", ""),
    ("mia", Role.MANAGER, None, ""),
)
DIRECTORS = (("anna", "west"), ("bert", "oost"))
FIGURE_TARGET = 1.5
PROBES = 20  # case shows with the views already level, after every window
QUICK_PROBES = 3


@dataclass(frozen=True)
class Sizes:
    commands: int
    window: int
    in_flight: int
    probes: int = PROBES


def sizes(quick: bool) -> Sizes:
    """From --quick and the environment (``--soak-commands`` sets REGIE_SOAK_COMMANDS)."""
    commands = int(os.environ.get(COMMANDS_ENV) or (QUICK_COMMANDS if quick else FULL_COMMANDS))
    default_window = max(1, commands // 4) if quick else max(1, min(10_000, commands // 10))
    window = int(os.environ.get(WINDOW_ENV) or default_window)
    return Sizes(commands, window, QUICK_IN_FLIGHT if quick else IN_FLIGHT, QUICK_PROBES if quick else PROBES)


# --- memory --------------------------------------------------------------------------------


def rss_mb() -> float:
    """Resident set size now, in MB (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the workload ----------------------------------------------------------------------------

Step = tuple[str, Command]
Script = Generator[Step, Result, None]


@dataclass
class CaseRun:
    """One case from referral to closure, a command per step; ``today`` is its business date."""

    number: int
    director: str
    team: str
    rng: random.Random
    today: date
    ref: str = ""
    people: list[str] = field(default_factory=list)
    script: Script | None = None

    def tick(self, days: int = 1) -> date:
        self.today += timedelta(days=days)
        return self.today


def case_script(run: CaseRun) -> Script:
    """The commands of one case, in the order a case team issues them; yields (user, command),
    receives the command's result."""
    rng, d, i = run.rng, run.director, run.number
    corporation = "mitros" if i % 2 == 0 else None
    command = refer_command(i).model_copy(
        update={"home_corporation": corporation, "director": d, "team": run.team, "on": run.today}
    )
    referred = yield (d, command)
    run.ref = case = str(referred.data["case"])
    run.people = [str(p) for p in referred.data["members"]]
    main = run.people[0]
    if corporation:
        yield d, RequestCorporationConsent(case=case, on=run.tick())
        yield "piet", AnswerCorporationConsent(case=case, consent=True, on=run.tick())
    yield d, AssessIntake(case=case, criteria=CRITERIA, on=run.tick())
    yield d, TakeOn(case=case, on=run.tick())
    asked = yield (
        d,
        RequestInformation(
            case=case,
            partner="politie",
            purpose="zicht op de overlast en eerdere meldingen",
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            subjects=[main],
            on=run.tick(),
        ),
    )
    yield (
        "pol",
        DiscloseInformation(
            case=case,
            request=str(asked.data["request"]),
            items=[DisclosureItem(category="politie.meldingen", subject=main, content="12 meldingen sinds juni")],
            on=run.tick(),
        ),
    )
    if rng.random() < 0.5:
        asked = yield (
            d,
            RequestInformation(
                case=case,
                partner="lister",
                purpose="is er woonbegeleiding?",
                legal_basis="convenant",
                categories=["zorg.woonbegeleiding"],
                on=run.tick(),
            ),
        )
        yield "lies", DeclineRequest(case=case, request=str(asked.data["request"]), reason="geen cliënt", on=run.tick())
    if rng.random() < 0.85:
        yield d, InformResidents(case=case, on=run.tick())
    else:
        yield d, WithholdLetter(case=case, ground="veiligheid-derden", motivation="buren bedreigd", on=run.tick())
    yield d, InvolvePartner(case=case, partner="buurtteam-sociaal", on=run.tick())
    yield from _meeting(run)
    yield d, SetGoal(case=case, life_domain="overlast", description="De overlast stopt.", on=run.tick())
    escalate_at = rng.randrange(2, 8) if rng.random() < 0.3 else -1
    for cycle in range(rng.randrange(6, 13)):
        measure = f"M{cycle + 1}"
        yield (
            d,
            AgreeMeasure(
                case=case,
                life_domain="overlast",
                owner="mitros",
                description=MEASURE,
                due=run.today + timedelta(days=60),
                subject=run.people[cycle % len(run.people)],
                on=run.tick(),
            ),
        )
        yield "piet", ReportProgress(case=case, measure=measure, status="started", note=NOTE, on=run.tick())
        yield (
            d,
            RescheduleMeasure(
                case=case, measure=measure, due=run.today + timedelta(days=90), reason="Wachtlijst.", on=run.tick()
            ),
        )
        yield "piet", ReportProgress(case=case, measure=measure, status="done", note=NOTE, on=run.tick())
        yield d, Evaluate(case=case, summary=EVALUATION, on=run.tick())
        if cycle % 4 == 3:
            yield from _meeting(run)
        if cycle == escalate_at:
            escalated = yield d, Escalate(case=case, level=2, reason="De zorg stokt.", on=run.tick())
            yield (
                "mia",
                ResolveEscalation(
                    case=case, escalation=str(escalated.data["escalation"]), outcome="Plek geregeld.", on=run.tick()
                ),
            )
    yield (
        d,
        CloseCase(
            case=case,
            outcome="goals-met",
            judgement_neighbours="improved",
            judgement_partners="improved",
            aftercare="Het buurtteam volgt het huishouden.",
            handover_to="lister" if rng.random() < 0.5 else None,
            on=run.tick(),
        ),
    )


def _meeting(run: CaseRun) -> Script:
    planned = yield (
        run.director,
        ScheduleMeeting(
            case=run.ref, date=run.today + timedelta(days=1), participants=["mitros", "politie", "buurtteam-sociaal"]
        ),
    )
    yield (
        run.director,
        HoldMeeting(
            case=run.ref,
            meeting=str(planned.data["meeting"]),
            attended=["mitros", "politie", "buurtteam-sociaal"],
            minutes="Hoor en wederhoor; afspraken over huisregels.",
            on=run.tick(),
        ),
    )


class Workload:
    """Cases in flight, each advanced one command at a time in random order; reads in between."""

    def __init__(self, world: ProjectWorld, in_flight: int, seed: int = 11) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.referred = 0
        self.closed = 0
        self.cases: list[CaseRun] = [self._new_case() for _ in range(in_flight)]
        self.pending: dict[int, Step] = {}
        self.probe_rng = random.Random(seed + 1)  # probes leave the workload's own choices alone

    def _new_case(self) -> CaseRun:
        self.referred += 1
        director, team = DIRECTORS[self.referred % len(DIRECTORS)]
        # Business dates stay in the past: a case starts within 100 days of DAY and lasts < 150.
        start = DAY + timedelta(days=self.referred % 100)
        run = CaseRun(self.referred, director, team, random.Random(self.referred), start)
        run.script = case_script(run)
        return run

    def warm_up(self) -> int:
        """Bring every case in flight to a random stage of its life (unmeasured), so that the
        first window already sees cases of every age, as a store in use does; returns the
        number of commands run."""
        done = 0
        for slot in range(len(self.cases)):
            for _ in range(self.rng.randrange(TYPICAL_CASE)):
                _, (user, command) = self.next_command(slot)
                self.done(slot, self.world.run(user, command))
                done += 1
        return done

    def next_command(self, slot: int | None = None) -> tuple[int, Step]:
        """A command of a random case in flight, or of the given one: (slot, (user, command))."""
        if slot is None:
            slot = self.rng.randrange(len(self.cases))
        step = self.pending.pop(slot, None)
        if step is None:
            script = self.cases[slot].script
            assert script is not None
            step = next(script)
        return slot, step

    def done(self, slot: int, result: Result) -> None:
        """Hand the result to the case's script; a finished case is replaced by a new referral."""
        run = self.cases[slot]
        assert run.script is not None
        try:
            self.pending[slot] = run.script.send(result)
        except StopIteration:
            self.closed += 1
            self.cases[slot] = self._new_case()

    def read(self, kind: str) -> Callable[[], Any]:
        """One read of ``kind`` by a director (or a partner) on a random case in flight."""
        started = [c for c in self.cases if c.ref]
        run = self.rng.choice(started)
        world = self.world
        if kind == "case show":
            user = run.director if self.rng.random() < 0.75 else "piet"
            return lambda: Reader(world.session(user)).case(run.ref)
        if kind == "worklist":
            return lambda: Reader(world.session(run.director)).worklist(run.today)
        if kind == "trail":
            return lambda: PrivacyReader(world.session(run.director)).trail(case=run.ref)
        if kind == "case list":
            return lambda: Reader(world.session(run.director)).case_list()
        raise ValueError(kind)

    def probe(self, count: int) -> dict[str, Any]:
        """Split a read into its two parts, with the workload paused: the catch-up of what was
        written since the last read, then ``count`` case shows on random cases with the views
        already level (each catches up only the previous show's own access record)."""
        runner = view_runner(self.world.app)
        (events, catch_up) = timed(runner.catch_up)
        shows = []
        for _ in range(count):
            run = self.probe_rng.choice([c for c in self.cases if c.ref])
            _, took = timed(lambda: Reader(self.world.session(run.director)).case(run.ref))  # noqa: B023
            shows.append(took)
        return {"catch_up_events": events, "catch_up_ms": catch_up[0] * 1e3, "show_level": _stats(shows)}


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Window:
    """What one window of commands measured: wall-clock and CPU seconds of this process, per operation."""

    commands: list[tuple[float, float]] = field(default_factory=list)
    reads: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"commands": _stats(self.commands)}
        for kind in dict.fromkeys(READ_KINDS):
            out[kind] = _stats(self.reads.get(kind, []))
        out["reads"] = _stats([x for xs in self.reads.values() for x in xs])
        return out


def _stats(samples: list[tuple[float, float]]) -> dict[str, Any]:
    """p50/p99/max of the wall-clock latencies; p50/p99 of the CPU time this process spent on them
    (what other processes on a shared machine disturb least; the database server's share is not in it)."""
    if not samples:
        return {"n": 0}
    wall = [w for w, _ in samples]
    cpu = [c for _, c in samples]
    return {
        "n": len(samples),
        "p50_ms": percentile(wall, 50) * 1e3,
        "p99_ms": percentile(wall, 99) * 1e3,
        "max_ms": max(wall) * 1e3,
        "cpu_p50_ms": percentile(cpu, 50) * 1e3,
        "cpu_p99_ms": percentile(cpu, 99) * 1e3,
    }


def timed(fn: Callable[[], Any]) -> tuple[Any, tuple[float, float]]:
    """Call ``fn``; its result and (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter, time.process_time
    w0, c0 = wall(), cpu()
    result = fn()
    return result, (wall() - w0, cpu() - c0)


def store_size(location: Location) -> dict[str, Any]:
    """The store on disk: SQLite file and WAL; PostgreSQL tables with indexes and TOAST, and dead rows
    (which only VACUUM, by hand or autovacuum, reclaims)."""
    if location.backend == "sqlite":
        path = Path(location.store)
        wal = Path(f"{path}-wal")
        return {
            "mb": path.stat().st_size / 1e6,
            "wal_mb": wal.stat().st_size / 1e6 if wal.exists() else 0.0,
        }
    with psycopg.connect(PG_DSN) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(relid)), 0), coalesce(sum(n_dead_tup), 0) "
            "FROM pg_stat_user_tables WHERE schemaname = %s",
            (location.schema,),
        ).fetchone()
        worklist = conn.execute(
            "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s",
            (location.schema, "regie_worklist"),
        ).fetchone()
    assert row is not None
    return {"mb": int(row[0]) / 1e6, "dead_rows": int(row[1]), "worklist_live_dead": list(worklist or ())}


def vacuum_in_place_of_autovacuum(location: Location | None) -> bool:
    """VACUUM (ANALYZE) the store's tables when the server's autovacuum is off; whether it did.

    A PostgreSQL in production runs autovacuum: without it every updated view row stays a dead
    row and the soak would measure a server nobody should run. This stands in for it between
    windows, outside the timed work.
    """
    if location is None or location.backend != "postgres":
        return False
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        if conn.execute("SHOW autovacuum").fetchone() != ("off",):
            return False
        tables = conn.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s", (location.schema,)
        ).fetchall()
        for (table,) in tables:
            conn.execute(psycopg.sql.SQL("VACUUM (ANALYZE) {}").format(psycopg.sql.Identifier(location.schema, table)))
    return True


def soak(world: ProjectWorld, size: Sizes, label: str, location: Location | None = None) -> dict[str, Any]:
    """Run the workload on ``world``; per-window figures and memory."""
    for user_id, role, organisation, team in EXTRA_USERS:
        world.run("admin", AddUser(user_id=user_id, role=role, organisation=organisation, team=team))
    frozen = settle_after_start()  # as a long-running process (the API server) does once it is up
    work = Workload(world, size.in_flight)
    t0 = time.perf_counter()
    warm = work.warm_up()
    view_runner(world.app).catch_up()  # the views start level with the log, as in a store in use
    seconds = time.perf_counter() - t0
    log(f"{NAME}/{label}: warm-up: {warm:,} commands bring {size.in_flight} cases to random stages ({seconds:.1f}s)")
    gc.collect()
    rss_start = rss_mb()
    events_start = count_events(world.app)
    windows: list[dict[str, Any]] = []
    current = Window()
    clock = time.perf_counter
    reads_done = 0
    started = window_started = clock()
    for done in range(1, size.commands + 1):
        slot, (user, command) = work.next_command()
        result, took = timed(lambda: world.run(user, command))  # noqa: B023 (called at once)
        current.commands.append(took)
        work.done(slot, result)
        if done % READ_EVERY == 0:
            kind = READ_KINDS[reads_done % len(READ_KINDS)]
            reads_done += 1
            _, took = timed(work.read(kind))
            current.reads.setdefault(kind, []).append(took)
        if done % size.window == 0 or done == size.commands:
            gc.collect()
            figures = current.stats()
            figures.update(
                probe=work.probe(size.probes),
                store=store_size(location) if location is not None else {},
                commands_done=done,
                events=count_events(world.app),
                rss_mb=rss_mb(),
                seconds=round(clock() - window_started, 1),
                cases_referred=work.referred,
                cases_closed=work.closed,
                load_average=os.getloadavg()[0],
            )
            figures["vacuumed"] = vacuum_in_place_of_autovacuum(location)
            windows.append(figures)
            show = figures["case show"]
            log(
                f"{NAME}/{label}: {done:,} commands, {figures['events']:,} events, "
                f"command p50/p99 {figures['commands']['p50_ms']:.1f}/{figures['commands']['p99_ms']:.1f} ms, "
                f"case show p50/p99 {show.get('p50_ms', 0):.1f}/{show.get('p99_ms', 0):.1f} ms "
                f"(views level: p50 {figures['probe']['show_level']['p50_ms']:.1f}), "
                f"RSS {figures['rss_mb']:.0f} MB ({figures['seconds']}s, load {figures['load_average']:.1f})"
            )
            current, window_started = Window(), clock()
    return {
        "windows": windows,
        "rss_start_mb": rss_start,
        "rss_end_mb": windows[-1]["rss_mb"],
        "events_start": events_start,
        "warm_up_commands": warm,
        "frozen_at_start": frozen,
        "seconds": round(clock() - started, 1),
        "cases_referred": work.referred,
        "cases_closed": work.closed,
        "in_flight": size.in_flight,
        "window": size.window,
    }


def _ratio_figure(label: str, first: float, last: float) -> dict[str, Any]:
    """first window in the left column, last in the right; ratio last / first."""
    return {"label": label, "bare": first, "project": last, "ratio": last / first if first else None}


def figures_of(details: dict[str, Any]) -> dict[str, Any]:
    first, last = details["windows"][0], details["windows"][-1]
    out: dict[str, Any] = {}
    for kind in ("commands", *dict.fromkeys(READ_KINDS)):
        key = kind.replace(" ", "_")
        for q in ("p50", "p99"):
            if first[kind].get("n") and last[kind].get("n"):
                out[f"{key}_{q}_ms"] = _ratio_figure(
                    f"{kind} {q} ms: first vs last window", first[kind][f"{q}_ms"], last[kind][f"{q}_ms"]
                )
    for kind in ("commands", "case show"):
        if first[kind].get("n") and last[kind].get("n"):
            out[f"{kind.replace(' ', '_')}_cpu_p99_ms"] = _ratio_figure(
                f"{kind} p99 CPU ms (this process): first vs last", first[kind]["cpu_p99_ms"], last[kind]["cpu_p99_ms"]
            )
    out["show_level_p50_ms"] = _ratio_figure(
        "case show, views level, p50 ms: first vs last",
        first["probe"]["show_level"]["p50_ms"],
        last["probe"]["show_level"]["p50_ms"],
    )
    out["rss_mb"] = _ratio_figure("RSS MB: start vs end", details["rss_start_mb"], details["rss_end_mb"])
    return out


def soak_backend(backend: str, size: Sizes) -> dict[str, Any]:
    """The soak on a fresh store of ``backend``; its details (windows, memory)."""
    with temp_location(backend, "soak") as here:
        world = ProjectWorld(here)
        try:
            log(
                f"{NAME}/{backend}: {size.commands:,} commands over {size.in_flight} cases in flight, "
                f"a read every {READ_EVERY}, windows of {size.window:,}"
            )
            details = soak(world, size, backend, here)
        finally:
            world.close()
    details["backend_settings"] = backend_settings(backend)
    return details


def backend_settings(backend: str) -> dict[str, Any]:
    """What the server does behind our back that a soak depends on (PostgreSQL: autovacuum)."""
    if backend != "postgres":
        return {}
    with psycopg.connect(PG_DSN) as conn:
        return {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("autovacuum", "shared_buffers", "server_version")
        }


def run(results: dict[str, Any], *, quick: bool, backends: list[str]) -> None:
    size = sizes(quick)
    data = section(
        results,
        NAME,
        f"{size.commands:,} commands and {size.commands // READ_EVERY:,} reads: first vs last",
        columns=("first window", "last window", "last/first"),
    )
    # Each backend in a fresh interpreter: its memory figures are its own, not what the one
    # before it left behind (a process seldom gives freed memory back to the system).
    context = multiprocessing.get_context("spawn")
    for backend in backends:
        with context.Pool(1) as pool:
            details = pool.apply(soak_backend, (backend, size))
        data["backends"][backend] = {"figures": figures_of(details), "details": details}
    data["notes"] += [
        f"windows of {size.window:,} commands; RSS: at the start (first window column) and at the end (last)",
        f"targets: p99 of the last window <= {FIGURE_TARGET}x the first (commands, case show); RSS growth <= 20%",
        "each case runs referral -> consent -> intake -> take-on -> police disclosure -> letter -> MDO -> plan "
        "cycles (agree, start, reschedule, finish, evaluate; MDO every 4th; some escalations) -> closure; a closed "
        "case is replaced by a new referral; reads: case show (2/5), worklist, trail of a case, case list",
        "case list lists the open cases of the director and the team (closed ones only with --closed)",
        "PostgreSQL: where the server's autovacuum is off, the soak runs VACUUM (ANALYZE) on the store's tables "
        "after each window, outside the timed work, as autovacuum would ('vacuumed' per window in the JSON)",
        "each backend runs in a fresh process (RSS is its own); 'views level' = case shows right after a full "
        "catch-up (the read without the catch-up of other people's work): each window's 'probe' in the JSON",
    ]

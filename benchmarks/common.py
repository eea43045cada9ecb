"""Shared helpers: timing, interleaved rounds, temporary stores on both backends, the
project's world of users and cases, and the bare-library baseline.

The baseline is the eventsourcing library and nothing else: an ``Application`` configured
with the library's own AES-256-GCM cipher (``eventsourcing.cryptography:AESCipher``) and
zlib compressor (casusregie compresses too, so leaving it out would flatter neither side),
and a Dog-like aggregate whose events are as large as casusregie's typical event.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import math
import os
import re
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier
from rich.console import Console
from rich.table import Table

from casusregie.adapters.config import Settings
from casusregie.adapters.profile_file import resolve_profile
from casusregie.adapters.sql import Database
from casusregie.adapters.store import create_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.base import Command, Result
from casusregie.commands.decision import TakeOn
from casusregie.commands.plan import AgreeMeasure, Evaluate, ReportProgress, RescheduleMeasure
from casusregie.commands.referral import AssessIntake, MemberInput, ReferCase
from casusregie.commands.session import Session
from casusregie.commands.users import AddUser, initialise
from casusregie.domain.case import Case
from casusregie.domain.errors import NotFound
from casusregie.domain.roles import Actor, Role

console = Console(stderr=True, highlight=False, soft_wrap=True)
_T0 = time.perf_counter()

SCALE_VARIABLE = "REGIE_BENCH_SCALE"  # `python -m benchmarks --scale`: the ten-year store of a large city


def scale_records() -> int | None:
    """The size of the scale runs (events or records), or None for the usual sizes."""
    value = os.environ.get(SCALE_VARIABLE, "").strip()
    return int(value) if value else None


def log(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since the harness started."""
    console.print(f"[dim]{time.perf_counter() - _T0:7.1f}s[/dim] {message}")


# --- timing ------------------------------------------------------------------------------


@dataclass
class Batch:
    """One round of one variant: operations done, seconds taken, and each operation's latency."""

    ops: int
    seconds: float
    latencies: list[float] = field(default_factory=list)


def time_each(fn: Callable[[Any], object], items: Iterable[Any]) -> Batch:
    """Call ``fn(item)`` for every item, timing each call and the batch as a whole."""
    clock = time.perf_counter
    latencies: list[float] = []
    start = clock()
    for item in items:
        t0 = clock()
        fn(item)
        latencies.append(clock() - t0)
    return Batch(len(latencies), clock() - start, latencies)


def time_once(fn: Callable[[], int]) -> Batch:
    """Time one call of ``fn``, which returns how many operations (e.g. events) it did."""
    start = time.perf_counter()
    ops = fn()
    return Batch(ops, time.perf_counter() - start)


def interleave(variants: dict[str, Callable[[int], Batch]], rounds: int) -> dict[str, list[Batch]]:
    """Run every variant once per round, flipping the order every round (A B, B A, A B ...).

    Drift on a shared machine (other jobs, caches, stores that grow as we go) then lands on
    both sides alike, and neither side always runs first after the other's garbage.
    """
    out: dict[str, list[Batch]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            gc.collect()
            out[name].append(variants[name](r))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating between the closest ranks."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low = math.floor(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(batches: list[Batch]) -> dict[str, Any]:
    """Median rate over the rounds; p50/p99 over every latency of every round."""
    rates = [b.ops / b.seconds for b in batches if b.seconds > 0]
    out: dict[str, Any] = {
        "ops": sum(b.ops for b in batches),
        "rounds": len(batches),
        "per_s": statistics.median(rates),
        "round_rates": [round(r, 1) for r in rates],
    }
    latencies = [x for b in batches for x in b.latencies]
    if latencies:
        out.update(
            p50_ms=percentile(latencies, 50) * 1e3,
            p99_ms=percentile(latencies, 99) * 1e3,
            mean_ms=statistics.fmean(latencies) * 1e3,
        )
    return out


def figure(label: str, bare: float, project: float) -> dict[str, Any]:
    """One compared figure; ``ratio`` is always project / bare."""
    return {"label": label, "bare": bare, "project": project, "ratio": project / bare if bare else None}


BARE_VS_PROJECT = ("bare library", "casusregie", "project/bare")


def section(
    results: dict[str, Any], name: str, title: str, columns: tuple[str, str, str] = BARE_VS_PROJECT
) -> dict[str, Any]:
    """The results skeleton a module fills: figures and details per backend, and notes. ``columns``
    names the two figures of a row and their ratio, for a section that compares something other
    than casusregie with the bare library."""
    return results.setdefault(name, {"title": title, "columns": list(columns), "backends": {}, "notes": []})


def _fmt(value: Any) -> str:
    if not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def render(out: Console, name: str, data: dict[str, Any]) -> None:
    """Print one section as a table: a row per backend and figure, columns bare, project, ratio
    (or the section's own names for them)."""
    table = Table(title=f"{name}: {data.get('title', '')}", title_justify="left")
    table.add_column("backend")
    table.add_column("figure")
    for column in data["columns"]:
        table.add_column(column, justify="right")
    for backend, per_backend in data.get("backends", {}).items():
        for fig in per_backend.get("figures", {}).values():
            ratio = "—" if fig["ratio"] is None else f"{fig['ratio']:.2f}"
            table.add_row(backend, fig["label"], _fmt(fig["bare"]), _fmt(fig["project"]), ratio)
        table.add_section()
    out.print(table)
    for note in data.get("notes", []):
        out.print(f"  • {note}")


# --- temporary stores --------------------------------------------------------------------

PG_DSN = (
    os.environ.get("REGIE_BENCH_PG_DSN")
    or os.environ.get("REGIE_TEST_PG_DSN")
    or "postgresql://postgres@127.0.0.1:5432/test"
)


def postgres_problem() -> str | None:
    """Why PostgreSQL at PG_DSN cannot be used, or None when it can."""
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    return None


def _pg_admin(statement: SQL) -> None:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(statement)


@dataclass(frozen=True)
class Location:
    """Where one benchmark store lives: a private temp folder (keys, SQLite file) and a store value."""

    backend: str
    folder: Path
    store: str  # a --store value: file path, or DSN with ?schema=
    schema: str = ""


@contextlib.contextmanager
def temp_location(backend: str, name: str) -> Iterator[Location]:
    """A fresh, empty place for a store; removed (folder, PostgreSQL schema) afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"regie-bench-{name}-"))
    schema = ""
    try:
        if backend == "sqlite":
            yield Location(backend, folder, str(folder / f"{name}.db"))
        else:
            # A plain lowercase name: the library interpolates the schema into SQL unquoted.
            schema = f"bench_{re.sub(r'[^a-z0-9_]', '_', name.lower())[:40]}_{secrets.token_hex(4)}"
            _pg_admin(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
            sep = "&" if "?" in PG_DSN else "?"
            yield Location(backend, folder, f"{PG_DSN}{sep}schema={schema}", schema)
    finally:
        if schema:
            with contextlib.suppress(psycopg.Error):
                _pg_admin(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))
        shutil.rmtree(folder, ignore_errors=True)


# --- the bare library ----------------------------------------------------------------------


class Dog(Aggregate):
    """The library's tutorial aggregate; each trick is one event, sized like casusregie's typical event."""

    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


class BareApplication(Application[UUID]):
    """Only the library: its recorders, its JSON transcoder, its AES-GCM cipher and zlib compressor."""

    name = "bare"

    def construct_env(self, name: str, env: Any = None) -> Environment:
        return Environment(name, dict(env or {}))  # like casusregie: ignore os.environ


def bare_app(location: Location, *, snapshot_every: int | None = None) -> BareApplication:
    """A library Application on the given location, tables created; snapshots off, or the
    library's own snapshotting every ``snapshot_every`` events (it reloads the aggregate to take one)."""
    cls = BareApplication
    env = {
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CREATE_TABLE": "y",
    }
    if snapshot_every:
        cls = type(
            "BareSnapshotting", (BareApplication,), {"name": "bare", "snapshotting_intervals": {Dog: snapshot_every}}
        )
        env["IS_SNAPSHOTTING_ENABLED"] = "y"
    if location.backend == "sqlite":
        env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=location.store)
    else:
        info = psycopg.conninfo.conninfo_to_dict(PG_DSN)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=str(info.get("dbname") or "postgres"),
            POSTGRES_HOST=str(info.get("host") or "127.0.0.1"),
            POSTGRES_PORT=str(info.get("port") or "5432"),
            POSTGRES_USER=str(info.get("user") or "postgres"),
            POSTGRES_PASSWORD=str(info.get("password") or ""),
            POSTGRES_SCHEMA=location.schema,
        )
    return cls(env=env)


# Prose plus a random base64 blob, like casusregie's event (fields plus a sealed note): with
# the JSON around it ~440 bytes of JSON body and ~370 bytes stored (compressed, encrypted),
# as casusregie's MeasureProgressReported (see the event-size figures of the foundation section).
_PROSE = (
    "Rolls over, plays dead and fetches the newspaper from next door; sits when told, "
    "and waits at the kerb until the road is clear; never barks at the postman, "
    "rarely at the neighbours' cat, and only once at the vet's door. "
)


def trick(i: int) -> str:
    return f"{i:06d} {_PROSE}{base64.b64encode(os.urandom(90)).decode()}"


TRICKS = [trick(i) for i in range(256)]


def bare_command(app: BareApplication, dog_id: UUID, payload: str) -> None:
    """The library's command: get the aggregate, mutate it once, save it."""
    dog = app.repository.get(dog_id)
    dog.add_trick(payload)
    app.save(dog)


def bare_fill(app: BareApplication, dogs: list[Dog], events: int, per_tx: int = 500) -> None:
    """Give ``dogs`` ``events`` more events in round-robin order, ``per_tx`` events per transaction."""
    pending: dict[UUID, Dog] = {}
    for i in range(events):
        dog = dogs[i % len(dogs)]
        dog.add_trick(TRICKS[i % len(TRICKS)])
        pending[dog.id] = dog
        if (i + 1) % per_tx == 0:
            app.save(*pending.values())
            pending.clear()
    if pending:
        app.save(*pending.values())


def bare_dogs(app: BareApplication, count: int, events_each: int) -> list[Dog]:
    """``count`` dogs with ``events_each`` events each (the first is Registered)."""
    dogs = [Dog(name=f"dog {i}") for i in range(count)]
    app.save(*dogs)
    bare_fill(app, dogs, count * (events_each - 1))
    return dogs


def replay(app: Application[UUID], count: int, page: int = 500) -> int:
    """Read ``count`` events from the notification log in pages, decrypting and decoding each.

    A page at a time where the mapper can (casusregie's looks each key up once per page), as its reads do.
    """
    position = done = 0
    many = getattr(app.mapper, "to_domain_events", None)
    while done < count:
        notifications = app.recorder.select_notifications(
            start=position, limit=min(page, count - done), inclusive_of_start=False
        )
        if not notifications:
            break
        if many is not None:
            many(notifications)
        else:
            for notification in notifications:
                app.mapper.to_domain_event(notification)
        done += len(notifications)
        position = notifications[-1].id
    return done


def count_events(app: Application[UUID]) -> int:
    """Rows in the application's notification log."""
    recorder: Any = app.recorder
    with recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT count(*) FROM {_events_table(app)}")
        row = cursor.fetchone()
    return int(row[0] if not isinstance(row, dict) else next(iter(row.values())))


def _events_table(app: Application[UUID]) -> str:
    recorder: Any = app.recorder
    schema = getattr(recorder.datastore, "schema", "")
    name = recorder.events_table_name
    return f'"{schema}".{name}' if schema and "." not in name else name


# --- the project ----------------------------------------------------------------------------

SNAPSHOT_EVERY = RegieApplication.snapshotting_intervals.get(Case)  # casusregie's interval, for like-for-like
DAY = date.today() - timedelta(days=400)  # every business date; referrals may not lie in the future
NOTE = "Gesprek gevoerd; afspraken gemaakt over huisregels."
MEASURE = "Gesprek over huisregels en een gedragsovereenkomst."
EVALUATION = "Overlast sterk verminderd; de betalingsregeling loopt."
CRITERIA = ["woninggebonden", "meerdere-vormen", "complexe-achtergrond"]
USERS = (("anna", Role.REGISSEUR, None, "west"), ("piet", Role.PARTNER, "mitros", ""))


def refer_command(i: int) -> ReferCase:
    """A two-person household referred by Mitros, registered by anna (who will direct it)."""
    address = f"Kanaalstraat {i % 500 + 1}, Utrecht"
    return ReferCase(
        referring_org="mitros",
        referring_worker="J. Jansen (wijkconsulent)",
        reason="Ernstige geluidsoverlast en bedreiging van buren; huurachterstand van vier maanden.",
        problems={
            "overlast": "Harde muziek 's nachts, schreeuwen, buren bedreigd.",
            "financiën": "Huurachterstand van vier maanden, beslag op uitkering.",
        },
        members=[
            MemberInput(name=f"Karel de Vries {i}", birth_date=date(1979, 4, 12), bsn="111222333", address=address),
            MemberInput(name=f"Sandra de Vries {i}", birth_date=date(1982, 9, 30), role="partner", address=address),
        ],
        director="anna",
        team="west",
        on=DAY,
    )


def progress(item: tuple[str, str, str]) -> ReportProgress:
    """A Mitros professional reports progress on a measure of one case: (case, measure, status)."""
    case, measure, status = item
    return ReportProgress(case=case, measure=measure, status=status, note=NOTE, on=DAY)  # type: ignore[arg-type]


@dataclass
class CasePlan:
    """Drives one case through a realistic rhythm of plan work, one command (one case event) a step:
    agree a measure about one member, start it, reschedule it, finish it, evaluate the plan."""

    ref: str
    people: list[str]
    measures: int = 0  # measures agreed so far; measure ids are M1, M2 ... in that order
    step: int = 0

    def agree(self) -> tuple[str, Command]:
        self.measures += 1
        subject = self.people[self.measures % len(self.people)]
        return "anna", AgreeMeasure(
            case=self.ref,
            life_domain="overlast",
            owner="mitros",
            description=MEASURE,
            due=DAY + timedelta(days=60),
            subject=subject,
            on=DAY,
        )

    def next(self) -> tuple[str, Command]:
        phase, self.step = self.step % 5, self.step + 1
        measure = f"M{self.measures}"
        if phase == 0:
            return self.agree()
        if phase in (1, 3):
            return "piet", progress((self.ref, measure, "started" if phase == 1 else "done"))
        if phase == 2:
            return "anna", RescheduleMeasure(
                case=self.ref,
                measure=measure,
                due=DAY + timedelta(days=90),
                reason="Wachtlijst bij de zorgaanbieder.",
                on=DAY,
            )
        return "anna", Evaluate(case=self.ref, summary=EVALUATION, on=DAY)


def round_robin(plans: Sequence[CasePlan], steps: int) -> Iterator[tuple[str, Command]]:
    """``steps`` commands, one per case in turn, as many users working on many cases would."""
    for i in range(steps):
        yield plans[i % len(plans)].next()


def progress_queue(cases: Sequence[str], measures: int) -> list[tuple[str, str, str]]:
    """Report 'started' then 'done' on measures M1..M<measures> of every case, round-robin over cases."""
    return [(case, f"M{m}", status) for m in range(1, measures + 1) for status in ("started", "done") for case in cases]


class _DeferredApp:
    """Stands in for the application inside a session: commits are collected, the rest passes through."""

    def __init__(self, app: RegieApplication) -> None:
        self._app = app
        self._aggregates: list[Any] = []
        self._extras: list[Callable[[Any], None]] = []
        self._new_keys: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def commit(
        self, *aggregates: Any, extras: Sequence[Callable[[Any], None]] = (), new_keys: Sequence[str] = ()
    ) -> None:
        self._aggregates.extend(aggregates)
        self._extras.extend(extras)
        self._new_keys.extend(new_keys)

    def flush(self) -> None:
        if self._aggregates or self._extras:
            aggregates, extras, keys = self._aggregates, self._extras, self._new_keys
            self._aggregates, self._extras, self._new_keys = [], [], []
            self._app.commit(*aggregates, extras=extras, new_keys=keys)


class _DeferredSession(Session):
    """A session whose cases stay in memory between its commands (see ``ProjectWorld.bulk``)."""

    def __init__(self, app: _DeferredApp, actor: Actor, cases: dict[str, Case]) -> None:
        super().__init__(app, actor)  # type: ignore[arg-type]
        self._cases = cases

    def case(self, ref: str) -> Case:
        found = self._cases.get(ref)
        if found is None:
            try:
                found = super().case(ref)
            except NotFound:  # referred earlier in this same batch: write the batch, then look again
                self.app.flush()  # type: ignore[attr-defined]
                found = super().case(ref)
            self._cases[ref] = found
        return found


class ProjectWorld:
    """A fresh casusregie store (Utrecht profile) with a case director, anna (team west), and
    a Mitros professional, piet; commands run as they would from the CLI (``run``) or, to
    build big stores fast, many to a transaction (``bulk``)."""

    def __init__(self, location: Location) -> None:
        settings = Settings(
            store=location.store, key_dir=location.folder / "keys", checkpoint_dir=None, config_file=None
        )
        self.store = create_store(settings)
        self.app = RegieApplication(self.store)
        profile, text = resolve_profile("utrecht")
        initialise(self.app, profile, text, "admin")
        self.sessions: dict[str, Session] = {}
        self._deferred = _DeferredApp(self.app)
        self._cases: dict[str, Case] = {}
        self._bulk_sessions: dict[str, _DeferredSession] = {}
        for user_id, role, organisation, team in USERS:
            self.run("admin", AddUser(user_id=user_id, role=role, organisation=organisation, team=team))

    def _actor(self, user: str) -> Actor:
        found = self.app.setup().user(user)
        assert found is not None, user
        return Actor(found)

    def session(self, user: str) -> Session:
        if user not in self.sessions:
            self.sessions[user] = Session(self.app, self._actor(user))
        return self.sessions[user]

    def run(self, user: str, command: Command) -> Result:
        """The real command path: ``Session.execute``, one transaction per command."""
        self._cases.clear()  # cases held in memory by ``bulk`` would now be stale
        return self.session(user).execute(command)

    def bulk(self, steps: Iterable[tuple[str, Command]], per_tx: int = 50) -> list[Result]:
        """Run commands through the real handlers, writing ``per_tx`` commands per transaction.

        Same validation, authorisation, sealing, access records and events as ``run``; only
        the number of transactions differs, and cases come from memory instead of the store.
        """
        results = []
        for i, (user, command) in enumerate(steps, 1):
            if user not in self._bulk_sessions:
                self._bulk_sessions[user] = _DeferredSession(self._deferred, self._actor(user), self._cases)
            results.append(self._bulk_sessions[user].execute(command))
            if i % per_tx == 0:
                self._deferred.flush()
        self._deferred.flush()
        return results

    def new_cases(self, count: int, first: int = 0) -> list[CasePlan]:
        """``count`` referred, assessed and taken-on cases, ready for plan work (households ``first``...)."""
        referred = self.bulk(("anna", refer_command(i)) for i in range(first, first + count))
        plans = [CasePlan(str(r.data["case"]), list(r.data["members"])) for r in referred]
        self.bulk(("anna", AssessIntake(case=p.ref, criteria=CRITERIA, on=DAY)) for p in plans)
        self.bulk(("anna", TakeOn(case=p.ref, on=DAY)) for p in plans)
        return plans

    def case_version(self, ref: str) -> int:
        return int(self.app.get(self.session("anna").case(ref).id).version)

    @property
    def db(self) -> Database:
        return self.store.db

    def close(self) -> None:
        self.store.close()


def event_sizes(app: Application[UUID], body: Callable[[Any], bytes], topic_suffix: str) -> dict[str, Any]:
    """Mean JSON body and stored (compressed, encrypted) sizes: of all events, and of one topic."""
    every, chosen = [], []
    for notification in app.recorder.select_notifications(start=0, limit=1_000_000, inclusive_of_start=False):
        pair = (len(body(notification)), len(notification.state))
        every.append(pair)
        if notification.topic.endswith(topic_suffix):
            chosen.append(pair)

    def mean(pairs: list[tuple[int, int]], i: int) -> float:
        return statistics.fmean(p[i] for p in pairs) if pairs else 0.0

    return {
        "events": len(every),
        "json_bytes": mean(every, 0),
        "stored_bytes": mean(every, 1),
        "typical_topic": topic_suffix,
        "typical_json_bytes": mean(chosen, 0),
        "typical_stored_bytes": mean(chosen, 1),
    }


def bare_body(app: Application[UUID]) -> Callable[[Any], bytes]:
    """The JSON body of a bare-library stored event (decrypted and decompressed)."""
    mapper: Any = app.mapper

    def body(stored: Any) -> bytes:
        return bytes(mapper.compressor.decompress(mapper.cipher.decrypt(stored.state)))

    return body


# --- the comparison both command benchmarks make -------------------------------------------


def compare_commands(
    world: ProjectWorld,
    app: BareApplication,
    cases: Sequence[str],
    dogs: Sequence[UUID],
    measures: int,
    *,
    rounds: int,
    batch: int,
    warmup: int,
    more_bares: dict[str, tuple[BareApplication, Sequence[UUID]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The typical command on both sides, in interleaved rounds of ``batch`` commands.

    casusregie: ``Session.execute(ReportProgress(...))`` by a Mitros professional on fresh
    measures M1..M<measures> of ``cases`` (validation, authorisation, a sealed note, the
    access record, Merkle rows, snapshots, one transaction). Library: get + ``add_trick`` +
    save on ``dogs`` of ``app`` (result "bare") and of every app in ``more_bares`` (results
    under their names). All spread their commands round-robin over their aggregates;
    ``warmup`` commands per variant run first, unmeasured.
    """
    need = warmup + rounds * batch
    queue = progress_queue(cases, measures)
    assert len(queue) >= need, (len(queue), need)
    apps: dict[str, Any] = {"bare": app, **{name: pair[0] for name, pair in (more_bares or {}).items()}}
    herds = {"bare": dogs, **{name: pair[1] for name, pair in (more_bares or {}).items()}}

    def project_op(item: tuple[str, str, str]) -> None:
        world.run("piet", progress(item))

    def bare_op(item: tuple[BareApplication, UUID, str]) -> None:
        bare_command(*item)

    def rounds_of(op: Callable[[Any], None], items: list[Any]) -> Callable[[int], Batch]:
        return lambda r: time_each(op, items[warmup + r * batch : warmup + (r + 1) * batch])

    items = {
        name: [(apps[name], herd[i % len(herd)], TRICKS[i % len(TRICKS)]) for i in range(need)]
        for name, herd in herds.items()
    }
    variants = {name: rounds_of(bare_op, its) for name, its in items.items()}
    variants["project"] = rounds_of(project_op, queue)
    apps["project"], items["project"] = world.app, queue
    for name in variants:
        time_each(project_op if name == "project" else bare_op, items[name][:warmup])
    before = {name: count_events(a) for name, a in apps.items()}
    runs = interleave(variants, rounds)
    done = rounds * batch
    return {
        name: summary(runs[name]) | {"events_per_command": (count_events(apps[name]) - before[name]) / done}
        for name in variants
    }

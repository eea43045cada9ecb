"""HTTP API: what ``regie serve`` adds to the command and read paths, and how it holds up under load.

Everything real: the OpenID Provider of the tests (``tests/oidc.py``: panva's ``oidc-provider`` on
Node, tokens through the authorization-code flow), ``regie --config FILE serve`` as a subprocess on
a free loopback port, and clients over loopback (httpx; for the command throughput the
standard library's http.client, see ``LeanClient``); each request carries a bearer token that
the server checks (signature, issuer, audience, expiry) on every call, its subject mapped to a user.

(a) Per backend, side by side in interleaved rounds: the typical command (a Mitros professional
    reports progress on a measure, ``POST /api/v1/cases/{case}/measures/{measure}/progress``)
    against a served store, and the same command through ``Session.execute`` on a second store of
    the same backend, set up alike; then a case read (``GET /api/v1/cases/{case}``) against
    ``Reader(session).case(ref)``. One server worker (a worker serializes its requests); on SQLite on a
    core of its own, the clients and the in-process side on the other (``cores_apart``). Target:
    command throughput over HTTP >= 0.7x in-process. A third variant runs in-process through
    ``Service.session`` as a server request does (a session opened per operation for the caller's
    subject), which splits the gap into the session per request and the HTTP around it.
(b) The token check on its own: ``TokenValidator.verify(token)`` in this process with the
    provider's keys cached, per call, and as a share of an HTTP command and read.
(c) Load (PostgreSQL, ``workers = 2``): 50 concurrent clients for 60 s (``--quick``: 5 for 5 s)
    refer cases, read cases, and send commands with ``If-Match`` from their read (412 or 409 when
    another client moved the case on first). Targets: no errors other than 409/412, and no
    acknowledged command lost: afterwards the store is opened in-process and every case's version
    must equal its start plus the events of the commands the clients got a 200/201 for.

``--http-clients N`` and ``--http-seconds S`` (REGIE_HTTP_CLIENTS, REGIE_HTTP_SECONDS) change the load.
Without Node.js or ``tests/node/node_modules`` (``npm ci --prefix tests/node``) the section is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib.util
import json
import math
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from benchmarks.common import (
    CRITERIA,
    DAY,
    MEASURE,
    Batch,
    CasePlan,
    Location,
    ProjectWorld,
    count_events,
    interleave,
    log,
    percentile,
    progress,
    progress_queue,
    refer_command,
    section,
    summary,
    temp_location,
    time_each,
)
from casusregie.adapters.config import Settings
from casusregie.adapters.http.service import Caller, Service
from casusregie.adapters.http.settings import ApiSettings
from casusregie.adapters.http.tokens import CHECKED_TOKENS, TokenValidator
from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.base import Command
from casusregie.commands.decision import TakeOn
from casusregie.commands.plan import AgreeMeasure, SetGoal
from casusregie.commands.referral import AssessIntake
from casusregie.commands.session import Session
from casusregie.commands.users import LinkSubject
from casusregie.domain.errors import NotFound
from casusregie.domain.roles import Actor, Authentication
from casusregie.projections.reader import Reader

NAME = "http"
COLUMNS = ("in-process", "HTTP", "HTTP/in-process")
ROOT = Path(__file__).resolve().parents[1]
AUDIENCE = "casusregie-api"
API = "/api/v1"
SUBJECTS = {"anna": "bench-anna", "piet": "bench-piet"}  # the provider's login names (sub) of the users
COMMAND_TARGET = 0.7
# Client processes of the throughput variant: enough that requests are waiting whenever the server worker
# is ready for the next, even when a client is slow to be scheduled (with 3, the server idled up to a fifth
# of the time on a busy host); they share the core that the server does not have (CORES).
PARALLEL_CLIENTS = 6
CLIENTS_ENV, SECONDS_ENV = "REGIE_HTTP_CLIENTS", "REGIE_HTTP_SECONDS"
READY_TIMEOUT, STOP_TIMEOUT = 60.0, 30.0
# The load's mix per client step: refer a case, read a case then command on it, or only read one.
REFER_SHARE, COMMAND_SHARE = 0.1, 0.5
OK = (200, 201)
CONTENTION = (409, 412)
# Settings of the surrounding shell that would point the server at another store, keys or config.
CLEARED = ("REGIE_STORE", "REGIE_KEY_DIR", "REGIE_CONFIG", "REGIE_USER", "REGIE_CHECKPOINT_DIR", "REGIE_DEBUG")


@dataclass(frozen=True)
class Sizes:
    cases: int  # cases of (a), commands round-robin over them
    rounds: int
    batch: int  # commands (and reads) per side per round
    warmup: int
    verify_calls: int
    load_cases: int  # cases taken on before the load starts (referrals add more)
    load_clients: int
    load_seconds: float


FULL = Sizes(
    cases=50, rounds=10, batch=100, warmup=30, verify_calls=5000, load_cases=50, load_clients=50, load_seconds=60
)
QUICK = Sizes(cases=5, rounds=4, batch=10, warmup=5, verify_calls=300, load_cases=5, load_clients=5, load_seconds=5)


def sizes(quick: bool) -> Sizes:
    """From --quick and the environment (``--http-clients``, ``--http-seconds`` set it)."""
    chosen = QUICK if quick else FULL
    clients = int(os.environ.get(CLIENTS_ENV) or chosen.load_clients)
    seconds = float(os.environ.get(SECONDS_ENV) or chosen.load_seconds)
    return dataclasses.replace(chosen, load_clients=clients, load_seconds=seconds)


class BenchmarkError(RuntimeError):
    """The server answered something the benchmark did not expect (the answer is in the message)."""


# --- the OpenID Provider of the tests ----------------------------------------------------------------------


def oidc() -> ModuleType:
    """``tests/oidc.py``, loaded from its file (the tests folder is not a package)."""
    name = "_regie_bench_oidc"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "oidc.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def node_problem() -> str | None:
    """Why the provider cannot run here (no Node.js, no node_modules), or None when it can."""
    return oidc().node_problem()  # type: ignore[no-any-return]


# --- a served store ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def regie_command() -> list[str]:
    """The ``regie`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "regie"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from casusregie.cli import entry; entry()"]


def write_config(location: Location, issuer: str, port: int, workers: int) -> Path:
    """``regie.toml`` beside the store: store, key folder, and a development ``[api]`` on loopback."""
    values: dict[str, Any] = {"store": location.store, "key_dir": str(location.folder / "keys")}
    api: dict[str, Any] = {
        "issuer": issuer,
        "audience": AUDIENCE,
        "development": True,
        "listen": f"127.0.0.1:{port}",
        "workers": workers,
        "log_format": "none",  # no JSON access line per request on stdout
    }

    def line(key: str, value: Any) -> str:
        if isinstance(value, bool):
            return f"{key} = {'true' if value else 'false'}"
        return f"{key} = {value}" if isinstance(value, int) else f"{key} = {json.dumps(value)}"  # JSON str = TOML

    text = "\n".join([*(line(k, v) for k, v in values.items()), "", "[api]", *(line(k, v) for k, v in api.items())])
    path = location.folder / "regie.toml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


@dataclass
class Server:
    """A running ``regie serve`` (its own process group) and where it writes its output."""

    process: subprocess.Popen[bytes]
    base: str
    output: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.output.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"

    def wait_ready(self) -> float:
        """Poll the readiness check until it answers 200; the seconds that took."""
        started = time.perf_counter()
        last = "no answer yet"
        while time.perf_counter() - started < READY_TIMEOUT:
            if self.process.poll() is not None:
                raise BenchmarkError(f"regie serve ended with exit code {self.process.returncode}:\n{self.tail()}")
            try:
                response = httpx.get(f"{self.base}{API}/readiness", timeout=2)
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                if response.status_code == 200:
                    return time.perf_counter() - started
                last = f"{response.status_code} {response.text}"
            time.sleep(0.1)
        raise BenchmarkError(f"regie serve was not ready within {READY_TIMEOUT:.0f} s (last: {last}):\n{self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL to the rest of its process group."""
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"{NAME}: regie serve did not stop within {STOP_TIMEOUT:.0f} s; killing its process group")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # worker processes it may have left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        return process.returncode


@contextlib.contextmanager
def serving(location: Location, issuer: str, workers: int = 1) -> Iterator[Server]:
    """``regie --config FILE serve`` on the store at ``location``, ready; stopped on leaving."""
    port = free_port()
    config = write_config(location, issuer, port, workers)
    output = location.folder / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in CLEARED} | {"PYTHONUNBUFFERED": "1"}
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*regie_command(), "--config", str(config), "serve"],
            cwd=location.folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers stop with it
        )
    server = Server(process, f"http://127.0.0.1:{port}", output)
    try:
        seconds = server.wait_ready()
        log(f"{NAME}/{location.backend}: regie serve ready on port {port}, {workers} worker(s) ({seconds:.1f}s)")
        yield server
    finally:
        code = server.stop()
        log(f"{NAME}/{location.backend}: regie serve stopped (exit code {code})")


# The server on a core of its own, its load generator (the client processes, and this process, which
# also runs the in-process side while the server idles) on another: a deployment's clients run on other
# machines, and here they would otherwise preempt the server they load. None: fewer than two cores.
def _two_cores() -> tuple[int, int] | None:
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (usable[0], usable[1]) if len(usable) >= 2 else None


CORES = _two_cores()


@contextlib.contextmanager
def cores_apart(server_pid: int, backend: str) -> Iterator[None]:
    """Every thread of the server on one core, this process on the other; as before on leaving.

    SQLite only: on PostgreSQL the database's own processes do part of every request's work, and
    they are not ours to place; pinned apart from them, the server would wait for a backend
    queued behind the clients on the other core. There the scheduler places everything.
    """
    if CORES is None or backend != "sqlite":
        yield
        return
    for task in Path(f"/proc/{server_pid}/task").iterdir():  # sched_setaffinity(pid) moves one thread only
        os.sched_setaffinity(int(task.name), {CORES[1]})
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {CORES[0]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# --- stores ------------------------------------------------------------------------------------------------


def prepared_world(location: Location, issuer: str, cases: int, measures: int) -> tuple[ProjectWorld, list[CasePlan]]:
    """A fresh store whose users sign in at ``issuer``; ``cases`` cases taken on, ``measures`` agreed on each."""
    world = ProjectWorld(location)
    for user, subject in SUBJECTS.items():
        world.run("admin", LinkSubject(user_id=user, subject=subject, issuer=issuer))
    plans = world.new_cases(cases)
    if measures:
        world.bulk(plan.agree() for plan in plans for _ in range(measures))
    return world, plans


@dataclass
class OpenedStore:
    """An existing store opened in-process (after the server is gone), to check what it holds."""

    app: RegieApplication
    close: Callable[[], None]

    def session(self, user: str) -> Session:
        found = self.app.setup().user(user)
        assert found is not None, user
        return Session(self.app, Actor(found))


def local_settings(location: Location) -> Settings:
    return Settings(store=location.store, key_dir=location.folder / "keys", checkpoint_dir=None, config_file=None)


def open_existing(location: Location) -> OpenedStore:
    store = open_store(local_settings(location))
    return OpenedStore(RegieApplication(store), store.close)


def body_of(command: Command, *in_path: str) -> dict[str, Any]:
    """The JSON body of a command's endpoint: the fields given, less those its path names."""
    return command.model_dump(mode="json", exclude_unset=True, exclude=set(in_path))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise BenchmarkError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:500]}"
        )
    return response


# --- (a) and (b): HTTP next to in-process ------------------------------------------------------------------


def compare(backend: str, size: Sizes, provider: Any) -> dict[str, Any]:
    """The typical command and a case read, HTTP (one worker) next to in-process; the token check."""
    need = size.warmup + size.rounds * size.batch
    # Each variant has half of its store's cases (see _compare), and two commands per measure of each.
    measures = math.ceil(need / (size.cases // 2) / 2)
    with temp_location(backend, "http-served") as served_at, temp_location(backend, "http-inproc") as local_at:
        started = time.perf_counter()
        served, plans = prepared_world(served_at, provider.issuer, size.cases, measures)
        start_version = served.case_version(plans[0].ref)
        served.close()  # the server holds the store from here on
        local, local_plans = prepared_world(local_at, provider.issuer, size.cases, measures)
        service = Service(local_settings(local_at))
        try:
            log(
                f"{NAME}/{backend}: two stores of {size.cases} cases at version {start_version} "
                f"({time.perf_counter() - started:.1f}s)"
            )
            with serving(served_at, provider.issuer) as server, cores_apart(server.process.pid, backend):
                sides = Sides(server, local, service, provider.issuer)
                return _compare(backend, size, provider, sides, plans, local_plans, measures, start_version)
        finally:
            service.close()
            local.close()


@dataclass
class Sides:
    """The three ways to the same work: HTTP to the server, in-process with one session per user (the
    world's), and in-process with a session per operation as the server opens one (``Service.session``)."""

    server: Server
    local: ProjectWorld
    service: Service
    issuer: str

    def caller(self, user: str) -> Caller:
        return Caller(Authentication(SUBJECTS[user], self.issuer, f"bench-{user}", "127.0.0.1"))


def _compare(
    backend: str,
    size: Sizes,
    provider: Any,
    sides: Sides,
    plans: list[CasePlan],
    local_plans: list[CasePlan],
    measures: int,
    start_version: int,
) -> dict[str, Any]:
    need = size.warmup + size.rounds * size.batch
    tokens = {user: provider.token(subject) for user, subject in SUBJECTS.items()}
    served_refs, local_refs = [p.ref for p in plans], [p.ref for p in local_plans]
    # Each store's cases in two halves: HTTP one request at a time and HTTP from parallel clients on the
    # served store; Session.execute on one session and a session per command on the local one. A variant
    # moves only its own cases on, so each takes its own share of the snapshots (one per 20 case events);
    # with both on every case, the order of the rounds decided which of the two took them.
    half = len(served_refs) // 2
    served_queue = progress_queue(served_refs[:half], measures)[:need]
    parallel_queue = progress_queue(served_refs[half:], measures)[:need]
    local_queue = progress_queue(local_refs[:half], measures)[:need]
    request_queue = progress_queue(local_refs[half:], measures)[:need]
    local, service = sides.local, sides.service
    piet, anna = sides.caller("piet"), sides.caller("anna")
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters: nothing of this process's stores
    with (
        httpx.Client(base_url=sides.server.base + API, timeout=60) as http,
        contextlib.closing(LeanClient(sides.server.base, tokens["piet"])) as lean,
        spawn.Pool(PARALLEL_CLIENTS, initializer=start_client, initargs=(sides.server.base, tokens["piet"])) as clients,
    ):

        def http_command(request: tuple[str, bytes]) -> None:
            status, answer = lean.post(*request)
            if status != 200:
                raise BenchmarkError(f"POST {request[0]}: {status} {answer[:500]!r}")

        def parallel_commands(items: list[tuple[str, str, str]]) -> Batch:
            # A case's commands stay with one client, in order ("done" never overtakes "started").
            cases = list(dict.fromkeys(case for case, _, _ in items))
            client_of = {case: n % PARALLEL_CLIENTS for n, case in enumerate(cases)}
            shares = [
                [command_request(item) for item in items if client_of[item[0]] == c] for c in range(PARALLEL_CLIENTS)
            ]
            started = time.perf_counter()
            statuses = [status for part in clients.map(send_all, shares, chunksize=1) for status in part]
            seconds = time.perf_counter() - started
            wrong = [s for s in statuses if s != 200]
            if wrong:
                raise BenchmarkError(f"parallel clients: {len(wrong)} commands not answered 200 ({wrong[:5]})")
            return Batch(len(items), seconds)

        def local_command(item: tuple[str, str, str]) -> None:
            before = time.process_time()
            local.run("piet", progress(item))
            local_cpu.append(time.process_time() - before)

        def request_command(item: tuple[str, str, str]) -> None:
            command = progress(item)
            with service.session(piet, command.name) as session:
                session.execute(command)

        def http_read(ref: str) -> None:
            expect(http.get(f"/cases/{ref}", headers=bearer(tokens["anna"])), 200)

        def local_read(ref: str) -> None:
            Reader(local.session("anna")).case(ref)

        def request_read(ref: str) -> None:
            with service.session(anna, "case.show") as session:
                Reader(session).case(ref)

        server_cpu: Counter[str] = Counter()  # the server's CPU seconds per variant that sent it work

        Batched = Callable[[list[Any]], Batch]  # a variant: runs a chunk of items, times it

        def each(op: Callable[[Any], None]) -> Batched:
            return functools.partial(time_each, op)

        def rounds_of(name: str, run: Batched, items: list[Any]) -> Callable[[int], Batch]:
            def one(r: int) -> Batch:
                chunk = items[size.warmup + r * size.batch : size.warmup + (r + 1) * size.batch]
                before = process_cpu(sides.server.process.pid)
                batch = run(chunk)
                server_cpu[name] += process_cpu(sides.server.process.pid) - before
                return batch

            return one

        def reads(refs: list[str]) -> list[str]:
            return [refs[i % len(refs)] for i in range(need)]

        def measured(ops: dict[str, tuple[Batched, list[Any]]]) -> dict[str, list[Batch]]:
            for run, items in ops.values():
                run(items[: size.warmup])
            server_cpu.clear()
            return interleave({name: rounds_of(name, run, items) for name, (run, items) in ops.items()}, size.rounds)

        log(f"{NAME}/{backend}: typical command, {size.rounds}×{size.batch} per variant (+{size.warmup} warm-up)")
        events_before = count_events(local.app)
        local_cpu: list[float] = []
        commands = measured(
            {
                "http": (each(http_command), [command_request(item) for item in served_queue]),
                "parallel": (parallel_commands, parallel_queue),
                "local": (each(local_command), local_queue),
                "request": (each(request_command), request_queue),
            }
        )
        measured_ops = size.rounds * size.batch
        cpu = {
            "local_ms": 1e3 * sum(local_cpu) / len(local_cpu),
            "server_ms": 1e3 * server_cpu["http"] / measured_ops,
            "server_parallel_ms": 1e3 * server_cpu["parallel"] / measured_ops,
        }
        events_per_command = (count_events(local.app) - events_before) / (2 * need)
        # Every command the server answered 200 for must show in its case's version.
        sent = Counter(case for case, _, _ in served_queue + parallel_queue)
        served_versions = {ref: int(http_read_version(http, ref, tokens["anna"])) for ref in served_refs}
        wrong = {ref: v for ref, v in served_versions.items() if v != start_version + sent[ref]}
        if wrong:
            raise BenchmarkError(f"served cases not at their start version {start_version} + commands sent: {wrong}")

        log(f"{NAME}/{backend}: case read, {size.rounds}×{size.batch} per variant (+{size.warmup} warm-up)")
        read_runs = measured(
            {
                "http": (each(http_read), reads(served_refs)),
                "local": (each(local_read), reads(local_refs)),
                "request": (each(request_read), reads(local_refs)),
            }
        )

        # The floor of any HTTP call here: a round trip to the health check (no token, no store).
        health = [time_each(lambda _: expect(http.get("/health"), 200), range(size.batch)) for _ in range(3)]

    verify = token_check(provider.issuer, tokens["piet"], size.verify_calls)
    cmd = {side: summary(runs) for side, runs in commands.items()}
    read = {side: summary(runs) for side, runs in read_runs.items()}
    floor = summary(health)
    share_command = verify["mean_us"] / (cmd["http"]["mean_ms"] * 1e3) * 100
    share_read = verify["mean_us"] / (read["http"]["mean_ms"] * 1e3) * 100

    def row(label: str, key: str, of: dict[str, Any]) -> dict[str, Any]:
        return pair(label, of["local"][key], of["http"][key])

    figures = {
        "command_per_s": pair(
            f"typical command: ops/s (HTTP: {PARALLEL_CLIENTS} clients at once)",
            cmd["local"]["per_s"],
            cmd["parallel"]["per_s"],
        ),
        "command_one_client_per_s": row("typical command: ops/s, one HTTP client", "per_s", cmd),
        "command_p50_ms": row("typical command: p50 (ms)", "p50_ms", cmd),
        "command_p99_ms": row("typical command: p99 (ms)", "p99_ms", cmd),
        "read_per_s": row("case read: ops/s", "per_s", read),
        "read_p50_ms": row("case read: p50 (ms)", "p50_ms", read),
        "read_p99_ms": row("case read: p99 (ms)", "p99_ms", read),
        "command_cpu_ms": pair("typical command: CPU ms (right: the server's)", cpu["local_ms"], cpu["server_ms"]),
        "command_cpu_per_s": pair(
            "typical command: ops/s the CPU allows (right: the server)", 1e3 / cpu["local_ms"], 1e3 / cpu["server_ms"]
        ),
        "command_parallel_cpu_ms": pair(
            f"typical command: CPU ms (right: the server's, {PARALLEL_CLIENTS} clients)",
            cpu["local_ms"],
            cpu["server_parallel_ms"],
        ),
        "server_busy_pct": single(
            f"server busy: its CPU share of the {PARALLEL_CLIENTS}-client run (%)",
            100 * cmd["parallel"]["per_s"] * cpu["server_parallel_ms"] / 1e3,
        ),
        "command_request_per_s": pair(
            "command ops/s, right: in-process, a session per command", cmd["local"]["per_s"], cmd["request"]["per_s"]
        ),
        "token_verify_us": single("token check per call, keys cached, token seen before (µs)", verify["mean_us"]),
        "token_signature_us": single(
            "token check with its signature (a token's first call) (µs)", verify["signature_us"]
        ),
        "token_share_command_pct": single("token check: share of an HTTP command (%)", share_command),
        "token_share_read_pct": single("token check: share of an HTTP case read (%)", share_read),
        "health_p50_ms": single("HTTP floor: GET /health, no token (p50 ms)", floor["p50_ms"]),
    }
    return {
        "figures": figures,
        "details": {
            "variants": {
                "http": "regie serve, one worker, over loopback with a bearer token, one request at a time",
                "parallel": f"the same server and command from {PARALLEL_CLIENTS} client processes at once "
                "(the server's throughput: a client's own work overlaps the server's)",
                "local": "Session.execute / Reader on one session per user (the benchmark world's)",
                "request": "in-process, a session per operation as a server request opens one (Service.session)",
            },
            "command": cmd,
            "read": read,
            "breakdown_ms": breakdown(cmd, verify),
            "read_breakdown_ms": breakdown(read, verify),
            "events_per_command": events_per_command,
            "case_version_at_start": start_version,
            "token_check": verify,
            "health": floor,
            "command_target": COMMAND_TARGET,
            "command_target_met": cmd["parallel"]["per_s"] >= COMMAND_TARGET * cmd["local"]["per_s"],
            "cpu": cpu,
            "cpu_target_met": cpu["local_ms"] >= COMMAND_TARGET * cpu["server_ms"],
            "workers": 1,
        },
    }


class LeanClient:
    """HTTP/1.1 over one kept-alive loopback connection with the standard library's ``http.client``.

    The throughput variants send with this rather than httpx, whose own work per request (about 1 ms
    of CPU here) would take that much from the server on a two-core machine: the server's share is
    what is measured, and a deployment's clients run elsewhere. Bodies are encoded before timing.
    """

    def __init__(self, base: str, token: str) -> None:
        url = httpx.URL(base)
        self.prefix = url.path.rstrip("/") + API
        self.connection = HTTPConnection(url.host, url.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.connection.request("POST", self.prefix + path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def command_request(item: tuple[str, str, str]) -> tuple[str, bytes]:
    """Path and JSON body of the typical command for ``item`` (a measure's progress)."""
    case, measure, _ = item
    body = json.dumps(body_of(progress(item), "case", "measure"), separators=(",", ":")).encode()
    return f"/cases/{case}/measures/{measure}/progress", body


_client: LeanClient | None = None  # a parallel client process's own connection to the server


def start_client(base: str, token: str) -> None:
    global _client
    _client = LeanClient(base, token)


def send_all(requests: list[tuple[str, bytes]]) -> list[int]:
    """In a parallel client process: the typical command over HTTP for each request in turn; their statuses."""
    assert _client is not None
    return [_client.post(path, body)[0] for path, body in requests]


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process so far (Linux /proc), the client's own not included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def breakdown(of: dict[str, Any], verify: dict[str, Any]) -> dict[str, float]:
    """Where the mean HTTP latency goes: the in-process work, opening a session per request, the token
    check, and the rest (loopback, uvicorn, FastAPI, JSON, the client)."""
    local, request, served = of["local"]["mean_ms"], of["request"]["mean_ms"], of["http"]["mean_ms"]
    token = verify["mean_us"] / 1e3
    return {
        "http": served,
        "in_process": local,
        "session_per_request": request - local,
        "token_check": token,
        "rest": served - request - token,
    }


def http_read_version(http: httpx.Client, ref: str, token: str) -> str:
    """The ETag of a served case (its version), unquoted."""
    return expect(http.get(f"/cases/{ref}", headers=bearer(token)), 200).headers["ETag"].strip('"')


def pair(label: str, local: float, served: float) -> dict[str, Any]:
    """A compared figure: in-process in the left column, HTTP in the right; ratio HTTP / in-process."""
    return {"label": label, "bare": local, "project": served, "ratio": served / local if local else None}


def single(label: str, value: float) -> dict[str, Any]:
    """A figure of the HTTP side only (nothing to compare it with in-process)."""
    return {"label": label, "bare": None, "project": value, "ratio": None}


def token_check(issuer: str, token: str, calls: int) -> dict[str, Any]:
    """``TokenValidator.verify`` as the server builds it, keys fetched once beforehand; per call in µs:
    a token seen before (its signature checked once, its claims on every call), and with the signature
    checked on every call (a validator that remembers no token), as for a client's first call."""
    api = ApiSettings(issuer=issuer, audience=AUDIENCE, development=True, listen="127.0.0.1:1")

    def timed(remembered: int) -> dict[str, Any]:
        validator = TokenValidator.from_settings(api, remembered=remembered)
        validator.ready()
        for _ in range(min(50, calls)):  # warm up
            validator.verify(token)
        batches = [time_each(validator.verify, [token] * max(1, calls // 5)) for _ in range(5)]
        latencies = [x for b in batches for x in b.latencies]
        if validator.fetches != 1:
            raise BenchmarkError(f"the validator fetched the keys {validator.fetches} times; with a cache once")
        return {
            "calls": len(latencies),
            "mean_us": sum(latencies) / len(latencies) * 1e6,
            "p50_us": percentile(latencies, 50) * 1e6,
            "p99_us": percentile(latencies, 99) * 1e6,
            "key_fetches": validator.fetches,
            "signature_checks": validator.signature_checks,
        }

    seen, first = timed(remembered=CHECKED_TOKENS), timed(remembered=0)
    return seen | {"signature_us": first["mean_us"], "signature": first}


# --- (c) load ----------------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the clients saw: latencies and statuses per kind of request, and the acknowledged commands."""

    pool: list[str]  # the cases the clients work on; a referral adds its case
    expected: dict[str, int]  # case -> its version if exactly the acknowledged commands were stored
    deltas: dict[str, int]  # command kind -> events it adds to the case
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    acknowledged: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # no answer at all (timeouts, resets)
    samples: list[str] = field(default_factory=list)  # the first few unexpected answers

    def note(self, kind: str, response: httpx.Response, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.statuses[kind, response.status_code] += 1
        if response.status_code not in OK + CONTENTION and len(self.samples) < 10:
            path = response.request.url.path
            self.samples.append(f"{response.request.method} {path}: {response.status_code} {response.text[:300]}")


async def client(number: int, http: httpx.AsyncClient, tokens: dict[str, str], load: Load, deadline: float) -> None:
    """One user's loop until the deadline: refer, read-then-command (If-Match), or read."""
    rng = random.Random(number)
    referred = 0
    clock = time.perf_counter

    async def call(kind: str, method: str, url: str, user: str, **kwargs: Any) -> httpx.Response | None:
        headers = bearer(tokens[user]) | kwargs.pop("headers", {})
        t0 = clock()
        try:
            response = await http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            load.failures[f"{kind}: {type(exc).__name__}"] += 1
            return None
        load.note(kind, response, clock() - t0)
        return response

    while clock() < deadline:
        roll = rng.random()
        if roll < REFER_SHARE:
            referred += 1
            command = refer_command(number * 1_000_000 + referred)
            key = uuid.uuid4().hex
            response = await call("refer", "POST", "/cases", "anna", json=body_of(command), headers=idem(key))
            if response is not None and response.status_code == 201:
                ref = str(response.json()["case"])
                load.acknowledged["refer"] += 1
                load.expected[ref] = load.deltas["refer"]
                load.pool.append(ref)
            continue
        ref = rng.choice(load.pool)
        response = await call("read", "GET", f"/cases/{ref}", "anna")
        if roll >= REFER_SHARE + COMMAND_SHARE or response is None or response.status_code != 200:
            continue
        chosen = next_command(ref, response.json(), rng)
        if chosen is None:
            continue
        kind, path, body = chosen
        headers = {"If-Match": response.headers["ETag"]} | idem(uuid.uuid4().hex)
        answer = await call(kind, "POST", path, "anna", json=body, headers=headers)
        if answer is not None and answer.status_code in OK:
            load.acknowledged[kind] += 1
            load.expected[ref] += load.deltas[kind]


def idem(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def next_command(ref: str, view: dict[str, Any], rng: random.Random) -> tuple[str, str, dict[str, Any]] | None:
    """What the director does next on a case as read: assess it, take it on, or work on the plan."""
    if view["status"] == "referred":
        if view.get("assessment") is None:
            return "assess", f"/cases/{ref}/assess", body_of(AssessIntake(case=ref, criteria=CRITERIA, on=DAY), "case")
        return "take-on", f"/cases/{ref}/take-on", body_of(TakeOn(case=ref, on=DAY), "case")
    if view["status"] != "taken-on":
        return None
    if rng.random() < 0.5:
        goal = SetGoal(case=ref, life_domain="overlast", description="De overlast stopt.", on=DAY)
        return "goal", f"/cases/{ref}/goals", body_of(goal, "case")
    measure = AgreeMeasure(
        case=ref,
        life_domain="overlast",
        owner="mitros",
        description=MEASURE,
        due=DAY + timedelta(days=60),
        subject=rng.choice(view["members"])["person"],
        on=DAY,
    )
    return "measure", f"/cases/{ref}/measures", body_of(measure, "case")


def event_deltas(world: ProjectWorld) -> dict[str, int]:
    """How many events each kind of command of the load adds to its case (measured on a scratch case)."""
    ref = str(world.run("anna", refer_command(999_999)).data["case"])
    deltas = {"refer": world.case_version(ref)}
    for kind, command in (
        ("assess", AssessIntake(case=ref, criteria=CRITERIA, on=DAY)),
        ("take-on", TakeOn(case=ref, on=DAY)),
        ("goal", SetGoal(case=ref, life_domain="overlast", description="De overlast stopt.", on=DAY)),
    ):
        before = world.case_version(ref)
        world.run("anna", command)
        deltas[kind] = world.case_version(ref) - before
    view = Reader(world.session("anna")).case(ref)
    members = [m["person"] for m in view["members"]]
    before = world.case_version(ref)
    world.run(
        "anna",
        AgreeMeasure(
            case=ref,
            life_domain="overlast",
            owner="mitros",
            description=MEASURE,
            due=DAY + timedelta(days=60),
            subject=members[0],
            on=DAY,
        ),
    )
    deltas["measure"] = world.case_version(ref) - before
    return deltas


async def drive(base: str, tokens: dict[str, str], load: Load, clients: int, seconds: float) -> float:
    """``clients`` concurrent clients for ``seconds``; the wall-clock seconds until the last answered."""
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    async with httpx.AsyncClient(base_url=base + API, timeout=60, limits=limits) as http:
        for _ in range(2):  # warm up, unmeasured: connections opened, both workers' caches (keys, views) filled
            refs = [load.pool[i % len(load.pool)] for i in range(clients)]
            await asyncio.gather(*(http.get(f"/cases/{ref}", headers=bearer(tokens["anna"])) for ref in refs))
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(n, http, tokens, load, deadline) for n in range(clients)))
        return time.perf_counter() - started


def load_test(size: Sizes, provider: Any) -> dict[str, Any]:
    """PostgreSQL, two workers, concurrent clients; then every acknowledged command looked up in the store."""
    with temp_location("postgres", "http-load") as at:
        world, plans = prepared_world(at, provider.issuer, size.load_cases, 0)
        try:
            deltas = event_deltas(world)
            load = Load(
                pool=[p.ref for p in plans],
                expected={p.ref: world.case_version(p.ref) for p in plans},
                deltas=deltas,
            )
            events_before = count_events(world.app)
        finally:
            world.close()
        tokens = {user: provider.token(subject) for user, subject in SUBJECTS.items()}
        with serving(at, provider.issuer, workers=2) as server:
            log(f"{NAME}/postgres: load: {size.load_clients} clients for {size.load_seconds:g}s, 2 workers")
            seconds = asyncio.run(drive(server.base, tokens, load, size.load_clients, size.load_seconds))
        log(f"{NAME}/postgres: load done; checking every acknowledged command in the store")
        found = check_store(at, load)
    latencies = [x for xs in load.latencies.values() for x in xs]
    requests = len(latencies) + sum(load.failures.values())
    statuses = Counter({f"{kind} {status}": n for (kind, status), n in sorted(load.statuses.items())})
    errors = sum(n for (_, status), n in load.statuses.items() if status not in OK + CONTENTION)
    errors += sum(load.failures.values())
    per_kind = {
        kind: {
            "n": len(xs),
            "p50_ms": percentile(xs, 50) * 1e3,
            "p99_ms": percentile(xs, 99) * 1e3,
        }
        for kind, xs in sorted(load.latencies.items())
    }
    commands_acked = sum(load.acknowledged.values())
    return {
        "requests": requests,
        "seconds": seconds,
        "requests_per_s": requests / seconds,
        "errors": errors,
        "conflicts_409": sum(n for (_, status), n in load.statuses.items() if status == 409),
        "precondition_412": sum(n for (_, status), n in load.statuses.items() if status == 412),
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "per_kind": per_kind,
        "statuses": dict(statuses),
        "no_answer": dict(load.failures),
        "unexpected_answers": load.samples,
        "acknowledged": dict(load.acknowledged),
        "acknowledged_commands": commands_acked,
        "event_deltas": deltas,
        "log_events_added": found.pop("events") - events_before,
        **found,
        "clients": size.load_clients,
        "workers": 2,
        "cases_at_start": size.load_cases,
    }


def check_store(location: Location, load: Load) -> dict[str, Any]:
    """Open the store in-process: does every case hold exactly the events of its acknowledged commands?"""
    opened = open_existing(location)
    try:
        session = opened.session("anna")
        missing_cases = lost = unacknowledged = 0
        for ref, expected in load.expected.items():
            try:
                version = int(session.case(ref).version)
            except NotFound:
                missing_cases += 1
                lost += expected
                continue
            lost += max(0, expected - version)
            unacknowledged += max(0, version - expected)
        events = count_events(opened.app)
    finally:
        opened.close()
    return {
        "events": events,
        "cases_checked": len(load.expected),
        "referred_cases_missing": missing_cases,
        "lost_acknowledged_events": lost,
        "stored_unacknowledged_events": unacknowledged,
    }


def load_figures(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "load_requests": single(f"load ({found['clients']} clients, 2 workers): requests", found["requests"]),
        "load_requests_per_s": single("load: requests/s", found["requests_per_s"]),
        "load_p50_ms": single("load: p50 (ms), all requests", found["p50_ms"]),
        "load_p99_ms": single("load: p99 (ms), all requests", found["p99_ms"]),
        "load_errors": single("load: errors other than 409/412", found["errors"]),
        "load_409": single("load: 409 Conflict", found["conflicts_409"]),
        "load_412": single("load: 412 Precondition Failed", found["precondition_412"]),
        "load_acknowledged": single("load: acknowledged commands (200/201)", found["acknowledged_commands"]),
        "load_lost": single("load: acknowledged events lost", found["lost_acknowledged_events"]),
    }


# --- the section -------------------------------------------------------------------------------------------


def run(results: dict[str, Any], *, quick: bool, backends: list[str]) -> None:
    size = sizes(quick)
    out = section(results, NAME, "regie serve (OIDC tokens, loopback) next to in-process; load", columns=COLUMNS)
    problem = node_problem()
    if problem is not None:
        out["notes"].append(f"skipped: no OpenID Provider ({problem})")
        results.get("meta", {}).get("skipped", {})[NAME] = problem
        log(f"{NAME}: skipped: {problem}")
        return
    provider = oidc().Provider.start(audience=AUDIENCE, access_token_ttl=3600)
    try:
        log(f"{NAME}: OpenID Provider at {provider.issuer}")
        for backend in backends:
            out["backends"][backend] = compare(backend, size, provider)
            details = out["backends"][backend]["details"]
            log(
                f"{NAME}/{backend}: command {details['command']['http']['per_s']:.0f}/s over HTTP vs "
                f"{details['command']['local']['per_s']:.0f}/s in-process; token check "
                f"{details['token_check']['mean_us']:.0f} µs"
            )
        if "postgres" in backends:
            found = load_test(size, provider)
            out["backends"]["postgres"]["figures"].update(load_figures(found))
            out["backends"]["postgres"]["details"]["load"] = found
    finally:
        provider.stop()
    notes = out["notes"]
    for backend, data in out["backends"].items():
        ratio = data["figures"]["command_per_s"]["ratio"]
        one = data["figures"]["command_one_client_per_s"]["ratio"]
        cpu_ratio = data["figures"]["command_cpu_per_s"]["ratio"]
        parts = data["details"]["breakdown_ms"]
        notes.append(
            f"{backend}: HTTP command throughput (target ≥ {COMMAND_TARGET}× in-process): one server worker, "
            f"{PARALLEL_CLIENTS} client processes at once {ratio:.2f}× "
            f"({'met' if ratio >= COMMAND_TARGET else 'NOT met'}); "
            f"one client waiting for each answer before the next {one:.2f}× (its own work and the loopback in "
            f"series with the server's); what one request at a time costs the server's CPU allows {cpu_ratio:.2f}×; "
            f"mean HTTP command {parts['http']:.1f} ms = in-process {parts['in_process']:.1f} + a session per "
            f"request {parts['session_per_request']:.1f} + token check {parts['token_check']:.2f} + HTTP and the "
            f"rest {parts['rest']:.1f}"
        )
    if "postgres" in out["backends"] and "load" in out["backends"]["postgres"]["details"]:
        found = out["backends"]["postgres"]["details"]["load"]
        clean = not found["errors"]
        kept = not found["lost_acknowledged_events"] and not found["referred_cases_missing"]
        notes.append(
            f"load: {found['errors']} errors other than 409/412 (target 0: {'met' if clean else 'NOT met'}); "
            f"{found['lost_acknowledged_events']} acknowledged events lost, {found['referred_cases_missing']} "
            f"acknowledged referrals missing (target 0: {'met' if kept else 'NOT met'}); "
            f"{found['stored_unacknowledged_events']} events stored without an acknowledgement "
            f"({sum(found['no_answer'].values())} requests got no answer)"
        )
    else:
        notes.append("load: skipped (it needs PostgreSQL: workers > 1)")
    notes += [
        "command = ReportProgress by a Mitros professional on a fresh measure (as in foundation); in-process = "
        "Session.execute on a second store of the same backend set up alike, HTTP = POST .../measures/{m}/progress "
        "with the bearer token of the same user (one token reused); read = GET /api/v1/cases/{case} vs "
        "Reader(session).case(ref); interleaved rounds, one server worker; ratio = HTTP / in-process",
        f"cores (SQLite): the server on one core, its {PARALLEL_CLIENTS} client processes and this process (which "
        "also runs the in-process side, while the server idles) on the other, as a deployment's clients run on other "
        "machines; on PostgreSQL, whose own processes do part of each request's work, the scheduler places "
        "everything. 'server busy' = the server's CPU share of the parallel run: near 100% shows the clients kept "
        "it saturated; on PostgreSQL the rest is waiting for the database",
        "command clients send with the standard library's http.client on a kept-alive connection, bodies encoded "
        "beforehand (LeanClient): httpx took about 1 ms of CPU per request, which on a two-core machine the "
        "server would otherwise lose to its own load generator; reads use httpx",
        "the HTTP side includes what every request does: loopback round trip, token check, mapping the subject to "
        "its user and opening a session (the in-process side reuses one session), JSON in and out; the 'session per "
        "command' row (and 'request' in the JSON) runs in-process through Service.session as a server request does, "
        "to split the gap into the session opened per request and the HTTP around it (breakdown_ms in the JSON)",
        "token check = TokenValidator.verify in this process with the JWKS cached (RS256, joserfc); its share "
        "divides it by the mean HTTP latency of the command and of the read",
        f"load mix per client step: {REFER_SHARE:.0%} refer a case, {COMMAND_SHARE:.0%} read a case then command on "
        "it with If-Match = its ETag (assess, take on, set a goal or agree a measure, as its state allows), the "
        "rest only read; each command with a fresh Idempotency-Key; clients = asyncio tasks on one httpx.AsyncClient "
        "in this process, on the same machine as the server and PostgreSQL",
        "load check: afterwards the store is opened in-process; each case's version must equal its start plus the "
        "events of the commands acknowledged with 200/201 (each acknowledged referral's case must exist)",
    ]

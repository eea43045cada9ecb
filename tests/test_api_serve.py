"""`regie serve` as an operator runs it: a real process from a config file, tokens from a real provider.

On SQLite: the service starts, answers health and readiness, serves a read and a command to the
callers the identity provider vouches for, and writes one JSON access line per request that names
the route's template, never a case number, a name or a BSN. A bad configuration stops it with one
clear line (exit 1). On PostgreSQL: two servers on one store stay consistent (a referral made
through one is read through the other; If-Match races have one winner; an Idempotency-Key retry
through the other server gets the first answer), and ``workers = 2`` serves. On both: a kill -9 in
the middle of a burst of commands loses no command that was answered 2xx, and the log verifies.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_client import link_everyone
from helpers import World, make_world
from live_server import (
    LiveServer,
    development_api,
    run_regie,
    serve,
    serve_config,
    write_config,
)
from oidc import Provider
from scenarios import taken_on_case

from casusregie.adapters.config import Settings
from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

SECURITY_HEADERS = {
    "api-version": "1.0.0",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-resource-policy": "same-origin",
}
ACCESS_KEYS = {"time", "method", "route", "status", "ms"}
# What the scenario's referral holds about the household (scenarios.refer).
PERSONAL = ("Karel", "de Vries", "Noor", "111222333", "Kanaalstraat", "1979-04-12", "2013-02-14", "J. Jansen")


# --- stores with users the provider vouches for ---------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    case: str  # a case taken on by anna
    person: str  # its first member


def seed(settings: Settings, issuer: str) -> Seeded:
    """A store with the helpers' users linked to ``issuer`` and one taken-on case; closed again."""
    world = make_world(settings)
    try:
        link_everyone(world, issuer)  # each user signs in under their own user id
        case = taken_on_case(world)
        person = next(iter(world.session("anna").case(case).members.values())).ref
    finally:
        world.store.close()
    return Seeded(settings, case, person)


def count_events(settings: Settings, topic: str = "") -> int:
    """Stored events (by topic), read from the store itself, beside the running servers."""
    store = open_store(settings)
    try:
        return World(settings, store, RegieApplication(store)).count(topic)
    finally:
        store.close()


def api_of(provider: Provider, **settings: Any) -> dict[str, Any]:
    """The ``[api]`` table for the test provider (serve() picks the port)."""
    return development_api(provider.issuer, **settings)


def goals(server: LiveServer, token: str, case: str) -> list[dict[str, Any]]:
    with server.client(token) as client:
        response = client.get(f"/cases/{case}")
    assert response.status_code == 200, response.text
    return list(response.json()["plan"]["goals"])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def race(
    servers: list[LiveServer], request: Callable[[httpx.Client], httpx.Response], token: str
) -> list[httpx.Response]:
    """The same request through each server at the same moment (a barrier releases them together)."""
    barrier = threading.Barrier(len(servers))
    answers: list[httpx.Response | None] = [None] * len(servers)

    def send(index: int, server: LiveServer) -> None:
        with server.client(token) as client:
            client.get("/health")  # connected before the barrier, so the two requests leave together
            barrier.wait(timeout=30)
            answers[index] = request(client)

    threads = [threading.Thread(target=send, args=pair) for pair in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(answer is not None for answer in answers), "a request of the race did not finish"
    return [answer for answer in answers if answer is not None]


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url, dict(response.headers))
    assert "server" not in response.headers  # no product banner
    assert "strict-transport-security" not in response.headers  # plain http (development) promises no HSTS


def referral_body() -> dict[str, Any]:
    return {
        "referring_org": "mitros",
        "referring_worker": "J. Jansen",
        "reason": "Overlast en huurachterstand",
        "problems": {"overlast": "lawaai"},
        "members": [
            {"name": "Karel de Vries", "birth_date": "1979-04-12", "bsn": "111222333", "address": "Kanaalstraat 12"}
        ],
        "home_corporation": "mitros",
    }


# --- one server on SQLite --------------------------------------------------------------------------------


@pytest.mark.slow
@SQLITE
def test_the_server_starts_from_its_config_serves_callers_and_logs_one_line_per_request_without_personal_data(
    settings: Settings, tmp_path: Path, oidc_provider: Provider
) -> None:
    seeded = seed(settings, oidc_provider.issuer)
    anna, piet = oidc_provider.token("anna"), oidc_provider.token("piet")
    with serve(tmp_path, store=str(settings.store), key_dir=settings.key_dir, api=api_of(oidc_provider)) as server:
        # The start-up's own readiness probe is logged once its answer has gone out: wait for its line.
        wait_for(lambda: any(line["status"] == 200 for line in server.access_lines()), 5, "the probe's line")
        before = len(server.access_lines())
        sent: list[httpx.Response] = []
        with server.client() as public:
            health = public.get("/health")
            ready = public.get("/readiness")
            anonymous = public.get(f"/cases/{seeded.case}")
            nowhere = public.get("/nothing-here")
        sent += [health, ready, anonymous, nowhere]
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"].startswith("Bearer ")
        assert nowhere.status_code == 404

        with server.client(anna) as client:
            listed = client.get("/cases")
            read = client.get(f"/cases/{seeded.case}")
            etag = read.headers["etag"]
            goal = client.post(
                f"/cases/{seeded.case}/goals",
                json={"life_domain": "overlast", "description": "rust in huis voor Karel de Vries"},
                headers={"If-Match": etag},
            )
            stale = client.post(
                f"/cases/{seeded.case}/goals",
                json={"life_domain": "overlast", "description": "nog een doel"},
                headers={"If-Match": etag},
            )
            again = client.get(f"/cases/{seeded.case}")
        sent += [listed, read, goal, stale, again]
        assert listed.status_code == 200
        assert [row["case"] for row in listed.json()["items"]] == [seeded.case]
        assert read.status_code == 200
        assert etag == f'"{read.json()["version"]}"'
        assert read.json()["members"][0]["bsn"] == "111222333"  # the director sees the file
        assert goal.status_code == 201, goal.text
        assert stale.status_code == 412, stale.text  # the ETag of before the goal
        assert again.headers["etag"] == f'"{read.json()["version"] + 1}"'
        assert [(g["goal"], g["description"]) for g in again.json()["plan"]["goals"]] == [
            (goal.json()["goal"], "rust in huis voor Karel de Vries")
        ]

        with server.client(piet) as client:
            referred = client.post("/cases", json=referral_body())
        sent.append(referred)
        assert referred.status_code == 201, referred.text
        new_case = referred.json()["case"]
        assert referred.headers["location"] == f"/api/v1/cases/{new_case}"

        for response in sent:
            assert_security_headers(response)

        wait_for(lambda: len(server.access_lines()) >= before + len(sent), 5, "the access lines")
        time.sleep(0.2)  # nothing more comes
        lines = server.access_lines()[before:]
        output = server.stdout()

    assert len(lines) == len(sent), lines
    for line, response in zip(lines, sent, strict=True):
        assert set(line) == ACCESS_KEYS, line
        assert line["method"] == response.request.method
        assert line["status"] == response.status_code
        assert line["route"] == "(no route)" or line["route"].startswith("/api/v1/")
    assert [line["route"] for line in lines] == [
        "/api/v1/health",
        "/api/v1/readiness",
        "/api/v1/cases/{case}",
        "(no route)",
        "/api/v1/cases",
        "/api/v1/cases/{case}",
        "/api/v1/cases/{case}/goals",
        "/api/v1/cases/{case}/goals",
        "/api/v1/cases/{case}",
        "/api/v1/cases",
    ]
    # No personal data and no references in the access log: route templates only.
    for secret in (*PERSONAL, seeded.case, new_case, seeded.person, *referred.json()["members"], anna, piet):
        assert secret not in output, secret
    assert "Bearer" not in output


def _exchange(server: LiveServer, *writes: bytes) -> bytes:
    """Send raw bytes on a fresh connection (stopping where the server has closed it); what came back."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        for data in writes:
            try:
                sock.sendall(data)
            except OSError:  # closed by the server: it has answered already
                break
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


@pytest.mark.slow
@SQLITE
def test_an_oversized_request_head_gets_431_and_the_server_serves_on(
    settings: Settings, tmp_path: Path, oidc_provider: Provider
) -> None:
    seeded = seed(settings, oidc_provider.issuer)
    token = oidc_provider.token("piet")
    with serve(tmp_path, store=str(settings.store), key_dir=settings.key_dir, api=api_of(oidc_provider)) as server:
        rss_before = _rss_kib(server.process.pid)
        streamed = _exchange(server, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ", *[b"a" * 65536] * 400)
        one_read = _exchange(server, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        long_url = _exchange(server, b"GET /api/v1/health?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        many = b"".join(b"X-%d: v\r\n" % n for n in range(3000))
        many_headers = _exchange(server, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        # A small head with a big body in the same write is not a big head.
        body = json.dumps({"description": "x" * 60_000, "life_domain": "overlast"}).encode()
        head = (
            f"POST /api/v1/cases/{seeded.case}/goals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        big_body = _exchange(server, head + body)
        rss_after = _rss_kib(server.process.pid)
        with server.client() as public:
            health = public.get("/health")
    for answer in (streamed, one_read, long_url, many_headers):
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert b"larger than 16384 bytes" in answer
        assert b"\r\nAPI-Version: 1.0.0\r\n" in answer
        assert b"\r\nX-Content-Type-Options: nosniff\r\n" in answer
    assert not big_body.startswith(b"HTTP/1.1 431"), big_body[:300]
    assert big_body.split(b" ", 2)[1] in (b"201", b"422"), big_body[:300]  # read and judged by the command
    assert rss_after - rss_before < 20_000, (rss_before, rss_after)  # kB: the 26 MB header was never held
    assert health.status_code == 200


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


# --- a bad configuration: one clear line, exit 1 ----------------------------------------------------------


@pytest.fixture(scope="module")
def plain_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A SQLite store with its key folder, for the configuration checks (no provider needed)."""
    folder = tmp_path_factory.mktemp("plain")
    settings = Settings(store=str(folder / "store.db"), key_dir=folder / "keys", checkpoint_dir=None, config_file=None)
    make_world(settings).store.close()
    return settings


ISSUER = "http://127.0.0.1:9"  # never asked: these configurations fail before any provider is contacted


def _dev(**extra: Any) -> dict[str, Any]:
    return {"issuer": ISSUER, "audience": "casusregie-api", "development": True, "listen": "127.0.0.1:9", **extra}


BAD_CONFIGS: dict[str, tuple[dict[str, Any] | None, dict[str, Any], str]] = {
    # name: ([api] table or None, other top-level settings, what the one line says)
    "no [api] section": (None, {}, "has no [api] section"),
    "http issuer without development": (
        {"issuer": ISSUER, "audience": "casusregie-api", "listen": "127.0.0.1:9"},
        {},
        "is not https",
    ),
    "development listening beyond loopback": (_dev(listen="0.0.0.0:9"), {}, "loopback address only"),
    "two workers on SQLite": (_dev(workers=2), {}, "SQLite store is served by one process"),
    "unknown key in [api]": (_dev(colour="blue"), {}, "colour"),
    "tls_certificate without tls_key": (_dev(tls_certificate="store.db"), {}, "give both tls_certificate and tls_key"),
    "a missing key folder": (_dev(), {"key_dir": "no-such-folder"}, "not found"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_a_bad_configuration_stops_serve_with_one_clear_line(name: str, plain_store: Settings, tmp_path: Path) -> None:
    api, top, says = BAD_CONFIGS[name]
    if api is not None and "tls_certificate" in api:
        api = {**api, "tls_certificate": str(Path(str(plain_store.store)))}  # a file that exists
    settings = {"store": plain_store.store, "key_dir": plain_store.key_dir, **top}
    config = write_config(tmp_path / "regie.toml", api=api, **settings)
    result = run_regie("serve", config=config, timeout=60)
    lines = result.stderr.splitlines()
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert lines[0].startswith("regie: error: "), lines
    assert says in lines[0], lines


def test_serve_check_passes_a_good_configuration_and_fails_a_missing_key_folder(
    plain_store: Settings, tmp_path: Path
) -> None:
    good = write_config(tmp_path / "good.toml", store=plain_store.store, key_dir=plain_store.key_dir, api=_dev())
    result = run_regie("serve", "--check", config=good, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"ready to serve {plain_store.store} on 127.0.0.1:9 for issuer {ISSUER}")

    missing = write_config(tmp_path / "missing.toml", store=plain_store.store, key_dir=tmp_path / "gone", api=_dev())
    result = run_regie("serve", "--check", config=missing, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("regie: error: key folder "), lines
    assert lines[0].endswith(" not found"), lines


# --- two servers on one PostgreSQL store -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.postgres
def test_two_servers_on_one_postgresql_store_agree(settings: Settings, tmp_path: Path, oidc_provider: Provider) -> None:
    seeded = seed(settings, oidc_provider.issuer)
    anna, piet = oidc_provider.token("anna"), oidc_provider.token("piet")
    api = api_of(oidc_provider)
    store, keys = str(settings.store), settings.key_dir
    with (
        serve(tmp_path, store=store, key_dir=keys, api=api, name="a.toml") as a,
        serve(tmp_path, store=store, key_dir=keys, api=api, name="b.toml") as b,
    ):
        assert a.port != b.port

        # A referral made through A is read through B.
        with a.client(piet) as client:
            referred = client.post("/cases", json=referral_body())
        assert referred.status_code == 201, referred.text
        new_case = referred.json()["case"]
        with b.client(piet) as client:
            read = client.get(f"/cases/{new_case}")
        assert read.status_code == 200, read.text
        assert read.json()["members"][0]["name"] == "Karel de Vries"

        # The same command with the same If-Match through A and B at once: one wins, the other is told.
        rounds = 6
        for n in range(rounds):
            with a.client(anna) as client:
                etag = client.get(f"/cases/{seeded.case}").headers["etag"]
            answers = race(
                [a, b],
                lambda client, n=n, etag=etag: client.post(
                    f"/cases/{seeded.case}/goals",
                    json={"life_domain": "overlast", "description": f"race {n}"},
                    headers={"If-Match": etag},
                ),
                anna,
            )
            statuses = sorted(r.status_code for r in answers)
            assert statuses[0] == 201, [(r.status_code, r.text) for r in answers]
            assert statuses[1] in (409, 412), [(r.status_code, r.text) for r in answers]
            loser = max(answers, key=lambda r: r.status_code)
            assert loser.headers["content-type"] == "application/problem+json"
            assert "nothing" in loser.json()["detail"]  # "nothing was done" / "nothing was saved"
            assert count_events(settings, "GoalSet") == n + 1  # the winner's event, and only that one
        descriptions = [g["description"] for g in goals(b, anna, seeded.case)]
        assert sorted(descriptions) == sorted(f"race {n}" for n in range(rounds))

        # An Idempotency-Key retry through B after A answered: A's answer, and nothing written.
        body = {"life_domain": "overlast", "description": "eens en niet vaker"}
        key = {"Idempotency-Key": "retry-of-a-lost-answer-1"}
        with a.client(anna) as client:
            first = client.post(f"/cases/{seeded.case}/goals", json=body, headers=key)
        assert first.status_code == 201, first.text
        assert "idempotent-replayed" not in first.headers
        events = count_events(settings)
        with b.client(anna) as client:
            retry = client.post(f"/cases/{seeded.case}/goals", json=body, headers=key)
        assert retry.status_code == first.status_code, retry.text
        assert retry.headers.get("idempotent-replayed") == "true"
        replayed = retry.json()
        assert {k: replayed[k] for k in first.json()} == first.json()
        assert count_events(settings) == events  # not one event more, access records included
        assert [g["description"] for g in goals(a, anna, seeded.case)].count("eens en niet vaker") == 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.postgres
def test_two_workers_on_postgresql_start_and_serve(settings: Settings, tmp_path: Path, oidc_provider: Provider) -> None:
    seeded = seed(settings, oidc_provider.issuer)
    anna = oidc_provider.token("anna")
    api = api_of(oidc_provider, workers=2)
    with serve(tmp_path, store=str(settings.store), key_dir=settings.key_dir, api=api) as server:
        assert "(2 worker(s))" in server.stderr()
        workers = _spawned_children(server.process.pid)
        assert len(workers) == 2, workers

        results: list[int] = []

        def read() -> None:
            with server.client(anna) as client:
                for _ in range(5):
                    results.append(client.get(f"/cases/{seeded.case}").status_code)

        threads = [threading.Thread(target=read) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert results == [200] * 30

        with server.client(anna) as client:
            etag = client.get(f"/cases/{seeded.case}").headers["etag"]
            goal = client.post(
                f"/cases/{seeded.case}/goals",
                json={"life_domain": "overlast", "description": "twee werkers"},
                headers={"If-Match": etag},
            )
        assert goal.status_code == 201, goal.text
        assert [g["description"] for g in goals(server, anna, seeded.case)] == ["twee werkers"]
        code = server.stop()
    assert code == 0, server.stderr()
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "a worker outlived its server"


def _spawned_children(parent: int) -> list[int]:
    """The worker processes uvicorn spawned under ``parent`` (multiprocessing's spawn_main)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


# --- kill -9 in the middle of a burst ----------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_in_a_burst_of_commands_loses_no_answered_command_and_the_log_verifies(
    backend: str, settings: Settings, tmp_path: Path, oidc_provider: Provider
) -> None:
    seeded = seed(settings, oidc_provider.issuer)
    anna = oidc_provider.token("anna")
    answered: list[tuple[str, str, str]] = []  # (Idempotency-Key, description, goal) of every 2xx answer
    other: list[tuple[int, str]] = []  # any other answer than 2xx (a connection error is no answer)
    stop = threading.Event()

    def burst(server: LiveServer, worker: int) -> None:
        with server.client(anna, timeout=10) as client:
            n = 0
            while not stop.is_set():
                key, description = f"burst-{worker}-{n}", f"burst {worker}.{n}"
                try:
                    response = client.post(
                        f"/cases/{seeded.case}/goals",
                        json={"life_domain": "overlast", "description": description},
                        headers={"Idempotency-Key": key},
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if response.is_success:
                    answered.append((key, description, response.json()["goal"]))
                else:
                    other.append((response.status_code, response.text))
                n += 1

    with serve(tmp_path, store=str(settings.store), key_dir=settings.key_dir, api=api_of(oidc_provider)) as server:
        config = server.config
        threads = [threading.Thread(target=burst, args=(server, n)) for n in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(answered) >= 25, 60, "25 answered commands")
        finally:
            server.kill()  # SIGKILL, mid-burst: requests are in flight
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    assert other == []
    assert server.process.returncode == -9

    with serve_config(config) as restarted:
        stored = {g["goal"]: g["description"] for g in goals(restarted, anna, seeded.case)}
        for _, description, goal in answered:
            assert stored.get(goal) == description, (goal, description)
        assert len(set(stored.values())) == len(stored)  # nothing was stored twice
        # A retry of an answered command is recognised after the restart too.
        key, description, goal = answered[-1]
        with restarted.client(anna) as client:
            retry = client.post(
                f"/cases/{seeded.case}/goals",
                json={"life_domain": "overlast", "description": description},
                headers={"Idempotency-Key": key},
            )
        assert retry.status_code == 201, retry.text
        assert retry.json()["goal"] == goal
        assert retry.headers.get("idempotent-replayed") == "true"
    assert count_events(settings, "GoalSet") == len(stored)

    verified = run_regie("audit", "verify", config=config, user="aud")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert re.search(r"^log verified: \d+ records", verified.stdout, re.MULTILINE), verified.stdout


def test_live_server_helper_reports_a_server_that_does_not_start(tmp_path: Path) -> None:
    """The helper's own failure: the server's stderr is in the message, and nothing is left running."""
    from live_server import ServerError

    config = write_config(tmp_path / "regie.toml", store=str(tmp_path / "none.db"), key_dir=tmp_path / "keys")
    with (
        pytest.raises(ServerError, match=r"(?s)ended with exit code 1 before it was ready.*has no \[api\] section"),
        serve_config(config, timeout=30),
    ):
        pass

"""Reads while someone writes, and database trouble told in one line.

A read takes no write lock for table upkeep; its catch-up of the views waits for the lock
and, when the store cannot take it, the read goes on from the views as they are, deciding
access on the case's own events. Database errors never exit 3 and say what was stored.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError
from helpers import REQUIRE_TMPFS, World, skip_unless_required
from scenarios import taken_on_case

from casusregie.commands.referral import AssignDirector
from casusregie.domain.errors import AccessDenied
from casusregie.projections import runner as runner_module
from casusregie.projections.reader import Reader, view_runner

WRITER = """
import sys, time
from casusregie.adapters.config import resolve_settings
from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.plan import SetGoal
from casusregie.commands.session import Session
from casusregie.domain.roles import Actor

app = RegieApplication(open_store(resolve_settings(store=None, key_dir=None, config=None)))
session = Session(app, Actor(app.setup().user("anna")))
deadline = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < deadline:
    n += 1
    session.execute(SetGoal(case=sys.argv[1], life_domain="overlast", description=f"doel {n}"))
print(n)
"""


READER = """
import contextlib, io, sys
from casusregie.cli import main
codes = []
for i in range(10):
    with contextlib.redirect_stdout(io.StringIO()):
        codes.append(main(["--as", "anna", *(["case", "show", sys.argv[1]] if i % 2 else ["worklist"])]))
print(" ".join(map(str, codes)))
"""


def test_reads_succeed_while_another_process_keeps_writing(world: World, env: dict[str, str], tmp_path: Path):
    case = taken_on_case(world)
    world.store.close()
    (tmp_path / "writer.py").write_text(WRITER, encoding="utf-8")
    (tmp_path / "reader.py").write_text(READER, encoding="utf-8")
    environment = {**os.environ, **env, "REGIE_STORE": world.settings.store or ""}

    def start(script: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(tmp_path / script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )

    writer = start("writer.py", case, "15")
    readers = [start("reader.py", case) for _ in range(3)]
    results = [r.communicate(timeout=300) for r in readers]
    written, problems = writer.communicate(timeout=300)

    assert writer.returncode == 0, problems
    assert int(written) > 0  # the writer did write meanwhile
    codes = " ".join(out.strip() for out, _ in results).split()
    assert len(codes) == 30
    assert set(codes) == {"0"}, "".join(err for _, err in results)


def _behind(monkeypatch: pytest.MonkeyPatch, reason: str = "database is locked") -> None:
    """The views cannot catch up: every attempt meets a store that will not take the write."""

    def cannot(self, progress=None, chunk=None):  # type: ignore[no-untyped-def]
        raise OperationalError(reason)

    monkeypatch.setattr(runner_module.ViewRunner, "catch_up", cannot)


def test_a_read_serves_views_that_are_behind_and_says_so(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    case = taken_on_case(world)
    Reader(world.session("anna")).case(case)  # views up to date
    from casusregie.commands.plan import SetGoal

    world.run("anna", SetGoal(case=case, life_domain="overlast", description="rust"))
    _behind(monkeypatch)
    world.app.alerts.clear()

    shown = Reader(world.session("anna")).case(case)

    assert shown  # the read went on
    behind = [a for a in world.app.alerts if "behind the log" in a]
    assert len(behind) == 1
    assert "record(s) behind" in behind[0]
    assert "busy" in behind[0]


def test_access_is_decided_on_the_case_not_on_a_view_that_is_behind(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = taken_on_case(world)
    Reader(world.session("anna")).case(case)  # anna directs it, and the views know
    _behind(monkeypatch)
    world.run("mia", AssignDirector(case=case, director="bram"))  # another team takes it over

    with pytest.raises(AccessDenied):
        Reader(world.session("anna")).case(case)
    assert Reader(world.session("bram")).case(case)


def test_a_read_with_views_up_to_date_writes_nothing_but_its_access_record(world: World) -> None:
    case = taken_on_case(world)
    reader = Reader(world.session("anna"))
    reader.case(case)
    writes: list[str] = []
    original = world.store.db.transaction

    def spy(*, commit: bool = True):  # type: ignore[no-untyped-def]
        if commit:
            writes.append("write")
        return original(commit=commit)

    world.store.db.transaction = spy  # type: ignore[method-assign]
    fresh = view_runner(world.app)
    fresh._ready = False  # as in a new process: the store's metadata says the tables exist
    Reader(world.session("anna")).case(case)  # only its own access record is new: the catch-up applies it

    assert len(writes) <= 1
    assert world.store.meta["views_schema"] == fresh.schema


def test_view_tables_are_made_again_when_their_fingerprint_changed(world: World) -> None:
    view_runner(world.app).ensure_tables()
    with world.store.db.transaction(commit=True) as tx:
        tx.execute("DROP TABLE regie_trail")
        tx.execute("UPDATE regie_meta SET value = 'older' WHERE name = 'views_schema'")
    world = world.reopen()  # an upgrade: the code's views differ from what the store has
    runner = view_runner(world.app)
    runner.rebuild()
    with world.store.db.transaction(commit=False) as tx:
        assert tx.scalar("SELECT count(*) FROM regie_trail") is not None
    assert world.store.meta["views_schema"] == runner.schema
    world.store.close()


# --- database errors in one line ------------------------------------------------------------

LOST = "terminating connection due to administrator command\nSSL connection has been closed unexpectedly"


def test_a_lost_connection_during_a_read_is_one_line_saying_nothing_was_stored(
    world: World, env: dict[str, str], cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = taken_on_case(world)
    world.store.close()
    from casusregie.adapters import lookup

    def lost(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError(LOST)

    monkeypatch.setattr(lookup.RefIndex, "resolve", lost)
    result = cli("case", "show", case, user="anna")

    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "connection to the database was lost" in result.err
    assert "nothing was stored" in result.err


def test_a_read_that_lost_its_connection_once_is_run_again(
    world: World, env: dict[str, str], cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = taken_on_case(world)
    world.store.close()
    from casusregie.adapters import lookup

    real = lookup.RefIndex.resolve
    calls: list[int] = []

    def lost_once(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(LOST)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(lookup.RefIndex, "resolve", lost_once)
    result = cli("case", "show", case, user="anna")

    assert result.code == 0, result.err
    assert len(calls) >= 2


def test_a_lost_connection_while_saving_says_it_is_not_known_whether_it_was_stored(
    world: World, env: dict[str, str], cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = taken_on_case(world)
    world.store.close()
    from casusregie.commands.application import RegieApplication

    def lost(self, *aggregates, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError(LOST)

    monkeypatch.setattr(RegieApplication, "save", lost)
    result = cli("plan", "goal", case, "--domain", "overlast", "--text", "rust", user="anna")

    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "not known whether this was stored" in result.err
    assert "--request-id" in result.err


def test_a_busy_store_while_saving_says_nothing_was_saved(
    world: World, env: dict[str, str], cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = taken_on_case(world)
    world.store.close()
    from casusregie.commands.application import RegieApplication

    def busy(self, *aggregates, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("database is locked")

    monkeypatch.setattr(RegieApplication, "save", busy)
    result = cli("plan", "goal", case, "--domain", "overlast", "--text", "rust", user="anna")

    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert "busy" in result.err
    assert "nothing was saved" in result.err


def test_a_long_running_process_survives_its_connections_being_terminated(tmp_path: Path) -> None:
    """PostgreSQL restarted, or an operator ended the sessions: the pool replaces the connections."""
    import psycopg
    from helpers import PG_DSN, drop_schema, make_world, new_schema, require_postgres

    from casusregie.adapters.config import Settings
    from casusregie.commands.plan import SetGoal

    require_postgres()
    schema = new_schema()
    world = make_world(
        Settings(store=f"{PG_DSN}?schema={schema}", key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None)
    )
    try:
        case = taken_on_case(world)
        pids = set()
        for _ in range(4):
            with world.store.db.transaction(commit=False) as tx:
                pids.add(int(tx.scalar("SELECT pg_backend_pid()")))
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            for pid in pids:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # pg_terminate_backend only signals the backend: wait until it has ended the session.
            for _ in range(500):
                alive = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),))
                if alive.fetchone()[0] == 0:  # type: ignore[index]
                    break
                time.sleep(0.01)

        # The project's own reads have no retry: the pool must hand out only live connections.
        for _ in range(len(pids) + 1):
            with world.store.db.transaction(commit=False) as tx:
                assert int(tx.scalar("SELECT pg_backend_pid()")) not in pids
        world.run("anna", SetGoal(case=case, life_domain="overlast", description="na de herstart"))
        assert Reader(world.session("anna")).case(case)
    finally:
        world.store.close()
        drop_schema(schema)


# --- a store on a read-only or full disk (SQLite) ------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 2 MB file system of its own (tmpfs), so it can be made read-only or full."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        skip_unless_required(
            f"cannot mount a small file system here: {made.stderr.decode().strip()}",
            REQUIRE_TMPFS,
            "REGIE_REQUIRE_TMPFS",
        )
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


class _Regie:
    """`regie` in-process on a store of its own (not the parametrised store of the other tests)."""

    def __init__(self, disk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        for name in ("REGIE_USER", "REGIE_CONFIG", "REGIE_CHECKPOINT_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("REGIE_STORE", str(disk / "s.db"))
        monkeypatch.setenv("REGIE_KEY_DIR", str(disk / "keys"))
        monkeypatch.chdir(disk.parent)

    def __call__(self, *args: str, user: str | None = None) -> tuple[int, str]:
        from casusregie.cli import main

        self.capsys.readouterr()
        code = main([*(["--as", user] if user else []), *args])
        return code, self.capsys.readouterr().err


@pytest.fixture
def regie(small_disk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> _Regie:
    run = _Regie(small_disk, capsys, monkeypatch)
    assert run("init", "--profile", "utrecht", "--admin", "beheer")[0] == 0
    assert run("user", "add", "anna", "--role", "regisseur", "--team", "west", user="beheer")[0] == 0
    return run


def test_a_store_on_a_read_only_file_system_says_so(small_disk: Path, regie: _Regie) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    for args in (("case", "list"), ("worklist",), ("user", "list")):
        code, err = regie(*args, user="anna")
        assert code == 1, args
        assert len(err.strip().splitlines()) == 1
        assert "read-only file system" in err
        assert "not a casusregie store" not in err


def test_a_store_on_a_full_disk_says_so(small_disk: Path, regie: _Regie) -> None:
    with open(small_disk / "filler", "wb") as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 65536)

    code, err = regie("user", "add", "bram", "--role", "regisseur", "--team", "oost", user="beheer")

    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "full" in err
    assert "not a casusregie store" not in err
    (small_disk / "filler").unlink()
    assert regie("user", "add", "bram", "--role", "regisseur", "--team", "oost", user="beheer")[0] == 0


def test_a_read_only_postgresql_store_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A database that refuses writes (a read-only replica, a read-only role): one line, exit 1."""
    import secrets

    import psycopg
    from helpers import PG_DSN, drop_schema, new_schema, require_postgres
    from psycopg.sql import SQL, Identifier

    require_postgres()
    schema, role = new_schema(), f"ro_{secrets.token_hex(4)}"
    writable = f"{PG_DSN}?schema={schema}"
    regie = _Regie(tmp_path / "disk", capsys, monkeypatch)
    monkeypatch.setenv("REGIE_STORE", writable)
    assert regie("init", "--profile", "utrecht", "--admin", "beheer")[0] == 0
    assert regie("user", "add", "anna", "--role", "regisseur", "--team", "west", user="beheer")[0] == 0
    try:
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(SQL("CREATE ROLE {} LOGIN").format(Identifier(role)))
            admin.execute(SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(schema), Identifier(role)))
            admin.execute(
                SQL("GRANT ALL ON ALL TABLES IN SCHEMA {} TO {}").format(Identifier(schema), Identifier(role))
            )
            admin.execute(
                SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA {} TO {}").format(Identifier(schema), Identifier(role))
            )
            admin.execute(SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(Identifier(role)))
        read_only = writable.replace("postgresql://postgres@", f"postgresql://{role}@")
        assert read_only != writable
        monkeypatch.setenv("REGIE_STORE", read_only)

        for args in (("case", "list"), ("user", "add", "bram", "--role", "regisseur", "--team", "oost")):
            code, err = regie(*args, user="anna" if args[0] == "case" else "beheer")
            assert code == 1, (args, err)
            assert len(err.strip().splitlines()) == 1
            assert "cannot be written" in err
            assert "nothing was saved" in err
    finally:
        drop_schema(schema)
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(SQL("DROP ROLE IF EXISTS {}").format(Identifier(role)))

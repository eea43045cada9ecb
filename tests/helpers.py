"""Test helpers: stores on both backends, a world of users, raw-byte inspection."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from casusregie.adapters.config import Settings
from casusregie.adapters.location import parse_location
from casusregie.adapters.profile_file import resolve_profile
from casusregie.adapters.store import Store, create_store, open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.base import Command, Result
from casusregie.commands.session import Session
from casusregie.commands.users import AddUser, initialise
from casusregie.domain.roles import Actor, Role

PG_DSN = os.environ.get("REGIE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("REGIE_REQUIRE_POSTGRES") == "1"
# The disk tests mount a small tmpfs (root only); CI (.ci/run) runs as root and must run them.
REQUIRE_TMPFS = os.environ.get("REGIE_REQUIRE_TMPFS") == "1"


def skip_unless_required(message: str, required: bool, variable: str) -> None:
    """Skip with the reason where a test's surroundings are missing, or fail where CI sets
    ``variable``: a run that must test something never passes by skipping it."""
    if required:
        pytest.fail(f"{message} ({variable}=1 makes this a failure)")
    pytest.skip(message)


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


_PG_PROBLEM = _pg_reachable()


def require_postgres() -> None:
    if _PG_PROBLEM is None:
        return
    skip_unless_required(
        f"PostgreSQL at {PG_DSN} is not reachable: {_PG_PROBLEM}", REQUIRE_PG, "REGIE_REQUIRE_POSTGRES"
    )


def drop_schema(schema: str) -> None:
    with contextlib.suppress(psycopg.Error), psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(schema)))


USERS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("anna", Role.REGISSEUR, None, "west"),
    ("bram", Role.REGISSEUR, None, "oost"),
    ("carla", Role.REGISSEUR, None, "west"),
    ("piet", Role.PARTNER, "mitros", ""),
    ("pol", Role.PARTNER, "politie", ""),
    ("lies", Role.PARTNER, "lister", ""),
    ("mia", Role.MANAGER, None, ""),
    ("pim", Role.PRIVACY_OFFICER, None, ""),
    ("aud", Role.AUDITOR, None, ""),
)


@dataclass
class World:
    """An initialised store with the USERS above, and ways to act in it."""

    settings: Settings
    store: Store
    app: RegieApplication
    sessions: dict[str, Session] = field(default_factory=dict)

    def session(self, user: str) -> Session:
        if user not in self.sessions:
            found = self.app.setup().user(user)
            assert found is not None, user
            self.sessions[user] = Session(self.app, Actor(found))
        return self.sessions[user]

    def run(self, user: str, command: Command) -> Result:
        return self.session(user).execute(command)

    def count(self, where: str = "") -> int:
        """Stored events (all aggregates, access log included), optionally filtered by topic."""
        with self.store.db.transaction(commit=False) as tx:
            if where:
                return int(tx.scalar("SELECT count(*) FROM stored_events WHERE topic LIKE ?", (f"%{where}%",)))
            return int(tx.scalar("SELECT count(*) FROM stored_events"))

    def domain_count(self) -> int:
        """Stored events that are not access-log records."""
        return self.count() - self.count("AccessTrace")

    def reopen(self) -> World:
        self.store.close()
        store = open_store(self.settings)
        return World(self.settings, store, RegieApplication(store))


def make_world(settings: Settings, profile_name: str = "utrecht") -> World:
    store = create_store(settings)
    app = RegieApplication(store)
    profile, text = resolve_profile(profile_name)
    initialise(app, profile, text, "admin")
    world = World(settings, store, app)
    partners = {p.id for p in profile.partners}
    for user_id, role, org, team in USERS:
        if org is None or org in partners:  # the partner users exist in profiles that have their organisation
            world.run("admin", AddUser(user_id=user_id, role=role, organisation=org, team=team))
    return world


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def new_schema() -> str:
    return f"t_{secrets.token_hex(6)}"


def raw_store_bytes(settings: Settings) -> bytes:
    """Every byte the database holds for a store: SQLite file and WAL, or every PostgreSQL relation file."""
    location = parse_location(settings.store or "")
    if location.path is not None:
        parts = [Path(str(location.path) + suffix) for suffix in ("", "-wal", "-journal")]
        return b"".join(p.read_bytes() for p in parts if p.exists())
    chunks = []
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        relations = conn.execute(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'i', 'm') "
            "UNION SELECT c.reltoastrelid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.reltoastrelid <> 0",
            (location.schema, location.schema),
        ).fetchall()
        for (oid,) in relations:
            path = conn.execute("SELECT pg_relation_filepath(%s)", (oid,)).fetchone()[0]
            if path is None:
                continue
            size = conn.execute("SELECT pg_relation_size(%s)", (oid,)).fetchone()[0]
            if size:
                chunks.append(bytes(conn.execute("SELECT pg_read_binary_file(%s)", (path,)).fetchone()[0]))
    return b"".join(chunks)


def register_access_request(cli: Any, person: str, received: str, requester: str = "x", officer: str = "pim") -> str:
    """An access request (inzage) of ``person``, registered through the CLI by a privacy officer; its reference."""
    result = cli(
        "request",
        "register",
        "--kind",
        "access",
        "--person",
        person,
        "--requester-name",
        requester,
        "--received",
        received,
        "--identity-check",
        "paspoort",
        "--json",
        user=officer,
    )
    assert result.code == 0, result.err
    return str(result.json()["request"])


def access_items(cli: Any, reference: str, officer: str = "pim") -> dict[str, dict[str, Any]]:
    """The items of an access answer by id, as `regie request items` lists them."""
    result = cli("request", "items", reference, "--json", user=officer)
    assert result.code == 0, result.err
    return {item["item"]: item for item in result.json()}


def ok(cli: Any, *args: str, user: str = "anna") -> Any:
    """A CLI command that must succeed (as ``user``); its result."""
    result = cli(*args, user=user)
    assert result.code == 0, result.err
    return result


def init_store(cli: Any, *users: tuple[str, ...], profile: str = "utrecht") -> None:
    """`regie init` under ``profile`` with beheerder ``admin``, then `user add` for each user (id and options)."""
    assert cli("init", "--profile", profile, "--admin", "admin").code == 0
    for args in users:
        assert cli("user", "add", *args, user="admin").code == 0, args

"""Every refused attempt by a known user is in the access log, and a damaged user directory fails closed."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import World
from scenarios import refer

from casusregie.commands.users import DeactivateUser
from casusregie.projections.reader import Reader


def log_rows(world: World, actor: str) -> list[tuple[str, str, str]]:
    """(name, action, outcome) of the actor's access records, oldest first."""
    reader = Reader(world.session("pim"))
    reader.runner.catch_up()
    with world.store.db.transaction(commit=False) as tx:
        return [
            (r[0], r[1], r[2])
            for r in tx.execute(
                "SELECT name, action, outcome FROM regie_access_traces WHERE actor = ? ORDER BY started_at, trace_id",
                (actor,),
            ).fetchall()
        ]


# What a deactivated user might still try: reads, commands, and the operator tools.
ATTEMPTS = (
    ("case", "show", "{case}"),
    ("case", "list"),
    ("worklist",),
    ("case", "take-on", "{case}"),
    ("case", "refer", "--from", "mitros", "--worker", "w", "--reason", "r", "--problem", "overlast=x",
     "--member", "name=A;born=1980-01-01"),
    ("trail", "--case", "{case}"),
    ("log", "show"),
    ("projections", "rebuild"),
    ("audit", "replay", "{case}"),
    ("audit", "verify"),
    ("user", "list"),
    ("profile", "show"),
    ("projections", "status"),
)  # fmt: skip


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=lambda a: " ".join(a[:2]))
def test_a_deactivated_user_is_refused_and_every_attempt_is_logged(
    world: World, cli: Any, attempt: tuple[str, ...]
) -> None:
    case = refer(world, director="anna")
    world.run("admin", DeactivateUser(user_id="anna", reason="uit dienst"))
    before = log_rows(world, "anna")
    result = cli(*(a.format(case=case) for a in attempt), user="anna")
    assert result.code == 1
    assert "deactivated" in result.err
    assert "Traceback" not in result.err
    after = log_rows(world, "anna")
    assert after[len(before) :] == [(_path(attempt), "access", "denied")]


def _path(attempt: tuple[str, ...]) -> str:
    """The command path click reports: the words before the first argument or option."""
    words = []
    for word in attempt:
        if word.startswith(("-", "{")):
            break
        words.append(word)
    return " ".join(words)


def test_acting_for_a_deactivated_responsible_user_is_refused_and_logged(world: World, cli: Any) -> None:
    case = refer(world, director="anna")
    world.run("admin", DeactivateUser(user_id="carla", reason="uit dienst"))
    result = cli("--on-behalf-of", "carla", "case", "show", case, user="anna")
    assert result.code == 1
    assert log_rows(world, "anna")[-1] == ("case show", "access", "denied")


def test_rebuilding_views_is_logged_and_a_refused_rebuild_too(world: World, cli: Any) -> None:
    refer(world, director="anna")
    assert cli("projections", "rebuild", user="admin").code == 0
    assert ("projections.rebuild", "admin", "ok") in log_rows(world, "admin")
    refused = cli("projections", "rebuild", user="piet")
    assert refused.code == 1
    assert log_rows(world, "piet")[-1] == ("projections.rebuild", "admin", "denied")


# --- a damaged user directory ---------------------------------------------------------------------------------


def _setup_rows(world: World) -> list[tuple[Any, int]]:
    with world.store.db.transaction(commit=False) as tx:
        return [
            (r[0], int(r[1]))
            for r in tx.execute(
                "SELECT originator_id, originator_version FROM stored_events WHERE topic LIKE ? "
                "ORDER BY originator_version",
                ("%:Setup.%",),
            ).fetchall()
        ]


def _tamper(world: World, how: str) -> None:
    rows = _setup_rows(world)
    oid, version = rows[2]
    with world.store.db.transaction(commit=True) as tx:
        if how == "edit":
            state = tx.scalar(
                "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = ?", (oid, version)
            )
            flipped = bytes(state[:-1]) + bytes([state[-1] ^ 1])
            tx.execute(
                "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = ?",
                (flipped, oid, version),
            )
        elif how == "delete":
            tx.execute("DELETE FROM stored_events WHERE originator_id = ? AND originator_version = ?", (oid, version))
        else:  # a copy of an existing row as the newest version: no key needed to do this
            top = max(v for _, v in rows)
            tx.execute(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                "SELECT originator_id, ?, topic, state FROM stored_events "
                "WHERE originator_id = ? AND originator_version = ?",
                (top + 1, oid, version),
            )


@pytest.mark.parametrize("how", ["edit", "delete", "copy"])
def test_a_damaged_user_directory_stops_every_command_and_points_to_verify(world: World, cli: Any, how: str) -> None:
    case = refer(world, director="anna")
    _tamper(world, how)
    for args in (("case", "show", case), ("worklist",), ("user", "list"), ("profile", "show")):
        result = cli(*args, user="anna")
        assert result.code == 1, (args, result.err)
        assert "regie audit verify" in result.err
        assert "internal error" not in result.err

"""The `regie` command as a user meets it: help, exit codes, JSON, errors, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from helpers import init_store, raw_store_bytes

from casusregie.adapters.config import Settings
from casusregie.cli import regie

REFER = [
    "case",
    "refer",
    "--from",
    "mitros",
    "--worker",
    "J. Jansen",
    "--reason",
    "overlast",
    "--problem",
    "overlast=lawaai",
    "--member",
    "name=Karel de Vries;born=1980-01-02;bsn=111222333",
    "--corporation-home",
    "mitros",
    "--on",
    "2026-09-01",
]


@pytest.fixture
def store(cli: Any) -> Any:
    """An initialised store with a director, a partner and the police, reached through the CLI."""
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("pol", "--role", "partner", "--org", "politie"),
        ("aud", "--role", "auditor"),
    )
    return cli


def events(env: dict[str, str], tmp_path: Path) -> int:
    """Number of stored records, read straight from the database."""
    from casusregie.adapters.store import open_store

    store = open_store(
        Settings(store=env["REGIE_STORE"], key_dir=Path(env["REGIE_KEY_DIR"]), checkpoint_dir=None, config_file=None)
    )
    try:
        with store.db.transaction(commit=False) as tx:
            return int(tx.scalar("SELECT count(*) FROM stored_events"))
    finally:
        store.close()


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


@pytest.mark.parametrize("path", all_commands(regie), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...], cli: Any) -> None:
    result = cli(*path, "--help")
    assert result.code == 0
    assert "Usage: regie" in result.out


def test_usage_errors_exit_2_and_refusals_exit_1_with_one_line(store: Any) -> None:
    assert store("case", "show").code == 2  # missing argument
    assert store("case", "frobnicate").code == 2
    result = store("case", "show", "CNOPE", user="anna")
    assert (result.code, result.err.strip()) == (1, "regie: error: unknown case CNOPE")
    result = store("case", "show", "CNOPE")
    assert result.code == 1
    assert "who is acting? give --as USER or set REGIE_USER" in result.err
    result = store("case", "show", "CNOPE", user="nobody")
    assert result.code == 1
    assert "unknown user nobody" in result.err
    assert "Traceback" not in result.err + result.out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--member", "name=K;born=1980-01-02;bsn=123456789"), "fails the eleven-test"),
        (("--from", "woonbond"), "unknown partner 'woonbond'"),
        (("--problem", "ruimtevaart=x"), "unknown life domain ruimtevaart"),
        (("--on", "2999-01-01"), "the referral date lies in the future"),
    ],
)
def test_bad_referral_input_is_refused_and_writes_nothing(
    store: Any, env: dict[str, str], tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    args = list(REFER)
    option, value = change
    if option in ("--from", "--on"):
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    before = events(env, tmp_path)
    result = store(*args, user="anna")
    assert result.code == 1, result.out
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert events(env, tmp_path) == before


def test_a_malformed_member_spec_is_a_usage_error(store: Any) -> None:
    result = store(*REFER[:-2], "--member", "Karel de Vries", user="anna")
    assert result.code == 2
    assert "expected key=value" in result.err


def test_read_commands_print_json_only(store: Any) -> None:
    case = store(*REFER, "--json", user="anna").json()["case"]
    for args in (
        ("case", "show", case),
        ("worklist", "--date", "2026-12-01"),
        ("caseload",),
        ("report", "--from", "2026-01-01", "--to", "2026-12-31"),
        ("profile", "show"),
        ("projections", "status"),
        ("profile", "list"),
    ):
        result = store(*args, "--json", user="anna")
        assert result.code == 0, result.err
        json.loads(result.out)
    assert store("user", "list", "--json", user="aud").code == 0


def test_projection_rebuild_reproduces_identical_views(store: Any) -> None:
    case = store(*REFER, "--json", user="anna").json()["case"]
    store(
        "case",
        "assess",
        case,
        "--criterion",
        "woninggebonden",
        "--criterion",
        "meerdere-vormen",
        "--on",
        "2026-09-02",
        user="anna",
    )
    before = store("case", "show", case, "--json", user="anna").json()
    worklist = store("worklist", "--date", "2026-12-01", "--json", user="anna").json()
    result = store("projections", "rebuild", user="anna")
    assert result.code == 0
    assert "rebuilt views from" in result.out
    assert store("case", "show", case, "--json", user="anna").json() == before
    assert store("worklist", "--date", "2026-12-01", "--json", user="anna").json() == worklist


def test_init_twice_refuses_and_a_wrong_key_file_fails_clearly(store: Any, env: dict[str, str]) -> None:
    result = store("init", "--profile", "utrecht")
    assert result.code == 1
    assert "already exists" in result.err
    key_files = list(Path(env["REGIE_KEY_DIR"]).glob("*/master.key"))
    assert len(key_files) == 1
    assert oct(key_files[0].stat().st_mode & 0o777) == "0o600"
    text = key_files[0].read_text()
    line = next(line for line in text.splitlines() if line.startswith("key: "))
    key_files[0].write_text(text.replace(line, "key: " + "A" * 43 + "="))
    result = store("case", "show", "CX", user="anna")
    assert result.code == 1
    assert "does not open key rows-1 of store" in result.err
    key_files[0].unlink()
    result = store("case", "show", "CX", user="anna")
    assert result.code == 1
    assert "master key file not found" in result.err


def test_profile_check(cli: Any, tmp_path: Path) -> None:
    from casusregie.adapters.profile_file import builtin_profiles

    good = builtin_profiles()["zwolle-bijzondere-doelgroepen"]
    assert cli("profile", "check", str(good)).code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("threshold =", "treshold ="))
    result = cli("profile", "check", str(bad))
    assert result.code == 1
    assert "did you mean 'threshold'" in result.out  # every problem listed, one per line
    assert result.err.count("\n") == 1  # and the failure itself in one line


def test_the_demo_runs_end_to_end_and_leaves_an_explorable_store(cli: Any, tmp_path: Path) -> None:
    result = cli("demo", "--dir", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    assert "worklist" in result.out
    assert "(overdue)" in result.out
    assert "closed" in result.out
    assert "goals-met" in result.out
    assert "export REGIE_STORE=" in result.out
    raw = raw_store_bytes(
        Settings(store=str(tmp_path / "demo" / "demo.db"), key_dir=tmp_path, checkpoint_dir=None, config_file=None)
    )
    assert b"Karel de Vries" not in raw
    assert b"Kanaalstraat" not in raw


def test_the_console_script_is_installed_and_runs() -> None:
    script = Path(sys.executable).with_name("regie")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False, env={**os.environ, "REGIE_STORE": ""}
    )
    assert result.returncode == 0
    assert result.stdout.startswith("regie, version")


def test_bad_later_steps_exit_1_and_write_no_domain_event(store: Any, env: dict[str, str], tmp_path: Path) -> None:
    case = store(*REFER, "--json", user="anna").json()["case"]
    store(
        "case",
        "assess",
        case,
        "--criterion",
        "woninggebonden",
        "--criterion",
        "meerdere-vormen",
        "--on",
        "2026-09-02",
        user="anna",
    )
    store("case", "ask-corporation", case, "--on", "2026-09-02", user="anna")
    store("case", "corporation-answer", case, "--consent", "--on", "2026-09-03", user="piet")
    assert store("case", "take-on", case, "--on", "2026-09-04", user="anna").code == 0
    assert (
        store(
            "info",
            "request",
            case,
            "--partner",
            "politie",
            "--purpose",
            "p",
            "--basis",
            "b",
            "--category",
            "politie.meldingen",
            "--on",
            "2026-09-04",
            user="anna",
        ).code
        == 0
    )
    before = domain_events(env)
    attempts = [
        (
            (
                "plan",
                "measure",
                case,
                "--domain",
                "overlast",
                "--owner",
                "mitros",
                "--text",
                "x",
                "--due",
                "2026-08-01",
                "--on",
                "2026-09-05",
            ),
            "anna",
            "before the referral",
        ),
        (("info", "disclose", case, "R1", "--item", "politie.meldingen=x"), "piet", "addressed to politie"),
        (("info", "disclose", case, "R7", "--item", "politie.meldingen=x"), "pol", "no information request R7"),
        (("case", "close", case, "--outcome", "goals-met"), "piet", "director"),
    ]
    for args, user, message in attempts:
        result = store(*args, user=user)
        assert result.code == 1, args
        assert message in result.err
        assert len(result.err.strip().splitlines()) == 1
    assert domain_events(env) == before


def domain_events(env: dict[str, str]) -> int:
    """Stored records that are not access-log records (a refusal itself is logged)."""
    from casusregie.adapters.store import open_store

    store = open_store(
        Settings(store=env["REGIE_STORE"], key_dir=Path(env["REGIE_KEY_DIR"]), checkpoint_dir=None, config_file=None)
    )
    try:
        with store.db.transaction(commit=False) as tx:
            return int(tx.scalar("SELECT count(*) FROM stored_events WHERE topic NOT LIKE '%AccessTrace%'"))
    finally:
        store.close()

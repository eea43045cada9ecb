"""Commands that read or write files: the access log records the outcome the user saw.

Bad input (a missing checkpoint, a folder where a file belongs, an empty or impossible name)
is refused in one line before anything is read or logged: no record at all, no file. A
failure that can only come after the access record was committed (the disk fills up while
the export is written) is recorded as well: the log then ends with an "error" record for it,
never with "ok" alone. And values at the edge of what a name or number can be are one clear
line, never an internal error.
"""

from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import World
from scenarios import first_person, refer

from casusregie.adapters import files
from casusregie.commands.subject_requests import IssueAccessDecision, RegisterRequest
from casusregie.privacy_audit import access_records

NAMES = ("audit.bundle", "log.export", "request.letter", "request.decide-access", "audit.checkpoint", "audit.verify")


def one_line(result: Any, code: int = 1) -> None:
    assert result.code == code, (result.code, result.out, result.err)
    assert result.err.count("\n") == 1, result.err
    assert result.err.endswith("\n"), result.err
    assert "internal error" not in result.err


def records(world: World) -> list[tuple[str, str, str]]:
    """(name, outcome, reason) of the access records this file is about, oldest first, read from the records."""
    found = [(r.name, r.outcome, r.reason) for r, _ in access_records.newest_first(world.app) if r.name in NAMES]
    return found[::-1]


def files_in(folder: Path) -> list[str]:
    """What a command may have left in the working folder (the SQLite store's own files aside)."""
    return sorted(name for name in os.listdir(folder) if not name.startswith("store.db"))


def _request(world: World, case: str) -> str:
    return str(
        world.run(
            "pim",
            RegisterRequest(
                kind="access",
                person=first_person(world, case),
                requester_name="K. de Vries",
                received_on=date.today(),
                identity_check="paspoort",
            ),
        ).data["request"]
    )


@pytest.fixture
def case(world: World, cli: Any) -> str:
    number = refer(world, director="anna")
    assert cli("audit", "checkpoint", user="aud").code == 0
    return number


@pytest.fixture
def decided(world: World, case: str) -> str:
    reference = _request(world, case)
    world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen"))
    return reference


# --- bad input: refused before anything is read or logged --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--checkpoint", "missing.txt", "--out", "b.json"),
        ("--checkpoint", "garbage.txt", "--out", "b.json"),
        ("--out", "folder"),
        ("--out", "folder/"),
        ("--out", ""),
        ("--out", "missing/b.json"),
        ("--out", "x" * 300),
        ("--out", "a\x00b"),
        ("--out", "~nosuchuser-regie/b.json"),
    ],
    ids=lambda a: " ".join(a)[:30],
)
def test_a_bundle_with_bad_input_is_refused_and_not_logged(
    world: World, cli: Any, case: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "garbage.txt").write_bytes(b"\xff not a checkpoint")
    before, files_before = world.count(), files_in(tmp_path)
    one_line(cli("audit", "bundle", case, *args, user="aud"))
    assert world.count() == before
    assert files_in(tmp_path) == files_before
    assert not [r for r in records(world) if r[0] == "audit.bundle"]


@pytest.mark.parametrize(
    "out", ["folder", "folder/", "", "missing/ldv.jsonl", "x" * 300, "a\x00b", "~nosuchuser-regie/ldv.jsonl"]
)
def test_an_export_to_a_bad_file_is_refused_and_not_logged(world: World, cli: Any, tmp_path: Path, out: str) -> None:
    (tmp_path / "folder").mkdir()
    before = world.count()
    result = cli("log", "export", "--out", out, user="pim")
    one_line(result)
    assert result.out == ""
    assert world.count() == before
    assert not [r for r in records(world) if r[0] == "log.export"]


@pytest.mark.parametrize("out", ["a-file", "", "a\x00b", "x" * 300 + "/sub"])
def test_a_letter_to_a_bad_folder_is_refused_and_not_logged(
    world: World, cli: Any, decided: str, tmp_path: Path, out: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    before = world.count()
    one_line(cli("request", "letter", decided, "--out", out, user="pim"))
    assert world.count() == before
    assert not [r for r in records(world) if r[0] == "request.letter"]


@pytest.mark.parametrize("out", ["a-file", "", "a\x00b"])
def test_a_decision_with_a_bad_letter_folder_is_not_issued(
    world: World, cli: Any, case: str, tmp_path: Path, out: str
) -> None:
    reference = _request(world, case)
    (tmp_path / "a-file").write_text("not a folder")
    before = world.count()
    one_line(cli("request", "decide", reference, "--signatory", "P. Jansen", "--out", out, user="pim"))
    assert world.count() == before
    assert cli("request", "show", reference, "--json", user="pim").json()["decision"] is None


@pytest.mark.parametrize("out", ["", "a\x00b", "x" * 300, "garbage.txt/", "~nosuchuser-regie/cp"])
def test_a_checkpoint_to_a_bad_place_writes_nothing(
    world: World, cli: Any, case: str, tmp_path: Path, out: str
) -> None:
    (tmp_path / "garbage.txt").write_text("a file")
    before, files_before = world.count(), files_in(tmp_path)
    one_line(cli("audit", "checkpoint", "--out", out, user="aud"))
    assert world.count() == before
    assert files_in(tmp_path) == files_before


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "verify", "--checkpoint", "missing.txt"),
        ("audit", "prove", "1", "--checkpoint", "missing.txt"),
        ("audit", "consistency", "missing.txt", "missing.txt"),
    ],
    ids=" ".join,
)
def test_a_missing_checkpoint_file_is_one_line_and_not_logged(
    world: World, cli: Any, case: str, args: tuple[str, ...]
) -> None:
    before = world.count()
    one_line(cli(*args, user="aud"))
    assert world.count() == before


@pytest.mark.parametrize(
    "args",
    [
        ("audit", "verify", "--checkpoint", ""),
        ("audit", "verify", "--checkpoint", "a\x00b"),
        ("audit", "consistency", "a\x00b", "b"),
        ("audit", "verify-bundle", "a\x00b"),
        ("profile", "check", "a\x00b"),
        ("profile", "check", ""),
    ],
    ids=lambda a: " ".join(a).replace("\x00", "NUL"),
)
def test_a_file_to_read_with_an_impossible_name_is_a_usage_error(world: World, cli: Any, args: tuple[str, ...]) -> None:
    before = world.count()
    result = cli(*args, user="aud")
    assert result.code == 2, (result.code, result.err)
    assert "internal error" not in result.err
    assert world.count() == before


# --- a failure after the access record: recorded as a failure -----------------------------------------------------


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every private file fails as it is finished, as on a full disk."""

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", fsync)


def _failed_after_ok(world: World, name: str) -> str:
    """The record's last two entries for ``name``: ok (audit first), then the failure; its reason."""
    found = [r for r in records(world) if r[0] == name]
    assert [r[1] for r in found[-2:]] == ["ok", "error"], found
    return found[-1][2]


def test_an_export_that_fails_while_writing_ends_with_an_error_record(
    world: World, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _disk_full(monkeypatch)
    result = cli("log", "export", "--out", "ldv.jsonl", user="pim")
    one_line(result)
    assert "No space left" in result.err
    assert "No space left" in _failed_after_ok(world, "log.export")
    assert not [p for p in os.listdir(tmp_path) if "ldv" in p]  # not even the temporary file


def test_a_bundle_that_fails_while_writing_ends_with_an_error_record(
    world: World, cli: Any, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = next(world.store.checkpoint_dir.glob("checkpoint-*.txt"))
    _disk_full(monkeypatch)
    one_line(cli("audit", "bundle", case, "--checkpoint", str(checkpoint), "--out", "b.json", user="aud"))
    assert "No space left" in _failed_after_ok(world, "audit.bundle")
    assert not (tmp_path / "b.json").exists()


def test_a_letter_that_fails_while_writing_ends_with_an_error_record(
    world: World, cli: Any, decided: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _disk_full(monkeypatch)
    one_line(cli("request", "letter", decided, "--out", "letters", user="pim"))
    assert "No space left" in _failed_after_ok(world, "request.letter")
    assert not list((tmp_path / "letters").iterdir())


def test_a_decision_whose_letter_cannot_be_written_says_it_was_issued(
    world: World, cli: Any, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _request(world, case)
    with monkeypatch.context() as patch:
        _disk_full(patch)
        result = cli("request", "decide", reference, "--signatory", "P. Jansen", "--out", "letters", user="pim")
    one_line(result)
    assert "was issued" in result.err
    assert f"regie request letter {reference}" in result.err
    reason = _failed_after_ok(world, "request.decide-access")
    assert "letter was not written" in reason
    assert "No space left" in reason
    assert cli("request", "show", reference, "--json", user="pim").json()["decision"] is not None
    assert cli("request", "letter", reference, "--out", "letters", user="pim").code == 0  # what the line advises
    assert len(list((tmp_path / "letters").iterdir())) == 3


def test_the_failure_record_is_shown_by_log_show(world: World, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        _disk_full(patch)
        assert cli("log", "export", "--out", "ldv.jsonl", user="pim").code == 1
    rows = [r for r in cli("log", "show", "--json", user="pim").json() if r["name"] == "log.export"]
    assert [r["outcome"] for r in rows] == ["ok", "error"]
    assert (rows[-1]["actor"], rows[-1]["action"]) == ("pim", "export")


# --- edge values: one clear line ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile", ["nosuch", "x" * 300, "x" * 5000, "a\x00b", "~nosuchuser-regie/p.toml", "\udcff.toml"], ids=len
)
def test_init_with_an_impossible_profile_name_is_one_line_and_creates_nothing(
    cli: Any, env: dict[str, str], tmp_path: Path, profile: str
) -> None:
    one_line(cli("init", "--profile", profile))
    assert not Path(env["REGIE_STORE"]).exists() or "://" in env["REGIE_STORE"]
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").iterdir())


def test_a_profile_file_with_missing_fields_is_checked_in_full_but_refused_in_one_line(
    cli: Any, tmp_path: Path
) -> None:
    (tmp_path / "p.toml").write_text('id = "x"\n')
    result = cli("profile", "check", "p.toml")
    one_line(result)
    assert result.out.count("\n") > 3  # every problem on its own line, on stdout


@pytest.mark.parametrize("folder", ["", "a\x00b", "x" * 300, "~nosuchuser-regie/demo", "a-file"])
def test_the_demo_in_an_impossible_folder_is_one_line(cli: Any, tmp_path: Path, folder: str) -> None:
    (tmp_path / "a-file").write_text("mine")
    files_before = files_in(tmp_path)
    one_line(cli("demo", "--dir", folder))
    assert files_in(tmp_path) == files_before


@pytest.mark.parametrize("horizon", ["2147483648", "9223372036854775808", str(10**30), "-1"])
def test_a_worklist_horizon_beyond_any_range_is_one_line(world: World, cli: Any, horizon: str) -> None:
    one_line(cli("worklist", "--horizon", horizon, user="anna"))


@pytest.mark.parametrize("on", ["0001-01-01", "9999-12-31"])
def test_a_worklist_at_either_end_of_the_calendar_is_answered(world: World, cli: Any, on: str) -> None:
    refer(world, director="anna")
    result = cli("worklist", "--date", on, "--horizon", "3660", "--json", user="anna")
    assert result.code == 0, result.err
    assert result.json()["date"] == on


def test_text_that_is_not_utf8_is_refused_in_one_line(world: World, cli: Any) -> None:
    case = refer(world, director="anna")
    before = world.count()
    one_line(cli("plan", "goal", case, "--domain", "overlast", "--text", "rust \udcff", user="anna"))
    assert world.count() == before


@pytest.mark.parametrize("ref", ["\udcff", "a\x00b", "CASE\nX", "\x1b[2J"], ids=repr)
@pytest.mark.parametrize(
    "command", [("case", "show"), ("audit", "replay"), ("request", "show"), ("trail", "--case")], ids=" ".join
)
def test_a_reference_that_is_not_text_is_a_usage_error(
    world: World, cli: Any, command: tuple[str, ...], ref: str
) -> None:
    result = cli(*command, ref, user="aud")
    assert result.code == 2, (result.code, result.err)
    assert "internal error" not in result.err


def test_an_error_quoting_a_line_break_stays_one_line(world: World, cli: Any) -> None:
    result = cli("case", "list", user="no\nbody")
    one_line(result)
    assert "no\\nbody" in result.err

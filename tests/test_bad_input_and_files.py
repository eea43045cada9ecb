"""Absurd input gets one clear line and exit 1, writes nothing; output files cannot be redirected."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from helpers import World
from scenarios import refer

from casusregie.adapters.files import write_private
from casusregie.domain.errors import ValidationFailed


def one_line_refusal(result: Any) -> None:
    assert result.code == 1, (result.code, result.err)
    assert result.err.count("\n") == 1, result.err
    assert "internal error" not in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("worklist", "--horizon", "2147483648"),
        ("worklist", "--horizon", "-1"),
        ("log", "export", "--out", "{tmp}/missing/ldv.jsonl"),
        ("log", "export", "--out", "."),
        ("log", "export", "--out", ""),
        ("log", "export", "--out", "{tmp}"),
        ("log", "export", "--out", "{tmp}/" + "x" * 300),
        ("request", "letter", "AVG-2026-XXXX", "--out", "{tmp}/a-file"),
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_bad_values_are_refused_in_one_line_and_write_nothing(
    world: World, cli: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    before = world.count()
    one_line_refusal(cli(*(a.format(tmp=tmp_path) for a in args), user="aud" if args[0] == "log" else "pim"))
    assert world.count() == before


def test_a_worklist_at_the_end_of_time_is_answered(world: World, cli: Any) -> None:
    refer(world, director="anna")
    result = cli("worklist", "--date", "9999-12-31", "--json", user="anna")
    assert result.code == 0, result.err
    assert all(item["overdue"] for item in result.json()["items"])


@pytest.mark.parametrize("content", [b"", b"  \n", b"\x00\x01\x02binary", b'id = "x\x00y"', b"\xff\xfe not utf-8"])
def test_init_with_an_unusable_profile_file_is_one_line_and_creates_nothing(
    cli: Any, env: dict[str, str], tmp_path: Path, content: bytes
) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_bytes(content)
    one_line_refusal(cli("init", "--profile", str(profile)))
    assert not Path(env["REGIE_STORE"]).exists() or "://" in env["REGIE_STORE"]
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").iterdir())


def test_a_profile_with_many_problems_is_one_line(cli: Any, tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text('id = "x"\n')
    result = cli("init", "--profile", str(profile))
    one_line_refusal(result)
    assert "more problems" in result.err


def test_a_config_file_with_a_control_character_is_refused(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "regie.toml"
    config.write_text('store = "cases\\u0000.db"\n')
    monkeypatch.delenv("REGIE_STORE")
    one_line_refusal(cli("--config", str(config), "worklist", user="anna"))


# --- files --------------------------------------------------------------------------------------------------------


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    planted = tmp_path / "letter.pdf"
    planted.symlink_to(target)
    write_private(planted, b"letter")
    assert target.read_text() == "precious"
    assert not planted.is_symlink()
    assert planted.read_bytes() == b"letter"
    assert stat.S_IMODE(planted.stat().st_mode) == 0o600


def test_a_private_file_is_never_readable_by_others_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "umask", os.umask)  # the process umask does not matter
    old = os.umask(0)
    try:
        written = write_private(tmp_path / "export.jsonl", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_refusing_to_replace_is_atomic(tmp_path: Path) -> None:
    existing = tmp_path / "checkpoint.txt"
    existing.write_text("signed")
    with pytest.raises(ValidationFailed, match="already exists"):
        write_private(existing, "other", replace=False)
    assert existing.read_text() == "signed"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.txt"]  # no temporary file left


def test_the_demo_never_deletes_a_folder(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / ".regie-demo").write_text("planted marker")
    (folder / "thesis.txt").write_text("years of work")
    one_line_refusal(cli("demo", "--dir", str(folder)))
    assert (folder / "thesis.txt").read_text() == "years of work"


def test_a_key_folder_open_to_others_is_refused(world: World, cli: Any) -> None:
    folder = world.store.key_paths.folder
    folder.chmod(0o755)
    try:
        result = cli("worklist", user="anna")
        one_line_refusal(result)
        assert "chmod 700" in result.err
    finally:
        folder.chmod(0o700)


def test_init_with_a_bad_first_user_creates_nothing(cli: Any, env: dict[str, str], tmp_path: Path) -> None:
    one_line_refusal(cli("init", "--profile", "utrecht", "--admin", "X"))
    assert not Path(env["REGIE_STORE"]).exists() or "://" in env["REGIE_STORE"]
    assert not (tmp_path / "keys").exists() or not any((tmp_path / "keys").iterdir())


def test_a_new_sqlite_store_is_readable_by_its_owner_only(world: World, backend: str) -> None:
    if backend == "sqlite":
        assert stat.S_IMODE(Path(world.settings.store or "").stat().st_mode) == 0o600
    assert stat.S_IMODE(world.store.key_paths.folder.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "record",
    ["9223372036854775808", "99999999999999999999999", "00000000-0000-0000-0000-000000000000:9223372036854775808"],
)
def test_a_record_beyond_any_range_is_not_found(world: World, cli: Any, record: str) -> None:
    refer(world, director="anna")
    assert cli("audit", "checkpoint", user="aud").code == 0
    one_line_refusal(cli("audit", "prove", record, user="aud"))

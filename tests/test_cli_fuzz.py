"""Every option of every `regie` command, fed random and edge values of its type: never an internal error.

The click command tree is walked, so a command added later is fuzzed without anyone listing
it here. Each example runs in-process through ``casusregie.cli.main`` against a small store
that holds one of everything (a case taken on, a disclosure, a measure, a meeting, an
escalation, an issued access decision, a checkpoint, a bundle), as a user drawn from every
role. Values come from the option's click type: integers at the limits of every column,
dates at the ends of the calendar, text that is empty, huge, NUL or control characters, and
paths that are missing, folders, unreadable or far too long. Whatever happens, the exit code
is never 3 (an internal error is always a bug), exit 1 is one line on stderr, and --json
prints JSON only.

Nothing is written outside tmp_path: each example runs in a fresh folder of its own, which
is the working directory; every path value is relative to it; home and config folders point
into tmp_path. On SQLite the store is restored before every example, so one erasure or key
rotation does not blind the rest; on PostgreSQL the store is shared and simply lives on.
``REGIE_FUZZ_EXAMPLES`` sets the examples per command (default 12 on SQLite, a third of that
on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click
import pytest
from helpers import PG_DSN, World, drop_schema, make_world, new_schema, require_postgres
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios import day, first_person, measure, police_disclosure, taken_on_case

from casusregie.adapters.checkpoint_files import list_checkpoints, write_checkpoint
from casusregie.adapters.config import Settings
from casusregie.adapters.profile_file import builtin_profiles
from casusregie.cli import main, regie
from casusregie.commands.escalation import Escalate
from casusregie.commands.meetings import ScheduleMeeting
from casusregie.commands.plan import SetGoal
from casusregie.commands.subject_requests import IssueAccessDecision, RegisterRequest

EXAMPLES = int(os.environ.get("REGIE_FUZZ_EXAMPLES", "12"))

# --- the command tree ----------------------------------------------------------------------------------


def leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaves(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(leaves(regie))

# --- values ----------------------------------------------------------------------------------------------

INTS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]
DATES = ["0001-01-01", "9999-12-31", "9999-12-30", "1970-01-01", "2000-02-29", "2023-02-29", "", "today"]
TEXTS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31mrood\x1b[0m",
    "tab\there",
    "line\nbreak",
    "cr\rreturn",
    "\u202eomgekeerd",
    "\x7f",
    "x" * 5000,
    "-",
    "--",
    "-1",
    "0",
    "9223372036854775808",
    "Zoë 😀",
    "../../x",
    "%s%n{0}",
    "'; DROP TABLE stored_events; --",
    "\udcff",  # a byte of the command line that is not UTF-8, as Python hands it over
]
#: Relative to the example's folder (the working directory); created by ``_files``.
PATHS = [
    "",
    ".",
    "folder",
    "folder/",
    "missing/x.txt",
    "new.json",
    "new",
    "garbage.bin",
    "empty.txt",
    "cp.txt",
    "bundle.json",
    "profile.toml",
    "bad.toml",
    "x" * 300,
    "folder/" + "y" * 250,
    "a\x00b",
    "~nosuchuser/x.txt",
    "new.d/",
    "\udcff.txt",
]
USERS = ["anna", "bram", "piet", "pol", "mia", "pim", "aud", "admin", "nobody", ""]


@dataclass(frozen=True)
class Refs:
    """References that exist in the prepared store: the values that get a command past its lookups."""

    values: tuple[str, ...]


def _text(refs: Refs) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(refs.values), st.sampled_from(TEXTS), st.text(max_size=30))


def _value(param: click.Parameter, refs: Refs) -> st.SearchStrategy[str]:
    kind = param.type
    if isinstance(kind, click.Choice):
        return st.sampled_from([*map(str, kind.choices), "", "NOPE"])
    if isinstance(kind, click.types.IntParamType):  # IntRange too
        return st.one_of(st.sampled_from(INTS), st.integers()).map(str) | st.sampled_from(["", "1.5", "x"])
    if isinstance(kind, click.DateTime):
        return st.one_of(st.sampled_from(DATES), st.dates().map(date.isoformat), st.text(max_size=12))
    if isinstance(kind, click.Path):
        return st.sampled_from(PATHS)
    return st.one_of(_text(refs), st.sampled_from(PATHS))


def _option(param: click.Option, refs: Refs) -> st.SearchStrategy[list[str]]:
    if param.is_flag:
        return st.sampled_from([[], *([o] for o in (*param.opts, *param.secondary_opts))])
    name = param.opts[-1]
    one = _value(param, refs).map(lambda v: [name, v])
    if param.multiple:
        return st.lists(one, max_size=3).map(lambda parts: [t for p in parts for t in p])
    if param.required:
        return one
    return st.one_of(st.just([]), one)


def _global(option: str, values: list[str]) -> st.SearchStrategy[list[str]]:
    """Mostly left out (the store comes from the environment), sometimes one of ``values``."""
    return st.one_of(st.just([]), st.just([]), st.sampled_from(values).map(lambda v: [option, v]))


def _command_line(path: tuple[str, ...], command: click.Command, refs: Refs) -> st.SearchStrategy[list[str]]:
    options = [_option(p, refs) for p in command.params if isinstance(p, click.Option)]
    arguments = [_value(p, refs).map(lambda v: [v]) for p in command.params if isinstance(p, click.Argument)]
    if path == ("demo",):  # the demo runs a whole case: only its refusals are fuzzed, never a run
        options = [st.sampled_from(["", "garbage.bin", "a\x00b", "x" * 300]).map(lambda v: ["--dir", v])]
    head = st.tuples(
        st.sampled_from(USERS).map(lambda u: [f"--as={u}"] if u else []),
        _global("--on-behalf-of", USERS),
        _global("--store", ["", "garbage.bin", "folder", "a\x00b", "\udcff.db"]),
        _global("--config", ["", "garbage.bin", "folder", "bad.toml", "a\x00b"]),
        _global("--key-dir", ["", "garbage.bin", "missing", "a\x00b"]),
    )
    # Options in a random order, then `--` so that an argument such as "-1" is not read as an option.
    body = st.tuples(*options).flatmap(lambda parts: st.permutations(parts)) if options else st.just([])
    rest = st.tuples(*arguments) if arguments else st.just(())
    return st.tuples(head, body, rest).map(
        lambda t: [*itertools.chain(*t[0]), *path, *itertools.chain(*t[1]), "--", *itertools.chain(*t[2])]
    )


# --- the prepared store ---------------------------------------------------------------------------------


@dataclass
class Prepared:
    settings: Settings
    root: Path
    refs: Refs
    files: Path  # the input files each example starts with
    pristine: Path | None  # a copy of the SQLite store and its keys, restored before every example

    def restore(self) -> None:
        if self.pristine is None:
            return
        store = Path(self.settings.store or "")
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(store) + suffix).unlink()
        shutil.copy2(self.pristine / "store.db", store)
        shutil.rmtree(self.settings.key_dir, ignore_errors=True)
        shutil.copytree(self.pristine / "keys", self.settings.key_dir)


def _fill(world: World) -> list[str]:
    """One of everything a command may name; returns the references."""
    case = taken_on_case(world, director="anna")
    info = police_disclosure(world, case)
    measure_id = measure(world, case)
    person = first_person(world, case)
    world.run("anna", SetGoal(case=case, life_domain="overlast", description="rust in de straat", on=day(6)))
    meeting = world.run("anna", ScheduleMeeting(case=case, date=day(8), participants=["politie"])).data["meeting"]
    escalation = world.run("anna", Escalate(case=case, level=1, reason="stagnatie", on=day(9))).data["escalation"]
    received = date.today()
    access = world.run(
        "pim",
        RegisterRequest(
            kind="access", person=person, requester_name="K. de Vries", received_on=received, identity_check="id"
        ),
    ).data["request"]
    world.run("pim", IssueAccessDecision(request=access, signatory="P. Jansen"))
    pending = world.run(
        "pim",
        RegisterRequest(
            kind="access", person=person, requester_name="K. de Vries", received_on=received, identity_check="id"
        ),
    ).data["request"]
    write_checkpoint(world.store, world.app)
    partners = [p.id for p in world.app.profile.partners]
    return [case, info, measure_id, person, str(meeting), str(escalation), access, pending, "data:bsn", *partners]


def _prepare(root: Path, store: str) -> Prepared:
    settings = Settings(store=store, key_dir=root / "keys", checkpoint_dir=None, config_file=None)
    world = make_world(settings)
    try:
        refs = Refs(tuple(dict.fromkeys([*_fill(world), *USERS[:-1], "overlast", "politie.meldingen"])))
        checkpoint = list_checkpoints(world.store.checkpoint_dir)[-1][1]
    finally:
        world.store.close()
    files = root / "files"
    files.mkdir()
    (files / "folder").mkdir()
    (files / "garbage.bin").write_bytes(b"\xff\xfe\x00 not text \x1b[2J")
    (files / "empty.txt").write_bytes(b"")
    (files / "profile.toml").write_bytes(builtin_profiles()["utrecht-extreme-woonoverlast"].read_bytes())
    (files / "bad.toml").write_text('id = "x"\nseed = 12\n', encoding="utf-8")
    shutil.copy2(checkpoint, files / "cp.txt")
    env = {"REGIE_STORE": store, "REGIE_KEY_DIR": str(settings.key_dir)}
    with _environment(root, env), contextlib.chdir(files):
        assert _run(["--as=aud", "audit", "bundle", refs.values[0], "--out", "bundle.json"])[0] == 0
    pristine = None
    if not store.startswith("postgresql"):
        pristine = root / "pristine"
        pristine.mkdir()
        shutil.copy2(store, pristine / "store.db")
        shutil.copytree(settings.key_dir, pristine / "keys")
    return Prepared(settings, root, refs, files, pristine)


@contextlib.contextmanager
def _environment(root: Path, values: dict[str, str]) -> Iterator[None]:
    """The store and key folder by environment; home and config folders inside ``root``."""
    values = {**values, "HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "home" / ".config")}
    cleared = ("REGIE_USER", "REGIE_CONFIG", "REGIE_CHECKPOINT_DIR", "REGIE_DEBUG")
    with pytest.MonkeyPatch.context() as patch:
        for key in cleared:
            patch.delenv(key, raising=False)
        for key, value in values.items():
            patch.setenv(key, value)
        yield


def _run(argv: list[str]) -> tuple[int, str, str]:
    """``regie argv`` in-process, with streams that encode as a terminal's do (stdout strict, stderr lenient)."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    out.flush()
    err.flush()
    return code, out.buffer.getvalue().decode(), err.buffer.getvalue().decode()  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def prepared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        yield _prepare(root, str(root / "store.db"))
        return
    require_postgres()
    schema = new_schema()
    try:
        yield _prepare(root, f"{PG_DSN}?schema={schema}")
    finally:
        drop_schema(schema)


# --- the property ------------------------------------------------------------------------------------------


def _check(argv: list[str], code: int, out: str, err: str) -> None:
    shown = f"regie {argv!r} -> {code}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    assert code != 3, shown
    assert code in (0, 1, 2), shown
    if code == 1:
        assert err.count("\n") == 1, shown
        assert err.endswith("\n"), shown
    if code == 0 and "--json" in argv[: argv.index("--")]:
        json.loads(out)  # JSON only


@pytest.mark.slow
@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_no_command_ends_in_an_internal_error(prepared: Prepared, path: tuple[str, ...], tmp_path: Path) -> None:
    examples = EXAMPLES if prepared.pristine is not None else max(EXAMPLES // 3, 2)
    counter = itertools.count()
    env = {"REGIE_STORE": prepared.settings.store or "", "REGIE_KEY_DIR": str(prepared.settings.key_dir)}

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(argv=_command_line(path, COMMANDS[path], prepared.refs))
    def run(argv: list[str]) -> None:
        prepared.restore()
        here = tmp_path / f"example-{next(counter)}"
        shutil.copytree(prepared.files, here)
        with _environment(tmp_path, env), contextlib.chdir(here):
            _check(argv, *_run(argv))

    run()

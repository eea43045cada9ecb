"""A master key rotation survives a crash (kill -9) at every step.

The rotation touches two places that cannot change together: the key folder and the
database. Each step (creating, writing and fsyncing a file, linking, renaming, removing,
the database transaction that re-wraps the data keys) is counted here and the process is
"killed" just before it, one step further each time; then a new process opens the store,
itself killed at each step of the recovery in turn. In every state the store must open with
either the old or the new master key in force, every live data key wrapped by that key, its
file in place as ``master.key``, nothing half-done left behind, and a person's sealed fields
still readable. The states older versions of casusregie could leave behind are covered too,
and a real ``kill -9`` of a rotating process, at fixed points and at random moments; so are
other writers erasing or making keys during a rotation, and a key folder that refuses changes.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import PG_DSN, World, drop_schema, make_world, new_schema
from scenarios import first_person, refer, taken_on_case

import casusregie.adapters.keyfile as keyfile_module
import casusregie.privacy_audit.rotation as rotation_module
from casusregie.adapters.config import Settings
from casusregie.adapters.keyfile import MasterKey, read_master_key
from casusregie.adapters.keystore import SqlKeyStorage
from casusregie.adapters.store import open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.erasure import ErasePerson
from casusregie.domain.errors import StoreProblem
from casusregie.domain.sealed import person_key_id
from casusregie.privacy_audit.key_hierarchy import Keyring
from casusregie.privacy_audit.rotation import rotate_master_key
from casusregie.projections.reader import Reader

NAME = "Karel de Vries"  # the first member of the scenario's household: a sealed field under a person key


class Crash(BaseException):
    """The process dies here: nothing after this point runs (a BaseException, like a signal)."""


@dataclass
class Steps:
    """Counts the durable steps taken, and crashes just before step number ``crash_at``."""

    crash_at: int | None = None
    done: list[str] = field(default_factory=list)
    crashed_at: str | None = None

    def step(self, label: str) -> None:
        label = re.sub(r"st-[0-9a-f]{16}", "(key folder)", re.sub(r"mk-[0-9a-f]{12}", "<id>", label))
        if self.crash_at is not None and len(self.done) == self.crash_at:
            self.crashed_at = label
            raise Crash(label)
        self.done.append(label)


def _name(fd: int) -> str:
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}")).name
    except OSError:
        return f"fd {fd}"


class _Handle:
    """A file being written: a crash in the middle of a write leaves half of it on disk (a torn write)."""

    def __init__(self, handle: Any, steps: Steps) -> None:
        self._handle = handle
        self._steps = steps

    def write(self, text: str) -> int:
        label = f"write {_name(self._handle.fileno())}"
        try:
            self._steps.step(label)
        except Crash:
            self._handle.write(text[: len(text) // 2])
            self._handle.flush()
            raise
        return int(self._handle.write(text))

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class _Os:
    """``os`` as the key-file and rotation code see it: each call that changes a file is a step."""

    def __init__(self, steps: Steps) -> None:
        self._steps = steps

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def open(self, path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            self._steps.step(f"create {Path(path).name}")
        return os.open(path, flags, *args, **kwargs)

    def fdopen(self, fd: int, *args: Any, **kwargs: Any) -> _Handle:
        return _Handle(os.fdopen(fd, *args, **kwargs), self._steps)

    def fsync(self, fd: int) -> None:
        self._steps.step(f"fsync {_name(fd)}")
        os.fsync(fd)

    def link(self, src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        self._steps.step(f"link {Path(src).name} -> {Path(dst).name}")
        os.link(src, dst, *args, **kwargs)

    def replace(self, src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        self._steps.step(f"rename {Path(src).name} -> {Path(dst).name}")
        os.replace(src, dst, *args, **kwargs)

    rename = replace

    def unlink(self, path: Any, *args: Any, **kwargs: Any) -> None:
        self._steps.step(f"remove {Path(path).name}")
        os.unlink(path, *args, **kwargs)

    remove = unlink


@contextmanager
def counted(steps: Steps, monkeypatch: pytest.MonkeyPatch) -> Iterator[Steps]:
    """Count (and crash at) the steps of the key-file code, the rotation code and the re-wrapping transaction."""
    real_rewrap = SqlKeyStorage.rewrap

    def rewrap(self: SqlKeyStorage, *args: Any, **kwargs: Any) -> Any:
        steps.step("database: re-wrap the data keys (one transaction)")
        return real_rewrap(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(keyfile_module, "os", _Os(steps))
        patch.setattr(rotation_module, "os", _Os(steps))
        patch.setattr(SqlKeyStorage, "rewrap", rewrap)
        yield steps


# --- stores -------------------------------------------------------------------------------


@dataclass
class Lab:
    """Fresh stores on one backend, one per state under test."""

    backend: str
    base: Path
    schemas: list[str] = field(default_factory=list)

    def world(self, tag: str) -> tuple[World, str]:
        if self.backend == "sqlite":
            location = str(self.base / f"{tag}.db")
        else:
            schema = new_schema()
            self.schemas.append(schema)
            location = f"{PG_DSN}?schema={schema}"
        world = make_world(Settings(location, self.base / f"keys-{tag}", None, None))
        return world, taken_on_case(world)


@pytest.fixture
def lab(backend: str, tmp_path: Path) -> Iterator[Lab]:
    found = Lab(backend, tmp_path)
    yield found
    for schema in found.schemas:
        drop_schema(schema)


def key_folder(world: World) -> Path:
    return world.store.key_paths.folder


def folder_state(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("master.key"))


def waiting_files(folder: Path) -> list[Path]:
    """New master keys waiting to be put in place (any name an interrupted rotation leaves)."""
    return sorted(folder.glob("master.key.new*"))


def reopen(world: World) -> World:
    store = open_store(world.settings)
    return World(world.settings, store, RegieApplication(store))


def check_in_force(world: World, case: str, old: MasterKey, new_id: str | None) -> str:
    """The store is whole: one master key in force, in ``master.key``, wrapping every live key; data opens."""
    store = world.store
    in_force = store.keyring.master.key_id
    assert in_force in {old.key_id, new_id}, f"{in_force} is neither the old nor the new key"
    assert read_master_key(store.key_paths.master).key_id == in_force
    live = [k for k in store.keys.all() if not k.is_shredded]
    assert {k.master_key_id for k in live} == {in_force}, "every live data key is wrapped by the key in force"
    assert len(store.keyring.rewrapped_under(store.keyring.master)) == len(live)  # and that key opens each one
    folder = store.key_paths.folder
    assert waiting_files(folder) == [], f"left behind: {folder_state(folder)}"
    retired = folder / f"master.key.retired-{old.key_id}"
    if in_force == old.key_id:
        assert not retired.exists(), "a rotation that was undone leaves no retired copy of the key in force"
    else:
        assert read_master_key(retired).key == old.key, "the old key is kept for the backups made before"
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == NAME
    return in_force


def recover(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[World, list[str]]:
    """Open the store as new processes would, each dying after one step of the recovery, until one gets through.

    So every intermediate state of the recovery itself is left behind once, and recovered from.
    """
    crashes: list[str] = []
    for _ in range(50):
        steps = Steps(crash_at=1)
        try:
            with counted(steps, monkeypatch):
                store = open_store(world.settings)
        except Crash:
            crashes.append(steps.done[0])
            continue
        return World(world.settings, store, RegieApplication(store)), crashes
    raise AssertionError(f"the recovery never finished: {crashes}")


def crash_rotation(world: World, monkeypatch: pytest.MonkeyPatch, crash_at: int | None) -> tuple[Steps, str | None]:
    """Rotate, dying just before step ``crash_at``; returns the steps taken and the new key's id."""
    made: list[str] = []
    real_new = rotation_module.new_master_key

    def new_master_key(store_id: str) -> MasterKey:
        key = real_new(store_id)
        made.append(key.key_id)
        return key

    steps = Steps(crash_at=crash_at)
    with monkeypatch.context() as patch:
        patch.setattr(rotation_module, "new_master_key", new_master_key)
        try:
            with counted(steps, monkeypatch):
                rotate_master_key(world.store)
        except Crash:
            pass
    world.store.close()  # the process is gone; whatever it had in memory with it
    return steps, (made[0] if made else None)


# --- every step of a rotation ----------------------------------------------------------------


def test_a_crash_at_any_step_of_a_rotation_leaves_a_store_that_opens_and_rotates(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _ = lab.world("dry-run")
    all_steps, _ = crash_rotation(world, monkeypatch, crash_at=None)
    kinds = {label.split()[0] for label in all_steps.done}
    assert {"create", "write", "fsync", "database:", "rename"} <= kinds, all_steps.done

    failures: list[str] = []
    for crash_at, label in enumerate(all_steps.done):
        world, case = lab.world(f"crash-{crash_at}")
        old = world.store.keyring.master
        steps, new_id = crash_rotation(world, monkeypatch, crash_at)
        assert steps.crashed_at == label
        state = f"crash before step {crash_at} ({label}); files {folder_state(key_folder(world))}"
        try:
            world, recovery_crashes = recover(world, monkeypatch)
            check_in_force(world, case, old, new_id)
            world.store.close()
            world = reopen(world)  # a second open finds nothing left to do
            in_force = check_in_force(world, case, old, new_id)
            rotate_master_key(world.store)  # and a whole rotation works afterwards
            world.store.close()
            world = reopen(world)
            assert world.store.keyring.master.key_id not in {old.key_id, new_id}
            assert Reader(world.session("anna")).case(case)["members"][0]["name"] == NAME
            world.store.close()
        except Exception as exc:  # every failing state is listed below
            failures.append(f"{state}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            continue
        print(
            f"{state}: recovered, {'new' if in_force == new_id else 'old'} key in force; the recovery died after "
            f"each of {recovery_crashes or 'nothing'}"
        )
    assert not failures, "\n".join(failures)


# --- states older versions of casusregie could leave behind -----------------------------------


def switch_step(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> int:
    """The step just after the database switched to the new key (counted on a store of its own)."""
    world, _ = lab.world("count")
    steps, _ = crash_rotation(world, monkeypatch, crash_at=None)
    return next(i for i, s in enumerate(steps.done) if s.startswith("database")) + 1


def switched(world: World, monkeypatch: pytest.MonkeyPatch, at: int) -> MasterKey:
    """A rotation that died right after the database switched; returns the new key, waiting in a file."""
    _, new_id = crash_rotation(world, monkeypatch, at)
    waiting = [p for p in waiting_files(key_folder(world)) if read_master_key(p).key_id == new_id]
    assert len(waiting) == 1
    return read_master_key(waiting[0])


@pytest.mark.parametrize("layout", ["between-the-renames", "before-the-renames", "before-the-database", "torn"])
def test_states_left_by_earlier_versions_are_resumed(layout: str, lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Earlier versions named the waiting key ``master.key.new`` and put it in place with two renames.

    * between the renames (the crash this fixes): no ``master.key`` at all, the old key
      already ``master.key.retired-<id>``, the database on the new key;
    * before the renames: the database on the new key, ``master.key`` still the old one;
    * before the database: a whole waiting key the database never used; torn: half of one.
    """
    at = switch_step(lab, monkeypatch)
    world, case = lab.world(layout)
    old = world.store.keyring.master
    folder = key_folder(world)
    if layout in {"before-the-database", "torn"}:
        new = rotation_module.new_master_key(world.store.store_id)
        keyfile_module.write_master_key(folder / "master.key.new", new)
        if layout == "torn":
            text = (folder / "master.key.new").read_text()
            (folder / "master.key.new").write_text(text[: len(text) // 2])
        world.store.close()
        expected = old.key_id
    else:
        new = switched(world, monkeypatch, at)
        for copy in folder.glob("master.key.retired-*"):  # this version keeps the old key before the switch
            copy.unlink()
        waiting = next(p for p in waiting_files(folder) if read_master_key(p).key_id == new.key_id)
        os.replace(waiting, folder / "master.key.new")
        if layout == "between-the-renames":
            os.replace(folder / "master.key", folder / f"master.key.retired-{old.key_id}")
        expected = new.key_id
    world, _ = recover(world, monkeypatch)
    assert check_in_force(world, case, old, new.key_id) == expected
    rotate_master_key(world.store)
    world.store.close()
    world = reopen(world)
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == NAME
    world.store.close()


# --- the next `regie keys rotate` -------------------------------------------------------------


def test_the_next_rotate_command_finishes_the_interrupted_one_first(
    lab: Lab, world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = switch_step(lab, monkeypatch)
    case = taken_on_case(world)
    old = world.store.keyring.master
    new = switched(world, monkeypatch, at)
    result = cli("keys", "rotate", "--json", user="admin")
    assert result.code == 0, result.err
    assert result.json()["old"] == new.key_id  # the interrupted rotation was completed, then a new one made
    folder = key_folder(world)
    assert waiting_files(folder) == []
    assert read_master_key(folder / f"master.key.retired-{new.key_id}").key == new.key
    assert read_master_key(folder / f"master.key.retired-{old.key_id}").key == old.key
    world = reopen(world)
    assert Reader(world.session("anna")).case(case)["members"][0]["name"] == NAME
    world.store.close()


# --- other writers during a rotation -----------------------------------------------------------


def meanwhile(monkeypatch: pytest.MonkeyPatch, act: Callable[[], object]) -> None:
    """Run ``act`` after the rotation has wrapped the keys anew in memory and before it stores them."""
    real = Keyring.rewrapped_under

    def rewrapped_under(self: Keyring, new_master: Any) -> dict[str, bytes]:
        out = real(self, new_master)
        act()
        return out

    monkeypatch.setattr(Keyring, "rewrapped_under", rewrapped_under)


def test_a_person_erased_during_a_rotation_stays_erased(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    case = taken_on_case(world)
    person = first_person(world, case)
    key_id = person_key_id(world.session("pim").person(person)[0])
    meanwhile(monkeypatch, lambda: world.run("pim", ErasePerson(person=person, ground="granted-request")))
    rotate_master_key(world.store)
    row = world.store.keys.get(key_id)
    assert row is not None
    assert row.is_shredded
    assert row.wrapped is None  # the rotation did not write the destroyed key back


def test_a_key_made_during_a_rotation_stops_it_cleanly(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    case = taken_on_case(world)
    old = world.store.keyring.master
    meanwhile(monkeypatch, lambda: refer(world, name="Nieuw Persoon"))  # new keys, wrapped by the old master key
    with pytest.raises(StoreProblem, match="run `regie keys rotate` again"):
        rotate_master_key(world.store)
    monkeypatch.undo()
    world.store.close()
    world = reopen(world)
    check_in_force(world, case, old, None)  # nothing changed, nothing left behind
    rotate_master_key(world.store)
    assert {k.master_key_id for k in world.store.keys.all() if not k.is_shredded} == {world.store.keyring.master.key_id}
    world.store.close()


def test_a_key_folder_that_refuses_changes_is_one_clear_line(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while writing the new key, a read-only folder while tidying up: StoreProblem, nothing lost."""
    case = taken_on_case(world)
    old = world.store.keyring.master

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rotation_module, "write_master_key", full)
    with pytest.raises(StoreProblem, match="the master key was not replaced: No space left on device"):
        rotate_master_key(world.store)
    monkeypatch.undo()
    assert folder_state(key_folder(world)) == ["master.key"]

    keyfile_module.write_master_key(key_folder(world) / "master.key.new-mk-000000000000", old)  # a leftover
    world.store.close()

    class ReadOnly:
        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        def unlink(self, *args: Any, **kwargs: Any) -> None:
            raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(rotation_module, "os", ReadOnly())
        with pytest.raises(StoreProblem, match="cut short, and it cannot be completed now: Permission denied"):
            open_store(world.settings)
    world = reopen(world)
    check_in_force(world, case, old, None)
    world.store.close()


# --- a real kill -9 -----------------------------------------------------------------------------

ROTATOR = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from casusregie.adapters import sql
    from casusregie.adapters.config import Settings
    from casusregie.adapters.keystore import SqlKeyStorage
    from casusregie.adapters.store import open_store
    from casusregie.privacy_audit.rotation import rotate_master_key

    location, keys, when, rounds = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    real_rewrap, real_many = SqlKeyStorage.rewrap, sql.Tx.executemany
    inside = []

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def rewrap(self, *args, **kwargs):
        inside.append(True)
        real_rewrap(self, *args, **kwargs)
        if when == "after-commit":
            die()

    def executemany(self, *args, **kwargs):
        real_many(self, *args, **kwargs)
        if inside and when == "mid-transaction":
            die()  # the data keys are re-wrapped, but the transaction is still open

    SqlKeyStorage.rewrap, sql.Tx.executemany = rewrap, executemany
    for _ in range(rounds):
        store = open_store(Settings(location, keys, None, None))
        print("ready", flush=True)
        rotate_master_key(store)
        store.close()
    """
)


def _rotator(world: World, when: str, rounds: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ROTATOR, world.settings.store or "", str(world.settings.key_dir), when, str(rounds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("when", ["mid-transaction", "after-commit"])
def test_a_real_kill_during_the_rotation(world: World, when: str) -> None:
    case = taken_on_case(world)
    old = world.store.keyring.master
    world.store.close()
    process = _rotator(world, when)
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, err
    waiting = waiting_files(key_folder(world))
    assert len(waiting) == 1  # the new key was waiting when the process died
    new_id = read_master_key(waiting[0]).key_id
    world = reopen(world)
    in_force = check_in_force(world, case, old, new_id)
    assert in_force == (old.key_id if when == "mid-transaction" else new_id)
    world.store.close()


def test_killed_at_random_moments_while_rotating(world: World) -> None:
    """Rotating over and over, killed after a random time: whatever the moment, the store opens whole."""
    case = taken_on_case(world)
    world.store.close()
    chance = random.Random(11)
    caught: list[list[str]] = []
    for _ in range(6):
        process = _rotator(world, "never", rounds=1000)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(chance.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        caught.append(folder_state(key_folder(world)))
        world = reopen(world)
        check_in_force(world, case, world.store.keyring.master, None)
        world.store.close()
    print("killed with these files in place:", [[n for n in c if "retired" not in n] for c in caught])

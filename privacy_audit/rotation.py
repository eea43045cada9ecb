"""Master key rotation (sleutelrotatie) without rewriting a single event, safe to stop at any point.

Only the data keys are re-wrapped, in one database transaction: its commit is the moment the
new key takes over. The key folder follows the database, in an order that keeps whichever
key the database uses in place as ``master.key`` at every moment:

1. the new key is written to ``master.key.new-<id>`` (a name of its own, never confused with
   another attempt's key) and fsynced, file and folder: it is on disk before anything uses it;
2. the old key also gets its retired name, ``master.key.retired-<id>``, as a hard link:
   from here on it is kept whatever happens (backups made before need it);
3. the database re-wraps every data key under the new key and records the generation;
4. ``master.key.new-<id>`` is renamed over ``master.key``: one atomic rename.

A crash (kill -9, a power cut) can stop this anywhere. Every opening of the store compares
the folder with the master key the database uses (``settle_rotation``): if the database
switched, steps 2 and 4 are completed; if not, the waiting key, which wraps nothing, and the
extra name of the key in force are removed. Both are idempotent, so a crash during the
recovery is recovered the same way. The folder's lock keeps one rotation or recovery at a
time. Earlier versions named the waiting key ``master.key.new`` and renamed the old key away
before putting the new one in place; their interrupted rotations are completed the same way.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casusregie.adapters.keyfile import (
    MasterKey,
    folder_lock,
    new_master_key,
    read_master_key,
    sync_folder,
    write_master_key,
)
from casusregie.domain.errors import StoreProblem
from casusregie.privacy_audit.key_generations import ledger_rows, moment

if TYPE_CHECKING:
    from casusregie.adapters.store import Store

WAITING = "master.key.new"  # the name earlier versions used; now the prefix of master.key.new-<id>


@dataclass(frozen=True)
class Rotation:
    old_key_id: str
    new_key_id: str
    keys_rewrapped: int
    retired_file: Path


def pending_file(store: Store, key_id: str | None = None) -> Path:
    """Where a new key waits to be put in place: ``master.key.new-<key id>``.

    Without a key id: the waiting file of an interrupted rotation, if there is one (otherwise
    the name earlier versions used, which then does not exist).
    """
    master = store.key_paths.master
    if key_id is not None:
        return master.with_name(f"{WAITING}-{key_id}")
    found = waiting_files(master.parent)
    return found[0] if found else master.with_name(WAITING)


def waiting_files(folder: Path) -> list[Path]:
    """Every new key waiting in the folder, under the names of this version and of earlier ones."""
    if not folder.is_dir():
        return []  # no folder, or a file in its place: reading master.key says so clearly
    return sorted(folder.glob(f"{WAITING}*"))


def retired_file(master: Path, key_id: str) -> Path:
    return master.with_name(f"master.key.retired-{key_id}")


# --- rotating ----------------------------------------------------------------------------


def rotate_master_key(store: Store) -> Rotation:
    """Replace the master key: steps 1-4 above, holding the key folder's lock throughout."""
    master = store.key_paths.master
    with folder_lock(master.parent):
        _settle(store)  # an earlier rotation cut short is finished (or undone) first
        old = store.keyring.master
        new = new_master_key(store.store_id)
        rewrapped = store.keyring.rewrapped_under(new)  # proves the old key opens everything first
        try:
            write_master_key(pending_file(store, new.key_id), new)
            retired = _keep_retired(master, old)
            ledger = ledger_rows(new.key_id, moment(), retired=old.key_id)
            store.keys.rewrap(rewrapped, new.key_id, ledger)
        except Exception as exc:
            # A failure, not a crash: leave the folder as the database decided (a commit whose
            # answer was lost may still have happened). If even that fails, the next open does it.
            with contextlib.suppress(Exception):
                _settle(store)
            if isinstance(exc, OSError):
                raise StoreProblem(f"the master key was not replaced: {exc.strerror or exc}") from None
            raise
        store.meta.update(ledger)
        _finish(store, new)
    return Rotation(old.key_id, new.key_id, len(rewrapped), retired)


def _keep_retired(master: Path, old: MasterKey) -> Path:
    """Give the key in ``master.key`` its retired name too: a hard link, atomic, no second copy to write."""
    retired = retired_file(master, old.key_id)
    if retired.exists():
        if read_master_key(retired).key != old.key:
            raise StoreProblem(f"{retired} exists and holds another key; refusing to replace it")
        return retired
    os.link(master, retired)
    sync_folder(master.parent)
    return retired


def _finish(store: Store, new: MasterKey) -> None:
    """Put the new key in place over ``master.key``: one rename, so there is never no master key."""
    master = store.key_paths.master
    os.replace(new.path or pending_file(store, new.key_id), master)
    sync_folder(master.parent)
    store.keyring.master = read_master_key(master)


# --- recovering ------------------------------------------------------------------------------


def master_key_on_open(master: Path) -> MasterKey:
    """The master key to open a store with, before its database is asked which one it uses.

    That is ``master.key``, except after a crash of an earlier version between its two
    renames: then there is no ``master.key``, and a waiting key stands in until
    ``settle_rotation`` has checked it against the database and put it in place.
    """
    if not master.exists():
        for candidate in waiting_files(master.parent):
            with contextlib.suppress(StoreProblem):
                return read_master_key(candidate)
    return read_master_key(master)


def settle_rotation(store: Store) -> None:
    """Make the key folder agree with the database about the master key (on every opening).

    The usual case, nothing left over, costs one query and a look at the folder; otherwise
    the rotation cut short is completed or undone under the folder's lock.
    """
    master = store.key_paths.master
    loaded = store.keyring.master
    in_force = store.keys.master_key_of(store.row_key_id)
    settled = (
        in_force == loaded.key_id
        and getattr(loaded, "path", None) == master
        and not waiting_files(master.parent)
        and not retired_file(master, loaded.key_id).exists()
    )
    if in_force is None or settled:
        return
    try:
        with folder_lock(master.parent):
            _settle(store)
    except OSError as exc:  # a read-only or full key folder, say: one clear line, nothing lost
        raise StoreProblem(
            f"the key folder {master.parent} holds a master key rotation that was cut short, and it cannot be "
            f"completed now: {exc.strerror or exc}"
        ) from None


def _settle(store: Store) -> None:
    """Under the folder's lock: complete the rotation the database committed to, or undo one it never reached."""
    master = store.key_paths.master
    in_force = store.keys.master_key_of(store.row_key_id, wait=True)
    if in_force is None:
        return  # no row key: nothing to compare with; opening the store reports the damage
    current = read_master_key(master) if master.exists() else None
    if current is None or current.key_id != in_force:
        waiting = _waiting_key(master.parent, store.store_id, in_force)
        if waiting is None:
            return  # no file holds the key the database uses: touch nothing, the keyring names both keys
        if current is not None:
            _keep_retired(master, current)
        _finish(store, waiting)
    _tidy(master)
    store.keyring.master = read_master_key(master)


def _waiting_key(folder: Path, store_id: str, key_id: str) -> MasterKey | None:
    for path in (folder / f"{WAITING}-{key_id}", folder / WAITING):
        if path.exists():
            with contextlib.suppress(StoreProblem):
                found = read_master_key(path)
                if found.key_id == key_id and found.store_id == store_id:
                    return found
    return None


def _tidy(master: Path) -> None:
    """Remove what a rotation the database never reached left: the extra name of the key in force, waiting keys.

    A waiting key wraps nothing (the database switches only to a key already on disk, and
    uses ``master.key``'s); a half-written one could not have been used at all. A removal
    that a power cut undoes is simply done again at the next opening.
    """
    current = read_master_key(master)
    retired = retired_file(master, current.key_id)
    if retired.exists() and _same_key(retired, current):
        os.unlink(retired)
    for waiting in waiting_files(master.parent):
        os.unlink(waiting)


def _same_key(path: Path, key: MasterKey) -> bool:
    try:
        return read_master_key(path).key == key.key
    except StoreProblem:
        return False

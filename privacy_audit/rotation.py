"""Master key rotation (sleutelrotatie) without rewriting a single event.

Only the data keys are re-wrapped, in one transaction. The order makes a crash at any
point recoverable: (1) the new key is written next to the old one as ``master.key.new``;
(2) the database switches to it atomically; (3) the files are renamed: the old key becomes
``master.key.retired-<id>``, which is no longer needed and may be destroyed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casusregie.adapters.keyfile import MasterKey, new_master_key, read_master_key, write_master_key
from casusregie.privacy_audit.key_generations import ledger_rows, moment

if TYPE_CHECKING:
    from casusregie.adapters.store import Store


@dataclass(frozen=True)
class Rotation:
    old_key_id: str
    new_key_id: str
    keys_rewrapped: int
    retired_file: Path


def pending_file(store: Store) -> Path:
    return store.key_paths.master.with_name("master.key.new")


def rotate_master_key(store: Store) -> Rotation:
    old = store.keyring.master
    new = new_master_key(store.store_id)
    rewrapped = store.keyring.rewrapped_under(new)  # proves the old key opens everything first
    pending = pending_file(store)
    if pending.exists():
        pending.unlink()  # an earlier rotation that never reached the database
    write_master_key(pending, new)
    ledger = ledger_rows(new.key_id, moment(), retired=old.key_id)
    store.keys.rewrap(rewrapped, new.key_id, ledger)
    store.meta.update(ledger)
    retired = _finish(store, new, old.key_id)
    return Rotation(old.key_id, new.key_id, len(rewrapped), retired)


def _finish(store: Store, new: MasterKey, old_key_id: str) -> Path:
    master = store.key_paths.master
    retired = master.with_name(f"master.key.retired-{old_key_id}")
    os.replace(master, retired)
    os.replace(pending_file(store), master)
    store.keyring.master = read_master_key(master)
    return retired


def resume_interrupted_rotation(store: Store, wrapped_by: str | None) -> bool:
    """If the database already uses the pending key, complete the file renames."""
    pending = pending_file(store)
    if not pending.exists() or wrapped_by is None:
        return False
    new = read_master_key(pending)
    if new.key_id != wrapped_by:
        return False
    _finish(store, new, store.keyring.master.key_id)
    return True

"""Master key generations (sleutelgeneraties) and what they can still open in old copies.

Destroying a person's data key erases them from the store, but not from copies made before:
database backups, PostgreSQL WAL archives and replicas still hold that key, wrapped by the
master key that was current then. Those copies become unreadable only when that master key is
gone too. So erasure is complete in two steps: destroy the data key (done by `regie erase`
and `regie retention run`), and later rotate the master key and destroy the retired one and
every backup of it. This module tells, per generation, which erased keys its copies still
hold, so the operator knows which master keys must go.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

ACTIVE_FROM = "master_key.{}.active_from"
RETIRED_AT = "master_key.{}.retired_at"


class KeyRow(Protocol):
    created_at: str
    shredded_at: str | None


@dataclass(frozen=True)
class Generation:
    """One master key: when it was current, where its file is, what backups of its time still open."""

    key_id: str
    active_from: str | None  # None: not recorded (stores from before the ledger)
    retired_at: str | None  # None: the current key
    file: Path | None  # still in the key folder (None: destroyed, or moved elsewhere)
    erased_it_opens: int  # destroyed data keys whose wrapped copy in a backup of its time it opens

    @property
    def current(self) -> bool:
        return self.retired_at is None

    def advice(self) -> str:
        if not self.erased_it_opens:
            return "nothing erased is held by copies of its time"
        if self.current:
            return "rotate (`regie keys rotate`), then destroy the retired key and its backups"
        if self.file is not None:
            return f"destroy {self.file} and every backup of it"
        return "its file is gone from the key folder; destroy any backup of it"

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "current": self.current,
            "active_from": self.active_from,
            "retired_at": self.retired_at,
            "file": None if self.file is None else str(self.file),
            "erased_keys_it_still_opens_in_old_copies": self.erased_it_opens,
            "advice": self.advice(),
        }


def moment() -> str:
    """Now, to the microsecond: key lifetimes and generations are compared by these strings."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def ledger_rows(key_id: str, at: str, retired: str | None = None) -> dict[str, str]:
    """The store metadata that records a new current master key (and the one it replaces)."""
    rows = {ACTIVE_FROM.format(key_id): at}
    if retired is not None:
        rows[RETIRED_AT.format(retired)] = at
    return rows


def generations(meta: dict[str, str], current: str, key_folder: Path, keys: Iterable[KeyRow]) -> list[Generation]:
    """Every master key generation this store knows of, oldest first, the current one last."""
    known = {name.split(".")[1] for name in meta if name.startswith("master_key.")}
    known |= {p.name.removeprefix("master.key.retired-") for p in key_folder.glob("master.key.retired-*")}
    known.add(current)
    destroyed = [k for k in keys if k.shredded_at is not None]
    out = []
    for key_id in known:
        active_from = meta.get(ACTIVE_FROM.format(key_id))
        retired_at = None if key_id == current else meta.get(RETIRED_AT.format(key_id), "")
        file = key_folder / ("master.key" if key_id == current else f"master.key.retired-{key_id}")
        opens = sum(1 for k in destroyed if _overlaps(k, active_from, retired_at))
        out.append(Generation(key_id, active_from, retired_at, file if file.exists() else None, opens))
    return sorted(out, key=lambda g: (g.current, g.active_from or "", g.key_id))


def _overlaps(key: KeyRow, active_from: str | None, retired_at: str | None) -> bool:
    """Whether a backup taken while the generation was current could hold this key (alive then).

    A tie counts (older records have whole seconds): over-counting asks for one destruction
    too many, under-counting would leave a copy readable.
    """
    started_before_retirement = not retired_at or key.created_at <= retired_at
    destroyed_after_start = active_from is None or (key.shredded_at or "") >= active_from
    return started_before_retirement and destroyed_after_start


def backup_note(current: str) -> str:
    """What an operator must still do after an erasure for the copies made before it."""
    return (
        f"copies made before now (database backups, PostgreSQL WAL archives, replicas) still hold the destroyed "
        f"key(s), wrapped by master key {current}: to erase them there too, rotate the master key "
        "(`regie keys rotate`) and destroy the retired key file and every backup of it; see `regie keys status`"
    )

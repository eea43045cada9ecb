"""`regie keys rotate`: replace the master key (by the functional administrator)."""

from __future__ import annotations

from typing import ClassVar

from casusregie.commands.authorization import is_role
from casusregie.commands.base import Command, Result, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.roles import Role
from casusregie.privacy_audit.rotation import rotate_master_key


class RotateMasterKey(Command):
    """Re-wrap every data key under a fresh master key; events are not rewritten."""

    name: ClassVar[str] = "keys.rotate"
    activity: ClassVar[str] = "beheer"
    action: ClassVar[Action] = Action.ADMIN


@handles(RotateMasterKey)
def rotate(s: Session, cmd: RotateMasterKey) -> Result:
    s.require(is_role(s.actor, Role.BEHEERDER), cmd, "only the functional administrator (beheerder) rotates keys")
    rotation = rotate_master_key(s.app.store)
    s.commit(cmd, subjects=[])
    return Result(
        f"master key {rotation.old_key_id} replaced by {rotation.new_key_id}; {rotation.keys_rewrapped} data keys "
        f"re-wrapped, no event rewritten. The old key, now in {rotation.retired_file}, is no longer needed: "
        "destroy it (and its backups) once your backups of the new key are in place.",
        {
            "old": rotation.old_key_id,
            "new": rotation.new_key_id,
            "rewrapped": rotation.keys_rewrapped,
            "retired_file": str(rotation.retired_file),
        },
    )


class PurgeKeys(Command):
    """Rewrite the key table so destroyed keys' old bytes are physically gone (after erasures)."""

    name: ClassVar[str] = "keys.purge"
    activity: ClassVar[str] = "bewaartermijn-vernietiging"
    action: ClassVar[Action] = Action.ERASE


@handles(PurgeKeys)
def purge(s: Session, cmd: PurgeKeys) -> Result:
    s.require(
        is_role(s.actor, Role.BEHEERDER, Role.PRIVACY_OFFICER),
        cmd,
        "only the beheerder or a privacy officer purges destroyed keys",
    )
    clear = s.app.store.keys.purge(wait_seconds=60)
    s.commit(cmd, subjects=[])
    if clear:
        return Result("destroyed keys purged: no old copy remains in the key table")
    return Result("purged, but older transactions were still open; run again when they have ended", {"clear": False})

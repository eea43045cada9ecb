"""`regie keys rotate`: replace the master key (by the functional administrator)."""

from __future__ import annotations

from typing import ClassVar

from casusregie.commands.authorization import is_role
from casusregie.commands.base import Command, Result, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.roles import Role
from casusregie.privacy_audit.key_generations import Generation, generations
from casusregie.privacy_audit.rotation import rotate_master_key

BEHEER = "beheer"


class RotateMasterKey(Command):
    """Re-wrap every data key under a fresh master key; events are not rewritten."""

    name: ClassVar[str] = "keys.rotate"
    activity: ClassVar[str] = BEHEER
    action: ClassVar[Action] = Action.ADMIN


@handles(RotateMasterKey)
def rotate(s: Session, cmd: RotateMasterKey) -> Result:
    s.require(is_role(s.actor, Role.BEHEERDER), cmd, "only the functional administrator (beheerder) rotates keys")
    rotation = rotate_master_key(s.app.store)
    s.commit(cmd, subjects=[])
    old = next(g for g in store_generations(s) if g.key_id == rotation.old_key_id)
    held = (
        f" Copies of the database made while it was current (backups, WAL archives) still hold "
        f"{old.erased_it_opens} erased person's or case's key(s) that it opens: destroying it, and every backup of "
        "it, is what erases them there."
        if old.erased_it_opens
        else ""
    )
    return Result(
        f"master key {rotation.old_key_id} replaced by {rotation.new_key_id}; {rotation.keys_rewrapped} data keys "
        f"re-wrapped, no event rewritten. The old key, now in {rotation.retired_file}, is needed only to read "
        f"backups made before now.{held} Destroy it once your backups of the new key are in place "
        "(`regie keys status` lists what each retired key still opens).",
        {
            "old": rotation.old_key_id,
            "new": rotation.new_key_id,
            "rewrapped": rotation.keys_rewrapped,
            "retired_file": str(rotation.retired_file),
            "erased_keys_the_old_key_still_opens_in_backups": old.erased_it_opens,
        },
    )


def store_generations(s: Session) -> list[Generation]:
    store = s.app.store
    return generations(store.meta, store.keyring.master.key_id, store.key_paths.folder, store.keys.all())


def key_status(s: Session) -> list[Generation]:
    """The master key generations and what copies of each one's time still open (beheerder, privacy officer)."""
    if not is_role(s.actor, Role.BEHEERDER, Role.PRIVACY_OFFICER):
        s.deny("keys.status", BEHEER, Action.READ, "only the beheerder or a privacy officer reviews the keys")
    s.log_read("keys.status", BEHEER, Action.READ, None, [])
    return store_generations(s)


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

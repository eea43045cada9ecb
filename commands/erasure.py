"""Erasure by crypto-shredding (vernietiging), on request or when retention ends.

An erasure destroys the data key(s) and records an ``Erasure`` event that names only ids
and the ground, in one transaction; the person's digests leave the search index with it.
It never loads the case, so erasing a person costs the same whatever the length of their
history. Afterwards the database overwrites or rewrites the freed bytes (SQLite
secure_delete and a WAL checkpoint; PostgreSQL VACUUM FULL of the key table). The events
stay: the history of who did what when replays intact, only the personal fields no longer
open.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from casusregie.commands.authorization import is_role
from casusregie.commands.base import Command, Result, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.erasure import Erasure
from casusregie.domain.errors import DomainRuleViolation
from casusregie.domain.roles import Role
from casusregie.domain.sealed import case_key_id, person_key_id
from casusregie.privacy_audit.key_generations import backup_note

ERASURE = "bewaartermijn-vernietiging"
GROUNDS = {
    "granted-request": "verzoek om wissing toegewezen (art. 17 AVG)",
    "retention-expired": "bewaartermijn verstreken",
}


class ErasePerson(Command):
    """Erase one person: destroy their key, keep the history (regie erase)."""

    name: ClassVar[str] = "person.erase"
    activity: ClassVar[str] = ERASURE
    action: ClassVar[Action] = Action.ERASE
    person: str = Field(min_length=1, description="person ref or id")
    ground: Literal["granted-request", "retention-expired"]
    request: str = Field(default="", description="the data-subject request it grants, if any")
    on: date = Field(default_factory=date.today)


def erase_person_in(s: Session, person_id: UUID, case_id: UUID, ground: str, on: date, request: str = "") -> Erasure:
    """Queue one person's erasure in the session's unit of work (the caller commits)."""
    if s.app.store.keyring.is_shredded(person_key_id(person_id)):
        raise DomainRuleViolation("this person was already erased")
    s.add_extra(s.app.store.keyring.shred(person_key_id(person_id), ground))
    s.unindex_person(person_id)
    return Erasure(
        scope="person", case_id=case_id, persons=[person_id], ground=ground, on=on, request=request, by=s.actor.user_id
    )


@handles(ErasePerson)
def erase_person(s: Session, cmd: ErasePerson) -> Result:
    person_id, case_id = s.person(cmd.person)
    if not is_role(s.actor, Role.PRIVACY_OFFICER):
        s.deny(cmd.name, cmd.activity, cmd.action, "only a privacy officer erases personal data")
    erasure = erase_person_in(s, person_id, case_id, cmd.ground, cmd.on, cmd.request)
    s.commit(cmd, erasure, subjects=[person_id])
    purged = s.app.store.keys.purge()
    return Result(
        f"{cmd.person} erased ({GROUNDS[cmd.ground]}); the history of the case remains"
        + purge_note(purged)
        + backups_note(s),
        {"person": cmd.person, "purged": purged},
    )


def purge_note(purged: bool) -> str:
    if purged:
        return ""
    return (
        "; older database transactions were still open, so the destroyed key's old bytes may linger in "
        "free space until `regie keys purge` runs"
    )


def backups_note(s: Session) -> str:
    """Said after every erasure: the copies made before it are erased only when their master key is."""
    return ". Note: " + backup_note(s.app.store.keyring.master.key_id)


class RunRetention(Command):
    """Erase every case whose retention period after closure has passed (regie retention run)."""

    name: ClassVar[str] = "retention.run"
    activity: ClassVar[str] = ERASURE
    action: ClassVar[Action] = Action.ERASE
    on: date = Field(default_factory=date.today)
    dry_run: bool = False


@handles(RunRetention)
def run_retention(s: Session, cmd: RunRetention) -> Result:
    s.require(is_role(s.actor, Role.PRIVACY_OFFICER), cmd, "only a privacy officer runs the retention schedule")
    retention = s.profile.activity("regie-uitvoering").retention
    keyring = s.app.store.keyring
    erased: list[dict[str, str]] = []
    kept = 0
    for ref, case_id, _ in s.refs.refs_of_kind("case"):
        if keyring.is_shredded(case_key_id(case_id)):
            continue
        case = s.app.get(case_id)
        ended = case.ended_on
        if ended is None:
            continue
        expires = _add_years(ended, retention.years)
        if expires > cmd.on:
            kept += 1
            continue
        live = [m.person_id for m in case.members.values() if not keyring.is_shredded(person_key_id(m.person_id))]
        if not cmd.dry_run:
            for person_id in live:
                s.add_extra(keyring.shred(person_key_id(person_id), "retention-expired"))
                s.unindex_person(person_id)
            s.add_extra(keyring.shred(case_key_id(case_id), "retention-expired"))
            erasure = Erasure(
                scope="case",
                case_id=case_id,
                persons=live,
                ground="retention-expired",
                on=cmd.on,
                request="",
                by=s.actor.user_id,
            )
            s.commit(cmd, erasure, case=case, subjects=live)
        erased.append(
            {
                "case": ref,
                "ended_on": ended.isoformat(),
                "expired_on": expires.isoformat(),
                "persons": str(len(case.members)),
            }
        )
    purged = True
    if erased and not cmd.dry_run:
        purged = s.app.store.keys.purge()
    verb = "would erase" if cmd.dry_run else "erased"
    return Result(
        f"retention ({retention.years} years after {retention.after}) on {cmd.on}: {verb} {len(erased)} case(s); "
        f"{kept} ended case(s) still within their period"
        + purge_note(purged)
        + (backups_note(s) if erased and not cmd.dry_run else ""),
        {"erased": erased, "kept": kept, "dry_run": cmd.dry_run, "purged": purged},
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28) + timedelta(days=1)

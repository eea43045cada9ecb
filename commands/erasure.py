"""Erasure by crypto-shredding (vernietiging), on request or when retention ends.

An erasure destroys the data key(s) and records an event that names only ids and the
ground, all in one transaction; the person's digests leave the search index with it.
Afterwards the database rewrites or overwrites the freed bytes (SQLite secure_delete and
a WAL checkpoint; PostgreSQL VACUUM FULL of the key table). The events stay: the history
of who did what when replays intact, only the personal fields no longer open.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from casusregie.adapters.person_index import PersonIndex
from casusregie.commands.authorization import is_role
from casusregie.commands.base import Command, Result, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.case import Case
from casusregie.domain.roles import Role
from casusregie.domain.sealed import case_key_id, person_key_id

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


@handles(ErasePerson)
def erase_person(s: Session, cmd: ErasePerson) -> Result:
    person_id, case_id = s.person(cmd.person)
    case = s.app.get(case_id)
    s.require(is_role(s.actor, Role.PRIVACY_OFFICER), cmd, "only a privacy officer erases personal data", case)
    erase_person_in(s, case, person_id, cmd.ground, cmd.on)
    s.commit(cmd, case, case=case, subjects=[person_id])
    s.app.store.keys.purge()
    ref = case.member(str(person_id)).ref
    return Result(
        f"{ref} erased ({GROUNDS[cmd.ground]}); the history of case {case.case_number} remains",
        {"person": ref, "case": case.case_number},
    )


def erase_person_in(s: Session, case: Case, person_id: UUID, ground: str, on: date) -> None:
    """Queue one person's erasure in the session's unit of work (the caller commits)."""
    case.mark_erased(person_id, ground, on)
    s.add_extra(s.app.store.keyring.shred(person_key_id(person_id), ground))
    s.add_extra(PersonIndex.forget_op(person_id))


def erase_household(s: Session, cmd: Command, case: Case, ground: str, on: date) -> None:
    """Shred every member's key and the case key of one case, in one transaction."""
    live = [m.person_id for m in case.members.values() if not m.erased]
    case.erase_household(ground, on)
    for person_id in live:
        s.add_extra(s.app.store.keyring.shred(person_key_id(person_id), ground))
        s.add_extra(PersonIndex.forget_op(person_id))
    s.add_extra(s.app.store.keyring.shred(case_key_id(case.id), ground))
    s.commit(cmd, case, case=case, subjects=live)


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
    erased: list[dict[str, str]] = []
    kept = 0
    for ref, case_id, _ in s.refs.refs_of_kind("case"):
        case = s.app.get(case_id)
        ended = case.ended_on
        if case.erased or ended is None:
            continue
        expires = _add_years(ended, retention.years)
        if expires > cmd.on:
            kept += 1
            continue
        if not cmd.dry_run:
            erase_household(s, cmd, case, "retention-expired", cmd.on)
        erased.append(
            {
                "case": ref,
                "ended_on": ended.isoformat(),
                "expired_on": expires.isoformat(),
                "persons": str(len(case.members)),
            }
        )
    if erased and not cmd.dry_run:
        s.app.store.keys.purge()
    verb = "would erase" if cmd.dry_run else "erased"
    return Result(
        f"retention ({retention.years} years after {retention.after}) on {cmd.on}: {verb} {len(erased)} case(s); "
        f"{kept} ended case(s) still within their period",
        {"erased": erased, "kept": kept, "dry_run": cmd.dry_run},
    )


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28) + timedelta(days=1)

"""The wider network (netwerk): persons outside the household who play a part in the case.

A neighbour who reports the nuisance, family, the client's own network. Each is a person of the
case with their own key and ref, like a household member, so their data is in their access
answer and goes with their erasure; only the case's director and team see them (a reporter's
identity is not the partners' business).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from casusregie.commands.authorization import directs
from casusregie.commands.base import CaseCommand, Result, Text, handles
from casusregie.commands.referral import new_person
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.household import NetworkRole

REGIE = "regie-uitvoering"


class AddNetworkPerson(CaseCommand):
    """Add a person of the wider network (netwerkpersoon): a reporter, a neighbour, family."""

    name: ClassVar[str] = "case.add-person"
    activity: ClassVar[str] = REGIE
    action: ClassVar[Action] = Action.CREATE
    person_name: str = Field(min_length=1, max_length=200)
    relation: NetworkRole
    household: str | None = Field(default=None, min_length=1, max_length=40, description="their household, if any")
    address: str | None = Field(default=None, max_length=300)
    contact: Text | None = Field(default=None, min_length=1, max_length=300, description="phone or e-mail")


@handles(AddNetworkPerson)
def add_network_person(s: Session, cmd: AddNetworkPerson) -> Result:
    case = s.case(cmd.case)
    s.require(directs(s.actor, case), cmd, "only the case's director (or team) adds persons to the case", case)
    person_id, ref = new_person(s, case.id, cmd.person_name, None, None)
    person = {
        "person_id": person_id,
        "ref": ref,
        "role": str(cmd.relation),
        "minor": False,
        "name": s.seal_person(person_id, "name", cmd.person_name),
        "birth_date": None,
        "bsn": None,
        "address": s.seal_person(person_id, "address", cmd.address),
        "restricted": False,
        "household": cmd.household,
        "contact": s.seal_person(person_id, "contact", cmd.contact),
    }
    case.add_member(person, cmd.on, s.actor.user_id)
    s.commit(cmd, case, case=case, subjects=[person_id])
    return Result(f"{ref} ({cmd.relation}) added to case {case.case_number}", {"person": ref})

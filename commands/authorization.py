"""Who may do what (autorisatie), as small predicates the handlers combine.

* a case director acts on cases assigned to them or to their team;
* a partner acts only for their own organisation: answers requests addressed to it,
  reports progress on measures it owns, gives the corporation's consent for its homes;
* a manager receives escalations and may (re)assign cases (doorzettingsmacht);
* privacy officers handle data-subject requests and erasure; auditors only read;
* the functional administrator (beheerder) manages users and keys, never case data.
"""

from __future__ import annotations

from casusregie.domain.case import Case
from casusregie.domain.roles import Actor, Role


def directs(actor: Actor, case: Case) -> bool:
    """The actor is the case's director, or a director in the case's team."""
    if actor.role != Role.REGISSEUR:
        return False
    if case.director == actor.user_id:
        return True
    return bool(case.team) and actor.user.team == case.team


def is_role(actor: Actor, *roles: Role) -> bool:
    return actor.role in roles


def acts_for(actor: Actor, organisation: str) -> bool:
    """A partner professional acting for their own organisation."""
    return actor.role == Role.PARTNER and actor.organisation == organisation


def partner_involved(actor: Actor, case: Case) -> bool:
    return actor.role == Role.PARTNER and case.is_involved(actor.organisation)


def manager_of_escalation(actor: Actor, case: Case) -> bool:
    """Managers see and act on cases escalated to them (open or past escalations)."""
    return actor.role == Role.MANAGER and bool(case.escalations)


def can_assign(actor: Actor, case: Case, new_team: str) -> bool:
    """Managers assign any case to anyone (doorzettingsmacht).

    A director may take an unassigned case of their own team, or hand a case their team
    directs to a colleague, but only within the team: an unassigned case of another team (or
    of no team yet) and moving a case to another team are the manager's decisions.
    """
    if actor.role == Role.MANAGER:
        return True
    if actor.role != Role.REGISSEUR or not actor.user.team or new_team != actor.user.team:
        return False
    if case.director is None:
        return case.team == actor.user.team
    return directs(actor, case)

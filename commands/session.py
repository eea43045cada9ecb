"""A session: one acting user issuing commands against one store.

The session is the unit of work of the service layer. Handlers use it to resolve
references, check authority, seal personal data with the right keys, and commit:
domain events, access records, new keys and references in one transaction.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from casusregie.adapters.lookup import RefIndex
from casusregie.commands.application import RegieApplication
from casusregie.commands.base import HANDLERS, Command, Result
from casusregie.commands.idempotency import answer_text, checked_request_id, fingerprint, replay
from casusregie.domain.access import Action, Outcome
from casusregie.domain.case import Case
from casusregie.domain.errors import AccessDenied, Conflict, NotFound, PreconditionFailed, ValidationFailed
from casusregie.domain.findable import terms
from casusregie.domain.profile import Profile
from casusregie.domain.roles import Actor, Authentication, Role, User
from casusregie.domain.sealed import Sealed, case_key_id, person_key_id
from casusregie.domain.setup import Setup
from casusregie.privacy_audit.access_log import build_trace

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: refs are read aloud
BEHEER = "beheer"


def open_session(
    app: RegieApplication,
    user_id: str,
    on_behalf_of: str | None,
    attempt: str,
    authentication: Authentication | None = None,
    setup: Setup | None = None,
) -> Session:
    """The session of a registered, active user (``attempt`` names what they try, for the log).

    A unit of work starts by catching up with what other processes stored (``app.catch_up``);
    a caller that passes the ``setup`` has done so before reading it.

    A deactivated user is refused, and so is acting for a deactivated responsible user; the
    refusal is logged like every other, because an attempt by someone whose access was
    withdrawn is exactly what the log must show.
    """
    if setup is None:
        app.catch_up()
        setup = app.setup()
    user = setup.user(user_id)
    if user is None:
        raise NotFound(f"unknown user {user_id}: users are added with `regie user add`")
    responsible = None if on_behalf_of is None else setup.user(on_behalf_of)
    if on_behalf_of is not None and responsible is None:
        raise NotFound(f"unknown user {on_behalf_of} (--on-behalf-of)")
    session = Session(app, Actor(user, on_behalf_of, authentication))
    if not user.active:
        session.deny(attempt, BEHEER, Action.ACCESS, f"user {user_id} is deactivated")
    if responsible is not None and not responsible.active:
        session.deny(attempt, BEHEER, Action.ACCESS, f"the responsible user {on_behalf_of} is deactivated")
    return session


class Session:
    """One user's unit of work on one store."""

    def __init__(self, app: RegieApplication, actor: Actor) -> None:
        self.app = app
        self.actor = actor
        self.refs = app.store.refs
        self._extras: list[Callable[[Any], None]] = []
        self._new_keys: list[str] = []
        self._started: datetime | None = None  # set while a command runs; a read starts when it logs
        self._claim: Callable[[Any], None] | None = None  # the request id to store with the next commit
        # If-Match of an API call: the version of the case the caller last saw. Checked on the
        # very aggregate the command then changes, so the optimistic lock covers the check too.
        self.expected_version: int | None = None
        self.case_version: int | None = None
        self._loaded: dict[UUID, tuple[int, str]] = {}  # (version, number) of each case as this command loaded it

    @property
    def profile(self) -> Profile:
        return self.app.profile

    @cached_property
    def _activities(self) -> frozenset[str]:
        return frozenset(a.id for a in self.profile.activities)

    # --- running commands ---------------------------------------------------------------

    def execute(self, command: Command, request_id: str | None = None) -> Result:
        """Check the declared activity, then run the command's handler.

        With a ``request_id`` the command is carried out at most once: a retry with the same
        id gets the first answer back (see ``commands.idempotency``).
        """
        if request_id is None:
            return self._execute(command)
        memory = self.app.store.request_ids
        request_id = checked_request_id(request_id)
        print_ = fingerprint(command, self.actor.user_id, self.actor.on_behalf_of)
        earlier = memory.find(request_id)
        if earlier is None:
            self._claim = memory.claim(request_id, self.actor.user_id, print_)
            try:
                result = self._execute(command)
            except Conflict:
                earlier = memory.find(request_id)  # a simultaneous retry won the race: its answer is ours
                if earlier is None:
                    raise
            else:
                if self._claim is None:  # claimed: the command was stored with its id
                    with contextlib.suppress(Exception):  # the answer is a convenience; the claim is the guarantee
                        memory.answer(request_id, answer_text(result))
                return result
            finally:
                self._claim = None
        self.app.alerts.append(f"note: request {request_id} was carried out before; nothing was done again")
        return replay(request_id, earlier, print_)

    def _execute(self, command: Command) -> Result:
        if command.activity not in self._activities:
            reason = (
                f"{command.name} performs processing activity {command.activity!r}, which is not in the "
                f"register (art. 30 AVG) of profile {self.profile.id}; refused"
            )
            self.deny(command.name, command.activity, command.action, reason)
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise RuntimeError(f"no handler for {type(command).__name__}")
        self._extras, self._new_keys = [], []
        self._loaded = {}
        self._started = datetime.now(UTC)
        try:
            return handler(self, command)
        except BaseException:
            self.app.store.keyring.forget(self._new_keys)
            raise
        finally:
            self._started = None

    def check_activity(self, activity: str, name: str, action: Action | str = Action.READ) -> None:
        """A processing must be declared in the art. 30 register of the store's profile (refusals are logged)."""
        if activity not in self._activities:
            self.deny(
                name,
                activity,
                action,
                f"{name} performs processing activity {activity!r}, which is not in the register "
                f"(art. 30 AVG) of profile {self.profile.id}",
            )

    # --- references ---------------------------------------------------------------------

    def new_ref(self, prefix: str) -> str:
        for _ in range(20):
            ref = prefix + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))
            if not self.refs.exists(ref):
                return ref
        raise RuntimeError("could not find a free reference")

    def case(self, ref: str) -> Case:
        found = self.refs.resolve(ref, "case")
        if found is None:
            raise NotFound(f"unknown case {ref}")
        try:
            case = self.app.get(found[0])
        except AggregateNotFoundError:
            raise NotFound(f"unknown case {ref}") from None
        assert isinstance(case, Case)
        self._loaded.setdefault(case.id, (case.version, case.case_number))
        return case

    def person(self, ref: str) -> tuple[UUID, UUID]:
        """(person id, case id) of a person reference."""
        found = self.refs.resolve(ref, "person")
        if found is None:
            raise NotFound(f"unknown person {ref}")
        return found

    def add_ref(self, ref: str, kind: str, aggregate_id: UUID, case_id: UUID) -> None:
        self._extras.append(RefIndex.insert_op(ref, kind, aggregate_id, case_id))

    def require_director_user(self, user_id: str) -> User:
        """A user who can direct cases: an active regisseur (``self``: the acting user)."""
        if user_id == "self":
            user_id = self.actor.user_id
        user = self.app.setup().user(user_id)
        if user is None:
            raise NotFound(f"unknown user {user_id}")
        if not user.active:
            raise ValidationFailed(f"user {user_id} is deactivated and cannot direct cases")
        if user.role != Role.REGISSEUR:
            raise ValidationFailed(f"{user_id} is a {user.role}, not a case director (regisseur)")
        return user

    def known_team(self, team: str) -> str:
        """A team some active case director belongs to (teams exist only through their directors)."""
        teams = {
            str(data.get("team", ""))
            for data in self.app.setup().users.values()
            if data.get("role") == Role.REGISSEUR and data.get("active", True)
        }
        if team not in teams:
            known = ", ".join(sorted(t for t in teams if t)) or "none yet"
            raise ValidationFailed(f"no case director works in team {team!r} (teams: {known})")
        return team

    # --- keys and sealing ---------------------------------------------------------------

    @property
    def pending_keys(self) -> list[str]:
        """Keys made in this unit of work, not yet committed."""
        return list(self._new_keys)

    def new_key(self, key_id: str, purpose: str, subject: str) -> None:
        self._extras.append(self.app.store.keyring.create(key_id, purpose=purpose, subject=subject))
        self._new_keys.append(key_id)

    def seal(self, key_id: str, field: str, value: Any) -> Sealed:
        return self.app.store.keyring.seal(key_id, field, value)

    def seal_case_text(self, case_id: UUID, field: str, text: str | None) -> Sealed | None:
        """Free text about the household as a whole: sealed with the case key."""
        return None if text is None else self.seal(case_key_id(case_id), field, text)

    def seal_person(self, person_id: UUID, field: str, value: Any) -> Sealed | None:
        return None if value is None else self.seal(person_key_id(person_id), field, value)

    def add_extra(self, extra: Callable[[Any], None]) -> None:
        self._extras.append(extra)

    def index_person(self, person_id: UUID, name: str | None, birth_date: date | None, bsn: str | None) -> None:
        """Make a person findable (the blind index), in this command's transaction."""
        self.add_extra(self.app.store.persons.insert_op(person_id, terms(name, birth_date, bsn)))

    def unindex_person(self, person_id: UUID) -> None:
        """Take every digest of a person out of the blind index, in this command's transaction."""
        self.add_extra(self.app.store.persons.forget_op(person_id))

    def find_persons(self, pairs: list[tuple[str, str]]) -> list[UUID]:
        """Persons the blind index holds under all of ``pairs`` (``domain.findable.terms``)."""
        return self.app.store.persons.find(pairs) if pairs else []

    # --- authority and the access log -------------------------------------------------------

    def require(self, allowed: bool, command: Command, reason: str, case: Case | None = None) -> None:
        """Refuse, and log the refusal, unless ``allowed``."""
        if not allowed:
            self.deny(command.name, command.activity, command.action, reason, case)

    def deny(self, name: str, activity: str, action: Action | str, reason: str, case: Case | None = None) -> None:
        self.record_denial(name, activity, action, reason, case.id if case is not None else None)
        raise AccessDenied(f"{self.actor.user_id} ({self.actor.role}): {reason}")

    def record_denial(
        self,
        name: str,
        activity: str,
        action: Action | str,
        reason: str,
        case_id: UUID | None,
        subjects: Iterable[UUID] = (),
    ) -> None:
        """Log a refused attempt (its own transaction: the refusal is a fact even if nothing else happens)."""
        self.record_outcome(name, activity, action, reason, case_id, subjects, Outcome.DENIED)

    def record_outcome(
        self,
        name: str,
        activity: str,
        action: Action | str,
        reason: str,
        case_id: UUID | None,
        subjects: Iterable[UUID | str],
        outcome: Outcome,
    ) -> None:
        """An access record of an attempt that did not end well (refused, or failed), in its own transaction."""
        trace = build_trace(
            actor=self.actor,
            name=name,
            action=action,
            activity=activity,
            case_id=case_id,
            subjects=subjects,
            outcome=outcome,
            reason=reason,
            started_at=self._started,
        )
        self.app.commit(trace)

    def commit(
        self, command: Command, *aggregates: Any, case: Case | None = None, subjects: Iterable[UUID] | None = None
    ) -> None:
        """Domain events, access records, keys and refs: all in one transaction."""
        if subjects is None:
            subjects = [m.person_id for m in case.members.values()] if case is not None else []
        trace = build_trace(
            actor=self.actor,
            name=command.name,
            action=command.action,
            activity=command.activity,
            case_id=case.id if case is not None else None,
            subjects=subjects,
            started_at=self._started,
        )
        self._check_expected_version()
        extras, keys = self._extras, self._new_keys
        self._extras, self._new_keys = [], []
        if self._claim is not None:  # the request id is stored with the command's first commit, or not at all
            extras.append(self._claim)
        self.app.commit(*aggregates, trace, extras=extras, new_keys=keys)
        self._claim = None
        if case is not None:
            self.case_version = case.version  # what the API hands back as the case's new ETag

    def _check_expected_version(self) -> None:
        """If-Match, checked when the command is authorised and about to be stored, never before: a
        caller who may not act on the case learns nothing of it from a 412 (its refusal is a 403, logged).
        The optimistic lock of the save then covers the time between this check and the write."""
        if self.expected_version is None:
            return
        for version, number in self._loaded.values():
            if version != self.expected_version:
                raise PreconditionFailed(
                    f"case {number} has changed since version {self.expected_version} (it is at version "
                    f"{version}); nothing was done: read the case again"
                )

    def log_read(
        self,
        name: str,
        activity: str,
        action: Action,
        case_id: UUID | None,
        subjects: Iterable[UUID | str],
        reason: str = "",
    ) -> None:
        """Audit first: commit the read's access records before any data is returned."""
        self.check_activity(activity, name, action)
        trace = build_trace(
            actor=self.actor,
            name=name,
            action=action,
            activity=activity,
            case_id=case_id,
            subjects=subjects,
            reason=reason,
            started_at=self._started,
        )
        self.app.commit(trace)

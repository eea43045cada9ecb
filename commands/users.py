"""Setting up a store and its users (inrichting en gebruikersbeheer)."""

from __future__ import annotations

import re
from typing import ClassVar, Self

from pydantic import Field, field_validator, model_validator

from casusregie.commands.application import RegieApplication
from casusregie.commands.authorization import is_role
from casusregie.commands.base import Command, Result, Text, handles
from casusregie.commands.session import Session
from casusregie.domain.access import Action
from casusregie.domain.errors import ValidationFailed
from casusregie.domain.profile import Profile
from casusregie.domain.roles import Actor, Role, User
from casusregie.domain.setup import Setup
from casusregie.privacy_audit.access_log import build_trace

BEHEER = "beheer"
ISSUER_PATTERN = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"  # an issuer URL has no query or fragment (OIDC Discovery 1.0)


def checked_issuer(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(ISSUER_PATTERN, value):
        raise ValueError("the issuer is the provider's URL, such as https://login.example.org/realms/regie")
    return value


def initialise(app: RegieApplication, profile: Profile, profile_toml: str, admin: str) -> Setup:
    """The store's first events: its profile and its first administrator."""
    setup = Setup(store_id=app.store.store_id, profile_id=profile.id, profile_toml=profile_toml, initialised_by=admin)
    setup.register_user(admin, Role.BEHEERDER, profile.organisation_id, "")
    actor = Actor(User(admin, Role.BEHEERDER, profile.organisation_id))
    trace = build_trace(actor=actor, name="store.init", action=Action.ADMIN, activity=BEHEER, case_id=None, subjects=())
    app.commit(setup, trace)
    return setup


def check_organisation(profile: Profile, role: Role, organisation: str) -> None:
    partners = {p.id for p in profile.partners}
    if role == Role.PARTNER:
        if organisation not in partners:
            raise ValidationFailed(
                f"a partner user belongs to a partner organisation ({', '.join(sorted(partners))}), "
                f"not {organisation!r}"
            )
    elif role != Role.AUDITOR and organisation != profile.organisation_id:
        raise ValidationFailed(f"a {role} works for {profile.organisation_id}, not {organisation!r}")


class AddUser(Command):
    """Register a user with a role in an organisation (and optionally a team)."""

    name: ClassVar[str] = "user.add"
    activity: ClassVar[str] = BEHEER
    action: ClassVar[Action] = Action.ADMIN
    user_id: str = Field(min_length=2, max_length=64)
    role: Role
    organisation: str | None = None
    team: str = ""
    subject: str | None = Field(default=None, min_length=1, max_length=255, description="subject at the IdP")
    issuer: str | None = Field(
        default=None, max_length=255, description="the IdP's issuer URL", json_schema_extra={"pattern": ISSUER_PATTERN}
    )

    _issuer_url = field_validator("issuer")(lambda v: checked_issuer(v))

    @model_validator(mode="after")
    def _subject_with_issuer(self) -> Self:
        if (self.subject is None) != (self.issuer is None):
            raise ValueError("a subject needs the issuer of the identity provider that vouches for it, and vice versa")
        return self


@handles(AddUser)
def add_user(s: Session, cmd: AddUser) -> Result:
    s.require(is_role(s.actor, Role.BEHEERDER), cmd, "only the functional administrator (beheerder) adds users")
    organisation = cmd.organisation or s.profile.organisation_id
    check_organisation(s.profile, cmd.role, organisation)
    setup = s.app.setup()
    setup.register_user(cmd.user_id, cmd.role, organisation, cmd.team)
    if cmd.subject is not None and cmd.issuer is not None:
        setup.link_subject(cmd.user_id, cmd.issuer, cmd.subject)
    s.commit(cmd, setup, subjects=[])
    return Result(
        f"user {cmd.user_id} added as {cmd.role} of {organisation}"
        + (f", team {cmd.team}" if cmd.team else "")
        + (f", signing in as {cmd.subject} at {cmd.issuer}" if cmd.subject else "")
    )


class LinkSubject(Command):
    """Tie an existing user to their identity at the identity provider, so they can use the API."""

    name: ClassVar[str] = "user.link-subject"
    activity: ClassVar[str] = BEHEER
    action: ClassVar[Action] = Action.ADMIN
    user_id: str = Field(min_length=2, max_length=64)
    subject: str = Field(min_length=1, max_length=255)
    issuer: str = Field(
        max_length=255, description="the IdP's issuer URL", json_schema_extra={"pattern": ISSUER_PATTERN}
    )

    _issuer_url = field_validator("issuer")(lambda v: checked_issuer(v))


@handles(LinkSubject)
def link_subject(s: Session, cmd: LinkSubject) -> Result:
    s.require(is_role(s.actor, Role.BEHEERDER), cmd, "only the functional administrator (beheerder) manages users")
    setup = s.app.setup()
    setup.link_subject(cmd.user_id, cmd.issuer, cmd.subject)
    s.commit(cmd, setup, subjects=[])
    return Result(f"user {cmd.user_id} signs in as {cmd.subject} at {cmd.issuer}")


class DeactivateUser(Command):
    """Deactivate a user (they keep their history, but can no longer act)."""

    name: ClassVar[str] = "user.deactivate"
    activity: ClassVar[str] = BEHEER
    action: ClassVar[Action] = Action.ADMIN
    user_id: str = Field(min_length=2)
    reason: Text = Field(min_length=1, max_length=500)


@handles(DeactivateUser)
def deactivate_user(s: Session, cmd: DeactivateUser) -> Result:
    s.require(is_role(s.actor, Role.BEHEERDER), cmd, "only the functional administrator (beheerder) manages users")
    setup = s.app.setup()
    setup.deactivate_user(cmd.user_id, cmd.reason)
    s.commit(cmd, setup, subjects=[])
    return Result(f"user {cmd.user_id} deactivated")


def checked_email(value: str | None) -> str | None:
    """A work e-mail address, normalised; one line naming what is wrong (not the deliverability: no DNS)."""
    if value is None:
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address ({str(exc).rstrip('.')})") from None


class SetEmail(Command):
    """Give a user a work e-mail address for reminders (`regie notify run`), or take it away (none)."""

    name: ClassVar[str] = "user.set-email"
    activity: ClassVar[str] = BEHEER
    action: ClassVar[Action] = Action.ADMIN
    user_id: str = Field(min_length=2, max_length=64)
    email: str | None = Field(default=None, max_length=254, description="work address; none removes it")

    _valid_email = field_validator("email")(lambda v: checked_email(v))


@handles(SetEmail)
def set_email(s: Session, cmd: SetEmail) -> Result:
    s.require(is_role(s.actor, Role.BEHEERDER), cmd, "only the functional administrator (beheerder) manages users")
    setup = s.app.setup()
    setup.set_email(cmd.user_id, cmd.email)
    s.commit(cmd, setup, subjects=[])
    # The address itself is not echoed: command output ends up in shell histories and job logs.
    return Result(f"user {cmd.user_id} " + ("gets reminders by e-mail" if cmd.email else "gets no reminders by e-mail"))


def user_directory(s: Session) -> list[dict[str, object]]:
    """Users, roles and their identity-provider subjects (the beheerder and auditors; logged as a read)."""
    if s.actor.role not in (Role.BEHEERDER, Role.AUDITOR):
        s.deny("user.list", BEHEER, Action.READ, "only the beheerder and auditors list users")
    setup = s.app.setup()
    s.log_read("user.list", BEHEER, Action.READ, None, [])
    return [{"user": uid, **dict(data.items())} for uid, data in sorted(setup.users.items())]

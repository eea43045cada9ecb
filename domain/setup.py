"""The store's set-up (inrichting): its municipality profile and its users.

One aggregate per store, so that the profile a store runs under and every change to who
may do what are themselves events in the tamper-evident log.
"""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from casusregie.domain.errors import DomainRuleViolation, ValidationFailed
from casusregie.domain.roles import Role, User

USER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class Setup(Aggregate):
    """The store's profile and user directory."""

    @staticmethod
    def create_id(store_id: str, **_: object) -> UUID:
        return uuid5(NAMESPACE_URL, f"casusregie:{store_id}:setup")

    @event("Initialised")
    def __init__(self, store_id: str, profile_id: str, profile_toml: str, initialised_by: str) -> None:
        self.store_id = store_id
        self.profile_id = profile_id
        self.profile_toml = profile_toml
        self.users: dict[str, dict[str, object]] = {}
        self.initialised_by = initialised_by

    def user(self, user_id: str) -> User | None:
        data = self.users.get(user_id)
        if data is None:
            return None
        return User(
            user_id=user_id,
            role=Role(str(data["role"])),
            organisation=str(data["organisation"]),
            team=str(data.get("team", "")),
            active=bool(data.get("active", True)),
        )

    def user_by_subject(self, issuer: str, subject: str) -> User | None:
        """The user whom the identity provider ``issuer`` knows as ``subject`` (its ``sub`` claim)."""
        for user_id, data in self.users.items():
            if data.get("subject") == subject and data.get("issuer") == issuer:
                return self.user(user_id)
        return None

    def link_subject(self, user_id: str, issuer: str, subject: str) -> None:
        """Tie a user to their identity at the municipality's identity provider (one identity, one user)."""
        if user_id not in self.users:
            raise ValidationFailed(f"unknown user {user_id}")
        owner = self.user_by_subject(issuer, subject)
        if owner is not None:
            raise DomainRuleViolation(f"subject {subject!r} of {issuer} already belongs to user {owner.user_id}")
        self._subject_linked(user_id=user_id, issuer=issuer, subject=subject)

    @event("SubjectLinked")
    def _subject_linked(self, user_id: str, issuer: str, subject: str) -> None:
        self.users[user_id]["issuer"] = issuer
        self.users[user_id]["subject"] = subject

    def register_user(self, user_id: str, role: Role, organisation: str, team: str) -> None:
        if not USER_ID_RE.match(user_id):
            raise ValidationFailed(f"user id {user_id!r} must be 2-64 lowercase letters, digits, '.', '_' or '-'")
        if user_id in self.users:
            raise DomainRuleViolation(f"user {user_id} already exists")
        self._user_registered(user_id=user_id, role=str(role), organisation=organisation, team=team)

    @event("UserRegistered")
    def _user_registered(self, user_id: str, role: str, organisation: str, team: str) -> None:
        self.users[user_id] = {"role": role, "organisation": organisation, "team": team, "active": True}

    def deactivate_user(self, user_id: str, reason: str) -> None:
        data = self.users.get(user_id)
        if data is None:
            raise ValidationFailed(f"unknown user {user_id}")
        if not data.get("active", True):
            raise DomainRuleViolation(f"user {user_id} is already deactivated")
        self._user_deactivated(user_id=user_id, reason=reason)

    @event("UserDeactivated")
    def _user_deactivated(self, user_id: str, reason: str) -> None:
        self.users[user_id]["active"] = False

    def email(self, user_id: str) -> str | None:
        """The user's work e-mail address, for reminders (personal data of the employee: never logged)."""
        value = self.users.get(user_id, {}).get("email")
        return str(value) if value else None

    def set_email(self, user_id: str, email: str | None) -> None:
        """Give a user a work e-mail address for reminders, or take it away (``None``)."""
        if user_id not in self.users:
            raise ValidationFailed(f"unknown user {user_id}")
        self._email_set(user_id=user_id, email=email or "")

    @event("EmailSet")
    def _email_set(self, user_id: str, email: str) -> None:
        if email:
            self.users[user_id]["email"] = email
        else:
            self.users[user_id].pop("email", None)

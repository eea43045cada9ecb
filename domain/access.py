"""The access log (toegangslog / verwerkingenlog), as events.

One ``AccessTrace`` per processing (verwerking): a root record that names the actor, the
responsible user (namens wie), role, organisation, action, processing activity, case,
outcome, time and the first data subject touched (if any), and one linked child record per
further data subject. This is the shape of the Logboek Dataverwerkingen (a record refers
to zero or one person; several persons give several linked records with a shared trace
id) and of NEN 7513.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Action(StrEnum):
    """What was done with personal data (NEN 7513 event types)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    SEARCH = "search"
    DISCLOSE = "disclose"  # verstrekken
    EXPORT = "export"
    PRINT = "print"
    ERASE = "erase"
    ADMIN = "admin"
    ACCESS = "access"  # an attempt to act at all (a deactivated user, later a sign-in)


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    ERROR = "error"


def new_span_id() -> str:
    """8 random bytes, hex, as LDV span ids are."""
    return secrets.token_hex(8)


class AccessTrace(Aggregate):
    """One processing of personal data and the persons it touched."""

    @event("Started")
    def __init__(
        self,
        span_id: str,
        name: str,
        actor: str,
        on_behalf_of: str | None,
        role: str,
        organisation: str,
        action: str,
        activity: str,
        case_id: UUID | None,
        outcome: str,
        reason: str,
        started_at: datetime,
        ended_at: datetime,
        subject_id: str | None = None,
        subject_type: str = "",
        authenticated_subject: str = "",
        issuer: str = "",
        token_id: str = "",
        client_address: str = "",
    ) -> None:
        self.span_id = span_id
        self.name = name
        self.actor = actor
        self.on_behalf_of = on_behalf_of
        self.role = role
        self.organisation = organisation
        self.action = action
        self.activity = activity
        self.case_id = case_id
        self.outcome = outcome
        self.reason = reason
        self.started_at = started_at
        self.ended_at = ended_at
        self.subjects: list[tuple[str, str, str]] = [] if subject_id is None else [(span_id, subject_id, subject_type)]
        # How the actor was authenticated (empty for the operator's CLI): records written before
        # the API existed have none of these, and read back with the defaults.
        self.authenticated_subject = authenticated_subject
        self.issuer = issuer
        self.token_id = token_id
        self.client_address = client_address

    @property
    def trace_id(self) -> str:
        return self.id.hex

    @event("SubjectTouched")
    def touch(self, span_id: str, subject_id: str, subject_type: str) -> None:
        """A child record for one data subject (betrokkene) touched by this processing."""
        self.subjects.append((span_id, subject_id, subject_type))

"""The port through which reminders leave: what a reminder run needs of a mail server.

The run (``commands.notify``) knows nothing of SMTP: it asks a :class:`MailServer` for an
:class:`Outbox`, hands it one plain-text mail per user, and learns from the two errors below
whether to go on. ``adapters.mail`` is the SMTP implementation.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from casusregie.domain.errors import RegieError

#: How many working days ahead a reminder warns, unless ``[mail] notice_days`` says otherwise.
DEFAULT_NOTICE_DAYS = 2


class MailUnavailable(RegieError):
    """The mail server cannot be reached or will not take mail from us: nothing more is sent."""


class AddressRefused(RegieError):
    """The mail server refused one recipient's address (the others still get theirs)."""


class Outbox(Protocol):
    """One connection for a run."""

    def send_text(self, to: str, subject: str, body: str, message_id: str) -> None:
        """Hand one mail over; it has been taken when this returns (else AddressRefused or MailUnavailable)."""
        ...


class MailServer(Protocol):
    """The configured mail server."""

    @property
    def notice_days(self) -> int: ...

    def connect(self) -> AbstractContextManager[Outbox]:
        """A connection (MailUnavailable if there is none to be had), closed when the block ends."""
        ...

"""The ``[mail]`` section of the config file and the SMTP client that sends reminders.

Reminders (``regie notify run``) go out through the municipality's own mail server, with
the standard library's ``smtplib``: plain SMTP on a loopback address, STARTTLS (the default)
or implicit TLS. The password, where the server asks for one, is read from a file of its
own (``password_file``, readable by its owner only), never from the config file, which is
shared more widely than a secret should be; it is never printed or logged.

Every failure is one line: a server that cannot be reached (or refuses to talk) is a
:class:`MailUnavailable`, after which the run stops; an address the server refuses is a
:class:`AddressRefused` for that one message. Neither line holds an e-mail address: an
address is personal data of the employee, and error lines end up in cron mails and job logs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import socket
import ssl
import stat
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from casusregie.commands.mail_port import DEFAULT_NOTICE_DAYS, AddressRefused, MailUnavailable
from casusregie.domain.errors import ValidationFailed

DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LOOPBACK_NAMES = {"localhost"}


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MailSettings(BaseModel):
    """The ``[mail]`` table (see the README, "Reminders by e-mail")."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    password_file: Path | None = None
    sender: str = Field(alias="from", min_length=3, max_length=255)
    notice_days: int = Field(default=DEFAULT_NOTICE_DAYS, ge=0, le=60, description="working days ahead of a deadline")
    timeout_seconds: int = Field(default=20, ge=1, le=300)

    @field_validator("sender")
    @classmethod
    def _one_address(cls, value: str) -> str:
        _name, address = parseaddr(value)
        if not address or "@" not in address or any(ord(c) < 0x20 for c in value):
            raise ValueError(f"from is the sender's address, such as casusregie@example.nl, not {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("username and password_file go together (the password is read from that file)")
        if self.username is not None and self.security == "none" and not _loopback(self.host):
            raise ValueError('security = "none" would send the password in the clear; use starttls or ssl')
        return self

    @property
    def smtp_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def where(self) -> str:
        return f"{self.host}:{self.smtp_port}"

    @property
    def sender_domain(self) -> str:
        return parseaddr(self.sender)[1].rpartition("@")[2].lower()

    def password(self) -> str | None:
        """The password, read from its file (which only its owner may read); None without a username."""
        path = self.password_file
        if path is None:
            return None
        try:
            mode = path.stat().st_mode
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise ValidationFailed(f"the mail password file {path} cannot be read: {reason}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValidationFailed(f"the mail password file {path} is readable by others; chmod 600 it")
        if not secret or "\n" in secret or any(ord(c) < 0x20 for c in secret):
            raise ValidationFailed(f"the mail password file {path} is empty or holds more than one line")
        return secret


def mail_settings(section: dict[str, Any], source: str, base: Path | None) -> MailSettings | None:
    """The ``[mail]`` table, checked (None: no mail configured); one clear line when something is wrong.

    A relative ``password_file`` is relative to the config file, as every path in it is."""
    if not section:
        return None
    try:
        settings = MailSettings.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise ValidationFailed(f"{source} [mail]{' ' + where if where else ''}: {message}") from None
    path = settings.password_file
    if path is not None and not path.is_absolute() and base is not None:
        settings = settings.model_copy(update={"password_file": base / path})
    settings.password()  # a password file that cannot be used stops the run before anything is read
    return settings


def message(
    settings: MailSettings, to: str, subject: str, body: str, message_id: str, headers: dict[str, str] | None = None
) -> EmailMessage:
    """A plain-text message from the configured sender; ``message_id`` is the part before the ``@``."""
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = Address(addr_spec=to)
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = f"<{message_id}@{settings.sender_domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
    mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(body, charset="utf-8")  # (it replaces every Content-* header: those come after it)
    mail["Content-Language"] = "nl"
    for name, value in (headers or {}).items():
        mail[name] = value
    return mail


class SmtpServer:
    """The mail server of ``[mail]``, as the reminder run sees it (``commands.mail_port.MailServer``)."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @property
    def notice_days(self) -> int:
        return self.settings.notice_days

    def connect(self) -> Mailer:
        return Mailer(self.settings)


class Mailer:
    """One SMTP session for a run: ``with Mailer(settings) as mailer: mailer.send(message)``."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        s = self.settings
        password = s.password()  # before connecting: a bad file is a config error, not a server error
        context = ssl.create_default_context()
        try:
            if s.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.smtp_port, timeout=s.timeout_seconds, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.smtp_port, timeout=s.timeout_seconds)
            self._smtp = smtp
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username is not None and password is not None:
                smtp.login(s.username, password)
        except smtplib.SMTPAuthenticationError:
            self._close()
            raise MailUnavailable(
                f"the mail server {s.where} refused user name {s.username} with the password from {s.password_file}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._close()
            reason = _reason(exc)
            raise MailUnavailable(f"the mail server {s.where} cannot be used: {reason}") from None
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
        self._close()

    def _close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
        self._smtp = None

    def send_text(self, to: str, subject: str, body: str, message_id: str) -> None:
        """A plain-text mail from the configured sender (``commands.mail_port.Outbox``)."""
        self.send(message(self.settings, to, subject, body, message_id))

    def send(self, mail: EmailMessage) -> None:
        """Hand one message to the server; it has taken it when this returns."""
        if self._smtp is None:
            raise MailUnavailable(f"the connection to the mail server {self.settings.where} is closed")
        try:
            refused = self._smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused:
            raise AddressRefused("the mail server refused the recipient's address") from None
        except smtplib.SMTPSenderRefused as exc:
            raise MailUnavailable(
                f"the mail server {self.settings.where} refused the sender address ({exc.smtp_code}); "
                "check from in [mail]"
            ) from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:  # this message, for good; a 4xx is the server's trouble of the moment
                raise AddressRefused(f"the mail server refused the message ({exc.smtp_code})") from None
            raise MailUnavailable(f"the mail server {self.settings.where} failed: {_reason(exc)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailUnavailable(f"the mail server {self.settings.where} failed: {_reason(exc)}") from None
        if refused:
            raise AddressRefused("the mail server refused the recipient's address")


def _reason(exc: BaseException) -> str:
    """Why, in one line, without anything the server echoed back (it may quote an address)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"it answered {exc.smtp_code}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "it closed the connection"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return "it does not offer STARTTLS (set security in [mail])"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, socket.gaierror):
        return "its name is not known"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__

"""Reminders by e-mail (herinneringen): ``regie notify run``, for cron.

What a run does, in this order:

1. For every active user with a work e-mail address and a worklist (directors, partners,
   managers, privacy officers), ask the worklist (``Reader.worklist``, so that one rule says
   whose a deadline is) for the items due within the notice period (``[mail] notice_days``
   working days ahead) or overdue, and keep the ones this user is responsible for: a
   director the municipality's items of their own cases (or of unassigned ones in their
   team), a partner what their organisation must do, a manager escalations and unassigned
   referrals, a privacy officer the data-subject requests and art. 19 tasks.
2. Leave out what the user's :class:`ReminderLog` says was mailed before: each (kind,
   reference, due date, stage) goes out once, at each of the two stages ``due-soon`` and
   ``overdue``. A run twice in a row sends nothing the second time.
3. Connect to the mail server; then write the run's access record (by the system actor,
   before any mail leaves: audit first); then per user: send one mail, then record it.

Crash behaviour: **send, then record** (at-least-once). A crash, a lost database or a
refused write between the server taking a mail and the log recording it means the next run
sends that mail again, never that a reminder is silently lost. The duplicate carries the
same Message-ID (derived from the store, the user and the reminders in it), so mail systems
and clients that deduplicate on it show it once; and it is at most one extra mail per user
per crash, not a flood, because every mail that was recorded stays recorded. Recording
before sending (at-most-once) would instead lose the reminder for good if the send failed
after the record, which for a legal deadline is the worse failure. Two runs at the same
moment may both send (same Message-ID); the second to record meets the first's record and
stops (run notify from one cron job).

A mail names no person, household, case number or text: the kind of task in Dutch, its due
date, and a link to the worklist (or ``regie worklist`` where no ``[web] public_url`` is
configured). Case and request numbers are pseudonyms of the households behind them, and mail
passes through servers the municipality does not control, so they stay out too.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from casusregie.commands.application import RegieApplication
from casusregie.commands.mail_port import DEFAULT_NOTICE_DAYS, AddressRefused, MailServer, MailUnavailable
from casusregie.commands.session import Session
from casusregie.domain.access import AccessTrace, Action, Outcome, new_span_id
from casusregie.domain.calendar import due_date
from casusregie.domain.errors import AccessDenied, Conflict, RegieError, ValidationFailed
from casusregie.domain.notification import DUE_SOON, OVERDUE, Reminder, ReminderLog
from casusregie.domain.profile import DeadlineRule
from casusregie.domain.roles import Actor, Role, User
from casusregie.projections.reader import Reader

SYSTEM_ACTOR = "system:notify"  # not a user id (those have no ':'): the run is nobody's action but the system's
SYSTEM_ROLE = "system"
RUN = "notify.run"
DRY_RUN = "notify.dry-run"
REGIE = "regie-uitvoering"  # the worklist's processing activity (as projections.reader)
WORKLIST_ROLES = (Role.REGISSEUR, Role.PARTNER, Role.MANAGER, Role.PRIVACY_OFFICER)
PRIVACY_KINDS = ("request", "art19-task")  # the privacy officer's: their page is /verzoeken
SNAPSHOT_EVERY = 50  # a user's log is loaded by every run: a snapshot now and then keeps that short

# The kind of task, in Dutch: all a mail says about an item.
KIND_NL = {
    "intake": "besluit over een aanmelding",
    "consent": "toestemming van de bewoners",
    "corporation-consent": "toestemming van de woningcorporatie",
    "information": "informatieverzoek beantwoorden",
    "letter": "brief aan de bewoners",
    "plan": "plan van aanpak opstellen",
    "measure": "maatregel uit het plan van aanpak",
    "evaluation": "evaluatie van het plan van aanpak",
    "casusoverleg": "casusoverleg",
    "escalation": "opschaling afhandelen",
    "aftercare": "nazorgcontact na afsluiting",
    "art19-task": "ontvangers informeren over een wijziging (art. 19 AVG)",
}
REQUEST_NL = {
    "access": "inzageverzoek beantwoorden",
    "rectification": "verzoek om rectificatie beantwoorden",
    "erasure": "verzoek om wissing beantwoorden",
    "restriction": "verzoek om beperking beantwoorden",
    "objection": "bezwaar tegen de verwerking beantwoorden",
}
SOME_TASK = "taak in de werkvoorraad"


def label(item: dict[str, Any]) -> str:
    """The kind of task in Dutch, never the worklist's own text (a request's kind is read from its start)."""
    if item["kind"] == "request":
        return REQUEST_NL.get(str(item.get("what", "")).split(" ", 1)[0], "verzoek van een betrokkene beantwoorden")
    return KIND_NL.get(str(item["kind"]), SOME_TASK)


@dataclass
class PlannedMail:
    """One user's mail of this run: the reminders in it, and the log it will be recorded in."""

    user_id: str
    address: str  # personal data of the employee: handed to the mail server, never printed or stored elsewhere
    reminders: list[Reminder]
    labels: dict[str, str]  # reminder key -> the kind of task in Dutch
    log: ReminderLog
    message_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        """What the operator sees (no address, no references)."""
        return {
            "user": self.user_id,
            "message_id": self.message_id,
            "items": [
                {"kind": r.kind, "task": self.labels[r.key], "due_on": r.due_on, "stage": r.stage}
                for r in self.reminders
            ],
        }


@dataclass
class RunReport:
    on: date
    dry_run: bool
    notice_days: int
    mails: list[PlannedMail]
    sent: list[str] = field(default_factory=list)  # users whose mail went out and was recorded
    refused: list[str] = field(default_factory=list)  # users whose address the server refused

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.on.isoformat(),
            "dry_run": self.dry_run,
            "notice_days": self.notice_days,
            "mails": [m.as_dict() for m in self.mails],
            "sent": len(self.sent),
            "refused": self.refused,
        }


class _Looking(Session):
    """The session of a user a reminder may be for, used only to ask their worklist.

    Its reads are not logged one by one under that user (they did not read anything): the run
    is logged once, by the system actor, under every processing activity the worklists were
    read for (collected here).
    """

    def __init__(self, app: RegieApplication, user: User, read_under: set[str]) -> None:
        super().__init__(app, Actor(user))
        self.read_under = read_under

    def log_read(self, name: str, activity: str, action: Action, case_id: Any, subjects: Any, reason: str = "") -> None:
        self.read_under.add(activity)

    def record_outcome(self, *args: Any, **kwargs: Any) -> None:
        """A user whose worklist is refused gets no reminders; nothing of theirs is logged."""


def horizon_days(on: date, notice_days: int) -> int:
    """Calendar days from ``on`` to the end of the notice period of ``notice_days`` working days."""
    if notice_days <= 0:
        return 0
    return (due_date(on, DeadlineRule(days=notice_days, unit="working")) - on).days


def _theirs(user: User, item: dict[str, Any], municipality: str) -> bool:
    """Whether the user is the one to act on a worklist item (the worklist shows directors more)."""
    if user.role == Role.REGISSEUR:
        return item["owner"] == municipality and item.get("director") in (None, "", user.user_id)
    return True


def reminder_log(app: RegieApplication, user_id: str) -> ReminderLog:
    try:
        found = app.get(ReminderLog.create_id(app.store.store_id, user_id))
    except AggregateNotFoundError:
        return ReminderLog(store_id=app.store.store_id, user_id=user_id)
    if not isinstance(found, ReminderLog):
        raise RegieError(f"the reminder log of user {user_id} is not what was written; run `regie audit verify`")
    return found


def message_id(store_id: str, user_id: str, reminders: Iterable[Reminder]) -> str:
    """The same for the same user and reminders: a mail sent again after a crash has the same Message-ID."""
    text = "\n".join(["casusregie-reminder-v1", store_id, user_id, *sorted(r.key for r in reminders)])
    return "herinnering." + hashlib.sha256(text.encode()).hexdigest()[:32]


def plan(app: RegieApplication, on: date, notice_days: int) -> tuple[list[PlannedMail], set[str]]:
    """Who is to be reminded of what (nothing stored); and the activities whose worklists were read."""
    setup = app.setup()
    municipality = app.profile.organisation_id
    horizon = horizon_days(on, notice_days)
    read_under: set[str] = set()
    mails: list[PlannedMail] = []
    for user_id in sorted(setup.users):
        user, address = setup.user(user_id), setup.email(user_id)
        if user is None or not user.active or not address or user.role not in WORKLIST_ROLES:
            continue
        try:
            items = Reader(_Looking(app, user, read_under)).worklist(on, horizon)
        except AccessDenied:
            continue
        log = reminder_log(app, user_id)
        due: dict[str, tuple[Reminder, str]] = {}
        for item in items:
            if not _theirs(user, item, municipality):
                continue
            stage = OVERDUE if item["overdue"] else DUE_SOON
            reminder = Reminder(kind=str(item["kind"]), ref=str(item["ref"]), due_on=str(item["due_on"]), stage=stage)
            if not log.was_sent(reminder):
                due.setdefault(reminder.key, (reminder, label(item)))
        if not due:
            continue
        ordered = sorted(due.values(), key=lambda d: (d[0].stage != OVERDUE, d[0].due_on, d[1]))
        reminders = [r for r, _label in ordered]
        mails.append(
            PlannedMail(
                user_id=user_id,
                address=address,
                reminders=reminders,
                labels={r.key: text for r, text in ordered},
                log=log,
                message_id=message_id(app.store.store_id, user_id, reminders),
            )
        )
    return mails, read_under or {REGIE}


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def compose(mail: PlannedMail, public_url: str | None) -> tuple[str, str]:
    """Subject and body: kinds of task, due dates and links; nothing about a case or a person."""
    overdue = [r for r in mail.reminders if r.stage == OVERDUE]
    soon = [r for r in mail.reminders if r.stage == DUE_SOON]
    parts = []
    if overdue:
        parts.append(_plural(len(overdue), "termijn verstreken", "termijnen verstreken"))
    if soon:
        parts.append(_plural(len(soon), "termijn loopt binnenkort af", "termijnen lopen binnenkort af"))
    subject = "Herinnering casusregie: " + ", ".join(parts)

    def where(reminder: Reminder) -> str:
        if not public_url:
            return "open uw werkvoorraad: regie worklist"
        return public_url + ("/verzoeken" if reminder.kind in PRIVACY_KINDS else "/werkvoorraad")

    lines = ["Er staan taken voor u klaar in casusregie.", ""]
    for heading, group, when in (
        ("Termijn verstreken:", overdue, "termijn was"),
        ("Termijn loopt binnenkort af:", soon, "uiterlijk"),
    ):
        if not group:
            continue
        lines.append(heading)
        for reminder in group:
            lines.append(f"- {mail.labels[reminder.key]} ({when} {reminder.due_on})")
            lines.append(f"  {where(reminder)}")
        lines.append("")
    lines += [
        "Om de privacy van de betrokkenen te beschermen staat in deze e-mail",
        "niets over de casus of de personen: u ziet de taken na het aanmelden",
        "in casusregie.",
        "",
        "Dit bericht is automatisch verstuurd; beantwoorden heeft geen zin.",
    ]
    return subject, "\n".join(lines) + "\n"


def system_trace(
    app: RegieApplication,
    name: str,
    activity: str,
    started_at: datetime,
    outcome: Outcome = Outcome.OK,
    reason: str = "",
) -> AccessTrace:
    """An access record of the run, by the system actor (no person: a worklist shows none)."""
    return AccessTrace(
        span_id=new_span_id(),
        name=name,
        actor=SYSTEM_ACTOR,
        on_behalf_of=None,
        role=SYSTEM_ROLE,
        organisation=app.profile.organisation_id,
        action=str(Action.READ),
        activity=activity,
        case_id=None,
        outcome=str(outcome),
        reason=reason,
        started_at=started_at,
        ended_at=datetime.now(UTC),
    )


def _check_register(app: RegieApplication, activities: Iterable[str], name: str, started_at: datetime) -> None:
    declared = {a.id for a in app.profile.activities}
    for activity in sorted(activities):
        if activity not in declared:
            reason = (
                f"{name} reads worklists under processing activity {activity!r}, which is not in the register "
                f"(art. 30 AVG) of profile {app.profile.id}"
            )
            app.commit(system_trace(app, name, activity, started_at, Outcome.DENIED, reason))
            raise AccessDenied(f"{SYSTEM_ACTOR}: {reason}; refused")


def run(
    app: RegieApplication,
    server: MailServer | None,
    on: date,
    public_url: str | None,
    dry_run: bool = False,
) -> RunReport:
    """One run: plan, log, then send and record mail by mail (see the module's docstring).

    A dry run sends nothing, so it needs no mail server: without one it looks ahead the
    default number of working days.
    """
    if server is None and not dry_run:
        raise ValidationFailed("reminders need a mail server: a [mail] section (host, from) in the config file")
    notice_days = server.notice_days if server is not None else DEFAULT_NOTICE_DAYS
    started = datetime.now(UTC)
    app.catch_up()
    mails, read_under = plan(app, on, notice_days)
    report = RunReport(on=on, dry_run=dry_run, notice_days=notice_days, mails=mails)
    name = DRY_RUN if dry_run else RUN
    _check_register(app, read_under, name, started)
    if dry_run or server is None:
        app.commit(*(system_trace(app, name, a, started) for a in sorted(read_under)))
        return report
    logged = False
    try:
        with server.connect() as outbox:
            # Audit first: the run's record is stored before any mail leaves.
            app.commit(*(system_trace(app, name, a, started) for a in sorted(read_under)))
            logged = True
            for mail in mails:
                subject, body = compose(mail, public_url)
                try:
                    outbox.send_text(mail.address, subject, body, mail.message_id)
                except AddressRefused:
                    report.refused.append(mail.user_id)  # nothing recorded: the next run tries again
                    continue
                _record(app, mail, on)  # sent, then recorded: at-least-once (see the module's docstring)
                report.sent.append(mail.user_id)
    except MailUnavailable as exc:
        if not logged:
            reason = f"the mail server could not be used; nothing was sent ({str(exc)[:200]})"
            with contextlib.suppress(Exception):
                app.commit(*(system_trace(app, name, a, started, Outcome.ERROR, reason) for a in sorted(read_under)))
        if report.sent:
            sent = _plural(len(report.sent), "mail was", "mails were")
            tail = f"{sent} sent and recorded before that; the rest go out on the next run"
        else:
            tail = "nothing was sent or recorded as sent; the next run tries again"
        raise MailUnavailable(f"{exc}; {tail}") from None
    return report


def _record(app: RegieApplication, mail: PlannedMail, on: date) -> None:
    log = mail.log
    log.record_mail(mail.message_id, datetime.now(UTC), on, mail.reminders)
    try:
        app.commit(log)
    except Conflict:
        raise Conflict(
            f"another notify run recorded reminders for user {mail.user_id} at the same moment; its mail may have "
            "gone out twice (with the same Message-ID): run notify from one cron job only"
        ) from None
    if log.version % SNAPSHOT_EVERY == 0 and app.snapshots is not None:
        with contextlib.suppress(Exception):  # a snapshot only shortens the next load; the events are the record
            app.snapshots.put([ReminderLog.Snapshot.take(log)])

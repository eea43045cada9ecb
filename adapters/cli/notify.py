"""`regie notify run`: reminders of deadlines by e-mail, for cron (see commands/notify.py)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

import click

from casusregie.adapters.cli.common import Context, day, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import echo
from casusregie.adapters.config import Settings
from casusregie.adapters.mail import MailSettings, SmtpServer, mail_settings
from casusregie.commands import notify as reminders
from casusregie.domain.errors import RegieError, ValidationFailed
from casusregie.domain.notification import DUE_SOON, OVERDUE


def register(root: click.Group) -> None:
    root.add_command(notify)


def configured_mail(settings: Settings, *, required: bool = True) -> MailSettings | None:
    source = f"config file {settings.config_file}" if settings.config_file else "the config"
    base = settings.config_file.parent if settings.config_file else None
    mail = mail_settings(settings.mail, source, base)
    if mail is None and required:
        raise ValidationFailed(
            "no [mail] section in the config file: reminders need a mail server (host, from; see the README, "
            '"Reminders by e-mail")'
        )
    return mail


def public_url(settings: Settings) -> str | None:
    """The web application's address for links in the mail (``[web] public_url``), or None."""
    value = settings.web.get("public_url")
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValidationFailed("[web] public_url is the web application's address, such as https://regie.example.nl")
    return value.rstrip("/")


@click.group()
def notify() -> None:
    """Reminders by e-mail (herinneringen): deadlines in the worklist, to the users responsible."""


@notify.command("run")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="As of this date (default today).")
@click.option("--dry-run", is_flag=True, help="Show who would get which reminders; send and record nothing.")
@json_option
@pass_ctx
def run(ctx: Context, on: Any, dry_run: bool, as_json: bool) -> None:
    """Mail each user the deadlines that are near or passed, once per deadline and stage (run it from cron).

    One mail per user with a work e-mail address (`regie user email`), listing the kind of
    each task, its due date and a link, nothing about the case or its people. What was sent is
    recorded in the store; a second run sends nothing already sent. Needs a [mail] section in
    the config file (a --dry-run does not); no acting user (the run is recorded as the system's).
    """
    as_of = day(on) or date.today()
    settings = ctx.settings()
    mail, link = configured_mail(settings, required=not dry_run), public_url(settings)  # a dry run sends nothing
    report = reminders.run(ctx.app(), SmtpServer(mail) if mail else None, as_of, link, dry_run=dry_run)
    if as_json:
        print_json(report.as_dict())
    else:
        _print(report)
    if report.refused:
        raise RegieError(
            f"the mail server refused the address of {', '.join(report.refused)}: nothing was recorded for "
            "them; correct it with `regie user email` and the next run sends their reminders"
        )


def _print(report: reminders.RunReport) -> None:
    if not report.mails:
        echo(f"no reminders due on {report.on.isoformat()} (notice period {report.notice_days} working days)")
        return
    for mail in report.mails:
        stages = [r.stage for r in mail.reminders]
        counts = ", ".join(f"{stages.count(s)} {s}" for s in (OVERDUE, DUE_SOON) if s in stages)
        if report.dry_run:
            verb = "would be sent"
        elif mail.user_id in report.refused:
            verb = "address refused, not sent"
        else:
            verb = "sent"
        echo(f"{mail.user_id}: {counts} ({verb})")
    if report.dry_run:
        echo(f"dry run: {len(report.mails)} mail(s) would be sent; nothing was sent or recorded")
    else:
        echo(f"{len(report.sent)} reminder mail(s) sent and recorded")

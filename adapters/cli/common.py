"""Plumbing shared by every ``regie`` subcommand: the context, options and output.

Conventions: ``--help`` everywhere; read commands take ``--json`` and then print valid JSON
only; the acting user comes from ``--as`` or ``REGIE_USER``; usage errors exit 2, refusals
and validation errors exit 1 with one line on stderr (see ``casusregie.cli.main``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

import click
from rich.console import Console

from casusregie.adapters.cli.output import echo, json_text, safe_console
from casusregie.adapters.config import Settings, resolve_settings
from casusregie.adapters.store import Store, open_store
from casusregie.commands.application import RegieApplication
from casusregie.commands.base import Command, Result
from casusregie.commands.session import Session, open_session
from casusregie.domain.errors import StoreProblem, ValidationFailed
from casusregie.domain.roles import Actor


def terminal() -> Console:
    """A console for people; when output goes to a file or pipe, use a wide page, not 80 columns.

    Markup is off and control characters are escaped: what is printed includes what users
    typed (and "[gewist]"), which must never be read as styling or terminal commands.
    """
    width = None if sys.stdout.isatty() else 120
    return safe_console(width=width)


_CURRENT: list[Context] = []  # the invocation under way: its error handler asks what was stored


def current_application() -> RegieApplication | None:
    return _CURRENT[-1]._app if _CURRENT else None


class Context:
    """Lazily opened store, application and session for one CLI invocation."""

    def __init__(
        self,
        store: str | None,
        key_dir: str | None,
        config: str | None,
        as_user: str | None,
        on_behalf_of: str | None,
        request_id: str | None = None,
    ) -> None:
        _CURRENT[:] = [self]
        self.request_id = request_id or os.environ.get("REGIE_REQUEST_ID") or None
        self._args = {"store": store, "key_dir": key_dir, "config": config}
        self._as_user = as_user
        self._on_behalf_of = on_behalf_of
        self._store: Store | None = None
        self._app: RegieApplication | None = None
        self._session: Session | None = None
        self.console = terminal()

    def settings(self) -> Settings:
        return resolve_settings(**self._args)

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings())
        return self._store

    def check_named_user(self) -> None:
        """Whoever names themselves is checked as soon as a store is opened, whatever the command.

        So a deactivated user is refused (and the attempt logged) even by commands that need no
        user. A user directory that cannot be read is left for the commands that need it to
        report: `audit verify` must still run then.
        """
        if self.user_id():
            with contextlib.suppress(StoreProblem):
                self.session()

    def app(self) -> RegieApplication:
        if self._app is None:
            self._app = RegieApplication(self.store())
            self.check_named_user()
        return self._app

    def user_id(self) -> str | None:
        return self._as_user or os.environ.get("REGIE_USER") or None

    def actor(self) -> Actor:
        return self.session().actor

    def session(self) -> Session:
        """The acting user's session; a deactivated user's attempt is refused here, and logged."""
        if self._session is None:
            user_id = self.user_id()
            if not user_id:
                raise ValidationFailed("who is acting? give --as USER or set REGIE_USER")
            self._session = open_session(self.app(), user_id, self._on_behalf_of, _attempt())
        return self._session

    def run(self, command: Command) -> Result:
        return self.session().execute(command, request_id=self.request_id)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def show_alerts(*, failed: bool) -> None:
    """Print what the application noticed on the way (stderr), once the command has ended.

    After a failure only alarms are shown: the one error line says what matters, and a note
    such as "the views are behind" would only distract from it.
    """
    app = current_application()
    if app is None:
        return
    alerts, app.alerts = list(app.alerts), []
    for alert in alerts:
        if not failed or alert.startswith("ALARM"):
            echo(f"regie: {alert}", err=True)


def _attempt() -> str:
    """What is being attempted, as the command line names it (e.g. ``case show``)."""
    context = click.get_current_context(silent=True)
    return context.command_path.removeprefix("regie ") if context is not None else "regie"


pass_ctx = click.make_pass_decorator(Context)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON only (machine-readable).")(func)


def on_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--on",
        "on",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="Business date of the action (YYYY-MM-DD); default today.",
    )(func)


def day(value: Any) -> date | None:
    """click's DateTime gives a datetime; the domain wants dates."""
    return None if value is None else value.date()


def print_json(data: Any) -> None:
    click.echo(json_text(data))


def report(ctx: Context, result: Result, as_json: bool = False) -> None:
    if as_json:
        print_json({"message": result.message, **result.data})
    else:
        ctx.console.print(result.message)


def with_dates(**fields: Any) -> dict[str, Any]:
    """Drop unset options so the pydantic defaults (e.g. today) apply."""
    return {k: v for k, v in fields.items() if v is not None}


def case_command(model: type[Command]) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., None]]:
    """Turn a function that maps options to fields into a command that runs ``model``."""

    def decorate(build: Callable[..., dict[str, Any]]) -> Callable[..., None]:
        @wraps(build)
        @pass_ctx
        def run(ctx: Context, *args: Any, as_json: bool = False, **kwargs: Any) -> None:
            fields = build(*args, **kwargs)
            report(ctx, ctx.run(model(**with_dates(**fields))), as_json)

        return json_option(run)

    return decorate

"""The ``regie`` command: thin entry point over the commands and the read side.

Exit codes: 0 success; 1 refused, invalid input or a store/key problem (one clear line on
stderr); 2 usage error (unknown option, missing argument); 3 an internal error, reported
in one line (set REGIE_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback

import click
from pydantic import ValidationError

from casusregie import __version__
from casusregie.adapters.cli import (
    admin,
    audit,
    case,
    demo,
    documents,
    info,
    overleg,
    plan,
    privacy,
    requests,
    serve,
    status,
    views,
)
from casusregie.adapters.cli import letters as case_letters
from casusregie.adapters.cli import notify as reminders
from casusregie.adapters.cli import search as case_search
from casusregie.adapters.cli.common import Context, current_application, show_alerts
from casusregie.adapters.cli.output import echo, printable
from casusregie.adapters.db_errors import Trouble, explain, is_database_error, trouble
from casusregie.commands.application import write_failure
from casusregie.domain.errors import AccessDenied, RegieError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--store", metavar="PATH|DSN", help="SQLite file or postgresql:// DSN (env REGIE_STORE).")
@click.option("--key-dir", metavar="DIR", help="Folder with the stores' key folders (env REGIE_KEY_DIR).")
@click.option("--config", metavar="FILE", help="Config file (env REGIE_CONFIG; default ./regie.toml).")
@click.option("--as", "as_user", metavar="USER", help="Acting user (env REGIE_USER).")
@click.option("--on-behalf-of", metavar="USER", help="The responsible user this action is done for (NEN 7513).")
@click.option(
    "--request-id",
    metavar="ID",
    help="Makes a command that changes the store safe to run again: with the same ID it is carried out once, "
    "and a retry prints the first answer (env REGIE_REQUEST_ID; e.g. a UUID).",
)
@click.version_option(__version__, prog_name="regie")
@click.pass_context
def regie(
    ctx: click.Context,
    store: str | None,
    key_dir: str | None,
    config: str | None,
    as_user: str | None,
    on_behalf_of: str | None,
    request_id: str | None,
) -> None:
    """casusregie: case direction for multi-problem households (regie op multiprobleemhuishoudens).

    Every action is an encrypted event in a tamper-evident log, and every read of personal
    data is logged before it is shown. Start with `regie init`, or see `regie demo`.

    This command line is the operator's tool on the machine that holds the store and its keys.
    It does not authenticate anyone: --as names the acting user and the access log records
    that name as given. People at their own workplace use the HTTP API (`regie serve`), where
    the municipality's identity provider vouches for every caller.
    """
    context = Context(store, key_dir, config, as_user, on_behalf_of, request_id)
    ctx.obj = context
    ctx.call_on_close(context.close)


for module in (
    admin,
    case,
    info,
    plan,
    overleg,
    documents,
    case_letters,
    views,
    case_search,
    privacy,
    requests,
    audit,
    status,
    serve,
    demo,
    reminders,
):
    module.register(regie)


def _fail(kind: str, message: str, code: int) -> int:
    echo(f"regie: {kind}: {message}", err=True)
    return code


def _validation_line(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "__root__")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _database_line(exc: BaseException) -> str:
    """A database error outside a save (those say for themselves): what is wrong, and what was stored."""
    app = current_application()
    if app is not None and app.writing:
        return write_failure(app.store.name, exc)
    stored = (
        "what this command saved before the error stays saved"
        if app is not None and app.written
        else "nothing was stored"
    )
    return f"the store could not be read: {explain(exc)}; {stored}"


def _safe_to_run_again(exc: BaseException) -> bool:
    """A lost connection before anything was written: running the command again cannot do anything twice."""
    app = current_application()
    nothing_written = app is None or (not app.writing and not app.written)
    return nothing_written and trouble(exc) is Trouble.CONNECTION


def main(argv: list[str] | None = None) -> int:
    """Run ``regie``; returns the exit code (also used by the console script).

    A command that lost its database connection before it wrote anything is run once more
    (with new connections), as the library retries its own reads and writes.
    """
    code = _main(argv, retry=True)
    show_alerts(failed=code != 0)
    return code


def _main(argv: list[str] | None, retry: bool) -> int:
    try:
        regie.main(args=argv, prog_name="regie", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:  # click's own ending, e.g. on a closed output pipe
        return exc.code if isinstance(exc.code, int) else 1
    except click.exceptions.Abort:
        return _fail("error", "aborted", 1)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)  # click quotes the offending value: it may hold control characters
        sys.stderr.write(printable(shown.getvalue()))
        return exc.exit_code
    except AccessDenied as exc:
        return _fail("refused", str(exc), 1)
    except RegieError as exc:
        return _fail("error", str(exc), 1)
    except ValidationError as exc:
        return _fail("invalid input", _validation_line(exc), 1)
    except KeyboardInterrupt:
        return _fail("error", "interrupted", 130)
    except BrokenPipeError:
        # The reader went away (`regie log export | head`): not an error of ours, and nothing
        # more can be written to it; silence the interpreter's own flush at exit too.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a command ended by SIGPIPE
    except Exception as exc:
        if is_database_error(exc):
            if retry and _safe_to_run_again(exc):
                return _main(argv, retry=False)
            return _fail("error", _database_line(exc), 1)
        if os.environ.get("REGIE_DEBUG"):
            traceback.print_exc()
        return _fail("internal error", f"{type(exc).__name__}: {exc} (set REGIE_DEBUG=1 for details)", 3)
    return 0


def entry() -> None:
    sys.exit(main())

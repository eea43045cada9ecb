"""`regie audit status`: is the log being signed, are the views keeping up, are the key files there?

An operator's glance, needing the key folder and no user (like `audit verify`): it shows
sizes, times and user ids, no personal data of the persons in the cases. What needs
attention is listed, so a monitoring script can read ``--json`` and alert on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from casusregie.adapters.checkpoint_files import checkpoint_due, newest_signed
from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import echo
from casusregie.commands.application import CHECKPOINT
from casusregie.domain.errors import RegieError
from casusregie.projections.reader import view_runner


def register(root: click.Group) -> None:
    group = root.commands.get("audit")
    assert isinstance(group, click.Group), "the audit group is registered first"
    group.add_command(audit_status)


@click.command("status")
@json_option
@pass_ctx
def audit_status(ctx: Context, as_json: bool) -> None:
    """Signing, views and key files at a glance; lists what needs attention (no user needed)."""
    store = ctx.store()
    app = ctx.app()
    status = _status(store, app, datetime.now(UTC))
    if as_json:
        print_json(status)
        return
    for line in _lines(status):
        echo(line)


def _status(store: Any, app: Any, now: datetime) -> dict[str, Any]:
    attention: list[str] = []
    runner = view_runner(app)
    runner.refresh()
    head = runner.head()
    with store.db.transaction(commit=False) as tx:
        size = int(tx.scalar("SELECT size FROM regie_merkle_head WHERE id = 1") or 0)
        # Every command updates view rows; without autovacuum their dead versions pile up.
        autovacuum = tx.scalar("SHOW autovacuum") if tx.dialect == "postgres" else None
    if autovacuum == "off":
        attention.append("the PostgreSQL server runs without autovacuum: dead view rows pile up and reads slow down")
    try:
        signed, signed_at = newest_signed(store, fresh=True)
    except RegieError as exc:
        attention.append(f"the newest checkpoint cannot be read: {exc}")
        signed, signed_at = 0, None
    profile = app.profile
    every, minutes = profile.checkpoint_every, profile.checkpoint_minutes
    overdue = signed_at is not None and checkpoint_due(size, signed, signed_at, every, minutes, now)
    # The failure is itself a record: a checkpoint that covers the whole log came after it.
    failure = None if size == signed else _last_failure(store, signed_at if signed else None)
    if failure is not None:
        attention.append(
            f"the automatic checkpoint failed at {failure['at']} (after a command of {failure['user']}): "
            f"{failure['reason']}"
        )
    elif overdue:
        attention.append(f"a checkpoint is due: {size - signed} record(s) unsigned; run `regie audit checkpoint`")
    keys = {name: getattr(store.key_paths, name).exists() for name in ("master", "signing", "verifier")}
    attention += [
        f"the {name} key file is missing ({getattr(store.key_paths, name)})" for name, ok in keys.items() if not ok
    ]
    position = runner.position()
    if head - position:
        attention.append(f"the views are {head - position} record(s) behind the log")
    return {
        "store": store.name,
        "format": store.meta.get("format_version"),
        "log": {"records": size, "notifications": head},
        "checkpoints": {
            "newest_size": signed,
            "newest_at": None if signed_at is None or signed == 0 else signed_at.isoformat(timespec="seconds"),
            "unsigned_records": max(size - signed, 0),
            "every_records": every,
            "every_minutes": minutes,
            "overdue": bool(overdue),
            "last_failure": failure,
        },
        "views": {"position": position, "behind": max(head - position, 0)},
        "key_files": keys,
        "attention": attention,
    }


def _last_failure(store: Any, since: datetime | None) -> dict[str, str] | None:
    """The newest failed automatic checkpoint, if none succeeded after it."""
    with store.db.transaction(commit=False) as tx:
        row = tx.execute(
            "SELECT actor, reason, ended_at FROM regie_access_traces WHERE name = ? AND outcome = 'error' "
            "ORDER BY ended_at DESC LIMIT 1",
            (CHECKPOINT,),
        ).fetchone()
    if row is None:
        return None
    actor, reason, ended = (str(v) for v in row)
    at = datetime.fromisoformat(ended)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if since is not None and since > at.replace(microsecond=0):
        return None  # a checkpoint was written after it (checkpoint times are whole seconds): mended
    return {"at": at.isoformat(timespec="seconds"), "user": actor, "reason": reason}


def _lines(status: dict[str, Any]) -> list[str]:
    signing = status["checkpoints"]
    lines = [
        f"store: {status['store']} (format {status['format']})",
        f"log: {status['log']['records']} record(s)",
        f"newest checkpoint: size {signing['newest_size']}"
        + (f", signed {signing['newest_at']}" if signing["newest_at"] else " (none written yet)")
        + f"; {signing['unsigned_records']} record(s) unsigned since",
        f"automatic checkpoints: every {signing['every_records'] or '-'} record(s) / "
        f"{signing['every_minutes'] or '-'} minute(s)",
        f"views: at {status['views']['position']}, {status['views']['behind']} behind",
        "key files: "
        + ", ".join(f"{name} {'present' if ok else 'MISSING'}" for name, ok in status["key_files"].items()),
    ]
    attention = status["attention"]
    lines += [f"attention: {item}" for item in attention] if attention else ["all well"]
    return lines

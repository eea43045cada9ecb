"""`regie erase`, `regie retention`, `regie keys`, `regie trail`, `regie person`, `regie log`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json, report
from casusregie.adapters.cli.output import echo, folding_table
from casusregie.adapters.cli.paths import OutputPath
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.files import check_output_path, private_file
from casusregie.commands.erasure import ErasePerson, RunRetention
from casusregie.commands.keys import PurgeKeys, RotateMasterKey, key_status
from casusregie.commands.outcome import failure_recorded
from casusregie.domain.access import Action
from casusregie.privacy_audit.queries import AUDIT, PrivacyReader


def register(root: click.Group) -> None:
    for command in (erase, retention, keys, trail, person, log):
        root.add_command(command)


@click.command()
@click.argument("person_ref", metavar="PERSON", type=REF)
@click.option(
    "--ground",
    required=True,
    type=click.Choice(["granted-request", "retention-expired"]),
    help="Why: a granted erasure request (art. 17 AVG) or an expired retention period.",
)
@click.option("--request", default="", help="The data-subject request this grants.")
@json_option
@pass_ctx
def erase(ctx: Context, person_ref: str, ground: str, request: str, as_json: bool) -> None:
    """Erase a person by destroying their key (crypto-shredding); the history stays."""
    report(ctx, ctx.run(ErasePerson(person=person_ref, ground=ground, request=request)), as_json)


@click.group()
def retention() -> None:
    """Retention periods (bewaartermijnen)."""


@retention.command("run")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="As of this date (default today).")
@click.option("--dry-run", is_flag=True, help="Only report what would be erased.")
@json_option
@pass_ctx
def retention_run(ctx: Context, on: Any, dry_run: bool, as_json: bool) -> None:
    """Erase every case whose retention period after closure has passed, and report it."""
    fields: dict[str, Any] = {"dry_run": dry_run}
    if on is not None:
        fields["on"] = on.date()
    result = ctx.run(RunRetention(**fields))
    report(ctx, result, as_json)
    if not as_json:
        for item in result.data["erased"]:
            ctx.console.print(
                f"  {item['case']}: ended {item['ended_on']}, period expired {item['expired_on']}, "
                f"{item['persons']} person(s)"
            )


@click.group()
def keys() -> None:
    """Key management (sleutelbeheer)."""


@keys.command("rotate")
@json_option
@pass_ctx
def keys_rotate(ctx: Context, as_json: bool) -> None:
    """Replace the master key; data keys are re-wrapped, events are not rewritten."""
    report(ctx, ctx.run(RotateMasterKey()), as_json)


@keys.command("status")
@json_option
@pass_ctx
def keys_status(ctx: Context, as_json: bool) -> None:
    """The master key generations, and which erased keys copies of each one's time still open.

    Erasing destroys a data key in the store; database backups and WAL archives made before
    still hold it, wrapped by the master key of that time. They are erased when that master
    key is destroyed: rotate, then destroy the retired key file and every backup of it.
    """
    rows = [g.to_json() for g in key_status(ctx.session())]
    if as_json:
        print_json(rows)
        return
    for g in rows:
        until = "now (current)" if g["current"] else (g["retired_at"] or "?")
        ctx.console.print(f"{g['key_id']}: current from {g['active_from'] or '?'} until {until}")
        ctx.console.print(f"  file: {g['file'] or '(gone from the key folder)'}")
        held = g["erased_keys_it_still_opens_in_old_copies"]
        ctx.console.print(f"  erased keys that copies of its time still hold: {held}; {g['advice']}")


@keys.command("purge")
@pass_ctx
def keys_purge(ctx: Context) -> None:
    """Rewrite the key table so destroyed keys leave no bytes behind (runs after erasures anyway)."""
    report(ctx, ctx.run(PurgeKeys()))


@click.command()
@click.option("--person", "person_ref", metavar="PERSON", type=REF)
@click.option("--case", "case_ref", metavar="CASE", type=REF)
@click.option("--partner", metavar="ORG", help="Everything disclosed to or by this organisation.")
@json_option
@pass_ctx
def trail(ctx: Context, person_ref: str | None, case_ref: str | None, partner: str | None, as_json: bool) -> None:
    """The disclosure trail: who received which data, when, on which basis, for which purpose."""
    entries = PrivacyReader(ctx.session()).trail(person=person_ref, case=case_ref, organisation=partner)
    if as_json:
        print_json(entries)
        return
    table = folding_table(
        "date",
        "person",
        "case",
        "from",
        "to",
        "categories",
        "purpose",
        "legal basis (first part)",
        title="disclosure trail (verstrekkingenspoor); --json has the full legal bases",
    )
    for e in entries:
        table.add_row(
            e["on"],
            e["person"],
            e["case"],
            e["from"],
            e["to"],
            ", ".join(e["categories"]),
            e["purpose"],
            e["legal_basis"].split(";")[0],
        )
    ctx.console.print(table if entries else "no entries")


@click.group()
def person() -> None:
    """Persons (betrokkenen)."""


@person.command("find")
@click.option("--name")
@click.option("--born", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--bsn")
@json_option
@pass_ctx
def person_find(ctx: Context, name: str | None, born: Any, bsn: str | None, as_json: bool) -> None:
    """Find persons by name (and date of birth) or BSN, without searchable plaintext."""
    found = PrivacyReader(ctx.session()).find(name, born.date() if born else None, bsn)
    if as_json:
        print_json(found)
        return
    table = folding_table("person", "case", "case status", "erased")
    for row in found:
        table.add_row(row["person"], row["case"], row["case_status"], "yes" if row["erased"] else "")
    ctx.console.print(table if found else "no person found")


@click.group()
def log() -> None:
    """The access log (toegangslog)."""


@log.command("show")
@click.option("--case", "case_ref", metavar="CASE", type=REF)
@click.option("--user", metavar="USER")
@click.option("--limit", default=200, show_default=True)
@json_option
@pass_ctx
def log_show(ctx: Context, case_ref: str | None, user: str | None, limit: int, as_json: bool) -> None:
    """The internal access log, with user identities (auditors, privacy officers)."""
    rows = PrivacyReader(ctx.session()).access_log(case_ref, user, limit)
    if as_json:
        print_json(rows)
        return
    table = folding_table("time", "user", "role", "action", "what", "activity", "outcome", "subjects")
    for r in rows:
        table.add_row(
            r["started_at"][:19],
            r["actor"],
            r["role"],
            r["action"],
            r["name"],
            r["activity"],
            r["outcome"] + (f": {r['reason']}" if r["reason"] else ""),
            str(len(r["subjects"])),
        )
    ctx.console.print(table)


@log.command("export")
@click.option("--format", "fmt", type=click.Choice(["ldv"]), default="ldv", show_default=True)
@click.option("--out", type=OutputPath(dir_okay=False), help="Write to this file (default: standard output).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]))
@pass_ctx
def log_export(ctx: Context, fmt: str, out: str | None, since: Any) -> None:
    """Export the access log as Logboek Dataverwerkingen JSON lines (pseudonymised)."""
    target = None if out is None else check_output_path(out)  # before the export is logged: a bad path exports nothing
    session = ctx.session()
    lines = PrivacyReader(session).ldv_lines(since.date() if since else None)  # logs the export first
    with failure_recorded(session, "log.export", AUDIT, Action.EXPORT):
        if target is None:
            for line in lines:
                click.echo(line)
            return
        count = _write_lines(target, lines)
    echo(f"wrote {count} LDV records to {target}", err=True)


def _write_lines(target: Path, lines: Iterator[str]) -> int:
    count = 0
    with private_file(target) as handle:
        for line in lines:
            handle.write(line.encode("utf-8") + b"\n")
            count += 1
    return count

"""`regie worklist`, `regie caseload`, `regie report`."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from casusregie.adapters.cli.common import Context, day, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import folding_table
from casusregie.projections.reader import Reader


def register(root: click.Group) -> None:
    root.add_command(worklist)
    root.add_command(caseload)
    root.add_command(report)


@click.command()
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="As of this date (default today).")
@click.option(
    "--horizon", default=14, show_default=True, help="Also show what falls due within this many days (0-3660)."
)
@click.option("--all", "everyone", is_flag=True, help="Directors: every case, not only yours and your team's.")
@json_option
@pass_ctx
def worklist(ctx: Context, on: Any, horizon: int, everyone: bool, as_json: bool) -> None:
    """What is due and overdue (werkvoorraad): for you, your team or your organisation."""
    as_of = day(on) or date.today()
    items = Reader(ctx.session()).worklist(as_of, horizon, everyone)
    if as_json:
        print_json({"date": as_of.isoformat(), "items": items})
        return
    table = folding_table("due", "case", "what", "owner", "director", title=f"worklist {as_of.isoformat()}")
    for item in items:
        style = "bold red" if item["overdue"] else None
        flag = " (overdue)" if item["overdue"] else ""
        table.add_row(
            item["due_on"] + flag,
            item["case"],
            item["what"],  # says its kind itself (e.g. "maatregel M2 (financiën) door ..."), so no label before it
            item["owner"],
            item["director"] or "-",
            style=style,
        )
    ctx.console.print(table if items else f"nothing due by {as_of.isoformat()} (+{horizon} days)")


@click.command()
@json_option
@pass_ctx
def caseload(ctx: Context, as_json: bool) -> None:
    """Cases per director and status (caseload)."""
    rows = Reader(ctx.session()).caseload()
    if as_json:
        print_json(rows)
        return
    table = folding_table("director", "team", "open", "by status")
    for row in rows:
        table.add_row(
            row["director"],
            row["team"] or "-",
            str(row["open"]),
            ", ".join(f"{k} {v}" for k, v in sorted(row["by_status"].items())),
        )
    ctx.console.print(table)


@click.command()
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@json_option
@pass_ctx
def report(ctx: Context, start: Any, end: Any, as_json: bool) -> None:
    """Period report: referrals, decisions, closures by outcome, durations, escalations, overdue."""
    first, last = start.date(), end.date()
    if last < first:
        raise click.BadParameter("--to lies before --from")
    data = Reader(ctx.session()).report(first, last)
    if as_json:
        print_json(data)
        return
    table = folding_table("figure", "value", title=f"report {first} .. {last}")
    for key, value in data.items():
        if key == "period":
            continue
        if key == "deadlines":
            value = "; ".join(f"{k}: {v['on_time']} on time, {v['late']} late" for k, v in value.items()) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    ctx.console.print(table)

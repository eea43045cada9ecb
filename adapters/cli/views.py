"""`regie worklist`, `regie caseload`, `regie report`."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from casusregie.adapters.cli.common import Context, day, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import echo, folding_table, json_text
from casusregie.adapters.cli.paths import OutputPath
from casusregie.adapters.files import check_output_path, write_private
from casusregie.adapters.render.chart import chart_format, render_chart
from casusregie.domain.errors import ValidationFailed
from casusregie.projections.reader import Reader
from casusregie.projections.report import periods_between, report_csv


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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default=None,
    help="How to print the report (default table; --json is --format json).",
)
@click.option(
    "--out",
    type=OutputPath(dir_okay=False),
    help="Write the report (--format json or csv) to this file instead of printing it.",
)
@click.option(
    "--chart",
    type=OutputPath(dir_okay=False),
    metavar="FILE.png|FILE.svg",
    help="Also draw referrals, taken on, closed and open cases per month of the period into this file.",
)
@json_option
@pass_ctx
def report(
    ctx: Context, start: Any, end: Any, fmt: str | None, out: str | None, chart: str | None, as_json: bool
) -> None:
    """Period report: referrals, decisions, closures by outcome and judgement, durations against the
    profile's result target, escalations, deadlines met and missed, overdue. Counts only, never names."""
    first, last = start.date(), end.date()
    if last < first:
        raise click.BadParameter("--to lies before --from")
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} ask for two formats; give one")
    fmt = "json" if as_json else fmt or "table"
    if out is not None and fmt == "table":
        raise click.UsageError("--out writes --format csv or --format json")
    # every file is checked before anything is read or logged: a bad path writes nothing
    report_file = None if out is None else check_output_path(out)
    chart_file, chart_fmt = None, ""
    if chart is not None:
        chart_file = check_output_path(chart)
        try:
            chart_fmt = chart_format(chart_file.name)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        if report_file is not None and os.path.realpath(report_file) == os.path.realpath(chart_file):
            raise ValidationFailed("--out and --chart name the same file")
    periods = periods_between(first, last) if chart_file is not None else []
    reports = Reader(ctx.session()).report_series([(first, last), *periods])  # one read, logged once
    data = reports[0]
    files: list[tuple[Path, bytes]] = []
    if chart_file is not None:
        files.append((chart_file, render_chart(periods, reports[1:], chart_fmt)))
    if report_file is not None:
        text = report_csv(data) if fmt == "csv" else json_text(data) + "\n"
        files.append((report_file, text.encode("utf-8")))
    for path, body in files:
        write_private(path, body)
        echo(f"wrote the {'chart' if path == chart_file else 'report'} to {path}", err=True)
    if report_file is not None:
        return
    if fmt == "json":
        print_json(data)
    elif fmt == "csv":
        click.echo(report_csv(data), nl=False)
    else:
        ctx.console.print(report_table(data, first, last))


def _counts(value: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"


def report_table(data: dict[str, Any], first: date, last: date) -> Table:
    """The report as a two-column table (figure, value), folded rather than cut off."""
    table = folding_table("figure", "value", title=f"report {first} .. {last}")
    percents = data.get("deadlines_on_time_percent", {})
    for key, value in data.items():
        if key in ("period", "deadlines_on_time_percent"):
            continue
        if key == "deadlines":
            value = (
                "; ".join(
                    f"{k}: {v['on_time']} on time, {v['late']} late"
                    + ("" if percents.get(k) is None else f" ({percents[k]}% on time)")
                    for k, v in value.items()
                )
                or "-"
            )
        elif key == "judgements_at_closure":
            value = "; ".join(f"{judge}: {_counts(counts)}" for judge, counts in value.items())
        elif key == "result_target":
            value = (
                "no result target in this profile"
                if value is None
                else f"within {value['months']} months of the take-on: {value['closed_within']} closed within, "
                f"{value['closed_beyond']} beyond"
                + ("" if value["closed_within_percent"] is None else f" ({value['closed_within_percent']}% within)")
                + f"; {value['open_beyond_at_end']} still open beyond it at the end"
            )
        elif isinstance(value, dict):
            value = _counts(value)
        table.add_row(key.replace("_", " "), "-" if value is None else str(value))
    return table

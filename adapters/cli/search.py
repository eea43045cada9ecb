"""`regie search`: find cases by free text, address or person, within your need to know."""

from __future__ import annotations

import click

from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import folding_table
from casusregie.projections.reader import Reader
from casusregie.projections.search import DEFAULT_RESULTS, MAX_RESULTS


def register(root: click.Group) -> None:
    root.add_command(search)


@click.command()
@click.argument("text", required=False)
@click.option("--address", metavar="TEXT", help="Part of a household member's address.")
@click.option("--person", metavar="NAME", help="Part of a household member's name.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_RESULTS),
    default=DEFAULT_RESULTS,
    show_default=True,
    help="At most this many cases.",
)
@json_option
@pass_ctx
def search(ctx: Context, text: str | None, address: str | None, person: str | None, limit: int, as_json: bool) -> None:
    """Find cases by a text in what you may see of them: names, addresses, the reason, problems, the journal...

    Searches only the cases you may see (directors: yours and your team's; partners: those your
    organisation is involved in; managers: escalated cases), and in each only what the case view
    shows you. Case, accents and spacing do not matter; every text given must match (at least
    three characters each). Shows the cases and the fields that matched, never the text; the
    search is logged with the persons of the cases found.
    """
    found = Reader(ctx.session()).search(text, address, person, limit)
    if as_json:
        print_json(found)
        return
    if not found["cases"]:
        ctx.console.print("no case found")
        return
    table = folding_table("case", "status", "director", "referred", "matched in")
    for row in found["cases"]:
        table.add_row(row["case"], row["status"], row["director"] or "-", row["referred_on"], ", ".join(row["matched"]))
    ctx.console.print(table)
    if found["more"]:
        ctx.console.print(f"more cases match; showing the first {limit} (narrow the search, or --limit)")

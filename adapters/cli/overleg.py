"""`regie overleg …`: the casusoverleg across cases (seed 003, every six weeks per neighbourhood)."""

from __future__ import annotations

from typing import Any

import click

from casusregie.adapters.cli.common import (
    Context,
    case_command,
    day,
    json_option,
    on_option,
    pass_ctx,
    print_json,
    report,
)
from casusregie.adapters.cli.refs import REF
from casusregie.commands import conference as commands
from casusregie.projections.conference_view import conference_view

DATE = click.DateTime(["%Y-%m-%d"])


def register(root: click.Group) -> None:
    root.add_command(overleg)


@click.group()
def overleg() -> None:
    """The casusoverleg across cases (wijkoverleg): plan, agenda, per-case minutes, held."""


@overleg.command("plan")
@click.option("--neighbourhood", required=True, help="The neighbourhood (wijk) or team it serves.")
@click.option("--date", "when", required=True, type=DATE, help="When it meets (YYYY-MM-DD).")
@click.option("--chair", default="self", show_default=True, metavar="USER", help="The chairing director or manager.")
@click.option("--with", "participants", multiple=True, required=True, metavar="PARTNER", help="At the table (repeat).")
@on_option
@json_option
@pass_ctx
def overleg_plan(
    ctx: Context, neighbourhood: str, when: Any, chair: str, participants: tuple[str, ...], on: Any, as_json: bool
) -> None:
    """Plan a casusoverleg: where, when, who chairs, which partners sit at the table."""
    fields: dict[str, Any] = {
        "neighbourhood": neighbourhood,
        "date": day(when),
        "chair": chair,
        "participants": list(participants),
    }
    if on is not None:
        fields["on"] = day(on)
    report(ctx, ctx.run(commands.PlanConference(**fields)), as_json)


@overleg.command("agenda")
@click.argument("overleg_ref", metavar="OVERLEG")
@click.argument("case_ref", metavar="CASE", type=REF)
@on_option
@case_command(commands.PutOnAgenda)
def overleg_agenda(overleg_ref: str, case_ref: str, on: Any) -> dict[str, Any]:
    """Put a case on the agenda; its involved partners at the table take part in it."""
    return {"overleg": overleg_ref, "case": case_ref, "on": day(on)}


@overleg.command("discuss")
@click.argument("overleg_ref", metavar="OVERLEG")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--minutes", required=True, help="What was said and agreed about this case (sealed with its key).")
@click.option("--attended", multiple=True, metavar="PARTNER", help="Partners at the table for it (default: all its).")
@click.option("--person", "persons", multiple=True, metavar="PERSON", type=REF, help="The client or network present.")
@on_option
@case_command(commands.DiscussCase)
def overleg_discuss(
    overleg_ref: str, case_ref: str, minutes: str, attended: tuple[str, ...], persons: tuple[str, ...], on: Any
) -> dict[str, Any]:
    """Record one case's minutes of the casusoverleg (on the case: only its readers see them)."""
    return {
        "overleg": overleg_ref,
        "case": case_ref,
        "minutes": minutes,
        "attended": list(attended),
        "persons": list(persons),
        "on": day(on),
    }


@overleg.command("held")
@click.argument("overleg_ref", metavar="OVERLEG")
@click.option("--attended", multiple=True, required=True, metavar="PARTNER", help="Who sat at the table (repeat).")
@on_option
@json_option
@pass_ctx
def overleg_held(ctx: Context, overleg_ref: str, attended: tuple[str, ...], on: Any, as_json: bool) -> None:
    """Close the casusoverleg: who sat at the table (the chair or a manager)."""
    fields: dict[str, Any] = {"overleg": overleg_ref, "attended": list(attended)}
    if on is not None:
        fields["on"] = day(on)
    report(ctx, ctx.run(commands.CloseConference(**fields)), as_json)


@overleg.command("show")
@click.argument("overleg_ref", metavar="OVERLEG")
@json_option
@pass_ctx
def overleg_show(ctx: Context, overleg_ref: str, as_json: bool) -> None:
    """The table and the agenda as you may see them (each case's minutes are on the case)."""
    doc = conference_view(ctx.session(), overleg_ref)
    if as_json:
        print_json(doc)
        return
    held = f", held {doc['held_on']} with {', '.join(doc['attended'])}" if doc["held_on"] else ""
    ctx.console.print(
        f"casusoverleg {doc['overleg']} ({doc['neighbourhood']}) {doc['scheduled_for']}, chair {doc['chair']}; "
        f"at the table: {', '.join(doc['participants'])}{held}"
    )
    for item in doc["agenda"]:
        ctx.console.print(f"  {item['case']} ({item['meeting']}): {'discussed' if item['discussed'] else 'to discuss'}")
    if doc["other_cases"]:
        ctx.console.print(f"  and {doc['other_cases']} case(s) you are not involved in")

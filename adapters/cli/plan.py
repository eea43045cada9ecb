"""`regie plan …`: goals, measures, progress, revisions, agreement, evaluations."""

from __future__ import annotations

from typing import Any

import click

from casusregie.adapters.cli.common import case_command, day, on_option
from casusregie.adapters.cli.refs import REF
from casusregie.commands import plan as commands


def register(root: click.Group) -> None:
    root.add_command(plan)


@click.group()
def plan() -> None:
    """The plan (plan van aanpak) for the whole household."""


@plan.command("goal")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--domain", "life_domain", required=True, help="Life domain (leefgebied).")
@click.option("--text", "description", required=True)
@on_option
@case_command(commands.SetGoal)
def plan_goal(case_ref: str, life_domain: str, description: str, on: Any) -> dict[str, Any]:
    """Set a goal on a life domain."""
    return {"case": case_ref, "life_domain": life_domain, "description": description, "on": day(on)}


@plan.command("measure")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--domain", "life_domain", required=True)
@click.option("--owner", required=True, metavar="ORG", help="Organisation that carries it out.")
@click.option("--text", "description", required=True)
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--goal", help="Goal it serves (e.g. G1).")
@click.option("--about", "subject", metavar="PERSON", type=REF, help="Person ref, if it concerns one person.")
@click.option(
    "--kind", type=click.Choice(["zorg", "bestuursrechtelijk", "strafrechtelijk"]), default="zorg", show_default=True
)
@on_option
@case_command(commands.AgreeMeasure)
def plan_measure(
    case_ref: str,
    life_domain: str,
    owner: str,
    description: str,
    due: Any,
    goal: str | None,
    subject: str | None,
    kind: str,
    on: Any,
) -> dict[str, Any]:
    """Agree a measure (maatregel) with its owner and due date."""
    return {
        "case": case_ref,
        "life_domain": life_domain,
        "owner": owner,
        "description": description,
        "due": day(due),
        "goal": goal,
        "subject": subject,
        "kind": kind,
        "on": day(on),
    }


@plan.command("progress")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("measure_id", metavar="MEASURE")
@click.option("--status", required=True, type=click.Choice(["started", "done", "failed", "cancelled"]))
@click.option("--note")
@on_option
@case_command(commands.ReportProgress)
def plan_progress(case_ref: str, measure_id: str, status: str, note: str | None, on: Any) -> dict[str, Any]:
    """Report progress on a measure (its owner or the director)."""
    return {"case": case_ref, "measure": measure_id, "status": status, "note": note, "on": day(on)}


@plan.command("reschedule")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("measure_id", metavar="MEASURE")
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--reason", required=True)
@on_option
@case_command(commands.RescheduleMeasure)
def plan_reschedule(case_ref: str, measure_id: str, due: Any, reason: str, on: Any) -> dict[str, Any]:
    """Move a measure's due date."""
    return {"case": case_ref, "measure": measure_id, "due": day(due), "reason": reason, "on": day(on)}


@plan.command("revise")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--reason", required=True)
@on_option
@case_command(commands.RevisePlan)
def plan_revise(case_ref: str, reason: str, on: Any) -> dict[str, Any]:
    """Start a new plan revision (history is kept)."""
    return {"case": case_ref, "reason": reason, "on": day(on)}


@plan.command("agree")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--signed", is_flag=True, help="The residents signed the agreements.")
@on_option
@case_command(commands.RecordAgreement)
def plan_agree(case_ref: str, signed: bool, on: Any) -> dict[str, Any]:
    """Record the residents' agreement (or signature) to the plan."""
    return {"case": case_ref, "signed": signed, "on": day(on)}


@plan.command("evaluate")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--summary", required=True)
@on_option
@case_command(commands.Evaluate)
def plan_evaluate(case_ref: str, summary: str, on: Any) -> dict[str, Any]:
    """Record an evaluation of the plan."""
    return {"case": case_ref, "summary": summary, "on": day(on)}

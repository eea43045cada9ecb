"""`regie info …`: the information round."""

from __future__ import annotations

from typing import Any

import click

from casusregie.adapters.cli.common import case_command, day, on_option
from casusregie.adapters.cli.refs import REF
from casusregie.commands import information


def register(root: click.Group) -> None:
    root.add_command(info)


def parse_item(spec: str) -> dict[str, Any]:
    """``CATEGORY=TEXT`` about the household, or ``CATEGORY@PERSON=TEXT`` about one person."""
    head, sep, text = spec.partition("=")
    if not sep or not head.strip() or not text.strip():
        raise click.BadParameter(f"{spec!r}: expected CATEGORY=TEXT or CATEGORY@PERSON=TEXT", param_hint="--item")
    category, _, person = head.partition("@")
    return {"category": category.strip(), "subject": person.strip() or None, "content": text.strip()}


@click.group()
def info() -> None:
    """The information round (informatieronde): requests, disclosures, declines."""


@info.command("request")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--partner", required=True)
@click.option("--purpose", required=True, help="Why the information is needed (doel).")
@click.option("--basis", "legal_basis", required=True, help="Legal basis of the request (grondslag).")
@click.option("--category", "categories", multiple=True, required=True, help="Data category asked for (repeat).")
@click.option(
    "--about", "subjects", multiple=True, metavar="PERSON", type=REF, help="Person ref; default the household."
)
@on_option
@case_command(information.RequestInformation)
def info_request(
    case_ref: str,
    partner: str,
    purpose: str,
    legal_basis: str,
    categories: tuple[str, ...],
    subjects: tuple[str, ...],
    on: Any,
) -> dict[str, Any]:
    """Ask a partner for information, with purpose, legal basis and categories."""
    return {
        "case": case_ref,
        "partner": partner,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "categories": list(categories),
        "subjects": list(subjects),
        "on": day(on),
    }


@info.command("disclose")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("request_id", metavar="REQUEST", type=REF)
@click.option(
    "--item",
    "items",
    multiple=True,
    required=True,
    metavar="CATEGORY[@PERSON]=TEXT",
    help="One disclosed item (repeat).",
)
@click.option("--basis", "partner_legal_basis", default="", help="Your organisation's legal basis for disclosing.")
@click.option("--om-consent", help="Reference of the public prosecutor's consent (running investigation).")
@on_option
@case_command(information.DiscloseInformation)
def info_disclose(
    case_ref: str, request_id: str, items: tuple[str, ...], partner_legal_basis: str, om_consent: str | None, on: Any
) -> dict[str, Any]:
    """Answer a request addressed to your organisation by disclosing (verstrekken)."""
    return {
        "case": case_ref,
        "request": request_id,
        "items": [parse_item(i) for i in items],
        "partner_legal_basis": partner_legal_basis,
        "om_consent": om_consent,
        "on": day(on),
    }


@info.command("decline")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("request_id", metavar="REQUEST", type=REF)
@click.option("--reason", required=True)
@on_option
@case_command(information.DeclineRequest)
def info_decline(case_ref: str, request_id: str, reason: str, on: Any) -> dict[str, Any]:
    """Decline a request addressed to your organisation, with the reason."""
    return {"case": case_ref, "request": request_id, "reason": reason, "on": day(on)}

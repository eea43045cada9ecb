"""`regie request …`: requests of data subjects (inzage and the other rights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json, report
from casusregie.adapters.cli.output import folding_table
from casusregie.adapters.cli.paths import OutputPath
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.files import check_output_folder, private_folder, write_private
from casusregie.adapters.render.letter_markdown import render_markdown
from casusregie.adapters.render.letter_pdf import render_pdf
from casusregie.commands import subject_requests as commands
from casusregie.commands.outcome import failure_reason, failure_recorded
from casusregie.domain.access import Action
from casusregie.domain.errors import RegieError, ValidationFailed
from casusregie.domain.subject_request import RequestKind
from casusregie.privacy_audit.decision_document import AccessDecision
from casusregie.privacy_audit.request_views import decision_to_print, request_file, request_items, request_list


def register(root: click.Group) -> None:
    root.add_command(request)


def _on(value: Any) -> dict[str, Any]:
    return {} if value is None else {"on": value.date()}


DATE = click.DateTime(["%Y-%m-%d"])
RIGHTS = "rechten-betrokkenen"


def write_letter(decision: AccessDecision, folder: Path) -> list[Path]:
    """The decision as PDF (the letter), Markdown and JSON (the machine-readable copy)."""
    folder = private_folder(folder)
    base = folder / f"besluit-{decision.reference}"
    return [
        write_private(base.with_suffix(".pdf"), render_pdf(decision)),
        write_private(base.with_suffix(".md"), render_markdown(decision)),
        write_private(base.with_suffix(".json"), decision.to_json()),
    ]


@click.group()
def request() -> None:
    """Requests of data subjects: access (inzage), rectification, erasure, restriction, objection."""


@request.command("register")
@click.option("--kind", required=True, type=click.Choice([k.value for k in RequestKind]))
@click.option("--person", metavar="PERSON", type=REF, help="The person, if you already know their ref.")
@click.option("--name", "match_name", help="Match the person by name (and --born) ...")
@click.option("--born", "match_born", type=DATE)
@click.option("--bsn", "match_bsn", help="... or by BSN.")
@click.option("--requester-name", required=True, help="Name as given by the requester.")
@click.option("--requester-address", default="", help="Postal address for the decision letter.")
@click.option("--received", required=True, type=DATE, help="Date of receipt (the deadline runs from it).")
@click.option("--channel", type=click.Choice(["brief", "e-mail", "balie", "digitaal", "telefoon"]), default="brief")
@click.option("--identity-check", required=True, help="How the requester's identity was verified.")
@click.option("--scope", default="alle gegevens")
@json_option
@pass_ctx
def request_register(
    ctx: Context,
    kind: str,
    person: str | None,
    match_name: str | None,
    match_born: Any,
    match_bsn: str | None,
    requester_name: str,
    requester_address: str,
    received: Any,
    channel: str,
    identity_check: str,
    scope: str,
    as_json: bool,
) -> None:
    """Register a request and match it to a person in the store (or record: not found)."""
    report(
        ctx,
        ctx.run(
            commands.RegisterRequest(
                kind=RequestKind(kind),
                person=person,
                match_name=match_name,
                match_born=match_born.date() if match_born else None,
                match_bsn=match_bsn,
                requester_name=requester_name,
                requester_address=requester_address,
                received_on=received.date(),
                channel=channel,
                identity_check=identity_check,
                scope=scope,
            )
        ),
        as_json,
    )


@request.command("list")
@json_option
@pass_ctx
def request_list_cmd(ctx: Context, as_json: bool) -> None:
    """All requests with their deadlines."""
    rows = request_list(ctx.session())
    if as_json:
        print_json(rows)
        return
    table = folding_table("request", "kind", "received", "due", "status", "outcome")
    for r in rows:
        table.add_row(
            r["request"],
            r["kind"],
            r["received_on"],
            r["due_on"] + (" (ext.)" if r["extended"] else ""),
            r["status"],
            r["outcome"] or "-",
        )
    ctx.console.print(table)


@request.command("items")
@click.argument("reference", metavar="REQUEST", type=REF)
@json_option
@pass_ctx
def request_items_cmd(ctx: Context, reference: str, as_json: bool) -> None:
    """The items of the access answer, with the ids you can withhold or release.

    Household texts (about the whole household, so often about others too) await your review
    and are left out of the answer until you release them (art. 15 lid 4 AVG).
    """
    items = request_items(ctx.session(), reference)
    if as_json:
        print_json(items)
        return
    table = folding_table("item", "section", "summary", "withheld / review")
    for i in items:
        table.add_row(i["item"], i["section"], i["summary"], i["withheld"] or "")
    ctx.console.print(table)


@request.command("withhold")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.argument("item")
@click.option(
    "--ground",
    required=True,
    help="UAVG art. 41(1) letter a-j (e.g. i); for an item processed before 25 May 2018 Wbp art. 43: wbp:a-e.",
)
@click.option("--motivation", required=True, help="Why withholding is necessary and proportionate.")
@click.option("--partly", is_flag=True, help="Give the item but withhold its content.")
@click.option("--what", default="", help="What the person is told was withheld (never its content).")
@click.option("--silent", is_flag=True, help="Do not tell the person (when telling would defeat the ground).")
@click.option("--silent-reason", default="", help="Why telling would defeat the ground (required with --silent).")
@pass_ctx
def request_withhold(
    ctx: Context,
    reference: str,
    item: str,
    ground: str,
    motivation: str,
    partly: bool,
    what: str,
    silent: bool,
    silent_reason: str,
) -> None:
    """Withhold one item of an access answer, wholly or partly, with its ground (weigering)."""
    report(
        ctx,
        ctx.run(
            commands.WithholdItem(
                request=reference,
                item=item,
                ground=ground,
                motivation=motivation,
                partly=partly,
                what=what,
                tell_person=not silent,
                not_telling_reason=silent_reason,
            )
        ),
    )


@request.command("release")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.argument("item")
@click.option("--reason", required=True)
@pass_ctx
def request_release(ctx: Context, reference: str, item: str, reason: str) -> None:
    """Give an item after all: a withheld one, or a household text that awaits review (art. 15 lid 4 AVG)."""
    report(ctx, ctx.run(commands.ReleaseItem(request=reference, item=item, reason=reason)))


@request.command("extend")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--months", type=click.IntRange(1, 2), default=2, show_default=True)
@click.option("--motivation", required=True)
@click.option("--notice-sent", required=True, type=DATE, help="When the person was told of the extension.")
@click.option("--on", type=DATE)
@pass_ctx
def request_extend(ctx: Context, reference: str, months: int, motivation: str, notice_sent: Any, on: Any) -> None:
    """Extend the deadline once, before it passes (artikel 12 lid 3 AVG)."""
    report(
        ctx,
        ctx.run(
            commands.ExtendRequest(
                request=reference, months=months, motivation=motivation, notice_sent_on=notice_sent.date(), **_on(on)
            )
        ),
    )


@request.command("decide")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--signatory", required=True, help="Name under the letter.")
@click.option("--title", "signatory_title", default="privacy officer", show_default=True)
@click.option(
    "--out",
    type=OutputPath(file_okay=False),
    default="besluiten",
    show_default=True,
    help="Folder for the letter (PDF), its Markdown and the JSON copy.",
)
@click.option("--on", type=DATE)
@json_option
@pass_ctx
def request_decide(
    ctx: Context, reference: str, signatory: str, signatory_title: str, out: str, on: Any, as_json: bool
) -> None:
    """Issue the decision on an access request (besluit) and write the letter."""
    folder = check_output_folder(out)  # before the decision is issued: a bad folder issues nothing
    command = commands.IssueAccessDecision(
        request=reference, signatory=signatory, signatory_title=signatory_title, **_on(on)
    )
    result = ctx.run(command)
    decision = AccessDecision.model_validate(result.data["decision"])
    # The decision is issued (and logged) now; a letter that cannot be written is told, and logged, as that.
    issued = f"the decision on {decision.reference} was issued, but its letter was not written: "
    try:
        with failure_recorded(ctx.session(), command.name, command.activity, command.action, prefix=issued):
            paths = write_letter(decision, folder)
    except (RegieError, OSError) as exc:
        raise ValidationFailed(
            f"{issued}{failure_reason(exc)}; write it with `regie request letter {decision.reference} --out DIR`"
        ) from None
    if as_json:
        print_json({"message": result.message, "files": [str(p) for p in paths]})
        return
    ctx.console.print(result.message)
    for path in paths:
        ctx.console.print(f"  wrote {path}")


@request.command("letter")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--out", type=OutputPath(file_okay=False), default="besluiten", show_default=True)
@pass_ctx
def request_letter(ctx: Context, reference: str, out: str) -> None:
    """Write the issued decision again, exactly as it was issued."""
    folder = check_output_folder(out)  # before anything is read or logged: a bad folder prints nothing
    session = ctx.session()
    decision, subjects = decision_to_print(session, reference)
    with failure_recorded(session, "request.letter", RIGHTS, Action.PRINT, None, subjects):
        paths = write_letter(decision, folder)
    for path in paths:
        ctx.console.print(f"wrote {path}")


@request.command("rectify")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--field", required=True, type=click.Choice(["name", "birth_date", "bsn", "address"]))
@click.option("--value", required=True)
@click.option("--on", type=DATE)
@json_option
@pass_ctx
def request_rectify(ctx: Context, reference: str, field: str, value: str, on: Any, as_json: bool) -> None:
    """Grant a rectification: the corrected value replaces the old one; history keeps both."""
    report(ctx, ctx.run(commands.DecideRectification(request=reference, field=field, value=value, **_on(on))), as_json)


@request.command("restrict")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--lift", is_flag=True, help="Lift the restriction.")
@click.option("--on", type=DATE)
@pass_ctx
def request_restrict(ctx: Context, reference: str, lift: bool, on: Any) -> None:
    """Restrict processing of the person's data (artikel 18 AVG), or lift it."""
    report(ctx, ctx.run(commands.DecideRestriction(request=reference, lift=lift, **_on(on))))


@request.command("object")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--upheld/--rejected", required=True)
@click.option("--motivation", required=True)
@click.option("--on", type=DATE)
@pass_ctx
def request_object(ctx: Context, reference: str, upheld: bool, motivation: str, on: Any) -> None:
    """Decide an objection to the processing (artikel 21 AVG)."""
    report(ctx, ctx.run(commands.DecideObjection(request=reference, upheld=upheld, motivation=motivation, **_on(on))))


@request.command("erase")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.option("--grant/--refuse", required=True)
@click.option("--ground", default="", help="Refusal ground, e.g. 'art. 17 lid 3 sub b AVG'.")
@click.option("--motivation", default="")
@click.option("--on", type=DATE)
@pass_ctx
def request_erase(ctx: Context, reference: str, grant: bool, ground: str, motivation: str, on: Any) -> None:
    """Grant an erasure request (crypto-shredding) or refuse it with its ground."""
    report(
        ctx,
        ctx.run(
            commands.DecideErasure(request=reference, grant=grant, ground=ground, motivation=motivation, **_on(on))
        ),
    )


@request.command("informed")
@click.argument("reference", metavar="REQUEST", type=REF)
@click.argument("organisation")
@click.option("--on", type=DATE)
@pass_ctx
def request_informed(ctx: Context, reference: str, organisation: str, on: Any) -> None:
    """Record that a recipient was informed of the change (artikel 19 AVG)."""
    report(ctx, ctx.run(commands.RecordRecipientInformed(request=reference, organisation=organisation, **_on(on))))


@request.command("show")
@click.argument("reference", metavar="REQUEST", type=REF)
@json_option
@pass_ctx
def request_show(ctx: Context, reference: str, as_json: bool) -> None:
    """The request's file: steps, every withholding with ground and motivation, the decision."""
    data = request_file(ctx.session(), reference)
    if as_json:
        print_json(data)
        return
    ctx.console.print(
        f"{data['request']} {data['kind']}: received {data['received_on']} "
        f"({data['channel']}; identity: {data['identity_check']}); due {data['due_on']}"
    )
    if data["extension"]:
        ctx.console.print(f"extended by {data['extension']['months']} month(s): {data['extension']['motivation']}")
    for w in data["withheld"]:
        told = "told to the person" if w["told_to_person"] else f"NOT told: {w['why_not_told']}"
        ctx.console.print(
            f"withheld {w['item']} ({'partly' if w['partly'] else 'wholly'}) on {w['ground']}: "
            f"{w['motivation']} [{told}]"
        )
        ctx.console.print(f"  content: {w['content']}")
    if data["decision"]:
        d = data["decision"]
        ctx.console.print(f"decided {d['on']} by {d['by']}: {d['outcome']}" + (" (late)" if d["late"] else ""))
    for t in data["tasks"]:
        ctx.console.print(f"art. 19: inform {t['organisation']}: {'done ' + t['done_on'] if t['done_on'] else 'open'}")

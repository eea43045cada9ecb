"""`regie letter KIND CASE --out FILE`: a letter for a case, as a PDF in the decision letter's layout.

The letter is made from the case as the acting user may see it (`case show`): that read is
checked and logged as every read is, and the letter's printing is logged too (NEN 7513: print),
for the persons whose data it holds. Only the case's director and their team write letters; a
partner, manager or anyone else is refused, and the refusal logged. A letter for partners (the
advice to the referrer, an invitation) names the household to them, so writing it is recorded in
the case as a disclosure and shows in the disclosure trail. That the residents were informed is
`regie case letter`, once their letter is sent.
"""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import echo
from casusregie.adapters.cli.paths import OutputPath
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.files import check_output_path, write_private
from casusregie.adapters.render.case_letters import KINDS, kinds_help
from casusregie.adapters.render.letter_service import NAME, write_case_letter
from casusregie.commands.letters import LetterRequest
from casusregie.commands.outcome import failure_recorded
from casusregie.domain.access import Action
from casusregie.projections.reader import REGIE

#: The command-line spelling of the request's fields, where it is not --FIELD.
_OPTION = {"visit_date": "--date", "case": "CASE", "kind": "KIND"}


def _option(field: str) -> str:
    return _OPTION.get(field, f"--{field}")


def register(root: click.Group) -> None:
    root.add_command(letter)


def _request(**given: Any) -> LetterRequest:
    """The shared request model; what it refuses is a usage error here (exit 2), named as the option."""
    try:
        return LetterRequest(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            field = next((str(p) for p in error.get("loc", ())), "")
            if field:
                lines.append(f"{_option(field)}: {message}")
            else:  # a rule across fields names its field first ("place is for ...")
                first, _, rest = message.partition(" ")
                lines.append(f"{_option(first)} {rest}" if first in LetterRequest.model_fields else message)
        raise click.UsageError("; ".join(lines)) from None


_HELP = "\n\n".join(
    [
        "Write a letter for a case (brief): a PDF in the layout of the inzage decision letter, or Markdown.",
        "KIND is one of:\n\n\b\n" + "\n".join(f"  {line}" for line in kinds_help()),
        "The wording is Dutch and the same everywhere; a profile changes its own parts under [letters] "
        "(department, contact, visitor, texts). The letter holds only what you may see of the case and never "
        "a BSN. Only the case's director and their team write letters. A letter for partners is recorded in the "
        "case as a disclosure to them (it names the household); record the residents' letter with "
        "`regie case letter CASE` once it is sent.",
    ]
)


@click.command("letter", help=_HELP)
@click.argument("kind", type=click.Choice(KINDS), metavar="KIND")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--out", required=True, type=OutputPath(dir_okay=False), help="The file to write (0600; replaced).")
@click.option(
    "--to",
    "to",
    type=REF,
    metavar="PERSON|PARTNER",
    help="Addressee: a household member (person ref; default the main resident), or for an invitation one "
    "participating partner (default all participants).",
)
@click.option("--signatory", help="The name under the letter (default the case director's user id).")
@click.option("--markdown", is_flag=True, help="Write the same wording as Markdown instead of a PDF.")
@click.option("--meeting", type=REF, help="uitnodiging-mdo: the meeting (default the next one not yet held).")
@click.option("--place", help="uitnodiging-mdo: where the meeting is held.")
@click.option(
    "--date",
    "visit",
    type=click.DateTime(["%Y-%m-%d"]),
    help="aankondiging-achter-de-voordeur: the day of the visit (default: the visitor makes an appointment).",
)
@click.option("--time", "at", metavar="HH:MM", help="The time of the meeting or the visit.")
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), help="The letter's date (YYYY-MM-DD); default today.")
@json_option
@pass_ctx
def letter(
    ctx: Context,
    kind: str,
    case_ref: str,
    out: str,
    to: str | None,
    signatory: str | None,
    markdown: bool,
    meeting: str | None,
    place: str | None,
    visit: Any,
    at: str | None,
    on: Any,
    as_json: bool,
) -> None:
    asked = _request(
        kind=kind,
        case=case_ref,
        on=on.date() if on is not None else None,
        to=to,
        signatory=signatory,
        meeting=meeting,
        visit_date=visit.date() if visit is not None else None,
        time=at,
        place=place,
        markdown=markdown,
    )
    path = check_output_path(out)  # a bad path writes nothing and reads nothing
    session = ctx.session()
    written = write_case_letter(session, asked)
    composed, view = written.composed, written.view
    with failure_recorded(session, NAME, REGIE, Action.PRINT, written.case_id, written.subjects):
        write_private(path, written.body)
    notes = list(composed.notes)
    if signatory is None:
        notes.append(f"signed with the director's user id {view.get('director')}: give --signatory NAME for their name")
    if kind == "bewonersbrief" and not view.get("letter"):
        notes.append(f"once it is sent, record it: regie case letter {view['case']}")
    message = f"wrote the {kind} for case {view['case']} to {path}"
    if as_json:
        print_json(
            {
                "message": message,
                "kind": kind,
                "case": view["case"],
                "file": str(path),
                "format": "markdown" if markdown else "pdf",
                "notes": notes,
            }
        )
        return
    ctx.console.print(message)
    for note in notes:
        echo(f"regie: note: {note}", err=True)

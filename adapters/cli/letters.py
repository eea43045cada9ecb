"""`regie letter KIND CASE --out FILE`: a letter for a case, as a PDF in the decision letter's layout.

The letter is made from the case as the acting user may see it (`case show`): that read is
checked and logged as every read is, and the letter's printing is logged too (NEN 7513: print),
for the persons whose data it holds. Only the case's director and their team write letters; a
partner, manager or anyone else is refused, and the refusal logged. Writing the letter records
nothing else: that the residents were informed is `regie case letter`, once it is sent.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import click

from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import echo
from casusregie.adapters.cli.paths import OutputPath
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.files import check_output_path, write_private
from casusregie.adapters.render.case_letters import KINDS, LetterOptions, kinds_help
from casusregie.adapters.render.letter_service import NAME, write_case_letter
from casusregie.commands.outcome import failure_recorded
from casusregie.domain.access import Action
from casusregie.domain.text import unsafe_character
from casusregie.projections.reader import REGIE

_TIME = re.compile(r"^([01]\d|2[0-3])[:.]([0-5]\d)$")
_MAX_TEXT = 200

#: Options that only some kinds use: option -> kinds.
_ONLY_FOR = {
    "--meeting": ("uitnodiging-mdo",),
    "--place": ("uitnodiging-mdo",),
    "--date": ("aankondiging-achter-de-voordeur",),
    "--time": ("uitnodiging-mdo", "aankondiging-achter-de-voordeur"),
}


def register(root: click.Group) -> None:
    root.add_command(letter)


def _text(value: str | None, option: str) -> str | None:
    """A line of text the user typed for the letter: printable, one line, not too long."""
    if value is None:
        return None
    found = unsafe_character(value, multiline=False)
    if found is not None:
        raise click.BadParameter(f"holds {found}", param_hint=option)
    if not value.strip():
        raise click.BadParameter("is empty", param_hint=option)
    if len(value) > _MAX_TEXT:
        raise click.BadParameter(f"is longer than {_MAX_TEXT} characters", param_hint=option)
    return value.strip()


def _time(value: str | None) -> str | None:
    if value is None:
        return None
    match = _TIME.match(value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a time HH:MM", param_hint="--time")
    return f"{match[1]}.{match[2]} uur"


_HELP = "\n\n".join(
    [
        "Write a letter for a case (brief): a PDF in the layout of the inzage decision letter, or Markdown.",
        "KIND is one of:\n\n\b\n" + "\n".join(f"  {line}" for line in kinds_help()),
        "The wording is Dutch and the same everywhere; a profile changes its own parts under [letters] "
        "(department, contact, visitor, texts). The letter holds only what you may see of the case and never "
        "a BSN. Only the case's director and their team write letters. Writing one records nothing: record "
        "the residents' letter with `regie case letter CASE` once it is sent.",
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
    given = {"--meeting": meeting, "--place": place, "--date": visit, "--time": at}
    for option, kinds in _ONLY_FOR.items():
        if given[option] is not None and kind not in kinds:
            raise click.UsageError(f"{option} is for {' and '.join(kinds)}, not for {kind}")
    options = LetterOptions(
        on=on.date() if on is not None else date.today(),
        to=to.strip() if to else None,
        signatory=_text(signatory, "--signatory"),
        meeting=meeting,
        visit_date=visit.date() if visit is not None else None,
        time=_time(at),
        place=_text(place, "--place"),
    )
    path = check_output_path(out)  # a bad path writes nothing and reads nothing
    session = ctx.session()
    written = write_case_letter(session, kind, case_ref, options, markdown=markdown)
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

"""`regie demo`: a realistic Utrecht case (seed 003), run through the CLI's own commands.

A housing corporation refers a household with nuisance and rent arrears; the case director
checks the criteria, gets the corporation's consent, asks the police for information
within the covenant's categories and the care provider (which declines), takes the case
on and informs the residents, holds the MDO, agrees a plan on several life domains, one
measure runs late, the case is escalated, and finally closed with aftercare. Business
dates lie in the past, relative to today, so deadlines and overdue items are real.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.rule import Rule

from casusregie.adapters.cli.common import terminal
from casusregie.adapters.cli.output import echo
from casusregie.adapters.cli.paths import OutputPath
from casusregie.adapters.files import check_output_folder
from casusregie.domain.errors import ValidationFailed


def register(root: click.Group) -> None:
    root.add_command(demo)


class Script:
    """Runs `regie` commands as a user would type them, and shows them."""

    def __init__(self, folder: Path, console: Console) -> None:
        self.folder = folder
        self.console = console
        self.base = ["--store", str(folder / "demo.db"), "--key-dir", str(folder / "keys")]

    def run(self, user: str | None, *args: str, capture: bool = False, show: bool = True) -> str:
        # The real entry point, with its error handling; imported here because cli.py imports this module.
        from casusregie.cli import main

        argv = [*self.base, *(["--as", user] if user else []), *args]
        shown = " ".join(shlex.quote(a) for a in ([*(["--as", user] if user else []), *args]))
        if show:
            self.console.print(f"$ regie {shown}", style="dim")
        if capture:
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                code = main(argv)
            output = buffer.getvalue()
        else:
            code, output = main(argv), ""
        if code != 0:
            raise click.ClickException(f"demo step failed (exit {code}): regie {shown}")
        return output

    def json(self, user: str, *args: str) -> dict[str, object]:
        return json.loads(self.run(user, *args, "--json", capture=True))


def _path_hint() -> str:
    """How to reach `regie` when it is not on the PATH yet (run from the Makefile's virtual environment)."""
    installed = Path(sys.executable).parent / "regie"
    if shutil.which("regie") or not installed.exists():
        return ""
    return f"source {installed.parent / 'activate'}   # puts regie on your PATH\n"


def _prepare(folder: Path | None) -> Path:
    """A new folder for this run; the demo never deletes or reuses anything that already holds files."""
    if folder is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        folder = Path("regie-demo") / stamp
    folder = folder.expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValidationFailed(
            f"{folder} already exists and is not an empty folder; the demo never deletes or "
            "reuses files: give a new --dir"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ValidationFailed(f"cannot create {folder}: {exc.strerror or exc}") from None
    return folder


@click.command()
@click.option(
    "--dir",
    "folder",
    type=OutputPath(file_okay=False),
    default=None,
    help="A new (or empty) folder for the demo store and its keys; default regie-demo/<date-time>.",
)
def demo(folder: str | None) -> None:
    """Run a realistic case from referral to closure on a fresh embedded store."""
    console = terminal()
    place = _prepare(None if folder is None else check_output_folder(folder))  # checked as typed: "" is not "."
    s = Script(place, console)
    today = date.today()

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    console.print(Rule("1. a new store for Utrecht, extreme woonoverlast (seed 003)"))
    s.run(None, "init", "--profile", "utrecht", "--admin", "beheerder")
    for user, role, extra in (
        ("anna", "regisseur", ["--team", "west"]),
        ("mitros.jan", "partner", ["--org", "mitros"]),
        ("politie.ed", "partner", ["--org", "politie"]),
        ("lister.sam", "partner", ["--org", "lister"]),
        ("manager.mo", "manager", []),
        ("privacy.pia", "privacy-officer", []),
        ("audit.ali", "auditor", []),
    ):
        s.run("beheerder", "user", "add", user, "--role", role, *extra)

    console.print(Rule("2. Mitros refers a household: nuisance and rent arrears"))
    referral = s.json(
        "mitros.jan",
        "case",
        "refer",
        "--from",
        "mitros",
        "--worker",
        "J. Jansen (wijkconsulent)",
        "--reason",
        "Ernstige geluidsoverlast en bedreiging van buren; huurachterstand van vier maanden.",
        "--problem",
        "overlast=Harde muziek 's nachts, schreeuwen, buren bedreigd in het trappenhuis.",
        "--problem",
        "financiën=Huurachterstand van vier maanden, beslag op uitkering.",
        "--problem",
        "gezondheid=Vermoedelijk verslaving; geen hulpverlening in beeld.",
        "--member",
        "name=Karel de Vries;born=1979-04-12;bsn=111222333;address=Kanaalstraat 12 bis, Utrecht",
        "--member",
        "name=Sandra de Vries-Bos;born=1982-09-30;role=partner;address=Kanaalstraat 12 bis, Utrecht",
        "--member",
        "name=Noor de Vries;born=2013-02-14;role=kind;address=Kanaalstraat 12 bis, Utrecht",
        "--corporation-home",
        "mitros",
        "--director",
        "anna",
        "--team",
        "west",
        "--on",
        ago(120),
    )
    case = str(referral["case"])
    people = list(dict(referral["members"]).keys())  # type: ignore[call-overload]
    console.print(f"case {case}; household members {', '.join(people)}")

    console.print(Rule("3. intake: criteria (2 of 6), the corporation's consent, the information round"))
    s.run(
        "anna",
        "case",
        "assess",
        case,
        "--criterion",
        "woninggebonden",
        "--criterion",
        "meerdere-vormen",
        "--criterion",
        "complexe-achtergrond",
        "--on",
        ago(118),
    )
    s.run("anna", "case", "ask-corporation", case, "--on", ago(118))
    s.run("mitros.jan", "case", "corporation-answer", case, "--consent", "--on", ago(117))
    s.run(
        "anna",
        "info",
        "request",
        case,
        "--partner",
        "politie",
        "--purpose",
        "Zicht op aard en ernst van de overlast en op dreiging richting omwonenden",
        "--basis",
        "Convenant extreme woonoverlast; Wpg art. 20 jo. Bpg art. 4:3",
        "--category",
        "politie.meldingen",
        "--category",
        "politie.intimidatie",
        "--about",
        people[0],
        "--on",
        ago(118),
    )
    s.run(
        "politie.ed",
        "info",
        "disclose",
        case,
        "R1",
        "--item",
        f"politie.meldingen@{people[0]}=14 meldingen van geluidsoverlast sinds juni; 3 keer politie ter "
        "plaatse, 1 proces-verbaal.",
        "--item",
        f"politie.intimidatie@{people[0]}=Twee meldingen van bedreiging van de bovenburen.",
        "--basis",
        "Wpg art. 20 jo. Besluit politiegegevens art. 4:3",
        "--on",
        ago(116),
    )
    s.run(
        "anna",
        "info",
        "request",
        case,
        "--partner",
        "lister",
        "--purpose",
        "Nagaan of er woonbegeleiding is of wordt aangevraagd",
        "--basis",
        "Convenant extreme woonoverlast",
        "--category",
        "zorg.woonbegeleiding",
        "--on",
        ago(118),
    )
    s.run(
        "lister.sam",
        "info",
        "decline",
        case,
        "R2",
        "--reason",
        "Betrokkene is geen cliënt van Lister; wij hebben geen gegevens.",
        "--on",
        ago(115),
    )

    console.print(Rule("4. decision, letter to the residents, MDO, one plan for the whole household"))
    s.run("anna", "case", "take-on", case, "--on", ago(115))  # within the five working days of the intake
    s.run("anna", "case", "letter", case, "--on", ago(110))
    meeting = s.json("anna", "meeting", "schedule", case, "--date", ago(100), "--with", "mitros", "--with", "politie")[
        "meeting"
    ]
    s.run(
        "anna",
        "meeting",
        "held",
        case,
        str(meeting),
        "--attended",
        "mitros",
        "--attended",
        "politie",
        "--minutes",
        "Hoor en wederhoor gehouden. Afspraken: huisregels, schuldhulp, aanmelding verslavingszorg.",
        "--on",
        ago(100),
    )
    s.run(
        "anna",
        "plan",
        "goal",
        case,
        "--domain",
        "overlast",
        "--text",
        "De overlast voor de buren stopt.",
        "--on",
        ago(99),
    )
    s.run(
        "anna",
        "plan",
        "goal",
        case,
        "--domain",
        "financiën",
        "--text",
        "Geen nieuwe huurachterstand; regeling.",
        "--on",
        ago(99),
    )
    s.run(
        "anna",
        "plan",
        "measure",
        case,
        "--domain",
        "overlast",
        "--owner",
        "mitros",
        "--goal",
        "G1",
        "--text",
        "Gesprek over huisregels en een gedragsovereenkomst.",
        "--due",
        ago(85),
        "--on",
        ago(99),
    )
    s.run(
        "anna",
        "plan",
        "measure",
        case,
        "--domain",
        "financiën",
        "--owner",
        "gemeente-utrecht",
        "--goal",
        "G2",
        "--text",
        "Aanmelding schuldhulpverlening en betalingsregeling met Mitros.",
        "--due",
        ago(60),
        "--on",
        ago(99),
    )
    s.run(
        "anna",
        "plan",
        "measure",
        case,
        "--domain",
        "gezondheid",
        "--owner",
        "lister",
        "--about",
        people[0],
        "--text",
        "Aanmelding bij verslavingszorg en woonbegeleiding.",
        "--due",
        ago(30),
        "--on",
        ago(99),
    )
    s.run("anna", "plan", "agree", case, "--on", ago(95))
    s.run(
        "mitros.jan",
        "plan",
        "progress",
        case,
        "M1",
        "--status",
        "done",
        "--note",
        "Gedragsovereenkomst getekend.",
        "--on",
        ago(88),
    )
    s.run("anna", "plan", "progress", case, "M2", "--status", "started", "--on", ago(70))

    console.print(Rule("5. the care measure runs late: the worklist shows it; the case is escalated"))
    s.run("anna", "worklist", "--date", today.isoformat())
    s.run(
        "anna",
        "case",
        "escalate",
        case,
        "--level",
        "2",
        "--reason",
        "Zorg komt niet op gang: geen plek bij verslavingszorg; doorzettingsmacht nodig.",
        "--on",
        ago(20),
    )
    s.run(
        "manager.mo",
        "case",
        "escalation-outcome",
        case,
        "E1",
        "--outcome",
        "Gemeente regelt via doorzettingsmacht een plek; start binnen twee weken.",
        "--on",
        ago(14),
    )
    s.run(
        "lister.sam",
        "plan",
        "progress",
        case,
        "M3",
        "--status",
        "done",
        "--note",
        "Intake verslavingszorg gedaan.",
        "--on",
        ago(7),
    )
    s.run("anna", "plan", "progress", case, "M2", "--status", "done", "--on", ago(5))
    s.run("anna", "plan", "evaluate", case, "--summary", "Overlast sterk verminderd; regeling loopt.", "--on", ago(4))

    console.print(Rule("6. closure with aftercare and a warm handover"))
    s.run(
        "anna",
        "case",
        "close",
        case,
        "--outcome",
        "goals-met",
        "--neighbours",
        "improved",
        "--partners",
        "improved",
        "--aftercare",
        "Buurtteam houdt een half jaar contact; Mitros meldt nieuwe klachten direct.",
        "--handover",
        "buurtteam-sociaal",
        "--on",
        ago(1),
    )
    s.run("anna", "case", "show", case)

    console.print(Rule("7. the disclosure trail of the main resident: who received what, when, on which basis"))
    s.run("privacy.pia", "trail", "--person", people[0])

    console.print(Rule("8. the main resident asks what is known about him (inzage, art. 15 AVG)"))
    registered = s.json(
        "privacy.pia",
        "request",
        "register",
        "--kind",
        "access",
        "--bsn",
        "111222333",
        "--requester-name",
        "K. de Vries",
        "--requester-address",
        "Kanaalstraat 12 bis, 3531 CK Utrecht",
        "--received",
        ago(0),
        "--channel",
        "balie",
        "--identity-check",
        "identiteitskaart gezien aan de balie",
    )
    reference = str(registered["request"])
    s.run("privacy.pia", "request", "items", reference)
    # Household texts also tell about his partner and daughter: they await review (AVG art. 15(4)).
    # The debts are his own business as much as the household's; the privacy officer releases that one.
    s.run(
        "privacy.pia",
        "request",
        "release",
        reference,
        "data:problem:financiën",
        "--reason",
        "De huurachterstand betreft het huurcontract op zijn naam; geen gegevens van anderen.",
    )
    # The referral reason quotes the neighbours' complaints: withheld to protect them (UAVG art. 41(1)(i)).
    s.run(
        "privacy.pia",
        "request",
        "withhold",
        reference,
        "data:reason",
        "--ground",
        "i",
        "--motivation",
        "De reden van aanmelding geeft de klachten van de bovenburen weer en maakt hen herkenbaar; inzage zou "
        "hen blootstellen aan nieuwe bedreiging. Noodzakelijk en evenredig: de overige gegevens worden verstrekt.",
        "--what",
        "de weergave van klachten van omwonenden in de reden van aanmelding",
    )
    s.run("privacy.pia", "request", "decide", reference, "--signatory", "P. Jansen", "--out", str(place / "besluiten"))

    console.print(Rule("9. the auditor signs a checkpoint and verifies that the log is complete and unaltered"))
    s.run("audit.ali", "audit", "checkpoint")
    s.run("audit.ali", "audit", "verify")

    console.print(Rule("explore the store yourself"))
    # Plain echo: these lines are meant to be copied, so they must never be wrapped.
    echo(
        _path_hint() + f"export REGIE_STORE={place / 'demo.db'} REGIE_KEY_DIR={place / 'keys'} REGIE_USER=anna\n"
        f"regie case show {case}                 # the case view (your read is logged first)\n"
        f"regie worklist --date {ago(40)}        # what was due back then\n"
        f"regie report --from {ago(365)} --to {today.isoformat()}\n"
        f"regie --as mitros.jan case show {case}  # a partner sees only what Mitros may see\n"
        f"regie --as politie.ed case show {case}\n"
        f"regie --as audit.ali audit replay {case} --as-of {today.isoformat()}\n"
        f"regie --as privacy.pia request show {reference}\n"
        "regie --help"
    )

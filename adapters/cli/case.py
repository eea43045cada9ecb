"""`regie case …`: referral to closure."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from casusregie.adapters.cli.common import Context, case_command, day, json_option, on_option, pass_ctx, print_json
from casusregie.adapters.cli.output import folding_table
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.render.case_text import render_case_text
from casusregie.commands import closure, decision, escalation, journal, meetings, network, problems, referral
from casusregie.domain.closure import ClosureOutcome, Judgement
from casusregie.domain.household import HouseholdRole, NetworkRole
from casusregie.domain.journal import Channel
from casusregie.domain.subject_request import RESTRICTION_GROUNDS
from casusregie.projections.reader import Reader

MEMBER_KEYS = {"name", "born", "role", "bsn", "address", "household"}


def register(root: click.Group) -> None:
    root.add_command(case)
    root.add_command(meeting)


def parse_member(spec: str) -> dict[str, Any]:
    """``name=Karel de Vries;born=1980-01-02;role=hoofdbewoner;bsn=111222333;address=...``."""
    fields: dict[str, str] = {}
    for part in spec.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in MEMBER_KEYS:
            raise click.BadParameter(
                f"{part.strip()!r}: expected key=value with keys {', '.join(sorted(MEMBER_KEYS))}",
                param_hint="--member",
            )
        fields[key] = value.strip()
    if "name" not in fields or "born" not in fields:
        raise click.BadParameter("a member needs at least name=... and born=YYYY-MM-DD", param_hint="--member")
    try:
        born = date.fromisoformat(fields["born"])
    except ValueError:
        raise click.BadParameter(f"born={fields['born']!r} is not a date YYYY-MM-DD", param_hint="--member") from None
    role = fields.get("role", "hoofdbewoner")
    if role not in {r.value for r in HouseholdRole}:
        raise click.BadParameter(
            f"role={role!r}; roles: {', '.join(r.value for r in HouseholdRole)}", param_hint="--member"
        )
    return {
        "name": fields["name"],
        "birth_date": born,
        "role": role,
        "bsn": fields.get("bsn") or None,
        "address": fields.get("address") or None,
        "household": fields.get("household") or None,
    }


def parse_pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``DOMAIN=TEXT`` pairs."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise click.BadParameter(f"{value!r}: expected DOMAIN=TEXT", param_hint=option)
        pairs[key.strip()] = text.strip()
    return pairs


@click.group()
def case() -> None:
    """Cases (casussen): referral, intake, decision, escalation, closure, and the case view."""


@case.command("refer")
@click.option("--from", "referring_org", required=True, metavar="PARTNER", help="Referring partner organisation.")
@click.option("--worker", required=True, help="The referring professional.")
@click.option("--reason", required=True, help="Why the household is referred.")
@click.option(
    "--problem",
    "problems",
    multiple=True,
    required=True,
    metavar="DOMAIN=TEXT",
    help="Problems on a life domain (repeat).",
)
@click.option(
    "--member",
    "members",
    multiple=True,
    required=True,
    metavar="SPEC",
    help="name=...;born=YYYY-MM-DD;role=hoofdbewoner|partner|kind|ouder|overig;bsn=...;address=...",
)
@click.option("--corporation-home", metavar="PARTNER", help="The home belongs to this housing corporation.")
@click.option("--consent-given", type=click.DateTime(["%Y-%m-%d"]), help="Date the residents consented.")
@click.option("--director", metavar="USER", help="Case director (default: you, if you are one).")
@click.option("--team", help="Team (default: the director's team).")
@on_option
@case_command(referral.ReferCase)
def case_refer(
    referring_org: str,
    worker: str,
    reason: str,
    problems: tuple[str, ...],
    members: tuple[str, ...],
    corporation_home: str | None,
    consent_given: Any,
    director: str | None,
    team: str | None,
    on: Any,
) -> dict[str, Any]:
    """Refer a household (aanmelden). Only professionals of partner organisations refer."""
    return {
        "referring_org": referring_org,
        "referring_worker": worker,
        "reason": reason,
        "problems": parse_pairs(problems, "--problem"),
        "members": [parse_member(m) for m in members],
        "home_corporation": corporation_home,
        "consent_given_on": day(consent_given),
        "director": director,
        "team": team,
        "on": day(on),
    }


@case.command("assign")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--director", required=True, metavar="USER")
@click.option("--team")
@on_option
@case_command(referral.AssignDirector)
def case_assign(case_ref: str, director: str, team: str | None, on: Any) -> dict[str, Any]:
    """Assign a case director (regisseur toewijzen)."""
    return {"case": case_ref, "director": director, "team": team, "on": day(on)}


@case.command("add-member")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--member", required=True, metavar="SPEC", help="As for `case refer`.")
@on_option
@case_command(referral.AddMember)
def case_add_member(case_ref: str, member: str, on: Any) -> dict[str, Any]:
    """Add a household member."""
    return {"case": case_ref, "member": parse_member(member), "on": day(on)}


@case.command("note")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--text", required=True, help="What happened or was said.")
@click.option("--channel", type=click.Choice([c.value for c in Channel]), help="A contact moment: how it took place.")
@click.option("--with", "with_whom", help="A contact moment: with whom (e.g. 'Els en haar zus').")
@click.option("--about", metavar="PERSON", type=REF, help="The household member it is about (sealed with their key).")
@click.option("--corrects", metavar="ENTRY", help="The earlier entry this one corrects (e.g. N2); it stays as it was.")
@on_option
@case_command(journal.WriteJournalEntry)
def case_note(
    case_ref: str,
    text: str,
    channel: str | None,
    with_whom: str | None,
    about: str | None,
    corrects: str | None,
    on: Any,
) -> dict[str, Any]:
    """Write a note or a contact moment in the case journal (contactjournaal)."""
    return {
        "case": case_ref,
        "text": text,
        "channel": channel,
        "with_whom": with_whom,
        "about": about,
        "corrects": corrects,
        "on": day(on),
    }


@case.group("problem")
def case_problem() -> None:
    """Problems on the life domains as they change (problematiek): add, update, resolve."""


DOMAIN = click.option("--domain", "life_domain", required=True, help="The life domain (leefgebied), as in the profile.")


@case_problem.command("add")
@click.argument("case_ref", metavar="CASE", type=REF)
@DOMAIN
@click.option("--text", "description", required=True, help="The problem as it is now known.")
@on_option
@case_command(problems.AddProblem)
def case_problem_add(case_ref: str, life_domain: str, description: str, on: Any) -> dict[str, Any]:
    """A problem that came to light after the referral."""
    return {"case": case_ref, "life_domain": life_domain, "description": description, "on": day(on)}


@case_problem.command("update")
@click.argument("case_ref", metavar="CASE", type=REF)
@DOMAIN
@click.option("--text", "description", required=True, help="The new description (the old one is kept).")
@on_option
@case_command(problems.UpdateProblem)
def case_problem_update(case_ref: str, life_domain: str, description: str, on: Any) -> dict[str, Any]:
    """Describe a problem anew; the earlier description stays in the history."""
    return {"case": case_ref, "life_domain": life_domain, "description": description, "on": day(on)}


@case_problem.command("resolve")
@click.argument("case_ref", metavar="CASE", type=REF)
@DOMAIN
@click.option("--note", help="How it was solved.")
@on_option
@case_command(problems.ResolveProblem)
def case_problem_resolve(case_ref: str, life_domain: str, note: str | None, on: Any) -> dict[str, Any]:
    """The problem on this life domain is solved (opgelost)."""
    return {"case": case_ref, "life_domain": life_domain, "note": note, "on": day(on)}


@case.command("consent")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--given/--refused", required=True, help="The residents' answer.")
@on_option
@case_command(referral.RecordConsent)
def case_consent(case_ref: str, given: bool, on: Any) -> dict[str, Any]:
    """Record the residents' consent (where the approach asks for it)."""
    return {"case": case_ref, "given": given, "on": day(on)}


@case.command("ask-corporation")
@click.argument("case_ref", metavar="CASE", type=REF)
@on_option
@case_command(referral.RequestCorporationConsent)
def case_ask_corporation(case_ref: str, on: Any) -> dict[str, Any]:
    """Ask the housing corporation's consent for a corporation home."""
    return {"case": case_ref, "on": day(on)}


@case.command("corporation-answer")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--consent/--no-consent", required=True)
@on_option
@case_command(referral.AnswerCorporationConsent)
def case_corporation_answer(case_ref: str, consent: bool, on: Any) -> dict[str, Any]:
    """The corporation answers the consent request (partner users of that corporation)."""
    return {"case": case_ref, "consent": consent, "on": day(on)}


@case.command("home-visit")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--invited", is_flag=True, help="The client was invited rather than visited at home.")
@click.option("--note", help="What was agreed (e.g. the client agrees to mediation).")
@on_option
@case_command(referral.RecordHomeVisit)
def case_home_visit(case_ref: str, invited: bool, note: str | None, on: Any) -> dict[str, Any]:
    """Record the chair's home visit or invitation (huisbezoek; Zwolle)."""
    return {"case": case_ref, "invited": invited, "note": note, "on": day(on)}


@case.command("assess")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--criterion", "criteria", multiple=True, metavar="ID", help="A criterion that holds (repeat).")
@click.option("--acute-reason", help="Set the criteria aside in an acute situation, with this reason.")
@on_option
@case_command(referral.AssessIntake)
def case_assess(case_ref: str, criteria: tuple[str, ...], acute_reason: str | None, on: Any) -> dict[str, Any]:
    """Assess the referral against the profile's criteria (toetsing)."""
    return {"case": case_ref, "criteria": list(criteria), "acute_reason": acute_reason, "on": day(on)}


LATE_REASON = click.option(
    "--late-reason", help="Why the decision comes after the intake deadline (required then; counted in the report)."
)


@case.command("take-on")
@click.argument("case_ref", metavar="CASE", type=REF)
@LATE_REASON
@on_option
@case_command(decision.TakeOn)
def case_take_on(case_ref: str, late_reason: str | None, on: Any) -> dict[str, Any]:
    """Take the case on (in regie nemen)."""
    return {"case": case_ref, "late_reason": late_reason, "on": day(on)}


@case.command("decline")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--advice", required=True, help="Advice to the referrer.")
@LATE_REASON
@on_option
@case_command(decision.DeclineCase)
def case_decline(case_ref: str, advice: str, late_reason: str | None, on: Any) -> dict[str, Any]:
    """Do not take the case on; record advice to the referrer."""
    return {"case": case_ref, "advice": advice, "late_reason": late_reason, "on": day(on)}


@case.command("letter")
@click.argument("case_ref", metavar="CASE", type=REF)
@on_option
@case_command(decision.InformResidents)
def case_letter(case_ref: str, on: Any) -> dict[str, Any]:
    """Record that the residents were informed by letter."""
    return {"case": case_ref, "on": day(on)}


@case.command("no-letter")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--ground", required=True, help="e.g. veiligheid-derden")
@click.option("--motivation", required=True)
@on_option
@case_command(decision.WithholdLetter)
def case_no_letter(case_ref: str, ground: str, motivation: str, on: Any) -> dict[str, Any]:
    """Record the grounds not to inform the residents."""
    return {"case": case_ref, "ground": ground, "motivation": motivation, "on": day(on)}


@case.command("involve")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("partner")
@click.option("--name", "partner_name", help="An organisation outside the profile (ad hoc): its name.")
@click.option("--basis", "legal_basis", help="An organisation outside the profile: the legal basis to share with it.")
@on_option
@case_command(meetings.InvolvePartner)
def case_involve(
    case_ref: str, partner: str, partner_name: str | None, legal_basis: str | None, on: Any
) -> dict[str, Any]:
    """Involve a partner organisation in the case; one outside the profile ad hoc, with --name and --basis.

    PARTNER is the profile's id of a standing partner, or a short id you choose for an organisation
    involved ad hoc (e.g. veiligheidshuis); it can then sit at meetings and receive a warm handover.
    """
    return {
        "case": case_ref,
        "partner": partner,
        "partner_name": partner_name,
        "legal_basis": legal_basis,
        "on": day(on),
    }


@case.command("add-person")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--name", "person_name", required=True, help="The person's name.")
@click.option(
    "--relation", required=True, type=click.Choice([r.value for r in NetworkRole]), help="Their part in the case."
)
@click.option("--household", help="Their household, where the case has several (e.g. bovenburen).")
@click.option("--address")
@click.option("--contact", help="Phone or e-mail.")
@on_option
@case_command(network.AddNetworkPerson)
def case_add_person(
    case_ref: str,
    person_name: str,
    relation: str,
    household: str | None,
    address: str | None,
    contact: str | None,
    on: Any,
) -> dict[str, Any]:
    """Add a person of the wider network (netwerk): a reporter, a neighbour, family, the client's network.

    Like a household member they get their own key and ref (their data is in their access answer and
    goes with their erasure); only the case's director and team see them.
    """
    return {
        "case": case_ref,
        "person_name": person_name,
        "relation": relation,
        "household": household,
        "address": address,
        "contact": contact,
        "on": day(on),
    }


@case.command("escalate")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--level", required=True, type=int, help="Level of the profile's escalation ladder.")
@click.option("--reason", required=True)
@on_option
@case_command(escalation.Escalate)
def case_escalate(case_ref: str, level: int, reason: str, on: Any) -> dict[str, Any]:
    """Escalate a stalled case (opschalen)."""
    return {"case": case_ref, "level": level, "reason": reason, "on": day(on)}


@case.command("escalation-outcome")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("escalation_id", metavar="ESCALATION")
@click.option("--outcome", required=True)
@on_option
@case_command(escalation.ResolveEscalation)
def case_escalation_outcome(case_ref: str, escalation_id: str, outcome: str, on: Any) -> dict[str, Any]:
    """Record the outcome of an escalation."""
    return {"case": case_ref, "escalation": escalation_id, "outcome": outcome, "on": day(on)}


@case.command("close")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--outcome", required=True, type=click.Choice([o.value for o in ClosureOutcome]))
@click.option("--neighbours", type=click.Choice([j.value for j in Judgement]), help="Judgement by the neighbours.")
@click.option("--partners", type=click.Choice([j.value for j in Judgement]), help="Judgement by the partners.")
@click.option("--aftercare", help="Aftercare plan (nazorgplan).")
@click.option("--handover", metavar="PARTNER", help="Warm handover to this partner.")
@click.option("--note")
@click.option(
    "--despite",
    metavar="REASON",
    help="Why close now although measures are open, the residents' letter is outstanding, no MDO was held or the "
    "minimum guidance has not passed (required then).",
)
@on_option
@case_command(closure.CloseCase)
def case_close(
    case_ref: str,
    outcome: str,
    neighbours: str | None,
    partners: str | None,
    aftercare: str | None,
    handover: str | None,
    note: str | None,
    despite: str | None,
    on: Any,
) -> dict[str, Any]:
    """Close the case (afsluiten) with its outcome and aftercare.

    Closing checks what speaks against it (open measures, the residents' letter, no MDO held, the
    profile's minimum guidance) and then needs --despite with the reason.
    """
    return {
        "despite": despite,
        "case": case_ref,
        "outcome": outcome,
        "judgement_neighbours": neighbours,
        "judgement_partners": partners,
        "aftercare": aftercare,
        "handover_to": handover,
        "note": note,
        "on": day(on),
    }


@case.command("aftercare")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--note", help="What the contact found.")
@on_option
@case_command(closure.RecordAftercareContact)
def case_aftercare(case_ref: str, note: str | None, on: Any) -> dict[str, Any]:
    """Record the aftercare contact after closure (nazorgcontact)."""
    return {"case": case_ref, "note": note, "on": day(on)}


@case.command("reopen")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--reason", required=True)
@on_option
@case_command(closure.ReopenCase)
def case_reopen(case_ref: str, reason: str, on: Any) -> dict[str, Any]:
    """Reopen a closed case."""
    return {"case": case_ref, "reason": reason, "on": day(on)}


@case.command("show")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option(
    "--restriction-ground",
    type=click.Choice(sorted(RESTRICTION_GROUNDS)),
    help="Read data whose processing is restricted, on a ground of art. 18(2) AVG (logged).",
)
@json_option
@pass_ctx
def case_show(ctx: Context, case_ref: str, restriction_ground: str | None, as_json: bool) -> None:
    """Show the case as you may see it (the read is logged first)."""
    doc = Reader(ctx.session()).case(case_ref, restriction_ground)
    if as_json:
        print_json(doc)
    else:
        render_case_text(ctx.console, doc)


@case.command("list")
@click.option("--all", "everyone", is_flag=True, help="Directors: also other teams' cases (numbers and status only).")
@click.option("--closed", is_flag=True, help="Also closed and declined cases.")
@json_option
@pass_ctx
def case_list(ctx: Context, everyone: bool, closed: bool, as_json: bool) -> None:
    """The open cases you may see (your own and your team's, or your organisation's)."""
    rows = Reader(ctx.session()).case_list(everyone, closed)
    if as_json:
        print_json(rows)
        return
    table = folding_table("case", "household", "status", "director", "team", "referred", "escalations")
    for r in rows:
        table.add_row(
            r["case"],
            r["household"] or "-",
            r["status"],
            r["director"] or "-",
            r["team"] or "-",
            r["referred_on"],
            str(r["open_escalations"] or ""),
        )
    if rows:
        ctx.console.print(table)
    else:
        ctx.console.print(
            "no cases" if closed else "no open cases (`case list --closed` lists closed and declined ones too)"
        )


@click.group()
def meeting() -> None:
    """Case conferences: MDO and casusoverleg."""


@meeting.command("schedule")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--date", "when", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option(
    "--with",
    "participants",
    multiple=True,
    required=True,
    metavar="PARTNER",
    help="An involved partner at the table (repeat).",
)
@click.option("--kind", type=click.Choice(["mdo", "casusoverleg"]), default="mdo", show_default=True)
@case_command(meetings.ScheduleMeeting)
def meeting_schedule(case_ref: str, when: Any, participants: tuple[str, ...], kind: str) -> dict[str, Any]:
    """Schedule an MDO or casusoverleg with involved partners only."""
    return {"case": case_ref, "date": day(when), "participants": list(participants), "kind": kind}


@meeting.command("held")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("meeting_id", metavar="MEETING")
@click.option("--attended", multiple=True, required=True, metavar="PARTNER")
@click.option("--minutes", required=True, help="Minutes (verslag).")
@on_option
@case_command(meetings.HoldMeeting)
def meeting_held(case_ref: str, meeting_id: str, attended: tuple[str, ...], minutes: str, on: Any) -> dict[str, Any]:
    """Record that a meeting was held, who attended and its minutes."""
    return {"case": case_ref, "meeting": meeting_id, "attended": list(attended), "minutes": minutes, "on": day(on)}

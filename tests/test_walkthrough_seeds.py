"""Each seed's process walked through the CLI from referral to the end, without a workaround.

One test per seed: Nijmegen (000), Nieuwegein (001), Utrecht (003), Zwolle (004) and Amersfoort's
door-to-door approach (002). Every step is a command a case director, a partner, a manager or a
privacy officer types; each test ends by asserting the case view, the worklist and the period
report as a manager would read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader


@dataclass
class Walk:
    cli: Any

    def do(self, user: str, *args: str) -> Any:
        result = self.cli(*args, user=user)
        assert result.code == 0, f"{user}: regie {' '.join(args)}\n{result.err}"
        return result

    def json(self, user: str, *args: str) -> Any:
        return self.do(user, *args, "--json").json()

    def refused(self, user: str, *args: str) -> str:
        result = self.cli(*args, user=user)
        assert result.code == 1, f"{user}: regie {' '.join(args)} was not refused"
        return str(result.err)


def start(cli: Any, profile: str, *users: tuple[str, ...]) -> Walk:
    walk = Walk(cli)
    walk.do("", "init", "--profile", profile, "--admin", "admin")
    for user in users:
        walk.do("admin", "user", "add", *user)
    return walk


def letter(walk: Walk, user: str, kind: str, case: str, folder: Path, *extra: str) -> str:
    """A letter written for the case, as the text a reader of the PDF sees."""
    out = folder / f"{kind}-{case}.pdf"
    walk.do(user, "letter", kind, case, "--out", str(out), *extra)
    return " ".join(page.extract_text() for page in PdfReader(out).pages)


def members(walk: Walk, user: str, case: str) -> list[str]:
    return [m["person"] for m in walk.json(user, "case", "show", case)["members"]]


def test_seed_000_nijmegen_one_integral_plan_and_the_escalation_ladder(cli: Any, tmp_path: Path) -> None:
    walk = start(
        cli,
        "nijmegen",
        ("pia", "--role", "regisseur", "--team", "noord"),
        ("woco", "--role", "partner", "--org", "woningcorporaties"),
        ("pol", "--role", "partner", "--org", "politie"),
        ("sterk", "--role", "partner", "--org", "sterker"),
        ("mgr", "--role", "manager"),
    )
    case = walk.json(
        "woco",
        *("case", "refer", "--from", "woningcorporaties", "--worker", "W. de Wit"),
        *("--reason", "Woonoverlast en huurachterstand; hulp komt niet op gang"),
        *("--problem", "overlast=geluid en vervuiling", "--problem", "inkomen=huurschuld"),
        *("--problem", "opvoeding=zoon spijbelt"),
        *("--member", "name=Ria Jansen;born=1978-02-02", "--member", "name=Tom Jansen;born=2011-05-05;role=kind"),
        *("--director", "pia", "--on", "2026-01-05"),
    )["case"]
    criteria = ("woonoverlast-of-mph", "stagnatie", "vrijwillig-ontoereikend", "strafrecht-niet-leidend")
    walk.do("pia", "case", "assess", case, *(x for c in criteria for x in ("--criterion", c)), "--on", "2026-01-07")
    walk.do("pia", "case", "take-on", case, "--on", "2026-01-09")
    ria, tom = members(walk, "pia", case)
    walk.do(
        "pia",
        *("info", "request", case, "--partner", "politie", "--purpose", "aard en ernst van de overlast"),
        *("--basis", "Wpg art. 20", "--category", "politie.meldingen", "--about", ria, "--on", "2026-01-09"),
    )
    walk.do(
        "pol", "info", "disclose", case, "R1", "--item", f"politie.meldingen@{ria}=9 meldingen", "--on", "2026-01-12"
    )
    walk.do("pia", "case", "letter", case, "--on", "2026-01-12")
    walk.do("pia", "case", "involve", case, "sterker", "--on", "2026-01-13")
    walk.do(
        "pia", "meeting", "schedule", case, "--date", "2026-01-20", "--with", "woningcorporaties", "--with", "sterker"
    )
    invitation = letter(walk, "pia", "uitnodiging-mdo", case, tmp_path, "--place", "Stadhuis", "--on", "2026-01-14")
    assert "20 januari 2026" in invitation
    walk.do(
        "pia", "meeting", "held", case, "O1", "--attended", "woningcorporaties", "--attended", "sterker",
        "--minutes", "Eén plan voor het hele huishouden afgesproken.", "--on", "2026-01-20",
    )  # fmt: skip
    # one integral plan on every life domain that is in trouble, for the whole household (000)
    for domain, goal in (
        ("overlast", "geen klachten meer"),
        ("inkomen", "huur betaald"),
        ("opvoeding", "Tom op school"),
    ):
        walk.do("pia", "plan", "goal", case, "--domain", domain, "--text", goal, "--on", "2026-01-21")
    walk.do(
        "pia", "plan", "measure", case, "--domain", "inkomen", "--owner", "woningcorporaties",
        "--text", "betalingsregeling", "--due", "2026-03-01", "--goal", "G2", "--on", "2026-01-21",
    )  # fmt: skip
    walk.do(
        "pia", "plan", "measure", case, "--domain", "opvoeding", "--owner", "sterker", "--about", tom,
        "--text", "gezinscoach", "--due", "2026-04-01", "--goal", "G3", "--on", "2026-01-21",
    )  # fmt: skip
    walk.do("pia", "plan", "agree", case, "--on", "2026-01-22")
    # the escalation ladder: manager, then the partners' management (000)
    walk.do("pia", "case", "escalate", case, "--level", "1", "--reason", "gezinscoach komt niet", "--on", "2026-02-15")
    walk.do("mgr", "case", "escalation-outcome", case, "E1", "--outcome", "coach toegewezen", "--on", "2026-02-18")
    walk.do("pia", "case", "escalate", case, "--level", "2", "--reason", "regeling stokt", "--on", "2026-02-20")
    walk.do("mgr", "case", "escalation-outcome", case, "E2", "--outcome", "directies akkoord", "--on", "2026-02-25")
    walk.do("woco", "plan", "progress", case, "M1", "--status", "done", "--on", "2026-02-28")
    walk.do("sterk", "plan", "progress", case, "M2", "--status", "done", "--on", "2026-03-30")
    walk.do("pia", "plan", "evaluate", case, "--summary", "Overlast weg, huur betaald.", "--on", "2026-04-01")
    walk.do(
        "pia", "case", "close", case, "--outcome", "goals-met", "--neighbours", "improved", "--partners", "improved",
        "--on", "2026-04-02",
    )  # fmt: skip

    view = walk.json("pia", "case", "show", case)
    assert view["status"] == "closed"
    assert sorted(g["life_domain"] for g in view["plan"]["goals"]) == ["inkomen", "opvoeding", "overlast"]
    assert [m["status"] for m in view["plan"]["measures"]] == ["done", "done"]
    assert [(e["level"], e["resolved_on"]) for e in view["escalations"]] == [(1, "2026-02-18"), (2, "2026-02-25")]
    assert view["closures"][0]["concerns"] == []  # nothing spoke against closing
    assert walk.json("pia", "worklist", "--date", "2026-04-03")["items"] == []
    report = walk.json("mgr", "report", "--from", "2026-01-01", "--to", "2026-12-31")
    assert (report["referrals"], report["taken_on"], report["closed"], report["open_at_end"]) == (1, 1, 1, 0)
    assert report["escalations_by_level"] == {"1 Manager Regieteams": 1, "2 Management van de betrokken instanties": 1}
    assert report["deadlines"]["intake"] == {"on_time": 1, "late": 0}
    assert report["deadlines"]["letter"] == {"on_time": 1, "late": 0}


def test_seed_001_nieuwegein_advice_when_declined_no_letter_on_grounds_and_the_veiligheidshuis(
    cli: Any, tmp_path: Path
) -> None:
    walk = start(
        cli,
        "nieuwegein",
        ("nina", "--role", "regisseur", "--team", "cmpg"),
        ("geyn", "--role", "partner", "--org", "geynwijs"),
        ("mgr", "--role", "manager"),
    )
    refer = ("case", "refer", "--from", "geynwijs", "--worker", "G. Geyn", "--director", "nina")
    declined = walk.json(
        "geyn", *refer, "--reason", "zorgen over schulden", "--problem", "financiën=schulden",
        "--member", "name=Piet Post;born=1960-06-06", "--on", "2026-02-02",
    )["case"]  # fmt: skip
    walk.do("nina", "case", "assess", declined, "--criterion", "meervoudige-problematiek", "--on", "2026-02-04")
    # municipal direction is not needed: not taken on, and the referrer gets advice (001)
    walk.do(
        "nina", "case", "decline", declined, "--advice", "Schuldhulp via het buurtteam volstaat.", "--on", "2026-02-05"
    )
    case = walk.json(
        "geyn", *refer, "--reason", "meervoudige problemen, dreiging naar buren",
        "--problem", "gezin=spanningen", "--problem", "overlast=bedreiging buren", "--problem", "financiën=schulden",
        "--member", "name=Sam Sterk;born=1985-08-08", "--on", "2026-02-02",
    )["case"]  # fmt: skip
    criteria = ("meervoudige-problematiek", "reguliere-zorg-schiet-tekort")
    criteria += ("integrale-aanpak-nodig", "gemeentelijke-regie-nodig")
    walk.do("nina", "case", "assess", case, *(x for c in criteria for x in ("--criterion", c)), "--on", "2026-02-04")
    walk.do("nina", "case", "take-on", case, "--on", "2026-02-06")
    # the resident is informed by letter unless there are well-founded reasons not to; those are recorded (001)
    walk.do(
        "nina", "case", "no-letter", case, "--ground", "veiligheid-derden",
        "--motivation", "Een brief zou de buren die melden in gevaar brengen.", "--on", "2026-02-07",
    )  # fmt: skip
    walk.do("nina", "meeting", "schedule", case, "--date", "2026-02-16", "--with", "geynwijs")
    walk.do(
        "nina", "meeting", "held", case, "O1", "--attended", "geynwijs", "--minutes", "MDO: plan besproken",
        "--on", "2026-02-16",
    )  # fmt: skip
    walk.do("nina", "plan", "goal", case, "--domain", "overlast", "--text", "bedreiging stopt", "--on", "2026-02-17")
    walk.do(
        "nina", "plan", "measure", case, "--domain", "overlast", "--owner", "geynwijs", "--text", "gesprekken",
        "--due", "2026-04-01", "--on", "2026-02-17",
    )  # fmt: skip
    # it stalls: escalation to the regional Veiligheidshuis (001)
    walk.do("nina", "case", "escalate", case, "--level", "1", "--reason", "geen medewerking", "--on", "2026-03-10")
    walk.do(
        "mgr",
        "case",
        "escalation-outcome",
        case,
        "E1",
        "--outcome",
        "Veiligheidshuis neemt regie",
        "--on",
        "2026-03-20",
    )
    walk.do(
        "nina", "case", "close", case, "--outcome", "escalated", "--handover", "geynwijs",
        "--aftercare", "buurtteam volgt", "--despite", "de regie ligt bij het Veiligheidshuis", "--on", "2026-03-21",
    )  # fmt: skip

    referrer_view = walk.json("geyn", "case", "show", declined)
    assert referrer_view["status"] == "declined"
    view = walk.json("nina", "case", "show", case)
    assert view["letter"] == {
        "sent": False,
        "on": "2026-02-07",
        "by": "nina",
        "ground": "veiligheid-derden",
        "motivation": "Een brief zou de buren die melden in gevaar brengen.",
    }
    assert view["closures"][0]["concerns"] == ["measures still open: M1"]
    assert view["escalations"][0]["level_name"] == "Regionaal Veiligheidshuis"
    assert walk.json("nina", "worklist", "--date", "2026-03-22")["items"] == []
    report = walk.json("mgr", "report", "--from", "2026-01-01", "--to", "2026-12-31")
    assert (report["referrals"], report["taken_on"], report["declined"], report["closed"]) == (2, 1, 1, 1)
    assert report["closed_by_outcome"] == {"escalated": 1}
    assert report["deadlines"]["intake"] == {"on_time": 2, "late": 0}


def test_seed_003_utrecht_consent_police_categories_casusoverleg_and_neighbours_judgement(
    cli: Any, tmp_path: Path
) -> None:
    walk = start(
        cli,
        "utrecht",
        ("ute", "--role", "regisseur", "--team", "west"),
        ("mit", "--role", "partner", "--org", "mitros"),
        ("pol", "--role", "partner", "--org", "politie"),
        ("mgr", "--role", "manager"),
    )
    case = walk.json(
        "mit", "case", "refer", "--from", "mitros", "--worker", "M. Mitros", "--reason", "extreme woonoverlast",
        "--problem", "overlast=geluid en bedreiging", "--member", "name=Kees Klap;born=1970-07-07",
        "--corporation-home", "mitros", "--director", "ute", "--on", "2026-03-02",
    )["case"]  # fmt: skip
    (kees,) = members(walk, "ute", case)
    # nuisance between neighbours: the neighbour who reports is a person of the case, seen by the director only
    walk.do(
        "ute", "case", "add-person", case, "--name", "Buurvrouw Boven", "--relation", "melder",
        "--household", "bovenburen", "--on", "2026-03-02",
    )  # fmt: skip
    walk.do(
        "ute", "case", "assess", case, "--criterion", "woninggebonden", "--criterion", "meerdere-vormen",
        "--on", "2026-03-03",
    )  # fmt: skip
    walk.do("ute", "case", "ask-corporation", case, "--on", "2026-03-03")
    walk.do("mit", "case", "corporation-answer", case, "--consent", "--on", "2026-03-05")  # within three days
    walk.do(
        "ute", "info", "request", case, "--partner", "politie", "--purpose", "aard en ernst",
        "--basis", "Convenant; Wpg art. 20", "--category", "politie.meldingen", "--category", "politie.intimidatie",
        "--about", kees, "--on", "2026-03-03",
    )  # fmt: skip
    # a running investigation may only be shared with the OM's consent: not asked, not given (003)
    walk.do(
        "pol", "info", "disclose", case, "R1", "--item", f"politie.meldingen@{kees}=12 meldingen",
        "--item", f"politie.intimidatie@{kees}=bedreiging van de bovenburen", "--on", "2026-03-05",
    )  # fmt: skip
    walk.do("ute", "case", "take-on", case, "--on", "2026-03-06")  # within five days
    residents = letter(walk, "ute", "bewonersbrief", case, tmp_path, "--on", "2026-03-09")
    assert "Kees Klap" in residents
    assert "Buurvrouw" not in residents  # the reporter is never named to the household
    walk.do("ute", "case", "letter", case, "--on", "2026-03-09")
    overleg = walk.json(
        "ute", "overleg", "plan", "--neighbourhood", "West", "--date", "2026-04-14", "--with", "mitros",
        "--with", "politie", "--on", "2026-03-10",
    )["overleg"]  # fmt: skip
    walk.do("ute", "overleg", "agenda", overleg, case, "--on", "2026-03-10")
    walk.do("ute", "plan", "goal", case, "--domain", "overlast", "--text", "overlast stopt", "--on", "2026-03-11")
    walk.do(
        "ute", "plan", "measure", case, "--domain", "overlast", "--owner", "mitros", "--text", "gedragsafspraken",
        "--due", "2026-05-01", "--on", "2026-03-11",
    )  # fmt: skip
    walk.do(
        "ute", "overleg", "discuss", overleg, case, "--minutes", "afspraken lopen; bovenburen merken verbetering",
        "--on", "2026-04-14",
    )  # fmt: skip
    walk.do("ute", "overleg", "held", overleg, "--attended", "mitros", "--attended", "politie", "--on", "2026-04-14")
    walk.do("mit", "plan", "progress", case, "M1", "--status", "done", "--on", "2026-04-30")
    walk.do("ute", "plan", "evaluate", case, "--summary", "geen meldingen meer", "--on", "2026-05-04")
    # results judged by the neighbours and by the partners; aftercare with a warm handover (003)
    walk.do(
        "ute", "case", "close", case, "--outcome", "goals-met", "--neighbours", "improved", "--partners", "improved",
        "--aftercare", "buurtteam houdt contact", "--handover", "mitros", "--on", "2026-05-05",
    )  # fmt: skip

    view = walk.json("ute", "case", "show", case)
    assert view["corporation_consent"]["answer"] is True
    assert {i["category"] for i in view["requests"][0]["items"]} == {"politie.meldingen", "politie.intimidatie"}
    assert [(m["kind"], m["conference"]) for m in view["meetings"]] == [("casusoverleg", overleg)]
    assert [m["role"] for m in view["members"]] == ["hoofdbewoner", "melder"]
    assert view["closures"][0]["judgement_neighbours"] == "improved"
    assert "Buurvrouw" not in walk.do("mit", "case", "show", case, "--json").out
    assert walk.json("ute", "worklist", "--date", "2026-05-06")["items"] == []
    report = walk.json("mgr", "report", "--from", "2026-01-01", "--to", "2026-12-31")
    assert report["deadlines"]["intake"] == {"on_time": 1, "late": 0}
    assert report["deadlines"]["corporation-consent"] == {"on_time": 1, "late": 0}
    assert report["deadlines"]["information"] == {"on_time": 1, "late": 0}
    assert (report["closed"], report["closed_by_outcome"]) == (1, {"goals-met": 1})


def test_seed_004_zwolle_home_visit_consent_signed_agreements_and_a_year_of_guidance(cli: Any, tmp_path: Path) -> None:
    walk = start(
        cli,
        "zwolle",
        ("zoe", "--role", "regisseur", "--team", "regiegroep"),
        ("swz", "--role", "partner", "--org", "swz"),
        ("mgr", "--role", "manager"),
    )
    case = walk.json(
        "swz", "case", "refer", "--from", "swz", "--worker", "S. Zwart", "--reason", "huurschuld en overlast",
        "--problem", "financiën=huurschuld", "--problem", "overlast=klachten buren",
        "--member", "name=Ans Arends;born=1982-01-01", "--director", "zoe", "--on", "2025-02-03",
    )["case"]  # fmt: skip
    (ans,) = members(walk, "zoe", case)
    # the chair visits the client at home; the client agrees to mediation (004)
    walk.do("zoe", "case", "home-visit", case, "--note", "Ans stemt in met bemiddeling", "--on", "2025-02-05")
    walk.do("zoe", "case", "consent", case, "--given", "--on", "2025-02-05")
    walk.do(
        "zoe", "case", "assess", case, "--criterion", "multiprobleemhuishouden",
        "--criterion", "overlast-of-huisuitzetting", "--on", "2025-02-06",
    )  # fmt: skip
    walk.do("zoe", "case", "take-on", case, "--on", "2025-02-07")
    # a first conversation with everyone involved; the client takes part (004)
    walk.do("zoe", "meeting", "schedule", case, "--date", "2025-02-12", "--with", "swz")
    walk.do(
        "zoe", "meeting", "held", case, "O1", "--attended", "swz", "--minutes", "afspraken wie wat wanneer",
        "--on", "2025-02-12",
    )  # fmt: skip
    walk.do("zoe", "plan", "goal", case, "--domain", "financiën", "--text", "schuld afgelost", "--on", "2025-02-12")
    walk.do(
        "zoe", "plan", "measure", case, "--domain", "financiën", "--owner", "swz", "--about", ans,
        "--text", "afbetaling", "--due", "2025-12-31", "--on", "2025-02-12",
    )  # fmt: skip
    agreement = letter(walk, "zoe", "begeleidingsovereenkomst", case, tmp_path, "--on", "2025-02-12")
    assert "schuld afgelost" in agreement
    assert "Begeleidingsovereenkomst voor voorwaardelijke hulpverlening" in agreement
    refused = walk.refused("zoe", "plan", "agree", case, "--on", "2025-02-13")
    assert "signature" in refused
    walk.do("zoe", "plan", "agree", case, "--signed", "--on", "2025-02-13")  # the client signs (004)
    walk.do(
        "zoe", "document", "attach", case, str(tmp_path / f"begeleidingsovereenkomst-{case}.pdf"),
        "--type", "begeleidingsovereenkomst", "--dated", "2025-02-13", "--source", "gemeente-zwolle", "--about", ans,
        "--title", "getekende begeleidingsovereenkomst",
    )  # fmt: skip
    walk.do(
        "zoe",
        "case",
        "note",
        case,
        "--channel",
        "huisbezoek",
        "--about",
        ans,
        "--text",
        "gaat goed",
        "--on",
        "2025-06-01",
    )
    walk.do("swz", "plan", "progress", case, "M1", "--status", "done", "--on", "2025-12-20")
    # guidance lasts at least a year: closing before that needs a reason (004)
    early = walk.refused("zoe", "case", "close", case, "--outcome", "goals-met", "--on", "2026-01-15")
    assert "minimum guidance of 12 months runs until 2026-02-07" in early
    walk.do(
        "zoe", "case", "close", case, "--outcome", "goals-met", "--neighbours", "improved", "--partners", "improved",
        "--on", "2026-02-09",
    )  # fmt: skip

    view = walk.json("zoe", "case", "show", case)
    assert view["home_visits"][0]["note"] == "Ans stemt in met bemiddeling"
    assert view["consent"]["given_on"] == "2025-02-05"
    assert view["plan"]["revisions"][-1]["client_signed"] is True
    assert view["journal"][0]["channel"] == "huisbezoek"
    assert [(d["type"], d["title"]) for d in view["documents"]] == [
        ("begeleidingsovereenkomst", "getekende begeleidingsovereenkomst")
    ]
    assert walk.json("zoe", "worklist", "--date", "2026-02-10")["items"] == []
    report = walk.json("mgr", "report", "--from", "2025-01-01", "--to", "2026-12-31")
    assert (report["referrals"], report["closed"], report["closed_by_outcome"]) == (1, 1, {"goals-met": 1})
    assert report["median_duration_days"] == 371  # within the two years Zwolle aims for


def test_seed_002_amersfoort_door_to_door_consent_first_aftercare_after_half_a_year_and_a_return(
    cli: Any, tmp_path: Path
) -> None:
    walk = start(
        cli,
        "amersfoort",
        ("ivo", "--role", "regisseur", "--team", "kernteam"),
        ("swa", "--role", "partner", "--org", "swa"),
        ("mgr", "--role", "manager"),
    )
    # the intaker of SWA visited after the announcement letter; the resident agreed to the kernteam (002)
    case = walk.json(
        "swa", "case", "refer", "--from", "swa", "--worker", "intaker I. Bel", "--reason", "activerend interview",
        "--problem", "wonen=vochtige woning", "--problem", "werk-en-inkomen=geen werk",
        "--member", "name=Lotte Lind;born=1990-09-09", "--consent-given", "2026-01-12",
        "--director", "ivo", "--on", "2026-01-12",
    )["case"]  # fmt: skip
    announcement = letter(
        walk, "ivo", "aankondiging-achter-de-voordeur", case, tmp_path, "--date", "2026-01-13", "--on", "2026-01-12"
    )
    assert "een intaker van Stichting Welzijn Amersfoort" in announcement
    walk.do("ivo", "case", "home-visit", case, "--note", "activerend interview aan huis", "--on", "2026-01-13")
    walk.do(
        "ivo", "case", "assess", case, "--criterion", "meervoudige-problematiek",
        "--criterion", "akkoord-bespreking-kernteam", "--on", "2026-01-14",
    )  # fmt: skip
    walk.do("ivo", "case", "take-on", case, "--on", "2026-01-15")
    walk.do("ivo", "meeting", "schedule", case, "--date", "2026-01-22", "--with", "swa")
    walk.do("ivo", "meeting", "held", case, "O1", "--attended", "swa", "--minutes", "kernteam", "--on", "2026-01-22")
    walk.do("ivo", "plan", "goal", case, "--domain", "wonen", "--text", "droge woning", "--on", "2026-02-05")
    walk.do(
        "ivo",
        "case",
        "problem",
        "resolve",
        case,
        "--domain",
        "wonen",
        "--note",
        "woning hersteld",
        "--on",
        "2026-04-01",
    )
    walk.do("ivo", "case", "close", case, "--outcome", "goals-met", "--on", "2026-04-15")
    # half a year after closing, the household is contacted again (002): a task until it is done
    due = walk.json("ivo", "worklist", "--date", "2026-10-16")["items"]
    assert [(i["kind"], i["due_on"], i["overdue"]) for i in due] == [("aftercare", "2026-10-15", True)]
    walk.do(
        "ivo", "case", "aftercare", case, "--note", "werk gevonden; nieuwe zorgen om schulden", "--on", "2026-10-16"
    )
    # households come back after closure: the same case is reopened (002, Groningen)
    walk.do("ivo", "case", "reopen", case, "--reason", "schulden opgelopen", "--on", "2026-10-20")
    walk.do(
        "ivo",
        "case",
        "problem",
        "update",
        case,
        "--domain",
        "werk-en-inkomen",
        "--text",
        "schulden",
        "--on",
        "2026-10-20",
    )

    view = walk.json("ivo", "case", "show", case)
    assert view["status"] == "taken-on"
    assert view["consent"]["given_on"] == "2026-01-12"
    assert view["resolved_problems"][0]["life_domain"] == "wonen"
    assert view["problems"] == {"werk-en-inkomen": "schulden"}
    assert view["closures"][0]["aftercare_contacted_on"] == "2026-10-16"
    assert [r["on"] for r in view["reopenings"]] == ["2026-10-20"]
    report = walk.json("mgr", "report", "--from", "2026-01-01", "--to", "2026-12-31")
    assert (report["referrals"], report["closed"], report["reopened"], report["open_at_end"]) == (1, 0, 1, 1)
    spring = walk.json("mgr", "report", "--from", "2026-01-01", "--to", "2026-06-30")
    assert (spring["closed"], spring["reopened"]) == (1, 0)

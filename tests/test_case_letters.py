"""Letters for a case (`regie letter KIND CASE --out FILE`): the decision letter's layout, wording per profile.

Every kind is written through the CLI and read back with pypdf: the addressee, the kenmerk (the
case number), the subject, the sentences that make the letter what it is, and the footer and
letterhead of the inzage decision letter. No letter holds a BSN. The read behind a letter and its
printing are in the access log; a partner, a manager or a director of another team is refused
(and that is logged too); a kind that does not fit the case is one line, exit 1, and no file.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import access_items, init_store, ok, register_access_request
from pypdf import PdfReader

from casusregie.adapters.profile_file import resolve_profile
from casusregie.adapters.render.case_letter_templates import TEMPLATES, text_problems
from casusregie.adapters.render.case_letters import LetterOptions, compose_case_letter, render_case_letter
from casusregie.adapters.render.letter_pdf import render_pdf
from casusregie.privacy_audit.decision_document import sample_decision

BSN = "111222333"
OTHER_BSN = "123456782"
ON = ("--on", "2026-10-03")


def refused(cli: Any, *args: str, user: str = "anna") -> str:
    """A command that must end in one line on stderr, exit 1."""
    result = cli(*args, user=user)
    assert result.code == 1, (result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def pdf_text(path: Path) -> tuple[str, list[str]]:
    """All text of a PDF on one line (whitespace collapsed), and each page's text."""
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    pages = [page.extract_text() or "" for page in reader.pages]
    return " ".join(" ".join(pages).split()), pages


@pytest.fixture
def utrecht(cli: Any) -> dict[str, str]:
    """Utrecht: a case taken on by anna (MDO scheduled, a goal and a measure) and a declined one."""
    init_store(
        cli,
        ("anna", "--role", "regisseur", "--team", "west"),
        ("bea", "--role", "regisseur", "--team", "oost"),
        ("piet", "--role", "partner", "--org", "mitros"),
        ("mo", "--role", "manager"),
        ("pim", "--role", "privacy-officer"),
    )
    refer = ("case", "refer", "--from", "mitros", "--worker", "J. Jansen", "--problem", "overlast=lawaai")
    taken = ok(
        cli,
        *refer,
        "--reason",
        "overlast",
        "--member",
        f"name=Els Bakker;born=1975-05-05;bsn={BSN};address=Dorpsstraat 1, 3511 AB Utrecht",
        "--member",
        "name=Tim Bakker;born=2012-06-06;role=kind",
        "--director",
        "anna",
        "--on",
        "2026-10-01",
        "--json",
        user="piet",
    ).json()["case"]
    ok(cli, "case", "assess", taken, "--acute-reason", "acuut", "--on", "2026-10-02")
    ok(cli, "case", "take-on", taken, "--on", "2026-10-02")
    for partner in ("lister", "politie"):
        ok(cli, "case", "involve", taken, partner, "--on", "2026-10-03")
    ok(cli, "meeting", "schedule", taken, "--date", "2026-10-20", "--with", "mitros", "--with", "lister")
    ok(cli, "plan", "goal", taken, "--domain", "overlast", "--text", "De buren hebben geen overlast meer", *ON)
    ok(
        cli,
        *("plan", "measure", taken, "--domain", "overlast", "--owner", "lister", *ON),
        *("--text", "Woonbegeleiding twee keer per week", "--due", "2026-12-01", "--goal", "G1"),
    )
    declined = ok(
        cli,
        *refer,
        "--reason",
        "burenruzie",
        "--member",
        f"name=Karel de Vries;born=1980-01-02;bsn={OTHER_BSN}",
        "--director",
        "anna",
        "--on",
        "2026-10-05",
        "--json",
        user="piet",
    ).json()["case"]
    ok(cli, "case", "decline", declined, "--advice", "Zet de buurtbemiddeling voort.", "--on", "2026-10-06")
    return {"taken": taken, "declined": declined}


def test_every_kind_is_a_pdf_in_the_decision_letters_layout(cli: Any, utrecht: dict[str, str], tmp_path: Path) -> None:
    taken, declined = utrecht["taken"], utrecht["declined"]
    sign = ("--signatory", "A. de Wit", "--on", "2026-10-10")
    letters: dict[str, str] = {}
    for kind, case, extra in (
        ("bewonersbrief", taken, ()),
        ("uitnodiging-mdo", taken, ("--time", "10:30", "--place", "Stadskantoor, zaal 3")),
        ("begeleidingsovereenkomst", taken, ()),
        ("advies-aanmelder", declined, ()),
    ):
        out = tmp_path / f"{kind}.pdf"
        result = ok(cli, "letter", kind, case, "--out", str(out), *sign, *extra, "--json")
        assert result.json()["file"] == str(out)
        assert out.read_bytes().startswith(b"%PDF-")
        assert out.stat().st_mode & 0o777 == 0o600
        text, pages = pdf_text(out)
        letters[kind] = text
        # The decision letter's layout: letterhead, date and kenmerk lines, and its footer on every page.
        assert text.startswith("Gemeente Utrecht Ketenaanpak extreme woonoverlast")
        assert "Datum 10 oktober 2026" in text
        assert f"Ons kenmerk {case}" in text
        for number, page in enumerate(pages, 1):
            assert f"pagina {number} van {len(pages)}" in page
            assert f"Ons kenmerk {case}" in page
        assert BSN not in text
        assert OTHER_BSN not in text
        assert "1975" not in text  # nor a date of birth

    resident = letters["bewonersbrief"]
    assert "Els Bakker Dorpsstraat 1 3511 AB Utrecht" in resident  # the window address, one line each
    assert "Onderwerp Regie op de hulp aan uw huishouden" in resident
    assert "Geachte Els Bakker," in resident
    assert "heeft Mitros uw huishouden bij ons aangemeld" in resident
    assert "A. de Wit is uw casemanager" in resident  # who directs
    assert "Op 20 oktober 2026 bespreken de betrokken organisaties" in resident  # what happens next
    assert "inzage in uw gegevens" in resident
    assert "artikel 15 AVG" in resident
    assert "bezwaar maken (artikel 21 AVG)" in resident  # how to object, and where
    assert "Gemeente Utrecht, Team Privacy, Postbus 16200, 3500 CE Utrecht" in resident
    assert "Autoriteit Persoonsgegevens" in resident
    assert "Met vriendelijke groet, Gemeente Utrecht A. de Wit casemanager" in resident

    invitation = letters["uitnodiging-mdo"]
    assert "Aan de deelnemers aan het multidisciplinair overleg (MDO)" in invitation
    assert "Uitnodiging multidisciplinair overleg (MDO) op 20 oktober 2026" in invitation
    assert "Datum: 20 oktober 2026" in invitation
    assert "Tijd: 10.30 uur" in invitation
    assert "Plaats: Stadskantoor, zaal 3" in invitation
    assert "Mitros" in invitation
    assert "Lister" in invitation
    assert "Politie" not in invitation  # involved, but not at this table
    assert "het huishouden van Els Bakker" in invitation
    assert "Tim Bakker" not in invitation
    assert "Dorpsstraat" not in invitation

    agreement = letters["begeleidingsovereenkomst"]
    assert "Onderwerp Begeleidingsovereenkomst" in agreement
    assert "De buren hebben geen overlast meer" in agreement  # the goal
    assert "Woonbegeleiding twee keer per week" in agreement
    assert "01-12-2026" in agreement
    assert "Ik werk mee aan de afspraken in deze overeenkomst." in agreement  # the client's commitments
    assert re.search(r"Handtekening _{20,} _{20,}", agreement)  # signature lines for client and director
    assert "Naam Els Bakker A. de Wit, casemanager" in agreement
    assert "Met vriendelijke groet" not in agreement  # it ends with the signatures

    advice = letters["advies-aanmelder"]
    assert advice.index("Mitros t.a.v. J. Jansen") < advice.index("Datum 10 oktober 2026")  # the addressee
    assert "Advies over uw aanmelding van 5 oktober 2026" in advice
    assert "Geachte J. Jansen," in advice
    assert "het huishouden van Karel de Vries" in advice
    assert "Ons advies Zet de buurtbemiddeling voort." in advice  # the recorded advice
    assert "gemeentelijke regie is op dit moment niet nodig" in advice

    # Same page size and the same footer wording as the inzage decision letter.
    decision = PdfReader(io.BytesIO(render_pdf(sample_decision())))
    ours = PdfReader(io.BytesIO((tmp_path / "bewonersbrief.pdf").read_bytes()))
    assert ours.pages[0].mediabox == decision.pages[0].mediabox
    decision_footer = (decision.pages[0].extract_text() or "").splitlines()[-1]
    assert re.fullmatch(r"Ons kenmerk .+ pagina 1 van \d+", " ".join(decision_footer.split()))


def test_markdown_says_the_same(cli: Any, utrecht: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "brief.md"
    ok(cli, "letter", "bewonersbrief", utrecht["taken"], "--out", str(out), "--markdown", "--signatory", "A. de Wit")
    text = out.read_text("utf-8")
    assert text.startswith("# Regie op de hulp aan uw huishouden")
    assert f"Ons kenmerk: {utrecht['taken']}" in text
    assert "A. de Wit is uw casemanager" in text
    assert "## Uw rechten" in text
    assert "- inzage in uw gegevens" in text
    assert BSN not in text


def test_the_read_and_the_print_are_in_the_access_log(cli: Any, utrecht: dict[str, str], tmp_path: Path) -> None:
    case = utrecht["taken"]
    result = ok(cli, "letter", "bewonersbrief", case, "--out", str(tmp_path / "b.pdf"))
    assert "record it: regie case letter" in result.err  # writing the letter records nothing itself
    records = ok(cli, "log", "show", "--case", case, "--json", user="pim").json()
    mine = [r for r in records if r["actor"] == "anna" and r["outcome"] == "ok"]
    assert any(r["name"] == "case.show" and r["action"] == "read" for r in mine)
    printed = [r for r in mine if r["name"] == "case.letter"]
    assert len(printed) == 1
    assert printed[0]["action"] == "print"
    assert len(printed[0]["subjects"]) == 1  # the addressee's data, not the whole household's
    view = ok(cli, "case", "show", case, "--json").json()
    assert view["letter"] is None


def test_only_the_director_and_their_team_write_letters(cli: Any, utrecht: dict[str, str], tmp_path: Path) -> None:
    case = utrecht["taken"]
    out = tmp_path / "b.pdf"
    for user in ("piet", "mo", "bea", "pim"):  # an involved partner, a manager, another team, a privacy officer
        line = refused(cli, "letter", "bewonersbrief", case, "--out", str(out), user=user)
        assert line.startswith("regie: refused:"), line
        assert not out.exists()
    records = ok(cli, "log", "show", "--case", case, "--json", user="pim").json()
    denied = {r["actor"]: r for r in records if r["outcome"] == "denied"}
    assert denied["piet"]["name"] == "case.letter"
    assert denied["mo"]["name"] == "case.letter"
    assert denied["bea"]["name"] == "case.show"  # the view itself is refused to another team


def test_a_kind_that_does_not_fit_the_case_is_one_line_and_no_file(
    cli: Any, utrecht: dict[str, str], tmp_path: Path
) -> None:
    taken, declined = utrecht["taken"], utrecht["declined"]
    out = tmp_path / "x.pdf"
    for kind, case, expected in (
        ("bewonersbrief", declined, "was not taken on"),
        ("advies-aanmelder", taken, "was not declined"),
        ("uitnodiging-mdo", declined, "no MDO or casusoverleg scheduled"),
        ("begeleidingsovereenkomst", declined, "is declined"),
        ("aankondiging-achter-de-voordeur", taken, "has no home visit"),
    ):
        assert expected in refused(cli, "letter", kind, case, "--out", str(out)), kind
        assert not out.exists()
    assert "has no person PNOBODY" in refused(
        cli, "letter", "bewonersbrief", taken, "--out", str(out), "--to", "PNOBODY"
    )
    members = ok(cli, "case", "show", taken, "--json").json()["members"]
    child = next(m["person"] for m in members if m["role"] == "kind")
    assert "is a minor" in refused(cli, "letter", "bewonersbrief", taken, "--out", str(out), "--to", child)
    assert "does not take part" in refused(
        cli, "letter", "uitnodiging-mdo", taken, "--out", str(out), "--to", "politie"
    )
    assert "folder" in refused(cli, "letter", "bewonersbrief", taken, "--out", str(tmp_path / "nope" / "x.pdf"))
    # Grounds not to inform the residents (seed 001: the safety of third parties) rule the letter out.
    ok(cli, "case", "no-letter", taken, "--ground", "veiligheid-derden", "--motivation", "dreiging")
    assert "grounds not to inform" in refused(cli, "letter", "bewonersbrief", taken, "--out", str(out))
    assert not out.exists()
    # Options that belong to another kind, or text no letter can hold, are usage errors.
    assert cli("letter", "bewonersbrief", taken, "--out", str(out), "--place", "x", user="anna").code == 2
    assert cli("letter", "bewonersbrief", taken, "--out", str(out), "--signatory", "A\x1b[31m", user="anna").code == 2
    assert cli("letter", "uitnodiging-mdo", taken, "--out", str(out), "--time", "25:00", user="anna").code == 2
    assert not out.exists()


def test_zwolle_announces_the_visit_and_words_the_agreement_its_own_way(cli: Any, tmp_path: Path) -> None:
    """A profile's [letters]: Zwolle's department, visitor and the name of its agreement (seed 004)."""
    assert cli("init", "--profile", "zwolle", "--admin", "admin").code == 0
    assert cli("user", "add", "zara", "--role", "regisseur", "--team", "noord", user="admin").code == 0
    assert cli("user", "add", "wim", "--role", "partner", "--org", "swz", user="admin").code == 0
    case = ok(
        cli,
        *("case", "refer", "--from", "swz", "--worker", "W. Smit", "--reason", "huurschuld"),
        *("--problem", "financiën=huurschuld", "--director", "zara", "--json", *ON),
        "--member",
        f"name=Jan Post;born=1970-01-01;bsn={OTHER_BSN};address=Assendorperstraat 10, 8012 AB Zwolle",
        user="wim",
    ).json()["case"]
    out = tmp_path / "aankondiging.pdf"
    ok(cli, "letter", "aankondiging-achter-de-voordeur", case, "--out", str(out), "--date", "2026-12-10", user="zara")
    text, _ = pdf_text(out)
    assert text.startswith("Gemeente Zwolle Regiegroep bijzondere huishoudens")
    assert "Jan Post Assendorperstraat 10 8012 AB Zwolle" in text
    assert "Onderwerp Aankondiging van een huisbezoek" in text
    assert "Op 10 december 2026 komt de voorzitter van de regiegroep bij u langs" in text
    assert "U beslist zelf of u meedoet." in text  # the client must consent (seed 004)
    assert OTHER_BSN not in text
    assert "resident_letter = false" in refused(
        cli, "letter", "bewonersbrief", case, "--out", str(tmp_path / "b.pdf"), user="zara"
    )
    assert "no plan yet" in refused(
        cli, "letter", "begeleidingsovereenkomst", case, "--out", str(tmp_path / "o.pdf"), user="zara"
    )
    ok(cli, "case", "home-visit", case, "--note", "akkoord", *ON, user="zara")
    ok(cli, "case", "consent", case, "--given", *ON, user="zara")
    criteria = ("--criterion", "multiprobleemhuishouden", "--criterion", "overlast-of-huisuitzetting")
    ok(cli, "case", "assess", case, *criteria, *ON, user="zara")
    ok(cli, "case", "take-on", case, *ON, user="zara")
    ok(cli, "case", "involve", case, "schuldhulpverlening", *ON, user="zara")
    ok(cli, "plan", "goal", case, "--domain", "financiën", "--text", "Geen nieuwe huurschuld", *ON, user="zara")
    ok(
        cli,
        *("plan", "measure", case, "--domain", "financiën", "--owner", "schuldhulpverlening", *ON),
        *("--text", "Budgetbeheer starten", "--due", "2027-01-15", "--goal", "G1"),
        user="zara",
    )
    out = tmp_path / "overeenkomst.pdf"
    ok(cli, "letter", "begeleidingsovereenkomst", case, "--out", str(out), "--signatory", "Z. Zandstra", user="zara")
    text, _ = pdf_text(out)
    assert "Onderwerp Begeleidingsovereenkomst voor voorwaardelijke hulpverlening" in text
    assert "Geen nieuwe huurschuld" in text
    assert "Budgetbeheer starten" in text
    assert "De begeleiding duurt ten minste één jaar." in text  # minimum_guidance_months = 12
    assert "binnen twee jaar sterk zijn verminderd" in text  # result_target_months = 24
    assert "Naam Jan Post Z. Zandstra, voorzitter regiegroep" in text


def test_profile_check_names_letter_texts_that_do_not_fit(cli: Any, tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[1] / "adapters" / "profiles" / "utrecht-extreme-woonoverlast.toml"
    profile = tmp_path / "eigen.toml"
    profile.write_text(
        source.read_text("utf-8")
        + '\n[letters]\ncontact = "14 030"\n\n[letters.texts]\n'
        + '"bewonersbrief.vragen" = "Bel {telefoon}."\n"bewonersbrief.slot" = "x"\n',
        "utf-8",
    )
    result = cli("profile", "check", str(profile))
    assert result.code == 1
    assert "letters.texts.bewonersbrief.vragen: unknown placeholder {telefoon}" in result.out + result.err
    assert "letters.texts.bewonersbrief.slot: bewonersbrief has no part 'slot'" in result.out + result.err


def test_the_default_wording_uses_only_known_placeholders() -> None:
    assert (
        text_problems({f"{kind}.{part}": text for kind, parts in TEMPLATES.items() for part, text in parts.items()})
        == []
    )


def test_names_render_safely_and_are_filled_in_once() -> None:
    """Control characters never reach a letter; a name that looks like a placeholder stays a name."""
    profile, _ = resolve_profile("utrecht")
    view = {
        "case": "CTEST01",
        "status": "taken-on",
        "director": "anna",
        "referring_org": "mitros",
        "referred_on": "2026-10-01",
        "decision": {"taken_on": True, "on": "2026-10-02"},
        "letter": None,
        "members": [
            {
                "person": "P1",
                "role": "hoofdbewoner",
                "minor": False,
                "name": "Els \x1b{signatory}\u202e Bakker",
                "bsn": BSN,
                "address": "Dorpsstraat 1\r\n3511 AB Utrecht",
                "erased": False,
                "restricted": False,
            }
        ],
    }
    composed = compose_case_letter("bewonersbrief", view, profile, LetterOptions(on=date(2026, 10, 10)))
    markdown = render_case_letter(composed, date(2026, 10, 10), markdown=True).decode("utf-8")
    assert "Geachte Els {signatory} Bakker," in markdown.replace("\\", "")
    assert "\x1b" not in markdown
    assert "\u202e" not in markdown
    assert BSN not in markdown
    pdf = render_case_letter(composed, date(2026, 10, 10))
    text = " ".join(" ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Els {signatory} Bakker Dorpsstraat 1 3511 AB Utrecht" in text


def _letters_and_trail(cli: Any, case: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shown = ok(cli, "case", "show", case, "--json").json()
    trail = ok(cli, "trail", "--case", case, "--json", user="pim").json()
    return shown.get("partner_letters", []), [e for e in trail if e["event"] == "PartnerLetterWritten"]


def test_a_letter_for_partners_is_a_disclosure_in_the_case_and_the_trail(
    cli: Any, utrecht: dict[str, str], tmp_path: Path
) -> None:
    """The advice and the invitation name the household to partners: writing one is recorded as such."""
    taken, declined = utrecht["taken"], utrecht["declined"]
    out = tmp_path / "brief.pdf"
    ok(cli, "letter", "advies-aanmelder", declined, "--out", str(out), "--on", "2026-10-07")
    letters, entries = _letters_and_trail(cli, declined)
    karel = ok(cli, "case", "show", declined, "--json").json()["members"][0]["person"]
    assert letters == [
        {"kind": "advies-aanmelder", "to": ["mitros"], "persons": [karel], "on": "2026-10-07", "by": "anna"}
    ]
    assert [(e["person"], e["from"], e["to"], e["on"], e["kind"]) for e in entries] == [
        (karel, "gemeente-utrecht", "mitros", "2026-10-07", "disclosure")
    ]
    assert entries[0]["categories"] == ["identificatie", "notities"]
    assert "advies aan de aanmelder" in entries[0]["purpose"]
    assert entries[0]["legal_basis"]  # the intake's basis, from the profile
    assert "letter advies-aanmelder written 2026-10-07 by anna for mitros" in ok(cli, "case", "show", declined).out
    answer = access_items(cli, register_access_request(cli, karel, "2026-10-08"))
    recipients = [item["summary"] for key, item in answer.items() if key.startswith("recipient:")]
    assert any(summary.startswith("2026-10-07 verstrekt aan") for summary in recipients), recipients

    # An invitation goes to every participant, or to the one named; a residents' letter to no partner.
    ok(cli, "letter", "uitnodiging-mdo", taken, "--out", str(out), "--on", "2026-10-08")
    ok(cli, "letter", "uitnodiging-mdo", taken, "--out", str(out), "--on", "2026-10-09", "--to", "lister")
    ok(cli, "letter", "bewonersbrief", taken, "--out", str(out), "--on", "2026-10-09")
    letters, entries = _letters_and_trail(cli, taken)
    assert [(x["kind"], x["to"]) for x in letters] == [
        ("uitnodiging-mdo", ["mitros", "lister"]),
        ("uitnodiging-mdo", ["lister"]),
    ]
    els = letters[0]["persons"]
    assert len(els) == 1  # the main resident the letter names, not the child
    assert sorted((e["to"], e["on"]) for e in entries) == [
        ("lister", "2026-10-08"),
        ("lister", "2026-10-09"),
        ("mitros", "2026-10-08"),
    ]
    assert {e["person"] for e in entries} == set(els)
    by_person = ok(cli, "trail", "--person", els[0], "--json", user="pim").json()
    assert sum(e["event"] == "PartnerLetterWritten" for e in by_person) == 3

    # Refused letters record nothing: a partner, a director of another team, a bad option.
    before = ok(cli, "case", "show", taken, "--json").json()["version"]
    assert cli("letter", "uitnodiging-mdo", taken, "--out", str(out), user="piet").code == 1
    assert cli("letter", "uitnodiging-mdo", taken, "--out", str(out), user="bea").code == 1
    assert cli("letter", "uitnodiging-mdo", taken, "--out", str(out), "--date", "2026-10-10").code == 2
    assert ok(cli, "case", "show", taken, "--json").json()["version"] == before


def test_every_kind_of_letter_is_a_kind_the_request_model_takes() -> None:
    from typing import get_args

    from casusregie.adapters.render.case_letter_templates import KINDS
    from casusregie.commands.letters import PARTNER_LETTERS, LetterKind

    assert get_args(LetterKind) == KINDS
    assert set(PARTNER_LETTERS) <= set(KINDS)

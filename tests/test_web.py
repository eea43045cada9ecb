"""The web application in Debian's Chromium: signing in at the real provider, a referral from a partner's
form taken on by a director, and what an outsider, a forged form and an old session meet.

Every page a test opens passes axe-core (WCAG 2.1 A and AA) with 0 violations; the main pages are kept
as screenshots in build/screenshots/.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from live_server import run_regie
from web_fixtures import WebUser, WebWorld, browser, open_user, web

from casusregie.adapters.checkpoint_files import read_verifier_key
from casusregie.adapters.store import open_store
from casusregie.privacy_audit.proofs import verify_bundle

__all__ = ["browser", "web"]  # fixtures

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def people(web: WebWorld, browser: Any) -> Iterator[dict[str, WebUser]]:
    """Each user at a browser of their own, signed in once for the module."""
    opened: dict[str, WebUser] = {}

    def get(name: str) -> WebUser:
        if name not in opened:
            opened[name] = open_user(web, browser, name)
        return opened[name]

    yield _People(get)
    for user in opened.values():
        user.close()


class _People(dict):  # type: ignore[type-arg]
    def __init__(self, get: Any) -> None:
        super().__init__()
        self._get = get

    def __missing__(self, name: str) -> WebUser:
        return self._get(name)


@pytest.fixture(scope="module")
def referred(web: WebWorld, people: dict[str, WebUser]) -> str:
    """A household referred by Mitros through the web form (piet), as a partner does it."""
    piet = people["piet"]
    piet.sign_in("/acties/case.refer")
    assert piet.heading() == "Huishouden aanmelden"
    piet.check("aanmelden")
    piet.submit(
        {
            "referring_org": "mitros",
            "referring_worker": "P. Pietersen (woonconsulent)",
            "reason": "Geluidsoverlast en een huurachterstand.",
            "problems-overlast": "Harde muziek 's nachts.",
            "problems-financiën": "Drie maanden huurachterstand.",
            "members-0-name": "Karel de Vries",
            "members-0-birth_date": "1979-04-12",
            "team": "west",
        }
    )
    match = re.search(r"/zaken/([A-Z0-9]+)", piet.page.url)
    assert match, piet.page.locator("main").inner_text()[:2000] + web.server.stderr()[-3000:]
    return match.group(1)


def events(web: WebWorld) -> int:
    with sqlite3.connect(f"file:{web.settings.store}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM stored_events").fetchone()[0])


def access_log(web: WebWorld, case: str) -> list[dict[str, Any]]:
    done = run_regie(
        "--store", str(web.settings.store), "--key-dir", str(web.settings.key_dir), "--as", "pim",
        "log", "show", "--case", case, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_signing_in_goes_through_the_providers_login_page_and_back(web: WebWorld, people: dict[str, WebUser]) -> None:
    anna = people["anna"]
    anna.sign_in("/werkvoorraad")
    assert anna.page.url == f"{web.url}/werkvoorraad"
    assert anna.heading() == "Werkvoorraad"
    assert "anna" in anna.page.locator(".regie-who").inner_text()
    anna.check("werkvoorraad-leeg")


def test_an_empty_form_shows_what_is_missing_and_records_nothing(
    web: WebWorld, people: dict[str, WebUser], referred: str
) -> None:
    piet = people["piet"]
    piet.goto("/acties/case.refer")
    before = events(web)
    piet.page.click("button.utrecht-button--primary-action")
    summary = piet.page.locator(".regie-error-summary")
    assert "Er is niets vastgelegd" in summary.inner_text()
    assert "Reden: Vul dit veld in" in summary.inner_text()
    first = summary.locator("a").first
    target = first.get_attribute("href")
    assert target is not None
    assert target.startswith("#veld-")
    assert piet.page.locator(target).count() == 1  # the summary links to the field itself
    assert piet.page.locator(target).get_attribute("aria-invalid") == "true"
    piet.check("aanmelden-fouten")
    assert events(web) == before


@pytest.fixture(scope="module")
def taken_on(web: WebWorld, people: dict[str, WebUser], referred: str) -> str:
    """The director (anna) finds the referral in her worklist, assesses it, takes it on."""
    anna = people["anna"]
    if not anna.page.url.startswith(web.url):
        anna.sign_in("/werkvoorraad")
    anna.goto("/werkvoorraad")
    row = anna.page.locator("tr", has_text=referred)
    assert row.count() >= 1, anna.page.content()
    anna.check("werkvoorraad")
    row.first.locator("a").click()
    assert anna.heading() == f"Casus {referred}"
    anna.check("casus-aangemeld")

    anna.page.click("text=Aanmelding toetsen")
    anna.submit({"criteria-woninggebonden": "on", "criteria-meerdere-vormen": "on"})
    assert anna.page.url.startswith(f"{web.url}/zaken/{referred}")
    anna.page.click("text=Regisseur toewijzen")
    anna.submit({"director": "anna"})
    anna.page.click("text=In regie nemen")
    anna.check("in-regie-nemen")
    anna.submit({})
    assert "In regie nemen: vastgelegd." in anna.page.locator("[role=status]").inner_text()
    return referred


@pytest.fixture(scope="module")
def closed(web: WebWorld, people: dict[str, WebUser], taken_on: str) -> str:
    """The rest of the case, each step in the browser of who takes it: an information request answered by
    the police in their own session, a plan, an escalation decided by the manager, and closure."""
    case, anna = taken_on, people["anna"]
    anna.goto(f"/zaken/{case}")
    anna.page.click("text=Informatie opvragen")
    anna.submit(
        {
            "partner": "politie",
            "purpose": "Zicht op de aard van de overlast",
            "legal_basis": "Convenant extreme woonoverlast; Wpg art. 20",
            "categories-politie.meldingen": "on",
        }
    )
    assert "Verzoek R1 aan politie" in anna.page.locator("main").inner_text()

    pol = people["pol"]
    pol.sign_in("/werkvoorraad")
    assert pol.page.locator("tr", has_text=case).count() >= 1, "the request is in the police's worklist"
    pol.check("werkvoorraad-partner")
    pol.goto(f"/zaken/{case}")
    pol.page.click("text=Verzoek R1 beantwoorden")
    pol.check("verstrekken")
    pol.submit({"items-0-category": "politie.meldingen", "items-0-content": "Twaalf meldingen van geluidsoverlast."})
    assert "verstrekt" in pol.page.locator("main").inner_text()

    anna.goto(f"/zaken/{case}")
    anna.page.click("text=Doel stellen")
    anna.submit({"life_domain": "overlast", "description": "De overlast stopt."})
    anna.page.click("text=Maatregel afspreken")
    anna.submit(
        {
            "life_domain": "overlast",
            "owner": "mitros",
            "description": "Gesprek over huisregels.",
            "due": "2027-01-15",
            "goal": "G1",
        }
    )
    assert "Gesprek over huisregels." in anna.page.locator("main").inner_text()
    anna.page.click("text=Opschalen")
    anna.submit({"level": "2", "reason": "Zorg komt niet op gang."})
    assert "Zorg komt niet op gang." in anna.page.locator("main").inner_text()

    mia = people["mia"]
    mia.sign_in("/werkvoorraad")
    row = mia.page.locator("tr", has_text=case)
    assert row.count() >= 1, (
        f"the escalation is in the manager's worklist: {mia.page.url} {mia.page.locator('main').inner_text()}"
    )
    mia.check("werkvoorraad-manager")
    mia.goto(f"/zaken/{case}")
    mia.page.click("text=Uitkomst opschaling")
    mia.submit({"escalation": "E1", "outcome": "Doorzettingsmacht: plek binnen twee weken."})
    assert "afgehandeld" in mia.page.locator("main").inner_text()

    anna.goto(f"/zaken/{case}")
    anna.page.click("text=Casus afsluiten")
    closing = {"outcome": "goals-met", "judgement_neighbours": "improved", "aftercare": "Buurtteam houdt contact."}
    anna.submit(closing)
    refused = anna.page.locator("main").inner_text()
    assert "Er is niets vastgelegd" in refused
    assert "measures still open: M1" in refused  # what speaks against closing is named; a reason is asked
    anna.submit({**closing, "despite": "De maatregel loopt via het buurtteam door."})
    text = anna.page.locator("main").inner_text()
    assert "afgesloten" in text
    assert "doelen behaald" in text
    anna.check("casus-afgesloten")
    return case


def test_a_director_takes_on_the_partners_referral(web: WebWorld, people: dict[str, WebUser], taken_on: str) -> None:
    anna = people["anna"]
    anna.goto(f"/zaken/{taken_on}")
    text = anna.page.locator("main").inner_text()
    assert "Karel de Vries" in text
    assert "12 april 1979" in text  # dates in Dutch
    assert "in regie genomen" in text
    assert "voldoet" in text
    # every page that showed the case is an access record of the signed-in user, with the web session as proof
    reads = [e for e in access_log(web, taken_on) if e["actor"] in ("anna", "piet") and e["name"] == "case.show"]
    assert {e["actor"] for e in reads} == {"anna", "piet"}, reads
    for entry in reads:
        assert entry["authentication"]["subject"] == entry["actor"], entry
        assert entry["authentication"]["token_id"].startswith("web:"), entry


def test_a_case_runs_to_closure_across_the_partners_and_the_managers_browsers(
    web: WebWorld, people: dict[str, WebUser], closed: str
) -> None:
    anna = people["anna"]
    anna.goto(f"/zaken/{closed}")
    text = anna.page.locator("main").inner_text()
    for shown in ("Twaalf meldingen van geluidsoverlast.", "De overlast stopt.", "Doorzettingsmacht", "Buurtteam"):
        assert shown in text
    log = access_log(web, closed)
    assert {"anna", "piet", "pol", "mia"} <= {e["actor"] for e in log if e["name"] == "case.show"}
    assert all(e["authentication"] for e in log if e["actor"] in ("anna", "pol", "mia"))


def test_a_privacy_officer_answers_an_inzage_request_up_to_the_letter(
    web: WebWorld, people: dict[str, WebUser], closed: str
) -> None:
    pim = people["pim"]
    pim.sign_in("/verzoeken")
    assert pim.heading() == "Verzoeken van betrokkenen"
    pim.page.click("text=Verzoek registreren")
    pim.submit(
        {
            "kind": "access",
            "match_name": "Karel de Vries",
            "match_born": "1979-04-12",
            "requester_name": "K. de Vries",
            "requester_address": "Kanaalstraat 12, Utrecht",
            "received_on": "2026-11-20",
            "identity_check": "identiteitskaart gezien aan de balie",
        }
    )
    assert pim.page.url.startswith(f"{web.url}/verzoeken/"), pim.page.locator("main").inner_text()
    reference = pim.page.url.split("/verzoeken/")[1].split("?")[0]
    pim.goto("/werkvoorraad?dagen=30")  # due a month after it came in
    assert "verzoek inzage (art. 15)" in pim.page.locator("tr", has_text=reference).inner_text()  # in Dutch
    pim.page.click(f"text={reference}")
    pim.check("verzoek")
    assert "Reden van aanmelding" in pim.page.locator("main").inner_text(), pim.page.locator("main").inner_text()
    row = pim.page.locator("tr", has_text="Reden van aanmelding")
    assert "wacht op beoordeling" in row.inner_text()  # it names the neighbours: reviewed before it is given
    row.locator("a", has_text="weigeren").click()
    pim.submit({"ground": "i", "motivation": "Maakt de melders herkenbaar.", "what": "klachten van omwonenden"})
    assert "Onderdeel weigeren: vastgelegd." in pim.page.locator("main").inner_text(), pim.page.locator(
        "main"
    ).inner_text()
    assert "geweigerd" in pim.page.locator("tr", has_text="Reden van aanmelding").inner_text()
    preview = pim.page.request.get(f"{web.url}/verzoeken/{reference}/voorbeeld.pdf")
    assert preview.status == 200
    assert preview.headers["content-type"] == "application/pdf"
    assert preview.body().startswith(b"%PDF")
    pim.page.click("text=Inzagebesluit nemen")
    pim.submit({"signatory": "P. Privacy"})
    assert "Inzagebesluit nemen: vastgelegd." in pim.page.locator("[role=status]").inner_text()
    with pim.page.expect_download() as download:
        pim.page.click("text=Besluit als brief (PDF)")
    path = download.value.path()
    assert path is not None
    assert path.read_bytes()[:4] == b"%PDF"
    assert download.value.suggested_filename == f"besluit-{reference}.pdf"


def test_an_auditor_replays_the_case_and_verifies_the_log(
    web: WebWorld, people: dict[str, WebUser], closed: str
) -> None:
    aud = people["aud"]
    aud.sign_in("/")
    assert aud.heading() == "Audit"
    aud.page.click("text=Alles opnieuw controleren")
    assert "Het logboek klopt" in aud.page.locator("[role=status]").inner_text()
    aud.page.click("text=Nieuwe records controleren")  # builds on the one before: only what was added since
    assert "sinds de controle van" in aud.page.locator("[role=status]").inner_text()
    aud.check("audit")
    aud.page.fill("#bundel-zaak", closed)
    with aud.page.expect_download() as download:
        aud.page.click("text=Bundel downloaden")
    path = download.value.path()
    assert path is not None
    bundle = json.loads(path.read_text(encoding="utf-8"))
    store = open_store(web.settings)
    try:
        assert verify_bundle(bundle, read_verifier_key(store)).ok  # verifies offline, against the store's key
    finally:
        store.close()
    assert "Karel" not in path.read_text(encoding="utf-8")
    aud.goto(f"/audit/geschiedenis?zaak={closed}")
    text = aud.page.locator("main").inner_text()
    assert "household referred" in text
    assert "Karel" not in text  # the auditor sees the history, not the personal data
    aud.check("audit-geschiedenis")
    aud.goto(f"/toegang?zaak={closed}")
    assert "pol (partner, politie)" in aud.page.locator("main").inner_text()
    aud.check("toegangslogboek")


def test_another_organisations_case_by_url_is_refused_and_logged(
    web: WebWorld, people: dict[str, WebUser], referred: str
) -> None:
    lies = people["lies"]  # Lister: not involved in this case
    lies.sign_in(f"/zaken/{referred}")
    assert lies.heading() == "Geen toegang"
    assert "Karel" not in lies.page.content()
    assert "vastgelegd in het toegangslogboek" in lies.page.locator("main").inner_text()
    lies.check("geen-toegang")
    refusals = [e for e in access_log(web, referred) if e["actor"] == "lies"]
    assert refusals, "the refusal is in the access log"
    assert all(e["outcome"] != "ok" for e in refusals), refusals


def test_a_form_without_the_sessions_csrf_token_is_refused(
    web: WebWorld, people: dict[str, WebUser], referred: str
) -> None:
    anna = people["anna"]
    anna.goto("/werkvoorraad")
    before = events(web)
    for token in (None, "vervalst"):
        form = {"case": referred, "summary": "Gesprek gevoerd."} | ({"csrf": token} if token else {})
        response = anna.page.request.post(f"{web.url}/acties/plan.evaluate", form=form, max_redirects=0)
        assert response.status == 403
        assert "Formulier geweigerd" in response.text()
    assert events(web) == before


def test_a_sign_in_answer_that_this_browser_did_not_ask_for_is_refused(
    web: WebWorld, people: dict[str, WebUser]
) -> None:
    carla = people["carla"]
    response = carla.page.request.get(f"{web.url}/aanmelden/terug?code=abc&state=def", max_redirects=0)
    assert response.status == 400
    assert "SESSIE" not in response.text().upper() or "Aanmelden niet gelukt" in response.text()
    assert not [c for c in carla.context.cookies() if c["name"] == "regie_sessie"]


def test_an_unregistered_account_gets_no_session(web: WebWorld, browser: Any) -> None:
    stranger = open_user(web, browser, "mallory")
    try:
        stranger.sign_in("/werkvoorraad")
        assert stranger.heading() == "Geen toegang"
        assert not [c for c in stranger.context.cookies() if c["name"] == "regie_sessie"]
    finally:
        stranger.close()


def test_after_sign_in_the_browser_returns_only_to_a_page_of_this_site(web: WebWorld, browser: Any) -> None:
    bram = open_user(web, browser, "bram")
    try:
        bram.sign_in("/aanmelden?next=//elders.example.org/pad")
        assert bram.page.url.startswith(web.url + "/"), bram.page.url
        assert bram.heading() == "Werkvoorraad"
    finally:
        bram.close()


def test_an_idle_session_expires_and_asks_to_sign_in_again(web: WebWorld, browser: Any) -> None:
    mia = open_user(web, browser, "mia")
    try:
        mia.sign_in("/werkvoorraad")
        cookie = next(c["value"] for c in mia.context.cookies() if c["name"] == "regie_sessie")
        digest = hashlib.sha256(cookie.encode()).hexdigest()
        with sqlite3.connect(web.settings.store) as db:  # an hour without a page view
            changed = db.execute(
                "UPDATE regie_web_sessions SET seen_at = seen_at - 3600 WHERE digest = ?", (digest,)
            ).rowcount
        assert changed == 1
        response = mia.goto("/werkvoorraad")
        assert response.status == 401
        assert mia.heading() == "Sessie verlopen"
        mia.check()
        assert not [c for c in mia.context.cookies() if c["name"] == "regie_sessie"]
    finally:
        mia.close()


def test_signing_out_ends_the_session_here_and_at_the_provider(web: WebWorld, browser: Any) -> None:
    aud = open_user(web, browser, "carla")
    try:
        aud.sign_in("/werkvoorraad")
        aud.page.click("text=Afmelden")
        assert aud.page.url.startswith(web.provider.issuer), aud.page.url  # the provider asks to confirm
        aud.page.locator("button[name=logout][value=yes]").click()
        assert aud.page.url == f"{web.url}/afgemeld"
        assert aud.heading() == "U bent afgemeld"
        aud.check()
        aud.goto("/werkvoorraad")
        assert "/interaction/" in aud.page.url  # signed out at the provider too: its login page again
        assert aud.page.locator("#login").count() == 1
    finally:
        aud.close()


TOUR = {  # every page of each role's menu, and the pages they reach from it
    "anna": ["/werkvoorraad", "/werkvoorraad?dagen=90&te-laat=1&iedereen=1", "/zaken", "/zaken?gesloten=1",
             "/zaken/{case}", "/acties/case.refer", "/personen",
             "/rapportage", "/acties/plan.measure?case={case}", "/zoeken", "/zoeken?q=Karel",
             "/acties/overleg.plan", "/acties/document.attach?case={case}", "/acties/case.note?case={case}"],
    "pol": ["/werkvoorraad", "/zaken", "/zaken/{case}", "/zoeken?q=Karel"],
    "mia": ["/werkvoorraad", "/zaken?gesloten=1", "/rapportage"],
    "pim": ["/verzoeken", "/werkvoorraad", "/personen", "/verstrekkingen?zaak={case}", "/toegang?zaak={case}",
            "/acties/person.erase"],
    "aud": ["/audit", "/audit/geschiedenis?zaak={case}", "/toegang", "/gebruikers"],
    "admin": ["/gebruikers", "/acties/user.add"],
}  # fmt: skip


def test_every_page_of_every_role_passes_axe_and_every_read_is_logged_with_the_signed_in_user(
    web: WebWorld, people: dict[str, WebUser], closed: str
) -> None:
    for name, paths in TOUR.items():
        user = people[name]
        if not user.page.url.startswith(web.url):
            user.sign_in("/")
        for path in paths:
            response = user.goto(path.format(case=closed))
            assert response.status == 200, (name, path, user.page.locator("main").inner_text()[:300])
            assert user.page.locator("h1").count() == 1, (name, path)
            assert user.page.title().endswith(" · casusregie"), (name, path)
            slug = re.sub(r"[^a-z0-9]+", "-", path.split("?")[0].format(case="casus")).strip("-") or "start"
            user.check(f"{name}-{slug}")
    log = access_log(web, closed)
    web_reads = {e["actor"] for e in log if (e["authentication"] or {}).get("token_id", "").startswith("web:")}
    assert {"anna", "pol", "pim", "aud"} <= web_reads, web_reads
    # nobody read this case's data outside a web session in this module (but this test's own `log show` on the
    # command line): every other record names its session
    unproven = [e for e in log if not e["authentication"] and e["name"] != "log.show"]
    assert unproven == [], unproven

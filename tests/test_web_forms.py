"""The web application's forms and sessions, in-process on a store of each backend.

Signing in is the browser tests' (test_web.py, through the real provider); here a session is
opened in the store as the sign-in would open it, so that every form can be tried with any input:
a form refuses what the API refuses, says so on the page, and never answers with a server error.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import World
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenarios import day, taken_on_case

from casusregie.adapters.http.app import create_app
from casusregie.adapters.http.operations import OPERATIONS
from casusregie.adapters.http.settings import ApiSettings
from casusregie.adapters.web.oidc import PendingSignIn
from casusregie.adapters.web.sessions import (
    MAX_SIGN_INS_PER_ADDRESS,
    SIGN_IN_SECONDS,
    Expired,
    TooManySignIns,
    WebSessions,
)
from casusregie.adapters.web.settings import WebSettings
from casusregie.commands.users import LinkSubject

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ISSUER = "http://127.0.0.1:9"  # never asked: no one signs in here (see test_web.py for that)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Browser:
    client: TestClient
    world: World

    def page(self, path: str) -> Any:
        return self.client.get(path, follow_redirects=False)

    def csrf(self) -> str:
        found = CSRF.search(self.page("/acties/case.refer").text)
        assert found, "every signed-in page carries the session's CSRF token"
        return found.group(1)

    def send(self, path: str, form: dict[str, str]) -> Any:
        return self.client.post(path, data={"csrf": self.csrf(), **form}, follow_redirects=False)


@pytest.fixture
def web_app(world: World) -> Iterator[TestClient]:
    for user in ("anna", "piet", "pim", "aud", "lies", "mia"):
        world.run("admin", LinkSubject(user_id=user, subject=user, issuer=ISSUER))
    api = ApiSettings(issuer=ISSUER, audience="casusregie-api", development=True, log_format="none")
    web = WebSettings(client_id="casusregie-web", public_url="http://127.0.0.1:8400", development=True)
    with TestClient(create_app(world.settings, api, web=web), raise_server_exceptions=False) as client:
        yield client


def signed_in(client: TestClient, world: World, user: str) -> Browser:
    sessions = WebSessions(world.store.db, idle_seconds=1800, max_seconds=36000)
    client.cookies.set("regie_sessie", sessions.open(user, ISSUER))
    return Browser(client, world)


def refer(browser: Browser) -> str:
    answer = browser.send(
        "/acties/case.refer",
        {
            "referring_org": "mitros",
            "referring_worker": "P. Pietersen",
            "reason": "Overlast.",
            "problems-overlast": "Harde muziek.",
            "members-0-name": "Karel de Vries",
            "members-0-birth_date": "1979-04-12",
            "team": "west",
        },
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/zaken/([A-Z0-9]+)\?gedaan=case\.refer", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def test_every_command_has_a_form_with_a_label_for_every_field(web_app: TestClient, world: World) -> None:
    anna = signed_in(web_app, world, "anna")
    for operation in OPERATIONS:
        page = anna.page(f"/acties/{operation.command.name}")
        assert page.status_code == 200, (operation.command.name, page.text[:300])
        ids = set(re.findall(r'<(?:input|textarea|select)[^>]* id="([^"]+)"', page.text))
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', page.text))
        assert ids <= labelled, (operation.command.name, ids - labelled)


def test_a_form_refuses_what_the_api_refuses_and_records_nothing(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    before = world.count()
    answer = piet.send("/acties/case.refer", {"referring_org": "mitros", "members-0-birth_date": "12-04-1979"})
    assert answer.status_code == 422
    assert "Er is niets vastgelegd" in answer.text
    assert 'href="#veld-reason"' in answer.text  # the summary links to the field
    summary = answer.text[answer.text.index("regie-error-summary") :][:3000]
    assert "Gezinsleden: birth_date: a date is written YYYY-MM-DD" in summary, summary  # the API's reason
    assert 'id="veld-members"' in answer.text
    assert world.count() == before


def test_a_command_refused_by_its_handler_says_why_on_the_form(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    case = refer(piet)
    answer = piet.send("/acties/case.take-on", {"case": case})  # only the case's director takes it on
    assert answer.status_code == 403
    assert "Geen toegang" in answer.text
    assert "vastgelegd in het toegangslogboek" in answer.text


def test_the_page_of_a_case_shows_only_what_the_reader_may_see(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    case = refer(piet)
    lies = signed_in(web_app, world, "lies")
    page = lies.page(f"/zaken/{case}")
    assert page.status_code == 403
    assert "Karel" not in page.text
    auditor = signed_in(web_app, world, "aud")
    history = auditor.page(f"/audit/geschiedenis?zaak={case}")
    assert history.status_code == 200
    assert "household referred" in history.text
    assert "Karel" not in history.text


def test_an_auditor_replays_a_case_by_registration_time_or_by_business_date(web_app: TestClient, world: World) -> None:
    case = taken_on_case(world)  # entered today, dated from 60 days ago
    auditor = signed_in(web_app, world, "aud")
    path = f"/audit/geschiedenis?zaak={case}&peildatum={day(2).isoformat()}"
    recorded = auditor.page(path)
    assert recorded.status_code == 200
    assert "naar registratietijd" in recorded.text
    assert "0 gebeurtenis(sen) vastgelegd tot dat moment" in recorded.text
    assert "kies „feitelijke datum” om ze te zien" in recorded.text
    business = auditor.page(path + "&volgens=feitelijke-datum")
    assert business.status_code == 200
    assert "naar feitelijke datum op" in business.text
    assert "household referred" in business.text
    assert '<option value="feitelijke-datum" selected>' in business.text
    assert auditor.page(path + "&volgens=zijwaarts").status_code == 422


def test_answers_carry_the_protections_of_a_page_with_personal_data(web_app: TestClient, world: World) -> None:
    anna = signed_in(web_app, world, "anna")
    page = anna.page("/werkvoorraad")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # no script runs: default-src 'none'
    assert page.headers["x-frame-options"] == "DENY"
    assert '<html lang="nl"' in page.text


def test_without_a_session_every_page_sends_to_sign_in(web_app: TestClient) -> None:
    for path in ("/werkvoorraad", "/zaken/CABC123", "/verzoeken", "/audit", "/acties/case.refer"):
        answer = web_app.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/aanmelden?next=")
    forged = web_app.post("/acties/case.refer", data={"reason": "x"}, follow_redirects=False)
    assert forged.status_code == 303  # no session: sign in first; nothing was read or done
    assert web_app.get("/api/v1/nothing-here").headers["content-type"] == "application/problem+json"


def test_a_forged_cookie_or_session_is_no_session(web_app: TestClient, world: World) -> None:
    web_app.cookies.set("regie_sessie", "x" * 43)
    assert web_app.get("/werkvoorraad", follow_redirects=False).status_code == 303
    web_app.cookies.set("regie_sessie", "%" * 5000)
    assert web_app.get("/werkvoorraad", follow_redirects=False).status_code == 303


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operation=st.sampled_from([op.command.name for op in OPERATIONS]),
    values=st.dictionaries(
        st.sampled_from(
            ["case", "on", "reason", "summary", "director", "team", "level", "members-0-name", "members-0-birth_date",
             "problems-overlast", "criteria-woninggebonden", "due", "outcome", "kind", "request", "item", "ground",
             "user_id", "role", "received_on", "categories-politie.meldingen", "items-0-content", "person"]
        ),
        st.one_of(TEXT, st.sampled_from(["", "on", "2026-02-30", "9" * 40, "-1", "\x00", "CABC123", "anna"])),
        max_size=8,
    ),
)  # fmt: skip
def test_no_form_input_makes_a_server_error(web_app: TestClient, world: World, operation: str, values: dict) -> None:
    anna = signed_in(web_app, world, "anna")
    answer = anna.send(f"/acties/{operation}", values)
    assert answer.status_code in (200, 303, 400, 403, 404, 409, 412, 422), (operation, values, answer.text[:500])
    assert "Traceback" not in answer.text
    assert "Er ging iets mis" not in answer.text


def test_a_sign_in_is_taken_once_and_only_while_it_is_fresh(world: World) -> None:
    now = [1_000_000.0]
    sessions = WebSessions(world.store.db, idle_seconds=60, max_seconds=600, clock=lambda: now[0])
    sessions.create_table()
    pending = PendingSignIn.new("/zaken")
    cookie = sessions.start_sign_in(pending, "192.0.2.1")
    assert sessions.take_sign_in(cookie) == pending
    assert sessions.take_sign_in(cookie) is None  # a replayed answer finds nothing
    late = sessions.start_sign_in(PendingSignIn.new("/"), "192.0.2.1")
    now[0] += SIGN_IN_SECONDS + 1
    assert sessions.take_sign_in(late) is None


def test_a_session_ends_when_idle_or_too_old_and_the_store_never_holds_its_cookie(world: World) -> None:
    now = [1_000_000.0]
    sessions = WebSessions(world.store.db, idle_seconds=60, max_seconds=600, clock=lambda: now[0])
    sessions.create_table()
    cookie = sessions.open("anna", ISSUER)
    found = sessions.find(cookie)
    assert found is not None
    assert found.subject == "anna"
    with world.store.db.transaction(commit=False) as tx:
        stored = [str(v) for row in tx.execute("SELECT * FROM regie_web_sessions").fetchall() for v in row]
    assert cookie not in stored
    for _ in range(12):  # kept alive by use, every 50 s ...
        now[0] += 50
        assert sessions.find(cookie) is not None
    now[0] += 50  # ... but not beyond its maximum age (10 minutes)
    with pytest.raises(Expired):
        sessions.find(cookie)
    assert sessions.find(cookie) is None  # and gone
    idle = sessions.open("anna", ISSUER)
    now[0] += 61
    with pytest.raises(Expired):
        sessions.find(idle)
    sessions.close(cookie)


def test_one_address_cannot_fill_the_store_with_sign_ins_and_a_stranger_cookie_writes_nothing(world: World) -> None:
    sessions = WebSessions(world.store.db, idle_seconds=60, max_seconds=600)
    sessions.create_table()
    for _ in range(MAX_SIGN_INS_PER_ADDRESS):
        sessions.start_sign_in(PendingSignIn.new("/"), "192.0.2.7")
    with pytest.raises(TooManySignIns):
        sessions.start_sign_in(PendingSignIn.new("/"), "192.0.2.7")
    assert sessions.start_sign_in(PendingSignIn.new("/"), "192.0.2.8")  # others still sign in
    with world.store.db.transaction(commit=False) as tx:
        before = tx.scalar("SELECT count(*) FROM regie_web_sessions")
    assert sessions.take_sign_in("not-a-sign-in") is None
    with world.store.db.transaction(commit=False) as tx:
        assert tx.scalar("SELECT count(*) FROM regie_web_sessions") == before


def test_a_link_from_another_site_reads_nothing_until_the_user_goes_on(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    case = refer(piet)
    before = world.count()
    page = web_app.get(f"/zaken/{case}", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert page.status_code == 200
    assert "Doorgaan naar casusregie?" in page.text
    assert f'href="/zaken/{case}"' in page.text
    assert "Karel" not in page.text
    assert world.count() == before  # no read was logged in the user's name
    same_site = web_app.get(f"/zaken/{case}", headers={"Sec-Fetch-Site": "same-origin"})
    assert "Karel de Vries" in same_site.text
    assert world.count() > before


def test_a_link_fills_in_only_what_it_acts_on(web_app: TestClient, world: World) -> None:
    anna = signed_in(web_app, world, "anna")
    page = anna.page("/acties/user.add?user_id=mallory&role=beheerder&subject=x")
    assert 'value="mallory"' not in page.text
    assert '<option value="beheerder" selected>' not in page.text
    measure = anna.page("/acties/plan.progress?case=CABC123&measure=M1&status=done")
    assert 'value="CABC123"' in measure.text
    assert 'value="M1"' in measure.text
    assert '<option value="done" selected>' not in measure.text


def test_only_a_director_gets_the_list_of_directors_and_it_is_logged(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    before = world.count()
    assert "bram" not in piet.page("/acties/case.assign").text
    assert world.count() == before
    anna = signed_in(web_app, world, "anna")
    assert "bram (team oost)" in anna.page("/acties/case.assign").text
    assert world.count() > before


@pytest.mark.parametrize("token", ["é", "\x00", "a" * 5000, ""])
def test_any_csrf_value_but_the_sessions_is_refused_never_an_error(
    web_app: TestClient, world: World, token: str
) -> None:
    anna = signed_in(web_app, world, "anna")
    anna.csrf()
    before = world.count()
    for path in ("/acties/case.refer", "/afmelden"):
        answer = web_app.post(path, data={"csrf": token, "reason": "x"}, follow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code, answer.text[:300])
    assert world.count() == before


def test_a_sign_in_answer_with_any_state_is_refused_never_an_error(web_app: TestClient, world: World) -> None:
    sessions = WebSessions(world.store.db, idle_seconds=60, max_seconds=600)
    for state in ("é", "\x00", "x" * 4000):
        web_app.cookies.set("regie_aanmelding", sessions.start_sign_in(PendingSignIn.new("/"), "192.0.2.9"))
        answer = web_app.get("/aanmelden/terug", params={"state": state, "code": "c"}, follow_redirects=False)
        assert answer.status_code == 400, answer.text[:300]
        assert "Aanmelden niet gelukt" in answer.text


def test_the_worklist_filters_by_kind_and_lateness(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    case = refer(piet)
    anna = signed_in(web_app, world, "anna")
    everything = anna.page("/werkvoorraad?dagen=30")
    assert case in everything.text
    kinds = re.findall(r'<option value="([a-z-]+)"', everything.text.split('id="soort"')[1].split("</select>")[0])
    assert kinds, "the kinds of task on the list are offered as a filter"
    assert case in anna.page(f"/werkvoorraad?dagen=30&soort={kinds[0]}").text
    assert case not in anna.page("/werkvoorraad?dagen=30&soort=no-such-kind").text
    assert case not in anna.page("/werkvoorraad?dagen=30&te-laat=1").text  # nothing is late yet
    assert anna.page("/werkvoorraad?dagen=100000").status_code == 200  # an absurd horizon is the default one


def test_a_referral_that_names_no_team_reaches_the_manager_who_assigns_it(web_app: TestClient, world: World) -> None:
    piet = signed_in(web_app, world, "piet")
    answer = piet.send(
        "/acties/case.refer",
        {
            "referring_org": "mitros",
            "referring_worker": "P. Pietersen",
            "reason": "Overlast.",
            "problems-overlast": "Harde muziek.",
            "members-0-name": "Fatima El Amrani",
            "members-0-birth_date": "1985-03-03",
        },
    )
    case = answer.headers["location"].split("/zaken/")[1].split("?")[0]
    anna = signed_in(web_app, world, "anna")
    assert anna.page(f"/zaken/{case}").status_code == 403  # no team yet: not hers to take
    mia = signed_in(web_app, world, "mia")
    worklist = mia.page("/werkvoorraad").text
    assert f'href="/acties/case.assign?case={case}"' in worklist  # an unassigned referral is the manager's to assign
    form = mia.page(f"/acties/case.assign?case={case}")
    assert "anna (team west)" in form.text
    assigned = mia.send("/acties/case.assign", {"case": case, "director": "anna"})
    assert assigned.status_code == 303, assigned.text[:500]
    assert assigned.headers["location"] == "/werkvoorraad?gedaan=case.assign"  # not the case file: not the manager's
    anna = signed_in(web_app, world, "anna")
    page = anna.page(f"/zaken/{case}")
    assert page.status_code == 200
    assert "Fatima El Amrani" in page.text
    mia = signed_in(web_app, world, "mia")  # one client: each sign-in replaces the cookie
    assert case not in mia.page("/werkvoorraad").text  # assigned: no longer the manager's task


def test_stylesheets_are_compressed_and_kept_and_pages_are_neither(web_app: TestClient, world: World) -> None:
    css = web_app.get("/static/vendor/utrecht-component-library.css", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200
    assert css.headers["content-encoding"] == "gzip"
    assert css.headers["cache-control"] == "public, max-age=86400"
    assert css.num_bytes_downloaded < 100_000 < len(css.content)  # some 400 kB as published
    anna = signed_in(web_app, world, "anna")
    page = anna.client.get("/werkvoorraad", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in page.headers  # it holds the CSRF token: never compressed (BREACH)
    assert page.headers["cache-control"] == "no-store"


def test_a_director_writes_in_the_journal_on_the_case_page_and_a_partner_never_sees_it(
    web_app: TestClient, world: World
) -> None:
    piet = signed_in(web_app, world, "piet")
    case = refer(piet)
    anna = signed_in(web_app, world, "anna")
    assert 'href="/acties/case.note?case=' in anna.page(f"/zaken/{case}").text
    answer = anna.send(
        "/acties/case.note",
        {"case": case, "text": "Gebeld met de zus van Karel.", "channel": "telefoon", "with_whom": "de zus"},
    )
    assert answer.status_code == 303, answer.text
    page = anna.page(f"/zaken/{case}").text
    assert "Journaal" in page
    assert "Gebeld met de zus van Karel." in page
    assert "contact (telefoon, met de zus)" in page
    partner = signed_in(web_app, world, "piet").page(f"/zaken/{case}").text
    assert "Gebeld met de zus" not in partner
    assert "Journaal" not in partner


def test_a_casusoverleg_is_planned_and_shown_with_only_the_readers_cases(web_app: TestClient, world: World) -> None:
    case = taken_on_case(world)
    anna = signed_in(web_app, world, "anna")
    planned = anna.send(
        "/acties/overleg.plan",
        {
            "neighbourhood": "West",
            "date": day(70).isoformat(),
            "participants-mitros": "on",
            "participants-politie": "on",
        },
    )
    assert planned.status_code == 303, planned.text
    found = re.fullmatch(r"/overleggen/(W[A-Z0-9]+)\?gedaan=overleg\.plan", planned.headers["location"])
    assert found, planned.headers["location"]
    reference = found.group(1)
    assert 'href="/acties/overleg.agenda?case=' in anna.page(f"/zaken/{case}").text
    agenda = anna.send("/acties/overleg.agenda", {"case": case, "overleg": reference})
    assert agenda.status_code == 303, agenda.text
    page = anna.page(f"/overleggen/{reference}").text
    assert f'href="/zaken/{case}"' in page
    assert "te bespreken" in page
    lies = signed_in(web_app, world, "lies").page(f"/overleggen/{reference}")
    assert lies.status_code == 403  # Lister is not at the table


def test_a_director_uploads_a_document_and_downloads_it_and_a_partner_cannot(web_app: TestClient, world: World) -> None:
    case = taken_on_case(world)
    anna = signed_in(web_app, world, "anna")
    assert 'href="/acties/document.attach?case=' in anna.page(f"/zaken/{case}").text
    form = anna.page(f"/acties/document.attach?case={case}").text
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file"' in form
    content = b"vonnis WEB-UPLOAD-MARKER-3391\n" * 100
    answer = web_app.post(
        "/acties/document.attach",
        data={
            "csrf": anna.csrf(),
            "case": case,
            "type": "vonnis",
            "dated": day(3).isoformat(),
            "source": "Rechtbank",
            "title": "Vonnis ontruiming",
        },
        files={"content_base64": ("vonnis.pdf", content, "application/pdf")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[-2000:]
    page = anna.page(f"/zaken/{case}").text
    assert f'href="/zaken/{case}/stukken/D1"' in page
    download = anna.page(f"/zaken/{case}/stukken/D1")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["cache-control"] == "no-store"
    lies = signed_in(web_app, world, "lies").page(f"/zaken/{case}/stukken/D1")
    assert lies.status_code == 403
    assert b"WEB-UPLOAD-MARKER" not in lies.content


def test_a_director_downloads_the_residents_letter_and_searches_and_a_partner_writes_no_letter(
    web_app: TestClient, world: World
) -> None:
    case = taken_on_case(world)
    anna = signed_in(web_app, world, "anna")
    assert f'action="/zaken/{case}/brief?soort=bewonersbrief"' in anna.page(f"/zaken/{case}").text
    # A POST with the session's token: a letter for partners is recorded, so no link may write one.
    assert anna.page(f"/zaken/{case}/brief?soort=bewonersbrief").status_code == 405
    forged = anna.client.post(f"/zaken/{case}/brief?soort=bewonersbrief", data={"csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    pdf = anna.send(f"/zaken/{case}/brief?soort=bewonersbrief", {})
    assert pdf.status_code == 200, pdf.text[:500]
    assert pdf.content.startswith(b"%PDF")
    assert anna.send(f"/zaken/{case}/brief?soort=onzin", {}).status_code == 404
    found = anna.page("/zoeken?q=Karel").text
    assert f'href="/zaken/{case}"' in found
    assert "Karel" not in found.split("Gevonden casussen")[1]  # the fields that matched, never the text
    assert "Geen casus gevonden" in anna.page("/zoeken?q=Onbekendenaam").text
    piet = signed_in(web_app, world, "piet")
    assert piet.send(f"/zaken/{case}/brief?soort=bewonersbrief", {}).status_code == 403

"""The period report's results (seed 003, 004): deadline compliance with the data-subject requests,
the neighbours' and partners' judgements at closure, durations against the profile's result target,
reopenings counted once; as a table, JSON, CSV and a chart. Counts only, never names."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import World, make_world

from casusregie.adapters.config import Settings
from casusregie.commands.closure import CloseCase, ReopenCase
from casusregie.commands.decision import TakeOn
from casusregie.commands.referral import AssessIntake, MemberInput, ReferCase
from casusregie.commands.subject_requests import ExtendRequest, IssueAccessDecision, RegisterRequest
from casusregie.domain.case import Case
from casusregie.domain.errors import ValidationFailed
from casusregie.projections.reader import Reader
from casusregie.projections.report import period_report, periods_between, report_csv

START, END = date(2026, 1, 1), date(2026, 6, 30)
NAME = "Geertruida Rapportvelde"
REASON = "Rapportreden-8812 geluidsoverlast"


def case(
    world: World,
    referred: date,
    taken: date,
    *closures: tuple[date, str, str, str],
    reopened: tuple[date, ...] = (),
) -> str:
    """A case of anna's, referred, assessed and taken on, then closed (and reopened) as given."""
    number = str(
        world.run(
            "anna",
            ReferCase(
                referring_org="mitros",
                referring_worker="J. Jansen",
                reason=REASON,
                problems={"overlast": "lawaai"},
                members=[MemberInput(name=NAME, birth_date=date(1970, 3, 4), address="Meetlat 9")],
                director="anna",
                on=referred,
            ),
        ).data["case"]
    )
    world.run("anna", AssessIntake(case=number, criteria=["woninggebonden", "meerdere-vormen"], on=referred))
    world.run("anna", TakeOn(case=number, on=taken))
    for i, (closed, outcome, neighbours, partners) in enumerate(closures):
        world.run(
            "anna",
            CloseCase(
                case=number,
                outcome=outcome,
                judgement_neighbours=neighbours,
                judgement_partners=partners,
                despite="op verzoek van de bewoners",
                on=closed,
            ),
        )
        if i < len(reopened):
            world.run("anna", ReopenCase(case=number, reason="terugval", on=reopened[i]))
    return number


def access_request(world: World, received: date, decided: date | None, extended: date | None = None) -> str:
    reference = str(
        world.run(
            "pim",
            RegisterRequest(kind="access", requester_name="A. Verzoeker", received_on=received, identity_check="id"),
        ).data["request"]
    )
    if extended is not None:
        world.run(
            "pim", ExtendRequest(request=reference, motivation="omvangrijk", notice_sent_on=extended, on=extended)
        )
    if decided is not None:
        world.run("pim", IssueAccessDecision(request=reference, signatory="P. Jansen", on=decided))
    return reference


@pytest.fixture
def results(world: World) -> dict[str, str]:
    made = {
        # closed after more than two years of direction
        "long": case(
            world, date(2023, 1, 10), date(2023, 1, 12), (date(2026, 2, 1), "goals-met", "improved", "improved")
        ),
        "within": case(
            world, date(2025, 6, 1), date(2025, 6, 3), (date(2026, 3, 1), "partly-met", "unchanged", "improved")
        ),
        # closed, reopened and closed again within the period: one ended case, judged at its last closure
        "twice": case(
            world,
            date(2025, 9, 1),
            date(2025, 9, 2),
            (date(2026, 1, 15), "goals-met", "improved", "improved"),
            (date(2026, 4, 1), "not-met", "worsened", "unknown"),
            reopened=(date(2026, 2, 1),),
        ),
        # closed and reopened within the period: it did not end in it
        "back": case(
            world,
            date(2025, 10, 1),
            date(2025, 10, 2),
            (date(2026, 5, 1), "goals-met", "improved", "improved"),
            reopened=(date(2026, 6, 1),),
        ),
        "open": case(world, date(2024, 1, 5), date(2024, 1, 8)),  # open for more than two years at the end
    }
    access_request(world, date(2026, 2, 1), date(2026, 2, 20))  # on time
    access_request(world, date(2026, 3, 1), date(2026, 4, 15), extended=date(2026, 3, 20))  # on time, extended
    access_request(world, date(2026, 4, 1), date(2026, 5, 10))  # late: due 2026-05-01
    access_request(world, date(2026, 5, 1), None)  # open, due 2026-06-01: overdue at the end
    return made


def states(world: World, cases: dict[str, str]) -> list[Case]:
    return [world.session("anna").case(number) for number in cases.values()]


def test_judgements_durations_and_reopenings_of_the_cases_that_ended(world: World, results: dict[str, str]) -> None:
    report = period_report(states(world, results), START, END, "gemeente-utrecht", result_target_months=24)
    assert (report["closed"], report["reopened"], report["open_at_end"]) == (3, 2, 2)
    assert report["closed_by_outcome"] == {"goals-met": 1, "not-met": 1, "partly-met": 1}
    assert report["judgements_at_closure"] == {
        "neighbours": {"improved": 1, "unchanged": 1, "worsened": 1, "unknown": 0},
        "partners": {"improved": 2, "unchanged": 0, "worsened": 0, "unknown": 1},
    }
    assert report["result_target"] == {
        "months": 24,
        "measured_from": "take-on",
        "closed_within": 2,
        "closed_beyond": 1,
        "closed_within_percent": 66.7,
        "open_beyond_at_end": 1,
    }
    assert period_report(states(world, results), START, END, "gemeente-utrecht")["result_target"] is None


def test_the_target_is_counted_from_the_take_on_to_the_day(world: World) -> None:
    # taken on 2024-03-31: 24 months later is 2026-03-31 (calendar months)
    on_the_day = case(
        world, date(2024, 3, 29), date(2024, 3, 31), (date(2026, 3, 31), "goals-met", "improved", "improved")
    )
    day_after = case(
        world, date(2024, 3, 29), date(2024, 3, 31), (date(2026, 4, 1), "goals-met", "improved", "improved")
    )
    target = period_report(
        states(world, {"a": on_the_day, "b": day_after}), START, END, "gemeente-utrecht", result_target_months=24
    )["result_target"]
    assert (target["closed_within"], target["closed_beyond"]) == (1, 1)


def test_data_subject_requests_are_on_time_by_their_deadline_extended_or_not(
    world: World, results: dict[str, str]
) -> None:
    report = Reader(world.session("mia")).report(START, END)
    assert report["deadlines"]["subject-request"] == {"on_time": 2, "late": 1}
    assert report["deadlines_on_time_percent"]["subject-request"] == 66.7
    assert report["subject_requests"] == {"received": 4, "decided": 3, "extended": 1}
    assert report["overdue_at_end"]["subject-request"] == 1
    assert report["result_target"] is None  # Utrecht's approach sets no result target
    spring = Reader(world.session("mia")).report(date(2026, 2, 1), date(2026, 3, 31))
    assert spring["deadlines"]["subject-request"] == {"on_time": 1, "late": 0}  # counted when decided
    assert spring["subject_requests"] == {"received": 2, "decided": 1, "extended": 0}


def test_the_profiles_result_target_reaches_the_report(settings: Settings) -> None:
    zwolle = make_world(settings, "zwolle")
    try:
        report = Reader(zwolle.session("mia")).report(START, END)
    finally:
        zwolle.store.close()
    assert report["result_target"] == {
        "months": 24,
        "measured_from": "take-on",
        "closed_within": 0,
        "closed_beyond": 0,
        "closed_within_percent": None,
        "open_beyond_at_end": 0,
    }


def test_the_report_holds_counts_only_never_names(
    world: World, results: dict[str, str], cli: Any, tmp_path: Path
) -> None:
    world.store.close()
    outputs = [
        cli("report", "--from", START.isoformat(), "--to", END.isoformat(), *args, user="mia").out
        for args in ((), ("--json",), ("--format", "csv"))
    ]
    chart = tmp_path / "chart.svg"
    assert cli("report", "--from", "2026-01-01", "--to", "2026-06-30", "--chart", str(chart), user="anna").code == 0
    outputs.append(chart.read_text(encoding="utf-8"))
    for output in outputs:
        assert output
        for text in (NAME, "Rapportvelde", "Rapportreden", "Meetlat", "Verzoeker", "J. Jansen", *results.values()):
            assert text not in output


def test_the_cli_prints_a_table_json_or_csv(world: World, results: dict[str, str], cli: Any) -> None:
    world.store.close()
    period = ("report", "--from", START.isoformat(), "--to", END.isoformat())
    table = cli(*period, user="mia")
    assert table.code == 0, table.err
    assert "neighbours: improved: 1, unchanged: 1, worsened: 1, unknown: 0" in table.out
    assert "subject-request: 2 on time, 1 late (66.7% on time)" in table.out
    assert "no result target in this profile" in table.out
    as_json = cli(*period, "--json", user="mia").json()
    assert cli(*period, "--format", "json", user="mia").json() == as_json
    rows = dict(csv.reader(io.StringIO(cli(*period, "--format", "csv", user="mia").out)))
    assert rows["figure"] == "value"
    assert rows["judgements_at_closure.partners.improved"] == "2"
    assert rows["deadlines.subject-request.late"] == "1"
    assert rows["result_target"] == ""
    assert rows["closed"] == str(as_json["closed"]) == "3"
    both = cli(*period, "--json", "--format", "csv", user="mia")
    assert both.code == 2
    assert "two formats" in both.err


def test_report_and_chart_files_are_written_privately(cli: Any, world: World, tmp_path: Path) -> None:
    case(world, date(2026, 1, 5), date(2026, 1, 6), (date(2026, 3, 2), "goals-met", "improved", "unchanged"))
    world.store.close()
    period = ("report", "--from", "2026-01-01", "--to", "2026-06-30")
    out, png, svg = tmp_path / "r.csv", tmp_path / "r.png", tmp_path / "r.svg"
    written = cli(*period, "--format", "csv", "--out", str(out), "--chart", str(png), user="anna")
    assert written.code == 0, written.err
    assert written.out == ""
    assert f"wrote the report to {out}" in written.err
    assert f"wrote the chart to {png}" in written.err
    assert out.read_text(encoding="utf-8").startswith("figure,value\n")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    for path in (out, png):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    shown = cli(*period, "--chart", str(svg), user="anna")
    assert shown.code == 0
    assert "referrals" in shown.out  # the table is printed as well
    drawn = svg.read_text(encoding="utf-8")
    assert "<svg" in drawn
    assert "<!-- Jan 26 -->" in drawn  # matplotlib notes each text it draws as paths


def test_a_planted_symlink_is_replaced_not_followed(cli: Any, world: World, tmp_path: Path) -> None:
    world.store.close()
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched", encoding="utf-8")
    link = tmp_path / "chart.png"
    link.symlink_to(victim)
    assert cli("report", "--from", "2026-01-01", "--to", "2026-03-31", "--chart", str(link), user="anna").code == 0
    assert victim.read_text(encoding="utf-8") == "untouched"
    assert not link.is_symlink()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--chart", "{tmp}/nowhere/c.png"), "does not exist"),
        (("--chart", "{tmp}/c.gif"), "a chart is a .png or .svg file"),
        (("--chart", "{tmp}"), "is a folder"),
        (("--format", "csv", "--out", "{tmp}/nowhere/r.csv", "--chart", "{tmp}/c.png"), "does not exist"),
        (("--format", "csv", "--out", "{tmp}/r.csv", "--chart", "{tmp}/c.gif"), "a chart is a .png or .svg file"),
        (("--format", "csv", "--out", "{tmp}/same.svg", "--chart", "{tmp}/same.svg"), "the same file"),
    ],
)
def test_a_bad_path_is_one_line_and_writes_and_logs_nothing(
    cli: Any, world: World, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    before = world.count("AccessTrace")
    world.store.close()
    given = [a.format(tmp=tmp_path) for a in args]
    files = set(tmp_path.iterdir())
    result = cli("report", "--from", "2026-01-01", "--to", "2026-03-31", *given, user="anna")
    assert result.code == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert message in result.err
    assert set(tmp_path.iterdir()) == files
    world = world.reopen()
    assert world.count("AccessTrace") == before  # refused before anything was read
    world.store.close()


def test_out_needs_a_file_format(cli: Any, world: World, tmp_path: Path) -> None:
    world.store.close()
    result = cli("report", "--from", "2026-01-01", "--to", "2026-03-31", "--out", str(tmp_path / "r.txt"), user="anna")
    assert result.code == 2
    assert "--out writes --format csv or --format json" in result.err


def test_the_csv_is_safe_to_open_in_a_spreadsheet() -> None:
    text = report_csv({"escalations_by_level": {"=HYPERLINK(1)": 2}, "closed": 1, "none": None})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["figure", "value"], ["escalations_by_level.=HYPERLINK(1)", "2"], ["closed", "1"], ["none", ""]]
    assert report_csv({"=cmd": "-1+1"}).splitlines()[1] == "'=cmd,'-1+1"


def test_a_chart_has_a_bar_group_per_month_quarter_or_year() -> None:
    months = periods_between(date(2026, 1, 15), date(2026, 12, 10))
    assert (len(months), months[0], months[-1]) == (
        12,
        (date(2026, 1, 15), date(2026, 1, 31)),
        (date(2026, 12, 1), date(2026, 12, 10)),
    )
    quarters = periods_between(date(2020, 2, 3), date(2026, 5, 1))
    assert quarters[0] == (date(2020, 2, 3), date(2020, 3, 31))
    assert quarters[1] == (date(2020, 4, 1), date(2020, 6, 30))
    years = periods_between(date(2000, 2, 3), date(2026, 5, 1))
    assert (len(years), years[-1]) == (27, (date(2026, 1, 1), date(2026, 5, 1)))
    days = [d for first, last in years for d in (first, last)]
    assert days == sorted(days)
    with pytest.raises(ValidationFailed, match="at most 36 years"):
        periods_between(date(1900, 1, 1), date(2026, 5, 1))


def test_the_json_report_round_trips() -> None:
    report = period_report([], START, END, "x", result_target_months=12)
    assert json.loads(json.dumps(report)) == report
    assert report["judgements_at_closure"]["neighbours"] == {"improved": 0, "unchanged": 0, "worsened": 0, "unknown": 0}


def test_the_api_returns_the_results_as_the_openapi_document_says(http_api: Any) -> None:
    case(http_api.world, date(2026, 1, 5), date(2026, 1, 6), (date(2026, 3, 2), "goals-met", "improved", "unchanged"))
    answer = http_api.as_("mia").get("/period-reports?from=2026-01-01&to=2026-06-30")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == Reader(http_api.world.session("mia")).report(START, END)
    assert body["judgements_at_closure"]["partners"]["unchanged"] == 1
    assert body["median_duration_days"] == 56  # a whole number stays one
    schema = http_api.client.get("/api/v1/openapi.json").json()["components"]["schemas"]["PeriodReport"]
    assert set(schema["properties"]) == set(body)


ISSUER = "http://127.0.0.1:9"  # never asked: the session is opened in the store as a sign-in would


@pytest.fixture
def web_client(world: World) -> Any:
    import warnings

    from casusregie.adapters.http.app import create_app
    from casusregie.adapters.http.settings import ApiSettings
    from casusregie.adapters.web.sessions import WebSessions
    from casusregie.adapters.web.settings import WebSettings
    from casusregie.commands.users import LinkSubject

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    for user in ("mia", "piet"):
        world.run("admin", LinkSubject(user_id=user, subject=user, issuer=ISSUER))
    api = ApiSettings(issuer=ISSUER, audience="casusregie-api", development=True, log_format="none")
    web = WebSettings(client_id="casusregie-web", public_url="http://127.0.0.1:8400", development=True)
    sessions = WebSessions(world.store.db, idle_seconds=1800, max_seconds=36000)

    def signed_in(user: str) -> TestClient:
        client.cookies.set("regie_sessie", sessions.open(user, ISSUER))
        return client

    with TestClient(create_app(world.settings, api, web=web), raise_server_exceptions=False) as client:
        yield signed_in


def test_the_report_page_shows_the_results_and_offers_csv_and_chart(
    world: World, results: dict[str, str], web_client: Any
) -> None:
    mia = web_client("mia")
    page = mia.get("/rapportage?van=2026-01-01&tot=2026-06-30")
    assert page.status_code == 200, page.text[:500]
    assert "Oordeel over het resultaat bij afsluiting in de periode" in page.text
    assert "verzoek van betrokkene (inzage en andere rechten)</dt>" in page.text
    assert "2 op tijd, 1 te laat (66,7% op tijd)" in page.text
    assert "Resultaattermijn" in page.text
    assert NAME not in page.text
    csv_file = mia.get("/rapportage/cijfers.csv?van=2026-01-01&tot=2026-06-30")
    assert csv_file.status_code == 200
    assert csv_file.headers["content-type"].startswith("text/csv")
    assert csv_file.headers["content-disposition"] == 'attachment; filename="rapportage-2026-01-01-2026-06-30.csv"'
    rows = dict(csv.reader(io.StringIO(csv_file.text)))
    assert rows["judgements_at_closure.neighbours.worsened"] == "1"
    svg = mia.get("/rapportage/grafiek.svg?van=2026-01-01&tot=2026-06-30")
    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")
    assert "<!-- aanmeldingen -->" in svg.text
    png = mia.get("/rapportage/grafiek.png?van=2026-01-01&tot=2026-06-30")
    assert png.content.startswith(b"\x89PNG")
    assert mia.get("/rapportage/grafiek.gif").status_code == 404
    assert web_client("piet").get("/rapportage/cijfers.csv").status_code == 403  # a partner reads no reports

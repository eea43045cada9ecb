"""Auditor replay (#6): the case as of a moment, its narrative, diffs, refusals and logging."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import World, make_world
from hypothesis import given
from hypothesis import strategies as st
from test_audit_verify import refer, story

from casusregie.adapters.config import Settings
from casusregie.adapters.profile_file import builtin_profiles
from casusregie.commands.decision import TakeOn
from casusregie.commands.erasure import ErasePerson
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.referral import AssessIntake, MemberInput, ReferCase
from casusregie.domain.access import AccessTrace
from casusregie.domain.errors import AccessDenied, ValidationFailed
from casusregie.privacy_audit.replay import (
    business_day,
    diff_case,
    diff_states,
    folded,
    parse_moment,
    replay_case,
)


def now() -> datetime:
    time.sleep(0.02)  # event timestamps must fall clearly on either side
    moment = datetime.now(UTC)
    time.sleep(0.02)
    return moment


def traces(world: World) -> list[AccessTrace]:
    """Every access-log trace, oldest first."""
    with world.store.db.transaction(commit=False) as tx:
        rows = tx.execute("SELECT originator_id FROM stored_events WHERE topic LIKE '%AccessTrace.Started'").fetchall()
    from uuid import UUID

    found = [world.app.get(UUID(str(oid))) for (oid,) in rows]
    return sorted(found, key=lambda t: t.started_at)


def disclosure_story(world: World) -> dict[str, Any]:
    numbers = story(world)  # ends with the police's disclosure in answer to R1
    case = numbers["case"]
    before = now()
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="lister",
            purpose="zicht op begeleiding",
            legal_basis="art. 5.4 convenant",
            categories=["zorg.woonbegeleiding"],
        ),
    ).data["request"]
    middle = now()
    world.run(
        "lies",
        DiscloseInformation(
            case=case,
            request=request,
            partner_legal_basis="Wmo art. 5.2.1",
            items=[
                DisclosureItem(category="zorg.woonbegeleiding", content="begeleiding sinds maart"),
            ],
        ),
    )
    after = now()
    return {**numbers, "second": request, "before": before, "middle": middle, "after": after}


def test_replay_before_a_disclosure_lacks_it_and_after_includes_it(world: World) -> None:
    s = disclosure_story(world)
    auditor = world.session("aud")
    early = replay_case(auditor, s["case"], s["middle"])
    late = replay_case(auditor, s["case"], s["after"])
    request = {r["request"]: r for r in early["state"]["requests"]}[s["second"]]
    assert request["status"] == "open"
    assert request["items"] == []
    assert [e["event"] for e in early["narrative"]][-1] == "InformationRequested"
    request = {r["request"]: r for r in late["state"]["requests"]}[s["second"]]
    assert request["status"] == "disclosed"
    assert [i["category"] for i in request["items"]] == ["zorg.woonbegeleiding"]
    assert late["events"] == early["events"] + 1
    # nothing at all before the referral
    assert replay_case(auditor, s["case"], parse_moment("2001-01-01"))["state"] is None


def test_narrative_tells_who_with_which_role_on_which_basis(world: World) -> None:
    s = disclosure_story(world)
    narrative = replay_case(world.session("aud"), s["case"], s["after"])["narrative"]
    assert [e["version"] for e in narrative] == list(range(1, len(narrative) + 1))
    referred = narrative[0]
    assert (referred["event"], referred["by"], referred["role"], referred["organisation"]) == (
        "Referred",
        "anna",
        "regisseur",
        "gemeente-utrecht",
    )
    assert referred["what"] == "household referred (aangemeld)"
    assert referred["recorded_at"]
    assert referred["business_date"]
    requested = [e for e in narrative if e["event"] == "InformationRequested"][-1]
    assert requested["purpose"] == "[afgeschermd]"  # the director's free text; auditors here see no personal data
    assert requested["legal_basis"] == "art. 5.4 convenant"
    assert requested["to"] == "lister"
    assert requested["role_nl"] == "casusregisseur"
    disclosed = narrative[-1]
    assert disclosed["event"] == "InformationDisclosed"
    assert (disclosed["by"], disclosed["role"], disclosed["organisation"]) == ("lies", "partner", "lister")
    assert disclosed["what"] == "information disclosed by a partner (informatie verstrekt)"
    assert disclosed["purpose"] == "[afgeschermd]"
    assert disclosed["legal_basis"] == "art. 5.4 convenant"
    assert disclosed["partner_legal_basis"] == "Wmo art. 5.2.1"
    assert disclosed["to"].startswith("gemeente-utrecht (requested by anna, ")
    assert disclosed["disclosed"] == [{"category": "zorg.woonbegeleiding", "about": "huishouden"}]  # no content
    police = next(e for e in narrative if e["event"] == "InformationDisclosed")
    assert police["organisation"] == "politie"
    assert police["legal_basis"] == "convenant art. 5.3"


def test_diff_shows_what_changed_between_two_moments(world: World) -> None:
    s = disclosure_story(world)
    diff = diff_case(world.session("aud"), s["case"], s["middle"], s["after"])
    assert [e["event"] for e in diff["narrative"]] == ["InformationDisclosed"]
    changes = {c["path"]: (c["before"], c["after"]) for c in diff["changes"]}
    assert changes[f"requests[{s['second']}].status"] == ("open", "disclosed")
    assert changes[f"requests[{s['second']}].answered_by"] == (None, "lies")
    assert changes[f"requests[{s['second']}].items[0].category"] == (None, "zorg.woonbegeleiding")
    assert "requests[R1].status" not in changes  # unchanged in that window
    # reversed arguments mean the same window
    assert diff_case(world.session("aud"), s["case"], s["after"], s["middle"])["changes"] == diff["changes"]
    assert diff_states(None, {"a": 1}) == [{"path": "a", "before": None, "after": 1}]


def test_only_auditors_replay_and_every_refusal_and_read_is_logged(world: World) -> None:
    s = disclosure_story(world)
    case_id = world.session("anna").case(s["case"]).id
    for user in ("anna", "mia", "pim", "admin", "pol"):
        before = len(traces(world))
        with pytest.raises(AccessDenied, match="only auditors"):
            replay_case(world.session(user), s["case"], s["after"])
        logged = traces(world)
        assert len(logged) == before + 1
        assert (logged[-1].actor, logged[-1].outcome, logged[-1].activity, logged[-1].case_id) == (
            user,
            "denied",
            "toezicht-audit",
            case_id,
        )
    with pytest.raises(AccessDenied):
        diff_case(world.session("anna"), s["case"], s["middle"], s["after"])
    before = len(traces(world))
    replay_case(world.session("aud"), s["case"], s["after"])
    diff_case(world.session("aud"), s["case"], s["middle"], s["after"])
    logged = traces(world)
    assert len(logged) == before + 2
    for trace, name in zip(logged[-2:], ("audit.replay", "audit.diff"), strict=True):
        assert (trace.actor, trace.name, trace.activity, trace.outcome, trace.case_id) == (
            "aud",
            name,
            "toezicht-audit",
            "ok",
            case_id,
        )
        assert trace.subjects == []  # Utrecht grants auditors no personal data: none shown, none logged


def test_with_personal_data_granted_the_content_shows_and_the_persons_are_logged(tmp_path: Path) -> None:
    text = builtin_profiles()["utrecht-extreme-woonoverlast"].read_text(encoding="utf-8")
    granted = text.replace(
        'sees = ["case_history", "disclosure_trail", "access_log", "withheld_items"]',
        'sees = ["case_history", "disclosure_trail", "access_log", "withheld_items", "personal_data"]',
    )
    assert granted != text
    profile = tmp_path / "granted.toml"
    profile.write_text(granted, encoding="utf-8")
    world = make_world(
        Settings(store=str(tmp_path / "s.db"), key_dir=tmp_path / "keys", checkpoint_dir=None, config_file=None),
        str(profile),
    )
    try:
        s = disclosure_story(world)
        case = world.session("anna").case(s["case"])
        kim = next(m for m in case.members.values() if m.role == "kind")
        before_erasure = now()
        world.run("pim", ErasePerson(person=kim.ref, ground="granted-request"))
        replay = replay_case(world.session("aud"), s["case"], datetime.now(UTC))
        assert replay["personal_data"] is True
        disclosed = [e for e in replay["narrative"] if e["event"] == "InformationDisclosed"][-1]
        assert disclosed["disclosed"][0]["content"] == "begeleiding sinds maart"
        names = {m["person"]: m["name"] for m in replay["state"]["members"]}
        assert names[kim.ref] == "[gewist]"  # crypto-shredded: erased for the auditor too
        assert "Karel Jansen" in names.values()
        assert {m["person"]: m["erased"] for m in replay["state"]["members"]}[kim.ref] is True
        erased = [e for e in replay["narrative"] if "gewist" in e["what"]]
        assert len(erased) == 1
        assert (erased[0]["by"], erased[0]["role"]) == ("pim", "privacy-officer")
        # as of before the erasure, the person was not erased yet (though the data no longer opens)
        earlier = replay_case(world.session("aud"), s["case"], before_erasure)
        assert {m["person"]: m["erased"] for m in earlier["state"]["members"]}[kim.ref] is False
        assert not [e for e in earlier["narrative"] if "gewist" in e["what"]]
        trace = next(t for t in traces(world) if t.name == "audit.replay")  # the first replay's record
        assert sorted(subject for _, subject, _ in trace.subjects) == sorted(str(m) for m in case.members)
    finally:
        world.store.close()


def test_parse_moment() -> None:
    assert parse_moment("2024-05-01") == datetime(2024, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_moment("2024-05-01T10:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_moment("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        parse_moment("gisteren")


def test_cli_replay_and_diff(world: World, cli: Any) -> None:
    s = disclosure_story(world)
    as_of = s["middle"].isoformat()
    result = cli("audit", "replay", s["case"], "--as-of", as_of, "--json", user="aud")
    assert result.code == 0, result.err
    data = result.json()
    assert data["case"] == s["case"]
    assert data["narrative"][-1]["event"] == "InformationRequested"
    text = cli("audit", "replay", s["case"], user="aud")
    assert text.code == 0
    assert "information disclosed by a partner (informatie verstrekt)" in text.out
    assert "purpose: [afgeschermd]" in text.out
    assert "zicht op begeleiding" not in text.out
    with_access = cli("audit", "replay", s["case"], "--access", "--json", user="aud")
    assert with_access.code == 0
    names = [r["name"] for r in with_access.json()["access_log"]]
    assert "info.disclose" in names
    assert "audit.replay" in names  # the auditor's own earlier reads are on record too
    diff = cli("audit", "diff", s["case"], as_of, s["after"].isoformat(), "--json", user="aud")
    assert diff.code == 0
    assert any(c["path"].endswith(".status") for c in diff.json()["changes"])
    assert "changed" in cli("audit", "diff", s["case"], as_of, s["after"].isoformat(), user="aud").out
    refused = cli("audit", "replay", s["case"], user="anna")
    assert refused.code == 1
    assert refused.err.startswith("regie: refused:")
    assert cli("audit", "replay", s["case"], "--as-of", "gisteren", user="aud").code == 1
    assert cli("audit", "replay", "CNOSUCH", user="aud").code == 1


def test_replay_of_an_unknown_case_and_a_case_without_disclosures(world: World) -> None:
    number = refer(world)
    result = replay_case(world.session("aud"), number, datetime.now(UTC))
    assert [e["event"] for e in result["narrative"]] == ["Referred"]
    assert result["state"]["status"] == "referred"


# --- the two time axes: recording time (registratietijd) and business date (feitelijke datum) ---------------


def days_ago(n: int) -> date:
    return date.today() - timedelta(days=n)


def entered_late(world: World) -> dict[str, Any]:
    """A case entered today with the dates it really happened on (``--on``), one of them out of order.

    v1 referred 30 days ago, v2 assessed 27 days ago, v3 taken on 26 days ago, and then v4: an
    information request dated 28 days ago, entered after events dated later.
    """
    case = world.run(
        "anna",
        ReferCase(
            referring_org="politie",
            referring_worker="W. Agent",
            reason="ernstige overlast",
            problems={"overlast": "geluidsoverlast en bedreiging"},
            members=[MemberInput(name="Karel Jansen", birth_date="1980-01-02")],
            on=days_ago(30),
        ),
    ).data["case"]
    world.run("anna", AssessIntake(case=case, criteria=["woninggebonden", "ernstig-of-langdurig"], on=days_ago(27)))
    world.run("anna", TakeOn(case=case, on=days_ago(26)))
    request = world.run(
        "anna",
        RequestInformation(
            case=case,
            partner="politie",
            purpose="inzicht in de overlast",
            legal_basis="convenant art. 5.3",
            categories=["politie.meldingen"],
            on=days_ago(28),
        ),
    ).data["request"]
    return {"case": str(case), "request": str(request)}


def at(n: int) -> datetime:
    """The end of the day ``n`` days ago, as ``--as-of YYYY-MM-DD`` means it."""
    return parse_moment(days_ago(n).isoformat())


def test_by_recording_time_a_case_entered_late_did_not_exist_yet_and_the_replay_says_why(world: World) -> None:
    s = entered_late(world)
    replay = replay_case(world.session("aud"), s["case"], at(28))
    assert (replay["axis"], replay["events"], replay["state"], replay["narrative"]) == ("recorded", 0, None, [])
    assert replay["other_axis"] == {"axis": "business", "events": 2}  # the referral and the back-dated request
    assert replay["hint"].startswith(f"2 event(s) dated on or before {days_ago(28)} were recorded after")


def test_by_business_date_the_case_stands_as_the_dates_users_gave_it(world: World) -> None:
    s = entered_late(world)
    auditor = world.session("aud")
    early = replay_case(auditor, s["case"], at(29), axis="business")
    assert (early["axis"], early["as_of"], early["events"]) == ("business", days_ago(29).isoformat(), 1)
    assert early["state"]["status"] == "referred"
    assert (early["not_in_state"], early["hint"]) == ([], None)
    # the request is dated 28 days ago but was entered after the intake dated 27 days ago: it is told, in
    # date order, yet the state stays the one the log really held (after v1), and the replay says so
    mid = replay_case(auditor, s["case"], at(28), axis="business")
    assert [(e["version"], e["event"], e["in_state"]) for e in mid["narrative"]] == [
        (1, "Referred", True),
        (4, "InformationRequested", False),
    ]
    assert (mid["events"], mid["state_version"], mid["not_in_state"]) == (2, 1, [4])
    assert not mid["state"].get("requests")
    late = replay_case(auditor, s["case"], at(26), axis="business")
    assert [e["version"] for e in late["narrative"]] == [1, 4, 2, 3]  # by business date
    assert (late["state_version"], late["not_in_state"], late["state"]["status"]) == (4, [], "taken-on")
    assert [r["request"] for r in late["state"]["requests"]] == [s["request"]]


def test_on_either_axis_the_latest_moment_shows_the_whole_case(world: World) -> None:
    s = entered_late(world)
    auditor = world.session("aud")
    by_date = replay_case(auditor, s["case"], parse_moment("9999-12-31"), axis="business")
    by_recording = replay_case(auditor, s["case"], datetime.now(UTC))
    assert by_date["state"] == by_recording["state"]
    assert by_date["events"] == by_recording["events"] == 4
    assert by_date["not_in_state"] == by_recording["not_in_state"] == []


def test_diff_on_both_axes(world: World) -> None:
    s = entered_late(world)
    auditor = world.session("aud")
    recorded = diff_case(auditor, s["case"], at(29), at(27))
    assert (recorded["axis"], recorded["narrative"], recorded["changes"]) == ("recorded", [], [])
    assert recorded["other_axis"] == {"axis": "business", "events": 2}
    assert recorded["hint"].startswith("2 event(s) dated in this window were recorded outside it")
    business = diff_case(auditor, s["case"], at(29), at(27), axis="business")
    assert (business["from"], business["to"]) == (days_ago(29).isoformat(), days_ago(27).isoformat())
    assert [(e["event"], e["in_state"]) for e in business["narrative"]] == [
        ("InformationRequested", False),
        ("IntakeAssessed", True),
    ]
    assert business["not_in_state"] == {"from": [], "to": [4]}
    paths = {c["path"] for c in business["changes"]}
    assert any(p.startswith("assessment") for p in paths)
    assert not any(p.startswith("requests") for p in paths)
    with pytest.raises(ValidationFailed, match="unknown axis"):
        diff_case(auditor, s["case"], at(29), at(27), axis="sideways")


def test_cli_names_the_axis_and_points_to_the_other(world: World, cli: Any) -> None:
    s = entered_late(world)
    day = days_ago(28).isoformat()
    recorded = cli("audit", "replay", s["case"], "--as-of", day, user="aud")
    assert recorded.code == 0, recorded.err
    lines = recorded.out.splitlines()
    assert lines[0].endswith(f"as of {day}T23:59:59+00:00 by recording time (registratietijd): 0 events")
    assert f"note: 2 events dated on or before {day} were recorded later; --axis business shows them" in lines
    business = cli("audit", "replay", s["case"], "--as-of", day, "--axis", "business", user="aud")
    assert business.code == 0, business.err
    lines = business.out.splitlines()
    assert lines[0] == f"case {s['case']} as of {day} by business date (feitelijke datum): 2 events"
    assert "not in the state: v4" in business.out
    assert "household referred (aangemeld)" in business.out
    as_json = cli("audit", "replay", s["case"], "--as-of", day, "--axis", "business", "--json", user="aud")
    assert (as_json.json()["axis"], as_json.json()["events"]) == ("business", 2)
    assert cli("audit", "replay", s["case"], "--as-of", day, "--json", user="aud").json()["axis"] == "recorded"
    t1, t2 = days_ago(29).isoformat(), days_ago(27).isoformat()
    diff = cli("audit", "diff", s["case"], t1, t2, "--axis", "business", "--json", user="aud")
    assert diff.code == 0, diff.err
    assert (diff.json()["axis"], len(diff.json()["narrative"])) == ("business", 2)
    text = cli("audit", "diff", s["case"], t1, t2, user="aud")
    assert "by recording time (registratietijd)" in text.out
    assert "0 field(s) changed" in text.out
    assert "note: 2 events dated in this window were recorded outside it; --axis business shows them" in text.out
    bad = cli("audit", "replay", s["case"], "--axis", "sideways", user="aud")
    assert bad.code == 2
    assert "sideways" in bad.err
    assert "'recorded', 'business'" in bad.err


Day = st.integers(min_value=0, max_value=40)


@given(dated=st.lists(st.one_of(Day, st.none()), min_size=1, max_size=12), as_of=Day)
def test_the_state_by_business_date_folds_the_longest_run_dated_in_time(dated: list[int | None], as_of: int) -> None:
    """Events in version order, each with a business date (days from a start) or none (then its recording day)."""
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    events = [
        SimpleNamespace(
            timestamp=start + timedelta(days=40 + i),
            on=None if d is None else (start + timedelta(days=d)).date(),
        )
        for i, d in enumerate(dated)
    ]
    day = (start + timedelta(days=as_of)).date()
    moment = datetime.combine(day, datetime.max.time(), tzinfo=UTC)
    count = folded(events, moment, "business")
    assert all(business_day(e) <= day for e in events[:count])  # nothing dated later is in the state
    assert count == len(events) or business_day(events[count]) > day  # and it stops only where it must
    if all(business_day(e) <= day for e in events):
        assert count == len(events)  # a date after every event: the whole case
    if dated == sorted(dated, key=lambda d: 99 if d is None else d):
        assert count == sum(business_day(e) <= day for e in events)  # dated in order: nothing is left out
    assert all(business_day(e) == e.timestamp.date() for e, d in zip(events, dated, strict=True) if d is None)


def test_every_kind_of_case_event_has_words_in_the_auditors_narrative() -> None:
    from eventsourcing.domain import AggregateEvent

    from casusregie.domain.case import Case
    from casusregie.privacy_audit.replay import TERMS

    kinds = {
        name
        for name, value in vars(Case).items()
        if isinstance(value, type) and issubclass(value, AggregateEvent) and name not in ("Event", "Created")
    }
    assert "ProblemResolved" in kinds
    assert sorted(kinds - set(TERMS)) == []

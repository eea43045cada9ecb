"""Auditor replay (#6): the case as of a moment, its narrative, diffs, refusals and logging."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import World, make_world
from test_audit_verify import refer, story

from casusregie.adapters.config import Settings
from casusregie.adapters.profile_file import builtin_profiles
from casusregie.commands.erasure import ErasePerson
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.domain.access import AccessTrace
from casusregie.domain.errors import AccessDenied, ValidationFailed
from casusregie.privacy_audit.replay import diff_case, diff_states, parse_moment, replay_case


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

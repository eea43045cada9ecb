"""Inzage: compiling one person's access answer does not grow with the store.

Two stores on the same backend, one of 100k events and one of 1M events (10k and 50k with
--quick), each with 10,000 persons (5,000 two-person households referred through the real
commands) and one person of interest with the same own history in both: a case of about
200 events, a police disclosure and a stream of consultations. The rest of the log is what
dominates a real one: access records of reads touching the other persons. Compiling the
answer (``build_decision``: the person's case state, their disclosure trail and their
consultations, from indexed views; then the refusals applied) is timed in both stores.
Targets: under a second at 1M events; the 1M time at most 1.5 times the 100k time. With
``python -m benchmarks --scale`` the large store holds 2M events (or the size given).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, date, datetime
from typing import Any

from benchmarks.common import (
    DAY,
    ProjectWorld,
    log,
    refer_command,
    round_robin,
    scale_records,
    section,
    temp_location,
)
from casusregie.commands.information import DiscloseInformation, DisclosureItem, RequestInformation
from casusregie.commands.subject_requests import IssueAccessDecision, RegisterRequest, build_decision, load_request
from casusregie.commands.users import AddUser
from casusregie.domain.access import Action
from casusregie.domain.roles import Actor, Role, User
from casusregie.privacy_audit.access_log import build_trace
from casusregie.projections.reader import Reader, view_runner

NAME = "inzage"
HOUSEHOLDS = 5_000  # two persons each: 10,000 persons
READS_PER_TX = 2_000


def _persons(world: ProjectWorld, count: int) -> list[str]:
    """Refer ``count`` households through the real command handlers (bulk transactions)."""
    results = world.bulk((("anna", refer_command(i)) for i in range(count)), per_tx=250)
    return [pid for r in results for pid in r.data["members"].values()]


def _person_of_interest(world: ProjectWorld) -> tuple[str, str]:
    """One household with a case of ~200 events and a police disclosure about its main resident."""
    (plan,) = world.new_cases(1)
    world.bulk(round_robin([plan], 190), per_tx=50)
    world.run(
        "anna",
        RequestInformation(
            case=plan.ref,
            partner="politie",
            purpose="zicht op overlast",
            legal_basis="Wpg art. 20",
            categories=["politie.meldingen"],
            on=DAY,
        ),
    )
    world.run(
        "pol",
        DiscloseInformation(
            case=plan.ref,
            request="R1",
            on=DAY,
            items=[
                DisclosureItem(category="politie.meldingen", subject=plan.people[0], content="12 meldingen sinds juni")
            ],
        ),
    )
    return plan.ref, plan.people[0]


def _fill_with_reads(world: ProjectWorld, person_ids: list[str], target_events: int, seed: int) -> int:
    """Access records of reads touching random persons, until the log holds ``target_events``."""
    rng = random.Random(seed)
    actor = Actor(User("anna", Role.REGISSEUR, "gemeente-utrecht", "west"))
    now = datetime.now(UTC)
    with world.db.transaction(commit=False) as tx:
        have = int(tx.scalar("SELECT count(*) FROM stored_events"))
    while have < target_events:
        batch = min(READS_PER_TX, target_events - have)
        traces = [
            build_trace(
                actor=actor,
                name="case.show",
                action=Action.READ,
                activity="regie-uitvoering",
                case_id=None,
                subjects=[rng.choice(person_ids)],
                started_at=now,
            )
            for _ in range(batch)
        ]
        world.app.commit(*traces)
        have += batch
    return have


def build(world: ProjectWorld, events: int, quick: bool) -> tuple[str, dict[str, Any]]:
    """A store of ``events`` events with 10k persons; returns the request reference and timings."""
    timings: dict[str, Any] = {}
    start = time.perf_counter()
    world.run("admin", AddUser(user_id="pol", role=Role.PARTNER, organisation="politie"))
    world.run("admin", AddUser(user_id="pim", role=Role.PRIVACY_OFFICER))
    households = 500 if quick else HOUSEHOLDS
    persons = [str(p) for p in _persons(world, households)]
    case, person = _person_of_interest(world)
    person_id = str(world.session("pim").person(person)[0])
    for _ in range(3 if quick else 40):  # the person's own consultations, the same in both stores
        Reader(world.session("anna")).case(case)
    timings["households_and_case_s"] = time.perf_counter() - start
    t = time.perf_counter()
    total = _fill_with_reads(world, persons, events, seed=events)
    timings["filler_s"] = time.perf_counter() - t
    t = time.perf_counter()
    view_runner(world.app).catch_up()
    timings["catch_up_s"] = time.perf_counter() - t
    settle(world)
    result = world.run(
        "pim",
        RegisterRequest(
            kind="access",
            person=person,
            requester_name="K. de Vries",
            received_on=date.today(),
            identity_check="identiteitskaart gezien",
        ),
    )
    timings["events"] = total
    timings["persons"] = len(persons) + 2
    timings["person_id"] = person_id
    return str(result.data["request"]), timings


def settle(world: ProjectWorld) -> None:
    """Let the database reach steady state after the bulk load (statistics, visibility map, WAL),
    so that autovacuum or a checkpoint kicking in does not land inside the timed compilations."""
    if world.db.dialect == "postgres":
        with world.db.datastore.get_connection() as conn:  # autocommit: VACUUM cannot run in a transaction
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
    else:
        with world.db.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("ANALYZE")
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def time_compile(world: ProjectWorld, reference: str, repeats: int) -> list[float]:
    session = world.session("pim")
    command = IssueAccessDecision(request=reference, signatory="P. Jansen")
    request = load_request(session, reference)
    build_decision(session, request, command)  # warm: keys unwrapped, views caught up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        decision = build_decision(session, request, command)
        out.append(time.perf_counter() - start)
    assert decision.processes_data
    assert decision.data
    assert decision.recipients
    return out


def run(results: dict[str, Any], *, quick: bool, backends: list[str]) -> None:
    sizes = (10_000, 50_000) if quick else (100_000, scale_records() or 1_000_000)
    data = section(
        results, NAME, f"compiling one person's access answer: {sizes[0]:,} vs {sizes[1]:,} events, 10k persons"
    )
    for backend in backends:
        details: dict[str, Any] = {}
        medians: dict[int, float] = {}
        for events in sizes:
            with temp_location(backend, f"inzage{events}") as here:
                world = ProjectWorld(here)
                log(f"{NAME}/{backend}: building a store of {events:,} events")
                reference, timings = build(world, events, quick)
                log(
                    f"{NAME}/{backend}: built in {timings['households_and_case_s'] + timings['filler_s']:.0f}s, "
                    f"views caught up in {timings['catch_up_s']:.0f}s; timing the compilation"
                )
                samples = time_compile(world, reference, 5 if quick else 15)
                medians[events] = statistics.median(samples)
                details[f"{events}"] = timings | {"compile_ms": [round(s * 1e3, 2) for s in samples]}
                world.close()
        small, large = sizes
        data["backends"][backend] = {
            "figures": {
                "compile": {
                    "label": f"compile ms: {small:,} events (left) vs {large:,} events (right)",
                    "bare": medians[small] * 1e3,
                    "project": medians[large] * 1e3,
                    "ratio": medians[large] / medians[small],
                }
            },
            "details": details,
        }
    data["notes"].append(
        "the compile row compares casusregie with itself, smaller store left, larger right; targets: "
        "right column < 1000 ms, ratio <= 1.5"
    )

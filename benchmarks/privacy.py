"""Privacy: what audit-first logging and per-person encryption cost, and erasure that does not
grow with history.

(a) A command that touches one person's data (progress on a measure about that person: the
    note is sealed with the person's own key, an access record is written per person touched,
    in the same transaction as the event and the Merkle rows), next to the library's
    get + mutate + save, same backend, same run. Target: >= 0.8 of the bare throughput.
(b) Erasing a person (``ErasePerson``: destroy their key, record the erasure, purge the freed
    bytes) whose case holds 10 events, next to one whose case holds 10,000 events. Erasure is
    crypto-shredding, so it must not grow with the number of events: target ratio <= 1.5.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import (
    Batch,
    CasePlan,
    ProjectWorld,
    bare_app,
    bare_dogs,
    compare_commands,
    figure,
    interleave,
    log,
    round_robin,
    section,
    temp_location,
)
from casusregie.commands.erasure import ErasePerson
from casusregie.commands.users import AddUser
from casusregie.domain.roles import Role

NAME = "privacy"


def _grow(world: ProjectWorld, plans: list[CasePlan], events_each: int) -> None:
    """Bring every case to about ``events_each`` events, plan work round-robin over the cases."""
    have = 3  # referred, assessed, taken on
    steps = max(0, events_each - have) * len(plans)
    world.bulk(round_robin(plans, steps), per_tx=200)


def erasure_figures(world: ProjectWorld, small: list[CasePlan], large: list[CasePlan]) -> dict[str, Any]:
    """Erase the first member of each case, alternating small and large cases, timing each erasure."""
    world.run("admin", AddUser(user_id="pim", role=Role.PRIVACY_OFFICER))
    queues = {"small": [p.people[0] for p in small], "large": [p.people[0] for p in large]}

    def erase(name: str) -> Any:
        def one_round(r: int) -> Batch:
            person = queues[name][r]
            start = time.perf_counter()
            world.run("pim", ErasePerson(person=person, ground="retention-expired"))
            seconds = time.perf_counter() - start
            return Batch(1, seconds, [seconds])

        return one_round

    runs = interleave({name: erase(name) for name in queues}, rounds=min(len(small), len(large)))
    return {name: statistics.median(b.seconds for b in batches) * 1e3 for name, batches in runs.items()}


def run(results: dict[str, Any], *, quick: bool, backends: list[str]) -> None:
    data = section(results, NAME, "access logging and per-person keys; erasure at 10 vs 10,000 events")
    large_events = 1_000 if quick else 10_000
    persons = 3 if quick else 5
    commands = (3, 40, 10) if quick else (7, 200, 50)  # rounds, batch, warmup
    for backend in backends:
        figures: dict[str, Any] = {}
        details: dict[str, Any] = {}
        with temp_location(backend, "privacy") as here, temp_location(backend, "privacy-bare") as there:
            world = ProjectWorld(here)
            bare = bare_app(there)
            rounds, batch, warmup = commands
            log(f"{NAME}/{backend}: command with access log and per-person sealing, next to the bare library")
            plans = world.new_cases(20)
            measures = (warmup + rounds * batch) // (2 * len(plans)) + 2
            world.bulk((plans[i % len(plans)].agree() for i in range(measures * len(plans))), per_tx=200)
            dogs = [d.id for d in bare_dogs(bare, 20, 10)]
            cmp = compare_commands(
                world, bare, [p.ref for p in plans], dogs, measures, rounds=rounds, batch=batch, warmup=warmup
            )
            figures["commands"] = figure(
                "commands/s (touching one person)", cmp["bare"]["per_s"], cmp["project"]["per_s"]
            )
            figures["p50"] = figure("p50 latency ms", cmp["bare"]["p50_ms"], cmp["project"]["p50_ms"])
            figures["p99"] = figure("p99 latency ms", cmp["bare"]["p99_ms"], cmp["project"]["p99_ms"])
            details["commands"] = cmp

            log(f"{NAME}/{backend}: {persons} cases of 10 events and {persons} of {large_events:,} events")
            small = world.new_cases(persons)
            _grow(world, small, 10)
            large = world.new_cases(persons)
            _grow(world, large, large_events)
            versions = {
                "small": [world.case_version(p.ref) for p in small],
                "large": [world.case_version(p.ref) for p in large],
            }
            erasure = erasure_figures(world, small, large)
            figures["erasure"] = {
                "label": f"erasure ms: case of 10 events (left) vs {large_events:,} events (right)",
                "bare": erasure["small"],
                "project": erasure["large"],
                "ratio": erasure["large"] / erasure["small"],
            }
            details["erasure"] = {"median_ms": erasure, "case_versions": versions}
            world.close()
        data["backends"][backend] = {"figures": figures, "details": details}
    data["notes"].append(
        "the erasure row compares casusregie with itself: the small case's erasure in the 'bare library' column, "
        "the large case's in the 'casusregie' column; the ratio must stay <= 1.5"
    )
    data["notes"].append("commands target: casusregie >= 0.8 of the bare library's commands/s")

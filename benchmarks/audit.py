"""Audit log (#6): full verification vs a raw scan of the same table; inclusion-proof latency.

* **verify vs raw scan**, per backend, on ~200k records: ``SELECT state FROM stored_events``
  streamed in batches and thrown away (the bare figure) against the complete verification
  (every leaf recomputed from its row, every row's AES-GCM tag checked with the row key,
  the position -> case index checked, the tree rebuilt and every stored node, the head
  and a signed checkpoint compared; the project figure), on the same table, in
  interleaved rounds. Both read through the same kind of cursor (SQLite ``fetchmany``; PostgreSQL a
  binary server-side cursor), each in its own read transaction.
* **inclusion proof latency** at 1M records (SQLite): look up the record at a random
  position, fetch the O(log n) stored nodes, assemble the RFC 6962 path and verify it
  against the checkpoint's root. The bare figure is the record lookup alone.

Records are synthetic but real: AccessTrace-shaped JSON bodies, compressed and encrypted
with the store's row key and bound to their row, inserted through the application's
recorder (``app.recorder.insert_events``), so every Merkle leaf, node and head row is the
one the application writes.

Run: ``python -m benchmarks.audit`` (prints the figures), or as part of ``python -m benchmarks``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from benchmarks.common import (
    ProjectWorld,
    figure,
    interleave,
    log,
    percentile,
    scale_records,
    section,
    temp_location,
    time_once,
)
from casusregie.adapters.checkpoint_files import read_checkpoint, read_verifier_key, write_checkpoint
from casusregie.adapters.mapper import CaseStoredEvent, row_aad
from casusregie.adapters.merkle_log import MerkleReader
from casusregie.domain.access import Action
from casusregie.domain.roles import Actor, Role, User
from casusregie.privacy_audit.access_log import build_trace
from casusregie.privacy_audit.checkpoint import Checkpoint
from casusregie.privacy_audit.envelope import encrypt
from casusregie.privacy_audit.proofs import prove_inclusion, record_at
from casusregie.privacy_audit.verify import _ciphertext_end, _dashed, open_log, store_authenticator, verify_store
from casusregie.privacy_audit.verify_parallel import MIN_PARALLEL_SIZE

NAME = "audit"
STARTED = "casusregie.domain.access:AccessTrace.Started"
TOUCHED = "casusregie.domain.access:AccessTrace.SubjectTouched"


# --- synthetic records -------------------------------------------------------------------------------


def _bodies(world: ProjectWorld, count: int = 64) -> tuple[list[tuple[bytes, Any]], list[tuple[bytes, Any]]]:
    """Real AccessTrace JSON bodies (compressed as the mapper does) with the case each names."""
    mapper = world.app.mapper
    actor = Actor(User("anna", Role.REGISSEUR, "gemeente-utrecht", "west"))
    started: list[tuple[bytes, Any]] = []
    touched: list[tuple[bytes, Any]] = []
    for i in range(count):
        trace = build_trace(
            actor=actor,
            name="case.show",
            action=Action.READ,
            activity="regie-uitvoering",
            case_id=uuid4(),
            subjects=[uuid4(), uuid4()],
            reason="" if i % 3 else "need to know",
        )
        for event in trace.collect_events():
            body = zlib.compress(mapper.decrypt_body(mapper.to_stored_event(event)), 6)
            (started if event.originator_version == 1 else touched).append((body, trace.case_id))
    return started, touched


def fill(world: ProjectWorld, records: int, per_tx: int = 2000) -> None:
    """Append ``records`` synthetic access-log records (traces of two) through the app's recorder.

    Each carries its case for the position -> case index, as the mapper hands it over, so the
    verification below pays for checking that index too.
    """
    store = world.store
    key_id = store.row_key_id
    key = store.keyring.key(key_id)
    store_id = store.keyring.store_id
    started, touched = _bodies(world)
    recorder = world.app.recorder
    batch: list[StoredEvent] = []
    made = 0
    t0 = time.perf_counter()
    while made < records:
        oid = uuid4()
        for version, topic, bodies in ((1, STARTED, started), (2, TOUCHED, touched)):
            if made == records:
                break
            body, case_id = bodies[made % len(bodies)]
            state = encrypt(key, key_id, body, row_aad(store_id, oid, version, topic))
            named = case_id if topic == STARTED else None
            batch.append(
                CaseStoredEvent(originator_id=oid, originator_version=version, topic=topic, state=state, case_id=named)
            )
            made += 1
        if len(batch) >= per_tx:
            recorder.insert_events(batch)
            batch = []
        if made % 100_000 < 2 and made >= 100_000:
            log(f"{NAME}: {made:,} records ({made / (time.perf_counter() - t0):,.0f}/s)")
    if batch:
        recorder.insert_events(batch)


# --- the two scans ----------------------------------------------------------------------------------------


def raw_scan(location: Any, batch: int = 5000) -> int:
    """``SELECT state FROM stored_events``, streamed and discarded: the floor any verifier stands on."""
    with open_log(location, batch) as log_:
        rows = 0
        for _ in log_.states():
            rows += 1
        return rows


def full_verify(store: Any, checkpoint: Any, workers: int | None = 1) -> int:
    """What `regie audit verify --full` does: every leaf, every row's tag, the case index, tree, head,
    checkpoint; ``workers=1`` the serial pass, None one process per core."""
    report = verify_store(store, [checkpoint], workers=workers)
    if not report.ok:
        raise AssertionError(f"benchmark store does not verify: {report.first}")
    if workers is None and (os.cpu_count() or 1) > 1 and report.size >= MIN_PARALLEL_SIZE and report.segments < 2:
        raise AssertionError("the full pass did not run side by side")
    return report.size


def crypto_floor(store: Any) -> Callable[[], int]:
    """The work per record the verification cannot skip, alone, in tight loops over rows read beforehand:
    SHA-256 of the ciphertext, of the leaf encoding and of one tree node; the AES-GCM tag check; the
    inflate of the records that name their case. What bounds the verification's records/s."""
    auth = store_authenticator(store)
    with open_log(store.location, authenticator=auth) as log, log.reading():
        rows = [
            (_dashed(oid) if len(oid) == 32 else oid, version, topic, state)
            for _n, oid, version, topic, state in log.events()
        ]
    aead = next(iter(auth.keys.values()))
    sha = hashlib.sha256
    leaves = [bytes(40) + oid + topic[-24:] + sha(state).digest() for oid, _v, topic, state in rows]
    sealed = []
    for oid, version, topic, state in rows:
        end = _ciphertext_end(state)
        assert end is not None
        sealed.append((state[end : end + 12], state[end + 12 :], state[:end] + auth.aad(oid, version, topic)))
    named = [aead.decrypt(*args) for args, row in zip(sealed, rows, strict=True) if row[2].endswith(b".Started")]

    def run() -> int:
        for _oid, _v, _t, state in rows:
            sha(state).digest()
        for leaf in leaves:
            sha(leaf).digest()
            sha(b"\x01" + leaf[:64]).digest()
        for nonce, ciphertext, aad in sealed:
            aead.decrypt(nonce, ciphertext, aad)
        for body in named:
            zlib.decompress(body)
        return len(rows)

    return run


def _floor_runs(store: Any, rounds: int) -> dict[str, list[Any]]:
    floor = crypto_floor(store)  # dropped with this frame, before the next variant runs
    return interleave({"floor": lambda _r: time_once(floor)}, rounds)


def incremental_verify(store: Any, checkpoint: Any, base: Checkpoint) -> int:
    """What `regie audit verify` does after an earlier verification at ``base``: the new records only."""
    report = verify_store(store, [checkpoint], base=base)
    if not report.ok or report.verified_from is None:
        raise AssertionError(f"the incremental verification did not hold: {report.first}")
    return report.records


def _base(world: ProjectWorld) -> Checkpoint:
    """The head as it stands, as a verification that found it whole would sign it."""
    head = MerkleReader(world.store.db).head()
    return Checkpoint(origin=world.store.origin, size=head.size, root=head.root())


def _verify_section(results: dict[str, Any], backend: str, records: int, new: int, rounds: int) -> None:
    with temp_location(backend, "audit") as location:
        world = ProjectWorld(location)
        try:
            t0 = time.perf_counter()
            fill(world, records - new)
            base = _base(world)
            fill(world, new)
            filled = time.perf_counter() - t0
            checkpoint = read_checkpoint(
                write_checkpoint(world.store, world.app), read_verifier_key(world.store)
            ).checkpoint
            where = world.store.location
            raw_scan(where)  # warm the caches alike for both
            runs = interleave(
                {
                    "raw": lambda _r: time_once(lambda: raw_scan(where)),
                    "verify": lambda _r: time_once(lambda: full_verify(world.store, checkpoint)),
                    "parallel": lambda _r: time_once(lambda: full_verify(world.store, checkpoint, None)),
                    "incremental": lambda _r: time_once(lambda: incremental_verify(world.store, checkpoint, base)),
                },
                rounds,
            )
            # The floor holds every row in memory: timed apart, so that its million objects do not make
            # the collector slower for the others.
            runs |= _floor_runs(world.store, rounds)
            rate = {name: statistics.median(b.ops / b.seconds for b in batches) for name, batches in runs.items()}
            seconds = {name: statistics.median(b.seconds for b in batches) for name, batches in runs.items()}
            raw = rate["raw"]
            per_backend = section(results, NAME, "audit log: verification and proofs")["backends"].setdefault(
                backend, {"figures": {}, "details": {}}
            )
            figures = per_backend["figures"]
            size = checkpoint.size
            figures["verify_records_per_s"] = figure(
                f"records/s: raw state scan (bare) vs full verification, one process, {size:,} records",
                raw,
                rate["verify"],
            )
            figures["crypto_floor_records_per_s"] = figure(
                f"records/s: raw state scan (bare) vs the hashes, tag checks and inflates alone (one process, "
                f"no logic; what bounds the verification), {size:,} records",
                raw,
                rate["floor"],
            )
            figures["parallel_verify_records_per_s"] = figure(
                f"records/s: raw state scan (bare) vs full verification on {os.cpu_count()} processes, "
                f"{size:,} records",
                raw,
                rate["parallel"],
            )
            figures["incremental_records_per_s"] = figure(
                f"records/s: raw state scan (bare) vs incremental verification of the newest {new:,} of "
                f"{size:,} records",
                raw,
                rate["incremental"],
            )
            figures["incremental_vs_full_s"] = figure(
                f"seconds: full verification on {os.cpu_count()} processes (bare) vs incremental, {size:,} records",
                seconds["parallel"],
                seconds["incremental"],
            )
            per_backend["details"]["verify"] = {
                "records": size,
                "new_records": new,
                "rounds": rounds,
                "fill_s": round(filled, 1),
            } | {f"{name}_s": [round(b.seconds, 3) for b in batches] for name, batches in runs.items()}
            log(
                f"{NAME} {backend}: raw {raw:,.0f}/s, verify {rate['verify']:,.0f}/s, parallel "
                f"{rate['parallel']:,.0f}/s, incremental {seconds['incremental']:.2f}s for {new:,} new records"
            )
        finally:
            world.close()


def _proof_section(results: dict[str, Any], records: int, proofs: int) -> None:
    with temp_location("sqlite", "audit-proofs") as location:
        world = ProjectWorld(location)
        try:
            fill(world, records)
            store = world.store
            checkpoint = read_checkpoint(write_checkpoint(store, world.app), read_verifier_key(store)).checkpoint
            reader = MerkleReader(store.db)
            rng = random.Random(6)
            positions = [rng.randrange(checkpoint.size) for _ in range(proofs)]
            lookup, proof = [], []
            for position in positions:
                t0 = time.perf_counter()
                record = record_at(store.db, position)
                t1 = time.perf_counter()
                assert record is not None
                assert record.leaf is not None
                prove_inclusion(reader.nodes, position, record.leaf, checkpoint)  # builds and verifies
                t2 = time.perf_counter()
                lookup.append(t1 - t0)
                proof.append(t2 - t0)
            per_backend = section(results, NAME, "audit log: verification and proofs")["backends"].setdefault(
                "sqlite", {"figures": {}, "details": {}}
            )
            figures = per_backend["figures"]
            figures["inclusion_p50_ms"] = figure(
                f"inclusion proof p50 ms at {checkpoint.size:,} records (bare: the record lookup alone)",
                percentile(lookup, 50) * 1e3,
                percentile(proof, 50) * 1e3,
            )
            figures["inclusion_p99_ms"] = figure(
                f"inclusion proof p99 ms at {checkpoint.size:,} records (bare: the record lookup alone)",
                percentile(lookup, 99) * 1e3,
                percentile(proof, 99) * 1e3,
            )
            per_backend["details"]["inclusion"] = {
                "records": checkpoint.size,
                "proofs": proofs,
                "proof_elements": checkpoint.size.bit_length(),
                "mean_ms": statistics.fmean(proof) * 1e3,
            }
            log(
                f"{NAME}: inclusion proof p50 {percentile(proof, 50) * 1e3:.2f} ms, "
                f"p99 {percentile(proof, 99) * 1e3:.2f} ms at {checkpoint.size:,} records"
            )
        finally:
            world.close()


def run(results: dict[str, Any], *, quick: bool = False, backends: Sequence[str] = ("sqlite", "postgres")) -> None:
    """Add the audit figures to ``results`` (the harness's shape: figures per backend, notes)."""
    data = section(results, NAME, "audit log: verification and proofs")
    verify_records = scale_records() or (20_000 if quick else 200_000)
    new = 2_000 if quick else 10_000
    for backend in backends:
        _verify_section(results, backend, verify_records, new, rounds=3 if quick or verify_records > 10**6 else 5)
    if "sqlite" in backends:
        _proof_section(results, 50_000 if quick else 1_000_000, 200 if quick else 2000)
    data["notes"] = [
        "verify: per record one SHA-256 of the ciphertext, one of the leaf encoding and one tree node, one "
        "AES-GCM tag check, and for the records that name their case a zlib inflate; the raw scan does no work "
        "per row at all, so the ratio is bounded by that cost per record (see the closing note of issue 14 for "
        "the profile); the parallel pass cuts the log into perfect subtrees checked in one process per core",
        "incremental: what `regie audit verify` does after an earlier verification: the stored tree at the "
        "verified size against the signed root, a count of the rows up to it, then only the new records; its "
        "records/s counts the new records only, so the fixed part (the count) weighs in",
        "records are synthetic access-log rows (AccessTrace bodies, encrypted and row-bound) inserted through the "
        "application's recorder, so the Merkle rows are the real ones",
    ]


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo", encoding="utf-8"):  # noqa: SIM115 - one short read
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    quick = "--quick" in argv
    backends = ["sqlite", "postgres"]
    if "--sqlite" in argv:
        backends = ["sqlite"]
    from rich.console import Console

    from benchmarks.common import postgres_problem, render

    if "postgres" in backends and postgres_problem():
        backends.remove("postgres")
    results: dict[str, Any] = {"meta": {"cpu": _cpu(), "sqlite": sqlite3.sqlite_version, "quick": quick}}
    run(results, quick=quick, backends=backends)
    render(Console(highlight=False), NAME, results[NAME])
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

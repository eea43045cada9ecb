"""The full verification on every core: the log cut into perfect subtrees, checked side by side.

A log of ``S`` records is cut into segments of ``2**h`` positions, each starting at a multiple
of ``2**h``: each is a perfect subtree of the RFC 6962 tree (the last one may be partial), so
its nodes up to level ``h`` depend on its own records only. A worker process checks one
segment exactly as the serial pass (:class:`LogVerifier`) checks those positions: every row
against its leaf and the row key, the case index, every stored node up to level ``h``; it
hands back the segment's root and its frontier at each checkpoint size inside it. This
process joins the roots into the levels above (checking the stored nodes there), and checks
the head, the checkpoints and that nothing lies beyond the end (rows without a position,
case entries, nodes). The result equals the serial pass's; a test holds the two equal on
random sizes and on every kind of tampering.

The verdict on a damaged log must name the first bad position exactly, which needs the
order of the serial pass (a deleted row, say, shifts what every later check sees). So when
anything at all is amiss, in any segment or at the joins, the serial pass runs over the same
snapshot and its report stands: a clean log, the case that must be fast, never pays for it.

One snapshot: on PostgreSQL the workers import the snapshot this process exported
(``pg_export_snapshot``); SQLite cannot share one, so each worker reads positions below the
size this process read, which the application only ever appends after, and this process
checks everything beyond them in its own snapshot.
"""

from __future__ import annotations

import gc
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from casusregie.privacy_audit.checkpoint import Checkpoint
from casusregie.privacy_audit.merkle import EMPTY_ROOT, Frontier
from casusregie.privacy_audit.verify import (
    _STARTED_B,
    LogVerifier,
    Progress,
    RowAuthenticator,
    SqlLog,
    VerifyReport,
    _case_in_body,
    _fold,
    _RowChecker,
    _text_bytes,
    _Tree,
    open_log,
)

__all__ = ["MIN_SEGMENT_BITS", "SegmentResult", "SegmentTask", "check_segment", "process_runner", "verify_parallel"]

MIN_SEGMENT_BITS = 15  # 32,768 positions: a segment's start-up (a query, a lookback) is lost in its work
MIN_PARALLEL_SIZE = 200_000  # below this the serial pass takes a second or two: not worth the processes


@dataclass(frozen=True)
class SegmentTask:
    """Positions ``start`` .. ``end - 1`` (``start`` a multiple of ``2**level``) and the ids around them."""

    index: int
    start: int
    end: int
    level: int
    nid_before: int | None  # the notification id at position start - 1
    nid_last: int  # ... at position end - 1
    watch: tuple[int, ...]  # checkpoint sizes in (start, end]
    indexed: bool
    cases_from: int | None
    batch: int


@dataclass(frozen=True)
class SegmentResult:
    index: int
    end: int  # the position reached
    records: int
    problem_count: int
    frontier: list[bytes]  # the segment's own perfect subtrees, largest first
    frontiers: dict[int, list[bytes]]  # ... at each watched size


Runner = Callable[[list[SegmentTask]], Iterable[SegmentResult]]


def check_segment(log: SqlLog, task: SegmentTask) -> SegmentResult:
    """One segment checked as the serial pass checks those positions (pure logic over ``log``)."""
    sql = log._sql
    with log.reading():
        trace = _trace_before(log, task.start) if task.indexed and task.start else None
        if task.nid_before is None:
            events = log._rows(sql["events_upto"], (task.nid_last,))
        else:
            events = log._rows(sql["events_between"], (task.nid_before, task.nid_last))
        verifier = LogVerifier(
            nodes=lambda level: log._rows(sql["nodes_between"], (level, task.start >> level, task.end >> level)),
            batch=log.batch,
            limit=1,
            authenticator=log.authenticator,
            cases=log._rows(sql["cases_between"], (task.start, task.end)) if task.indexed else None,
            cases_from=task.cases_from,
            start_nid=task.nid_before,
            offset=task.start,
            trace=trace,
            watch=task.watch,
        )
        leaves = log._rows(sql["leaves_between"], (task.start, task.end))
        try:
            verifier.scan(events, leaves)
        finally:
            _close(verifier, events, leaves)
    tree = verifier._stored_tree
    return SegmentResult(
        task.index, verifier._position, verifier._records, verifier.problem_count, tree.frontier(), tree.frontiers
    )


def _close(verifier: LogVerifier, *rows: Iterable[Any]) -> None:
    """Close the cursors a scan leaves open (a level read only as far as the segment goes) now: left to
    the garbage collector (the verifier and its tree refer to each other), a PostgreSQL cursor would be
    closed at any moment, also in the middle of another query on the connection, which then hangs."""
    levels = [level.rows for level in verifier._levels.values()]
    cases = [verifier._cases.rows] if verifier._cases is not None else []
    for iterator in (*rows, *levels, *cases):
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _trace_before(log: SqlLog, start: int) -> tuple[Any, bytes | None] | None:
    """The access trace open at ``start``, as the serial pass would have it: read back to the last record
    that starts a trace (or fails its tag, which closes it)."""
    checker = _RowChecker(log.authenticator)
    high, width = start, 256
    while high > 0:
        low = max(0, high - width)
        rows = [(nid, *row) for (_p, _l, _h, nid, *row) in log._rows(log._sql["records_between"], (low, high)) if nid]
        checked = checker.check(low, rows, bodies=True)
        found, trace = False, None
        for i, (_nid, oid, _version, topic, _state) in enumerate(rows):
            if i in checked.failures:
                found, trace = True, None
            elif (topic if topic.__class__ is bytes else _text_bytes(topic)) == _STARTED_B:
                found, trace = True, (oid, _case_in_body(checked.bodies.get(i)))
        if found:
            return trace
        high, width = low, width * 4
    return None


# --- the plan and the join ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    size: int
    level: int
    tasks: list[SegmentTask]
    head: Any


def _plan(log: SqlLog, checkpoints: Sequence[Checkpoint], workers: int, min_size: int, min_bits: int) -> _Plan | None:
    """The segments, or None where the serial pass must run (a small log, or anything odd about its shape)."""
    sql = log._sql
    size = log.size_hint()
    if size < max(min_size, 2):
        return None
    if log._one(sql["leaf_count"]) != (size,):
        return None  # gaps or doubles in the leaf table: the serial pass names them
    level = max(min_bits, (math.ceil(size / (4 * workers)) - 1).bit_length())  # some 4 segments per worker
    count = -(-size // (1 << level))
    if count < 2:
        return None
    bounds = [k << level for k in range(count)] + [size]
    nids = _leaf_nids(log, [b - 1 for b in bounds[1:]])
    ordered = [nids.get(b - 1) for b in bounds[1:]]
    if any(not isinstance(n, int) for n in ordered) or ordered != sorted(set(ordered)):  # type: ignore[type-var]
        return None
    head = log.head()
    if head is None or head.frontier is None or head.size != size or head.frontier.size != size:
        return None
    if log.damaged_nodes():
        return None
    # beyond the end, in this snapshot: rows without a position, case entries, nodes
    if log._all(sql["rows_after"], (ordered[-1],))[0][0]:
        return None
    indexed = log.has_case_index()
    if indexed and log._all(sql["cases_beyond"], (size,))[0][0]:
        return None
    top = min(max(size.bit_length(), log.max_node_level()), 64)
    if any(log._all(sql["nodes_beyond"], (lv, size >> lv))[0][0] for lv in range(1, top + 1)):
        return None
    cases_from = log.cases_from() if indexed else None
    sizes = sorted({cp.size for cp in checkpoints})
    tasks = [
        SegmentTask(
            index=k,
            start=bounds[k],
            end=bounds[k + 1],
            level=level,
            nid_before=ordered[k - 1] if k else None,  # type: ignore[arg-type]
            nid_last=ordered[k],  # type: ignore[arg-type]
            watch=tuple(m for m in sizes if bounds[k] < m <= bounds[k + 1]),
            indexed=indexed,
            cases_from=cases_from,
            batch=log.batch,
        )
        for k in range(count)
    ]
    return _Plan(size, level, tasks, head)


def _leaf_nids(log: SqlLog, positions: list[int]) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for at in range(0, len(positions), 100):
        part = positions[at : at + 100]
        sql = log._sql["leaf_nids"].format(marks=",".join("?" * len(part)))
        found.update((int(p), n) for p, n in log._all(sql, part))
    return found


def _join(
    log: SqlLog,
    plan: _Plan,
    results: Iterable[SegmentResult],
    checkpoints: Sequence[Checkpoint],
    sources: Sequence[str | None],
    progress: Progress | None,
    started: float,
) -> VerifyReport | None:
    """The segments' roots joined into the tree above them and checked like the serial pass's end."""
    size, level = plan.size, plan.level
    verifier = LogVerifier(
        nodes=lambda lv: log._rows(log._sql["nodes_between"], (lv, 0, size >> lv)),
        head=plan.head,
        checkpoints=checkpoints,
        checkpoint_sources=sources,
        authenticator=log.authenticator,
    )
    top = _Tree((), lambda lv, start, nodes: verifier._check_nodes(lv + level, start, nodes))
    roots: dict[int, bytes] = {0: EMPTY_ROOT}
    tail: list[bytes] = []
    records = 0
    for task, result in zip(plan.tasks, results, strict=True):
        if result.problem_count or result.end != task.end or result.index != task.index:
            return None
        records += result.records
        complete = task.end - task.start == 1 << level
        for m, frontier in result.frontiers.items():
            if m < task.end or not complete:  # below this segment's root: every part is smaller than it
                roots[m] = _fold(top.frontier() + frontier)
        if complete:
            if len(result.frontier) != 1:
                return None
            top.extend(list(result.frontier))
            if task.end in task.watch:
                roots[task.end] = top.root()
        else:
            tail = result.frontier
        if progress is not None:
            progress(task.end, size)
    try:
        joined = Frontier(size, top.frontier() + tail)
    except ValueError:
        return None
    tree = _Tree.starting_at(joined, ())
    tree.roots = roots
    head_size = verifier._check_head(size, tree)
    checks = verifier._check_checkpoints(size, tree)
    _close(verifier)
    if verifier.problem_count:
        return None
    return VerifyReport(
        records=records,
        size=size,
        head_size=head_size,
        root=joined.root(),
        recomputed_root=joined.root(),
        checkpoints=checks,
        problems=[],
        problem_count=0,
        elapsed=time.perf_counter() - started,
        authenticated=log.authenticator is not None,
        segments=len(plan.tasks),
    )


def verify_parallel(
    log: SqlLog,
    checkpoints: Sequence[Checkpoint] = (),
    checkpoint_sources: Sequence[str | None] = (),
    progress: Progress | None = None,
    limit: int = 50,
    *,
    runner: Runner | None = None,
    workers: int | None = None,
    min_size: int = MIN_PARALLEL_SIZE,
    min_bits: int = MIN_SEGMENT_BITS,
) -> VerifyReport:
    """The full verification of ``log``, its segments run by ``runner`` (default: one after another,
    here, on ``log``'s own connection: the logic without the processes); the serial pass's report
    whenever the log is small, odd in shape or not whole."""
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    sources = list(checkpoint_sources) + [None] * (len(checkpoints) - len(checkpoint_sources))
    with log.reading():
        plan = _plan(log, checkpoints, workers, min_size, min_bits)
        report = None
        if plan is not None:
            run = runner or (lambda tasks: (check_segment(log, task) for task in tasks))
            results = None
            try:
                results = run(plan.tasks)
                report = _join(log, plan, results, checkpoints, sources, progress, started)
            except Exception:  # a worker that could not read (a lost connection, say): the serial pass reads
                report = None
            finally:  # a join that stopped early stops the workers now, not when the collector gets to it
                close = getattr(results, "close", None)
                if close is not None:
                    close()
        if report is None:
            report = log.verify(checkpoints, checkpoint_sources, progress, limit)
    return report


def process_runner(
    location: Any, store_id: str, row_keys: dict[str, bytes], workers: int, snapshot: str | None
) -> Runner:
    """Segments checked in ``workers`` fresh processes, each on its own connection (and, on PostgreSQL,
    in the exported ``snapshot``); results in segment order."""

    def run(tasks: list[SegmentTask]) -> Iterator[SegmentResult]:
        # A fork starts in milliseconds where a fresh interpreter takes a second or more to import
        # the program again; but a fork copies the locks other threads may hold, so only a process
        # with no other thread forks (the children use none of what they inherit: they connect anew).
        # Frozen, the objects a child inherits are never collected there: an inherited connection left
        # to the garbage collector would otherwise be closed by the child, under the parent's feet.
        fork = threading.active_count() == 1
        if fork:
            gc.freeze()
        try:
            pool = ProcessPoolExecutor(workers, mp_context=get_context("fork" if fork else "spawn"))
            try:
                futures = [pool.submit(_segment_process, location, store_id, row_keys, snapshot, t) for t in tasks]
                for future in futures:
                    yield future.result()
            finally:  # stopped early (a segment not whole): the segments not begun are not needed
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if fork:
                gc.unfreeze()

    return run


def _segment_process(
    location: Any, store_id: str, row_keys: dict[str, bytes], snapshot: str | None, task: SegmentTask
) -> SegmentResult:
    authenticator = RowAuthenticator(store_id, {key_id: AESGCM(key) for key_id, key in row_keys.items()})
    with open_log(location, task.batch, authenticator, snapshot) as log:
        return check_segment(log, task)

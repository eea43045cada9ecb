"""`regie audit …`: checkpoints, verification, proofs, offline bundles, and auditor replay.

Who may run what: ``verify`` whoever holds the store's key folder (it opens the store with
its master key, and needs no user: it must still work, and name the first bad position,
when the users' own records are what was damaged; with ``--as`` the run is recorded in the
access log when that user can be read); ``checkpoint``, ``prove`` and ``consistency`` an
auditor or the functional administrator (beheerder); ``replay``, ``diff`` and ``bundle``
auditors only. Refusals are logged. ``verify-bundle`` needs no store at all (an outside
auditor runs it on their own machine). A tampered log exits 1 with one line naming the
first bad position; ``--json`` then still prints the full report on stdout first.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from casusregie.adapters.auditing import case_bundle, verify_log
from casusregie.adapters.checkpoint_files import (
    CheckpointFile,
    choose_checkpoint,
    read_checkpoint,
    read_key_file,
    read_verifier_key,
    store_checkpoints,
    write_checkpoint,
)
from casusregie.adapters.cli.common import Context, json_option, pass_ctx, print_json
from casusregie.adapters.cli.output import echo
from casusregie.adapters.cli.paths import InputPath, OutputPath
from casusregie.adapters.cli.refs import REF
from casusregie.adapters.files import check_output_folder, check_output_path, write_private
from casusregie.adapters.merkle_log import MerkleReader
from casusregie.domain.access import Action
from casusregie.domain.errors import NotFound, RegieError, ValidationFailed
from casusregie.domain.roles import Role
from casusregie.privacy_audit.proofs import (
    ACCESS_TOPIC_PREFIX,
    BundleKeyNotPinned,
    b64,
    prove_consistency,
    prove_inclusion,
    resolve_record,
    verify_bundle,
)
from casusregie.privacy_audit.replay import (
    AUDIT_ACTIVITY,
    AXES,
    RECORDED,
    diff_case,
    parse_moment,
    replay_case,
)
from casusregie.privacy_audit.verify import (
    ALTERED,
    EXPLAIN,
    LEAF_TABLE,
    MISSING,
    TRUNCATED,
    UNAUTHENTIC,
    LogTampered,
    Problem,
    VerifyReport,
)

PROGRESS_FROM = 20_000  # show a progress bar from this many records on
#: Problems at a position that holds (or held) a record: the case index there names its case.
_AT_A_RECORD = frozenset({ALTERED, UNAUTHENTIC, MISSING, LEAF_TABLE})


def register(root: click.Group) -> None:
    if "audit" not in root.commands:
        root.add_command(audit)


@click.group()
def audit() -> None:
    """Tamper evidence and auditor replay (toezicht): checkpoints, verify, proofs, replay."""


# --- helpers -------------------------------------------------------------------------------------------


def _require_role(ctx: Context, name: str, roles: tuple[Role, ...]) -> None:
    session = ctx.session()
    if session.actor.role not in roles:
        allowed = " or ".join(str(r) for r in roles)
        session.deny(name, AUDIT_ACTIVITY, Action.READ, f"only {allowed} may run {name}")


def _log(ctx: Context, name: str, action: Action = Action.READ, case_id: UUID | None = None) -> None:
    """Record the audit action in the access log; on a damaged store, say so but go on."""
    try:
        ctx.session().log_read(name, AUDIT_ACTIVITY, action, case_id, [])
    except RegieError as exc:
        echo(f"regie: warning: this {name} could not be recorded in the access log: {exc}", err=True)


def _record_verify(ctx: Context) -> None:
    """With a user given, record the verification in the access log: best effort.

    The verdict never depends on it: the user directory is itself in the log, and may be
    what was damaged.
    """
    if not ctx.user_id():
        return
    try:
        ctx.session().log_read("audit.verify", AUDIT_ACTIVITY, Action.READ, None, [])
    except Exception as exc:  # a damaged user directory or access log: warn, never hide the verdict
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        echo(f"regie: warning: this verification could not be recorded in the access log: {reason}", err=True)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long runs, started once the total is known."""
    if not enabled:
        yield None
        return
    shown: list[tuple[Progress, Any]] = []

    def update(done: int, total: int) -> None:
        if not shown:
            if total < PROGRESS_FROM:
                return
            bar = Progress(
                TextColumn("verifying"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} records"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            bar.start()
            shown.append((bar, bar.add_task("verify", total=total)))
        bar, task = shown[0]
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        for bar, _task in shown:
            bar.stop()


def _case_ref(store: Any, case_id: str | None) -> str | None:
    """A case's number from the reference index, else its id."""
    if not case_id:
        return None
    try:
        with store.db.transaction(commit=False) as tx:
            ref = tx.scalar("SELECT ref FROM regie_refs WHERE kind = 'case' AND aggregate_id = ?", (case_id,))
    except Exception:  # a damaged index must not stop the report
        return case_id
    return case_id if ref is None else str(ref)


def _indexed_cases(store: Any, start: int, end: int) -> list[str]:
    """The cases the position -> case index names for ``start <= position < end`` (best effort)."""
    try:
        with store.db.transaction(commit=False) as tx:
            rows = tx.execute(
                "SELECT DISTINCT case_id FROM regie_merkle_cases WHERE position >= ? AND position < ? LIMIT 20",
                (start, end),
            ).fetchall()
    except Exception:  # no index (an older store) or a damaged one: name nothing
        return []
    return [str(case_id) for (case_id,) in rows if isinstance(case_id, str)]


def _case_number_of(ctx: Context, originator_id: str | None, topic: str | None) -> str | None:
    """The case a record names itself: its own id, or the case of its access trace (best effort, decrypts)."""
    if not originator_id:
        return None
    try:
        store = ctx.store()
        with store.db.transaction(commit=False) as tx:
            ref = tx.scalar("SELECT ref FROM regie_refs WHERE kind = 'case' AND aggregate_id = ?", (originator_id,))
        if ref is not None:
            return str(ref)
        if topic and topic.startswith(ACCESS_TOPIC_PREFIX):
            trace = ctx.app().repository.get(UUID(originator_id), version=1)
            if trace.case_id is not None:
                return _case_ref(store, str(trace.case_id))
    except Exception:  # a damaged row must not stop the report
        return None
    return None


def _version_gaps(ctx: Context, limit: int = 5) -> list[tuple[str, int]]:
    """Aggregates whose versions skip one: where a deleted record belonged (best effort)."""
    store = ctx.store()
    try:
        with store.db.transaction(commit=False) as tx:
            rows = tx.execute(
                "SELECT originator_id, max(originator_version), count(*) FROM stored_events "
                "GROUP BY originator_id HAVING max(originator_version) <> count(*)"
            ).fetchall()
            out = []
            for oid, _top, _n in rows[:limit]:
                versions = {
                    int(v)
                    for (v,) in tx.execute(
                        "SELECT originator_version FROM stored_events WHERE originator_id = ?", (oid,)
                    ).fetchall()
                }
                gap = next(v for v in range(1, max(versions) + 1) if v not in versions)
                out.append((str(UUID(str(oid))), gap))
            return out
    except Exception:
        return []


def _describe(ctx: Context, problem: Problem) -> dict[str, Any]:
    """The problem with the case and record it belongs to, as far as can be told.

    The position -> case index names the case of a damaged or deleted record, which the
    record itself can no longer be trusted to tell; failing that, the record's own id.
    """
    store = ctx.store()
    data = problem.to_json()
    record = problem.record
    data["case"] = None
    if problem.kind in _AT_A_RECORD and problem.position is not None:
        found = _indexed_cases(store, problem.position, problem.position + 1)
        data["case"] = _case_ref(store, found[0]) if found else None
    if problem.kind == TRUNCATED and problem.position is not None and problem.end is not None:
        data["cases"] = [_case_ref(store, c) for c in _indexed_cases(store, problem.position, problem.end)]
    if data["case"] is None and record is not None and record.originator_id is not None:
        data["case"] = _case_number_of(ctx, record.originator_id, record.topic)
    elif data["case"] is None and problem.kind == MISSING:
        gaps = _version_gaps(ctx)
        if gaps:
            data["possibly"] = [
                {"originator_id": oid, "version": v, "case": _case_number_of(ctx, oid, None)} for oid, v in gaps
            ]
    return data


def _one_line(report: VerifyReport, first: dict[str, Any]) -> str:
    where = f"position {first['position']}" if first["position"] is not None else "the tree"
    if first.get("end") is not None and first["kind"] not in ("truncated",):
        where = f"positions {first['position']}..{first['end'] - 1}"
    record = first.get("record") or {}
    what = ""
    if record.get("originator_id"):
        what = f": record {record['record']} v{record['version']} of {record['originator_id']}"
    if first.get("case"):
        what += f" (case {first['case']})"
    elif first.get("cases"):
        what += f" (records of case {', '.join(first['cases'])})"
    elif first.get("possibly") and not record.get("originator_id"):
        guess = first["possibly"][0]
        what = f": probably version {guess['version']} of {guess['originator_id']}" + (
            f" (case {guess['case']})" if guess.get("case") else ""
        )
    more = f"; {report.problem_count} problem(s) in all" if report.problem_count > 1 else ""
    if record.get("originator_id"):
        detail = ""
    elif first["kind"] == MISSING:
        detail = f" (it had notification id {record.get('notification_id')})"
    else:
        detail = f": {first['message']}"
    return f"log tampered at {where}{what}: {EXPLAIN[first['kind']]}{detail}{more}"


# --- checkpoint ----------------------------------------------------------------------------------------


@audit.command("checkpoint")
@click.option(
    "--out",
    type=OutputPath(),
    help="File (with a suffix) or folder; default the store's checkpoint folder.",
)
@json_option
@pass_ctx
def audit_checkpoint(ctx: Context, out: str | None, as_json: bool) -> None:
    """Check the records since the last checkpoint, then sign the tree head outside the store; print its path."""
    destination = None if out is None else _checkpoint_destination(out)
    _require_role(ctx, "audit.checkpoint", (Role.AUDITOR, Role.BEHEERDER))
    store = ctx.store()
    path = write_checkpoint(store, ctx.app(), destination)
    checkpoint = read_checkpoint(path, read_verifier_key(store), store.origin).checkpoint
    _log(ctx, "audit.checkpoint", Action.CREATE)
    if as_json:
        print_json(
            {
                "path": str(path),
                "size": checkpoint.size,
                "root": b64(checkpoint.root),
                "timestamp": None if checkpoint.timestamp is None else checkpoint.timestamp.isoformat(),
                "origin": checkpoint.origin,
            }
        )
    else:
        echo(str(path))


def _checkpoint_destination(out: str) -> Path:
    """``--out`` checked before any work, read as ``write_checkpoint`` reads it: an existing folder or a
    new name without a suffix is a folder, anything else a file."""
    if not out.strip() or "\x00" in out:
        check_output_path(out)  # one clear line: nothing given, or a NUL character
    path = Path(out)
    try:
        is_folder = path.expanduser().is_dir() or (not path.expanduser().exists() and not path.suffix)
    except (OSError, RuntimeError):
        is_folder = False  # a name too long, or an unknown ~user: the file check says which
    return check_output_folder(out) if is_folder else check_output_path(out)


# --- verify ----------------------------------------------------------------------------------------------


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=InputPath(path_type=Path, dir_okay=False),
    help="Check against this checkpoint (default: every checkpoint in the store's folder).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Re-read every record; by default only those added since the last verification are read.",
)
@json_option
@pass_ctx
def audit_verify(ctx: Context, checkpoint_file: Path | None, full: bool, as_json: bool) -> None:
    """Check the records (leaf and key), the tree and the checkpoints; name the first bad position.

    By default it builds on the last verification that found the log whole (signed beside the
    checkpoints): that head must still be the stored tree's, and only the records added since
    are read; `--full` re-reads every record, which also finds a record altered in place since.
    Needs the store's key folder, no user: it reads nothing it checks before checking it.
    A deactivated user who names themselves is refused, like for any other command.
    """
    store = ctx.store()
    with contextlib.suppress(NotFound):  # an unknown name may be the very damage to find; recording it warns
        ctx.check_named_user()
    if checkpoint_file is not None:
        checkpoints: list[CheckpointFile] = [read_checkpoint(checkpoint_file, read_verifier_key(store), store.origin)]
    else:
        checkpoints = store_checkpoints(store)
    with _progress(not as_json) as progress:
        done = verify_log(store, checkpoints, full=full, progress=progress)
    report = done.report
    first = report.first
    described = None if first is None else _describe(ctx, first)
    _record_verify(ctx)
    data = report.to_json()
    data["first_bad"] = described
    data["unsigned_records"] = _unsigned(report, checkpoints)
    data["warnings"] = done.warnings
    if as_json:
        print_json(data)
    else:
        _print_verify(report, checkpoints)
    for warning in done.warnings:
        echo(f"regie: warning: {warning}", err=True)
    if described is not None:
        raise LogTampered(_one_line(report, described))


def _print_verify(report: VerifyReport, checkpoints: list[CheckpointFile]) -> None:
    base = report.verified_from
    if report.base_refused:
        echo("the log no longer extends the last verification: every record was verified instead")
    if report.ok and base is not None:
        echo(
            f"log verified: {report.records} record(s) added since the verification of {base.when()} "
            f"(tree size {base.size}), tree size {report.size}, root {b64(report.root)}"
        )
        echo(
            f"the {base.size} records before were verified then and still make up the same tree; "
            "`regie audit verify --full` re-reads them too"
        )
    elif report.ok:
        echo(f"log verified: {report.records} records, tree size {report.size}, root {b64(report.root)}")
    else:
        echo(f"log does NOT verify: {report.problem_count} problem(s) in {report.records} records")
        for problem in report.ordered_problems()[:10]:
            echo(f"  {problem.kind} at {problem.position}: {problem.message}")
    for check in report.checkpoints:
        mark = "ok" if check.ok else "FAILS"
        echo(f"checkpoint {check.source or check.checkpoint.size}: {mark}: {check.message}")
    if not checkpoints:
        echo(
            "no checkpoint yet: a removed tail or a restored backup cannot be detected; "
            "write one with `regie audit checkpoint`"
        )
    elif unsigned := _unsigned(report, checkpoints):
        echo(
            f"the last {unsigned} record(s) are newer than the newest checkpoint: no signature covers them yet, "
            "so their removal could not be detected; `regie audit checkpoint` signs them"
        )
    side_by_side = f", {report.segments} parts side by side" if report.segments > 1 else ""
    echo(f"({report.elapsed:.2f} s, {report.rate:,.0f} records/s{side_by_side})")


def _unsigned(report: VerifyReport, checkpoints: list[CheckpointFile]) -> int:
    """Records after the newest signed checkpoint: the tail no signature vouches for yet."""
    newest = max((c.size for c in checkpoints), default=0)
    return max(report.size - newest, 0)


# --- proofs ------------------------------------------------------------------------------------------------


def _need_checkpoint(ctx: Context, given: Path | None) -> CheckpointFile:
    store = ctx.store()
    found = choose_checkpoint(store, given)
    if found is None:
        raise ValidationFailed(f"no checkpoint in {store.checkpoint_dir}: write one with `regie audit checkpoint`")
    return found


@audit.command("prove")
@click.argument("record")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=InputPath(path_type=Path, dir_okay=False),
    help="Prove against this checkpoint (default: the newest).",
)
@json_option
@pass_ctx
def audit_prove(ctx: Context, record: str, checkpoint_file: Path | None, as_json: bool) -> None:
    """Inclusion proof of RECORD (a position, or <originator-id>:<version>) against a checkpoint."""
    _require_role(ctx, "audit.prove", (Role.AUDITOR, Role.BEHEERDER))
    store = ctx.store()
    cp = _need_checkpoint(ctx, checkpoint_file)
    found = resolve_record(store.db, record)
    if found.position is None or found.leaf is None:
        raise LogTampered(
            f"record {found.record} v{found.version} of {found.originator_id} has no position in the "
            "tree (inserted outside the application); run `regie audit verify`"
        )
    if found.recomputed_leaf() != found.leaf:
        raise LogTampered(
            f"record {found.record} v{found.version} of {found.originator_id} at position "
            f"{found.position} does not match its leaf hash; run `regie audit verify`"
        )
    proof = prove_inclusion(MerkleReader(store.db).nodes, found.position, found.leaf, cp.checkpoint)
    _log(ctx, "audit.prove")
    data = {
        "record": {
            "position": found.position,
            "originator_id": found.originator_id,
            "version": found.version,
            "topic": found.topic,
            "record": found.record,
        },
        **proof.to_json(),
        "checkpoint": cp.label,
        "verified": True,
    }
    if as_json:
        print_json(data)
        return
    echo(f"record {found.record} v{found.version} of {found.originator_id}")
    echo(f"leaf index {proof.index} in tree size {proof.size} (checkpoint {cp.label})")
    echo(f"leaf hash  {b64(proof.leaf)}")
    for i, element in enumerate(proof.proof):
        echo(f"proof[{i:2d}]  {b64(element)}")
    echo(f"root       {b64(proof.root)}")
    echo("verified: the record is in the signed log")


@audit.command("consistency")
@click.argument("checkpoint_a", type=InputPath(path_type=Path, dir_okay=False))
@click.argument("checkpoint_b", type=InputPath(path_type=Path, dir_okay=False))
@json_option
@pass_ctx
def audit_consistency(ctx: Context, checkpoint_a: Path, checkpoint_b: Path, as_json: bool) -> None:
    """Prove that the older checkpoint's log is a prefix of the newer one's (from stored nodes)."""
    _require_role(ctx, "audit.consistency", (Role.AUDITOR, Role.BEHEERDER))
    store = ctx.store()
    key = read_verifier_key(store)
    a, b = (read_checkpoint(p, key, store.origin) for p in (checkpoint_a, checkpoint_b))
    if a.size > b.size:
        a, b = b, a
    proof = prove_consistency(MerkleReader(store.db).nodes, a.checkpoint, b.checkpoint)
    _log(ctx, "audit.consistency")
    data = {"older": a.label, "newer": b.label, **proof.to_json(), "verified": True}
    if as_json:
        print_json(data)
        return
    echo(f"{a.label} (size {a.size}) is a prefix of {b.label} (size {b.size})")
    for i, element in enumerate(proof.proof):
        echo(f"proof[{i:2d}]  {b64(element)}")
    echo("verified")


# --- bundles -------------------------------------------------------------------------------------------------


@audit.command("bundle")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--out", type=OutputPath(dir_okay=False), required=True, help="Bundle file to write.")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=InputPath(path_type=Path, dir_okay=False),
    help="Prove against this checkpoint (default: a fresh one, written now).",
)
@json_option
@pass_ctx
def audit_bundle(ctx: Context, case_ref: str, out: str, checkpoint_file: Path | None, as_json: bool) -> None:
    """Export what an outside auditor needs to verify CASE's records offline (no personal data).

    The whole log is verified first; the bundle then carries a statement, signed with the
    store's key, of exactly which records are the case's, so none can be left out unseen.
    """
    target = check_output_path(out)  # the inputs first: bad input is refused before anything is read or logged
    made = case_bundle(
        ctx.session(),
        case_ref,
        checkpoint_file,
        deliver=lambda bundle: write_private(target, json.dumps(bundle, indent=1, ensure_ascii=False) + "\n"),
    )
    bundle, newer = made.bundle, made.newer_than_checkpoint
    summary = {
        "path": str(target),
        "case": made.case,
        "records": len(bundle["records"]),
        "checkpoint_size": made.checkpoint_size,
        "newer_than_checkpoint": newer,
    }
    if as_json:
        print_json(summary)
    else:
        echo(
            f"{target}: {summary['records']} records of case {made.case}, proven against the checkpoint "
            f"of size {made.checkpoint_size}"
        )


_UNPINNED = (
    "the verifier key was taken from the bundle itself: that proves nothing about who signed it; "
    "pin the store's key with --key VKEY"
)


@audit.command("verify-bundle")
@click.argument("bundle_file", type=InputPath(path_type=Path, dir_okay=False, exists=True))
@click.option("--key", "key", metavar="VKEY", help="Pin the verifier key (a key string or a file holding it).")
@click.option(
    "--trust-bundle-key",
    is_flag=True,
    help="Without --key, accept the key the bundle carries (it proves nothing about who signed).",
)
@json_option
def audit_verify_bundle(bundle_file: Path, key: str | None, trust_bundle_key: bool, as_json: bool) -> None:
    """Check a bundle offline: signature, every leaf and inclusion proof, and that no record is left out.

    Needs no store. Give the store's verifier key with --key: a bundle checked against the key
    it carries itself exits 1 unless --trust-bundle-key is given.
    """
    try:
        data = json.loads(bundle_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"{bundle_file} is not a readable JSON bundle: {exc}") from None
    pinned = None if key is None else read_key_file(key)
    report = verify_bundle(data, pinned)
    trusted = pinned is not None or trust_bundle_key
    if as_json:
        print_json({**report.to_json(), "key_trusted": trusted})
    if not report.ok:
        count = len(report.problems)
        raise LogTampered(
            f"bundle does not verify: {report.problems[0]}" + (f" (+{count - 1} more)" if count > 1 else "")
        )
    if not trusted:
        raise BundleKeyNotPinned(f"{_UNPINNED}, or accept it with --trust-bundle-key")
    if pinned is None:
        echo(f"regie: warning: {_UNPINNED}", err=True)
    if not as_json:
        _print_bundle(report)


def _print_bundle(report: Any) -> None:
    cp = report.checkpoint
    assert cp is not None
    erasures = f" and {report.erasure_records} erasure records" if report.erasure_records else ""
    echo(
        f"bundle verified: {report.case_events} case events and {report.access_records} access-log records"
        f"{erasures} of case {report.case_id}, exactly the {report.stated_records} records its signed statement "
        f"names, are in the log {cp.origin} of size {cp.size} (signed {cp.when()})"
    )
    if report.about:
        labels = ", ".join(f"{k}={v}" for k, v in report.about.items() if k != "note")
        echo(f"unverified labels: {labels}")


# --- replay and diff -------------------------------------------------------------------------------------------


_axis_option = click.option(
    "--axis",
    type=click.Choice(list(AXES)),
    default=RECORDED,
    show_default=True,
    help="Which time counts. recorded (registratietijd): when each event was entered, so the state is what "
    "the log held then (what an auditor proves). business (feitelijke datum): the date users gave with --on, "
    "so what had happened by that date as they dated it (only the date of TIME counts).",
)


@audit.command("replay")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.option("--as-of", "as_of", metavar="TIME", help="ISO date (end of that day) or date-time, UTC; default now.")
@_axis_option
@click.option("--access", "with_access", is_flag=True, help="Also list the case's access-log records.")
@json_option
@pass_ctx
def audit_replay(ctx: Context, case_ref: str, as_of: str | None, axis: str, with_access: bool, as_json: bool) -> None:
    """The case as it stood at a moment, and its history up to then (auditors).

    By default by recording time: what the log held at that moment. With `--axis business`, by
    the business dates users gave: events dated on or before the date, in date order; an event
    entered after one dated later is listed but not folded into the state (the state shown is
    always one the log really held). Either way a line says what the other axis would add.
    """
    moment = parse_moment(as_of)
    data = replay_case(ctx.session(), case_ref, moment, axis=axis, with_access=with_access)
    if as_json:
        print_json(data)
        return
    echo(f"case {data['case']} as of {data['as_of']} by {data['axis_label']}: {_events(data['events'])}")
    state = data["state"]
    if state is None:
        echo("  not yet referred at that moment")
    else:
        echo(
            f"  status {state['status']}, director {state['director'] or '-'}, team {state['team'] or '-'}, "
            f"involved: {', '.join(state['involved'])}",
        )
    _print_unfolded(data["not_in_state"], data["state_version"])
    _print_narrative(data["narrative"])
    day = data["as_of"][:10]
    _print_other_axis(
        data, f"dated on or before {day} {{was}} recorded later", f"recorded on or before {day} {{is}} dated later"
    )
    _print_access(data.get("access_log"))


@audit.command("diff")
@click.argument("case_ref", metavar="CASE", type=REF)
@click.argument("t1")
@click.argument("t2")
@_axis_option
@click.option("--access", "with_access", is_flag=True, help="Also list the access-log records in between.")
@json_option
@pass_ctx
def audit_diff(ctx: Context, case_ref: str, t1: str, t2: str, axis: str, with_access: bool, as_json: bool) -> None:
    """What changed in CASE between T1 and T2 (ISO dates or date-times, UTC), by recording time or --axis business."""
    moments = parse_moment(t1), parse_moment(t2)
    data = diff_case(ctx.session(), case_ref, *moments, axis=axis, with_access=with_access)
    if as_json:
        print_json(data)
        return
    echo(f"case {data['case']}: from {data['from']} to {data['to']} by {data['axis_label']}")
    _print_unfolded(data["not_in_state"]["to"], None)
    _print_narrative(data["narrative"])
    echo(f"{len(data['changes'])} field(s) changed:")
    for change in data["changes"]:
        echo(f"  {change['path']}: {_short(change['before'])} -> {_short(change['after'])}")
    _print_other_axis(
        data, "dated in this window {was} recorded outside it", "recorded in this window {is} dated outside it"
    )
    _print_access(data.get("access_log"))


def _events(count: int) -> str:
    return f"{count} event" + ("" if count == 1 else "s")


def _print_unfolded(versions: list[int], state_version: int | None) -> None:
    """Business axis: the events dated in time but entered after one dated later, which the state leaves out."""
    if not versions:
        return
    after = f"; the state is that after v{state_version}" if state_version else ""
    echo(
        f"  not in the state: {', '.join(f'v{v}' for v in versions)}, dated by then but recorded after an "
        f"event dated later{after}"
    )


def _print_other_axis(data: dict[str, Any], on_recorded: str, on_business: str) -> None:
    """What the other axis would add, with the option that shows it ({was}/{is}: the verb, by number)."""
    missed = data["other_axis"]["events"]
    if not missed:
        return
    one = missed == 1
    what = (on_recorded if data["axis"] == RECORDED else on_business).format(
        was="was" if one else "were", **{"is": "is" if one else "are"}
    )
    other = data["other_axis"]["axis"]
    echo(f"note: {_events(missed)} {what}; --axis {other} shows {'it' if one else 'them'}")


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_narrative(entries: list[dict[str, Any]]) -> None:
    for e in entries:
        who = e["by"] or "-"
        if e["role"]:
            who += f" ({e['role_nl']}, {e['organisation']})"
        on = f" [{e['business_date']}]" if e["business_date"] else ""
        left_out = " (not in the state)" if e.get("in_state") is False else ""
        echo(f"{e['recorded_at']}{on} v{e['version']} {who}: {e['what']}{left_out}")
        extra = []
        for key in ("to", "partner", "purpose", "legal_basis", "partner_legal_basis"):
            if e.get(key):
                extra.append(f"{key}: {e[key] if not isinstance(e[key], dict) else _short(e[key])}")
        if "disclosed" in e:
            disclosed = e["disclosed"]
            if isinstance(disclosed, list):
                disclosed = ", ".join(f"{d['category']} about {d['about']}" for d in disclosed)
            extra.append(f"disclosed: {disclosed}")
        if extra:
            echo("    " + "; ".join(extra))


def _print_access(access: Any) -> None:
    if access is None:
        return
    if isinstance(access, str):
        echo(f"access log: {access}")
        return
    echo(f"access log ({len(access)} records):")
    for r in access:
        echo(
            f"  {r['at']} {r['by']} ({r['role']}, {r['organisation']}) {r['action']} {r['name']} "
            f"[{r['activity']}] {r['outcome']}" + (f": {r['reason']}" if r["reason"] else ""),
        )

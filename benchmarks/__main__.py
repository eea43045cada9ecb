"""``python -m benchmarks``: run every benchmark module, print a table per section, write JSON.

Each module in MODULES exposes ``run(results, *, quick, backends)`` and fills
``results[name] = {"title", "backends": {backend: {"figures": {...}, "details": {...}}}, "notes"}``
(``common.section`` and ``common.figure`` build that shape); a module that does not exist
yet is skipped with a note. Figures go to ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

MODULES = ("foundation", "lifecycle", "audit", "privacy", "inzage", "soak", "http")
BACKENDS = ("sqlite", "postgres")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test, well under a minute")
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these modules ({', '.join(MODULES)})")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgres")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    parser.add_argument(
        "--soak-commands",
        type=int,
        metavar="N",
        help="commands in the soak run (default 100,000; 400 with --quick); sets REGIE_SOAK_COMMANDS",
    )
    parser.add_argument(
        "--http-clients",
        type=int,
        metavar="N",
        help="concurrent clients of the http load (default 50; 5 with --quick); sets REGIE_HTTP_CLIENTS",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        metavar="S",
        help="seconds of the http load (default 60; 5 with --quick); sets REGIE_HTTP_SECONDS",
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=2_000_000,
        metavar="N",
        help="the audit, inzage and rebuild figures at N events (default 2,000,000: ten years of a large city); "
        "takes an hour or more; sets REGIE_BENCH_SCALE",
    )
    args = parser.parse_args(argv)
    if args.scale is not None:
        if args.scale < 100_000:
            parser.error("--scale must be at least 100,000")
        os.environ["REGIE_BENCH_SCALE"] = str(args.scale)
    for option, variable in (("http_clients", "REGIE_HTTP_CLIENTS"), ("http_seconds", "REGIE_HTTP_SECONDS")):
        value = getattr(args, option)
        if value is not None:
            if value <= 0:
                parser.error(f"--{option.replace('_', '-')} must be positive")
            os.environ[variable] = str(value)
    if args.soak_commands is not None:
        if args.soak_commands < 1:
            parser.error("--soak-commands must be at least 1")
        os.environ["REGIE_SOAK_COMMANDS"] = str(args.soak_commands)
    args.modules = _names(args.only, MODULES, "module", parser) if args.only else list(MODULES)
    args.backend_list = _names(args.backends, BACKENDS, "backend", parser)
    return args


def _names(value: str, known: tuple[str, ...], what: str, parser: argparse.ArgumentParser) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        parser.error(f"unknown {what} {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from benchmarks.common import log, postgres_problem, render  # after --help: these imports take a moment

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 110)  # tables: stdout; progress: stderr
    started = time.perf_counter()
    backends = list(args.backend_list)
    meta: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "python": platform.python_version(),
        "eventsourcing": metadata.version("eventsourcing"),
        "machine": f"{platform.machine()}, {_cpus()} cpus",
        "skipped": {},
        "errors": {},
    }
    if "postgres" in backends:
        problem = postgres_problem()
        if problem:
            out.print(f"[yellow]PostgreSQL is not reachable ({problem}); continuing with SQLite only[/yellow]")
            backends.remove("postgres")
            meta["skipped"]["postgres"] = problem
    meta["backends"] = backends
    results: dict[str, Any] = {"meta": meta}

    failed = False
    for name in args.modules:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"benchmarks.{name}":
                raise
            out.print(f"[dim]{name}: not yet implemented (benchmarks/{name}.py does not exist); skipped[/dim]")
            meta["skipped"][name] = "not yet implemented"
            continue
        log(f"{name}: starting ({', '.join(backends) or 'no backend'})")
        t0 = time.perf_counter()
        try:
            module.run(results, quick=args.quick, backends=backends)
        except Exception:
            failed = True
            meta["errors"][name] = traceback.format_exc()
            out.print(f"[red]{name} failed:[/red]\n{traceback.format_exc()}")
        meta.setdefault("seconds", {})[name] = round(time.perf_counter() - t0, 1)
        if name in results:
            render(out, name, results[name])

    meta["total_seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    out.print(f"figures written to {args.out} ({meta['total_seconds']}s in all)")
    return 1 if failed else 0


def _cpus() -> int | str:
    return os.cpu_count() or "?"


if __name__ == "__main__":
    sys.exit(main())

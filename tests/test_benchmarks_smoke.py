"""The benchmark harness runs end to end: `python -m benchmarks --quick` on SQLite, foundation only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from oidc_fixtures import require_oidc

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("commands_per_s", "command_p50_ms", "command_p99_ms", "events_per_command", "replay_events_per_s")


def _quick_run(module: str, out: Path) -> subprocess.CompletedProcess[str]:
    """``python -m benchmarks --quick`` of one module on SQLite; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--backends", "sqlite", "--only", module, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def assert_figure(figures: dict[str, dict[str, float]], key: str) -> None:
    """A figure has both sides measured, and its ratio is casusregie's over the baseline's."""
    assert figures[key]["bare"] > 0, key
    assert figures[key]["project"] > 0, key
    assert figures[key]["ratio"] == pytest.approx(figures[key]["project"] / figures[key]["bare"])


@pytest.mark.slow
def test_quick_foundation_run_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    done = _quick_run("foundation", out)
    assert "foundation" in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["meta"]["quick"] is True
    assert results["meta"]["backends"] == ["sqlite"]
    assert results["foundation"]["columns"] == ["bare library", "casusregie", "project/bare"]
    assert "bare library" in done.stdout
    figures = results["foundation"]["backends"]["sqlite"]["figures"]
    for key in FIGURES:
        assert set(figures[key]) >= {"label", "bare", "project", "ratio"}, key
        assert_figure(figures, key)
    assert figures["events_per_command"]["bare"] == 1


SOAK_KINDS = ("commands", "case show", "worklist", "trail", "case list")


@pytest.mark.slow
def test_quick_soak_run_reports_windows_and_memory(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    done = _quick_run("soak", out)
    assert "soak" in done.stdout
    # The soak compares a window with a window, not casusregie with the bare library: the table says so.
    assert "first window" in done.stdout
    assert "last window" in done.stdout
    assert "bare library" not in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["soak"]["columns"] == ["first window", "last window", "last/first"]
    sqlite = results["soak"]["backends"]["sqlite"]
    details = sqlite["details"]
    assert len(details["windows"]) == 4
    assert details["windows"][-1]["commands_done"] == 200
    for window in details["windows"]:
        assert window["commands"]["n"] == 50
        assert sum(window[kind]["n"] for kind in SOAK_KINDS[1:]) == 5
        assert window["rss_mb"] > 0
    figures = sqlite["figures"]
    for key in ("commands_p50_ms", "commands_p99_ms", "case_show_p99_ms", "rss_mb"):
        assert figures[key]["bare"] > 0, key
        assert figures[key]["ratio"] == pytest.approx(figures[key]["project"] / figures[key]["bare"]), key
    assert details["rss_start_mb"] > 0
    assert details["rss_end_mb"] > 0


HTTP_FIGURES = (
    "command_per_s",
    "command_one_client_per_s",
    "command_parallel_cpu_ms",
    "command_p50_ms",
    "command_p99_ms",
    "read_per_s",
    "read_p50_ms",
    "read_p99_ms",
)
HTTP_SINGLES = (
    "token_verify_us",
    "token_signature_us",
    "token_share_command_pct",
    "token_share_read_pct",
    "health_p50_ms",
)


@pytest.mark.slow
def test_quick_http_run_compares_the_api_with_in_process(tmp_path: Path) -> None:
    require_oidc()
    out = tmp_path / "latest.json"
    done = _quick_run("http", out)
    assert "http" in done.stdout
    assert "in-process" in done.stdout
    assert "bare library" not in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["http"]["columns"] == ["in-process", "HTTP", "HTTP/in-process"]
    sqlite = results["http"]["backends"]["sqlite"]
    figures = sqlite["figures"]
    for key in HTTP_FIGURES:
        assert figures[key]["bare"] > 0, key
        assert figures[key]["project"] > 0, key
        assert figures[key]["ratio"] == pytest.approx(figures[key]["project"] / figures[key]["bare"]), key
    for key in HTTP_SINGLES:
        assert figures[key]["bare"] is None, key
        assert figures[key]["project"] > 0, key
    details = sqlite["details"]
    assert details["token_check"]["key_fetches"] == 1
    assert details["token_check"]["signature_checks"] == 1  # the same token again: its signature is known
    assert details["token_check"]["signature"]["signature_checks"] == details["token_check"]["signature"]["calls"] + 50
    assert details["events_per_command"] > 0
    assert details["command"]["http"]["ops"] == 40  # --quick: 4 rounds of 10
    assert details["command"]["parallel"]["ops"] == 40
    # No load on SQLite (it is served by one process); the notes say so.
    assert "load_requests" not in figures
    assert any("load: skipped" in note for note in results["http"]["notes"])


@pytest.mark.slow
def test_quick_lifecycle_run_compares_the_rebuild_with_a_replay_and_breaks_it_down(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    done = _quick_run("lifecycle", out)
    assert "rebuild vs replay+decrypt of the same" in done.stdout
    assert "where the rebuild of" in done.stdout
    sqlite = json.loads(out.read_text(encoding="utf-8"))["lifecycle"]["backends"]["sqlite"]
    figures, rebuild = sqlite["figures"], sqlite["details"]["rebuild"]
    for key in ("rebuild_events_per_s", "rebuild_vs_replay", "rebuild_seconds"):
        assert_figure(figures, key)
    assert figures["rebuild_vs_replay"]["bare"] == pytest.approx(rebuild["replay_same_events"]["per_s"])
    # The floor first, then every group of views: the trail runs inside the case projection it follows.
    assert list(rebuild["seconds_by_part"]) == [
        "read + decrypt + decode, no views",
        "cases + trail",
        "access",
        "requests",
    ]
    assert all(seconds > 0 for seconds in rebuild["seconds_by_part"].values())

"""`regie serve` as a real process for the API tests: a config file, a free port, readiness, a clean stop.

``serve(folder, store=..., key_dir=..., api={...})`` writes ``folder/regie.toml`` with the ``[api]``
section (``listen`` on a free loopback port unless given), starts ``regie --config FILE serve`` in its
own process group, waits until ``GET /api/v1/readiness`` answers 200 and yields a :class:`LiveServer`;
on leaving it stops the server with SIGTERM, then SIGKILL. A port taken between choosing and binding
is chosen again. ``run_regie(...)`` runs any other ``regie`` command as a subprocess.

The server's stdout (its JSON access lines) and stderr are collected as they come, so a test can read
the access log and a start-up failure says what the server said.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
READINESS = "/api/v1/readiness"
# Settings of the surrounding shell that would choose another store, key folder, config or user.
CLEARED = ("REGIE_STORE", "REGIE_KEY_DIR", "REGIE_CONFIG", "REGIE_USER", "REGIE_CHECKPOINT_DIR", "REGIE_DEBUG")


class ServerError(RuntimeError):
    """The server did not start, or did not become ready in time."""


def regie_command() -> list[str]:
    """How to run the ``regie`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "regie"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from casusregie.cli import entry; entry()"]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- config files ----------------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    path: Path,
    *,
    store: str | None = None,
    key_dir: Path | str | None = None,
    api: Mapping[str, Any] | None = None,
    **top: Any,
) -> Path:
    """A config file: ``store``, ``key_dir`` and other top-level keys, then the ``[api]`` table (if given)."""
    lines = []
    for key, value in {"store": store, "key_dir": key_dir, **top}.items():
        if value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    if api is not None:
        lines.append("")
        lines.append("[api]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in api.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def development_api(issuer: str, port: int | None = None, **settings: Any) -> dict[str, Any]:
    """An ``[api]`` table for a development provider (http issuer) on the loopback address; without
    ``port`` it has no ``listen``, and :func:`serve` picks a free port."""
    api: dict[str, Any] = {"issuer": issuer, "audience": "casusregie-api", "development": True}
    if port is not None:
        api["listen"] = f"127.0.0.1:{port}"
    return {**api, **settings}


# --- running regie ---------------------------------------------------------------------------------------


def run_regie(
    *args: str,
    config: Path | None = None,
    user: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``regie [--config FILE] [--as USER] ARGS`` in a subprocess, as an operator runs it."""
    argv = [*regie_command()]
    if config is not None:
        argv.append(f"--config={config}")
    if user is not None:
        argv.append(f"--as={user}")
    argv.extend(args)
    workdir = cwd or (config.parent if config is not None else Path.cwd())
    return subprocess.run(
        argv, cwd=workdir, env=clean_env(env), capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class LiveServer:
    """A running ``regie serve``: its address, its output so far, and ways to stop it."""

    config: Path
    host: str
    port: int
    process: subprocess.Popen[str]
    stdout_lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def stdout(self) -> str:
        return "".join(self.stdout_lines)

    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def access_lines(self) -> list[dict[str, Any]]:
        """The JSON lines the server wrote to stdout so far (one per request)."""
        return [json.loads(line) for line in self.stdout_lines if line.strip()]

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._settle_output()
                raise ServerError(
                    f"regie serve ({self.config}) ended with exit code {self.process.returncode} before it was "
                    f"ready; stderr:\n{self.stderr()}"
                )
            try:
                response = httpx.get(self.url + READINESS, timeout=2)
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            else:
                # Only once this process has said it serves: another server on the port must not pass for it.
                if response.status_code == 200 and any(line.startswith("serving ") for line in self.stderr_lines):
                    return
                last = f"{response.status_code} {response.text}"
            time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"regie serve ({self.config}) was not ready within {timeout:.0f} s (last: {last}); stderr:\n{self.stderr()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL to what is left of the process group; the exit code of the server."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self._kill_group()
        self._settle_output()
        return self.process.returncode

    def kill(self) -> None:
        """kill -9 of the server and its workers: no shutdown of any kind."""
        self._kill_group()
        self._settle_output()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # the group is the server's own (start_new_session)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)

    def _settle_output(self) -> None:
        for thread in self.readers:
            thread.join(timeout=2)


def start_server(config: Path, env: Mapping[str, str] | None = None) -> LiveServer:
    """Start ``regie --config CONFIG serve`` (not yet ready; see :meth:`LiveServer.wait_ready`)."""
    import tomllib

    listen = tomllib.loads(config.read_text(encoding="utf-8")).get("api", {}).get("listen", "127.0.0.1:8400")
    host, _, port = listen.rpartition(":")
    process = subprocess.Popen(
        [*regie_command(), f"--config={config}", "serve"],
        cwd=config.parent,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    server = LiveServer(config=config, host=host.strip("[]"), port=int(port), process=process)
    assert process.stdout is not None
    assert process.stderr is not None
    server.readers = [
        threading.Thread(target=_drain, args=(process.stdout, server.stdout_lines), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, server.stderr_lines), daemon=True),
    ]
    for thread in server.readers:
        thread.start()
    return server


@contextmanager
def serve_config(
    config: Path, *, env: Mapping[str, str] | None = None, timeout: float = READY_TIMEOUT
) -> Iterator[LiveServer]:
    """Run the server of an existing config file until the block ends."""
    server = start_server(config, env)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


@contextmanager
def serve(
    folder: Path,
    *,
    store: str,
    key_dir: Path | str,
    api: Mapping[str, Any],
    name: str = "regie.toml",
    env: Mapping[str, str] | None = None,
    timeout: float = READY_TIMEOUT,
) -> Iterator[LiveServer]:
    """Write ``folder/name`` and run its server until the block ends (a free port unless ``api`` has listen)."""
    for attempt in range(3):
        settings = dict(api)
        chosen = "listen" not in settings
        if chosen:
            settings["listen"] = f"127.0.0.1:{free_port()}"
        config = write_config(folder / name, store=store, key_dir=key_dir, api=settings)
        server = start_server(config, env)
        try:
            server.wait_ready(timeout)
        except ServerError:
            server.stop()
            if chosen and attempt < 2 and "address already in use" in server.stderr().lower():
                continue  # someone took the port between our choice and the bind
            raise
        try:
            yield server
        finally:
            server.stop()
        return


def _drain(stream: IO[str], into: list[str]) -> None:
    with contextlib.suppress(ValueError, OSError):
        for line in stream:
            into.append(line)

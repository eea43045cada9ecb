"""Output to a reader that went away (`regie … | head`) ends quietly, not as an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REGIE = str(Path(sys.executable).parent / "regie")


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    env = {**os.environ, "REGIE_STORE": str(tmp_path / "s.db"), "REGIE_KEY_DIR": str(tmp_path / "keys")}
    env.pop("REGIE_USER", None)
    subprocess.run(
        [REGIE, "init", "--profile", "utrecht", "--admin", "beheer"], env=env, check=True, capture_output=True
    )
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        done = subprocess.run(
            [REGIE, "profile", "show", "--json"],  # some 19 kB: more than one buffer
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode in (1, 141), done.stderr  # click ends with 1 on a closed pipe; elsewhere we say 141
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr

"""The README's first command on a machine where Prefect's local server cannot start in time:
one line naming the way out (`--no-prefect`), exit 2, and no server process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment mentions ``marker`` (our PREFECT_HOME)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_demo_says_how_to_run_without_prefect_when_its_server_cannot_start(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run([sys.executable, "-m", "slaflow.cli", "demo", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: Prefect's local server did not start within 0 s; run `slaflow demo --no-prefect` "
                      "(the same week, swept without Prefect), or allow it longer with "
                      "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"], result.stderr
    deadline = time.monotonic() + 15  # the server is stopped at exit; give the OS a moment to reap it
    while processes_with(str(home)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(str(home)) == []

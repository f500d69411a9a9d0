"""Processes and meters for bench/live.py: start and kill process trees, sample CPU and private
RSS of a set-up (its processes and its PostgreSQL backends), count Prefect's Late runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from flows.worker import descendants

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Meter:
    """Samples CPU and RSS of every process of the set-up once a second (a thread)."""

    roots: list[int]
    databases: list[str]
    pg_admin: str
    api: str
    cpu_ticks: dict[int, int] = field(default_factory=dict)
    counted: float = 0.0  # CPU seconds since mark()
    rss_peak_mb: float = 0.0
    rss_now_mb: float = 0.0
    pss_peak_mb: float = 0.0
    pss_now_mb: float = 0.0
    late_max: int = 0
    late_now: int = 0
    flow_run_processes: int = 0  # in the last sample: a run's process outlives its Completed state a little
    rss_peak_parts: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    trace: Path | None = None  # one JSON line a sample: time, total RSS and PSS, RSS by role (MB)

    def pids(self) -> dict[int, str]:
        """Every process of the set-up, with its role."""
        found: dict[int, str] = {}
        for i, root in enumerate(self.roots):
            if not Path(f"/proc/{root}").exists():
                continue
            if i == 0:
                found.update({pid: "prefect_server" for pid in [root, *descendants(root)]})
            else:
                found[root] = "workers"
                found.update({pid: "flow_runs" for pid in descendants(root)})
        try:
            with psycopg.connect(self.pg_admin, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND application_name <> 'slaflow-bench'",
                    (self.databases,),
                )
                found.update({int(row[0]): "postgres_backends" for row in rows})
        except psycopg.Error:
            pass
        return found

    def count_late(self) -> None:
        """Count Late runs every 5 s (its own thread: a busy server's answer must not hold up the
        once-a-second CPU and memory samples)."""
        while not self.stop.wait(5.0):
            self.late_now = late_runs(self.api)
            self.late_max = max(self.late_max, self.late_now)

    def mark(self) -> None:
        self.counted = 0.0

    def run(self) -> None:
        while not self.stop.wait(1.0):
            rss = pss = 0
            cpu: dict[str, float] = {}
            parts: dict[str, int] = {}
            roles = self.pids()
            for pid, role in roles.items():
                ticks, private = _stat(pid)
                if ticks is None:
                    continue
                before = self.cpu_ticks.get(pid)
                self.cpu_ticks[pid] = ticks
                if before is not None:
                    self.counted += (ticks - before) / TICK
                    cpu[role] = cpu.get(role, 0.0) + (ticks - before) / TICK
                rss += private
                pss += _pss(pid)
                parts[role] = parts.get(role, 0) + private
            self.flow_run_processes = sum(1 for role in roles.values() if role == "flow_runs")
            self.rss_now_mb = rss / 2**20
            self.pss_now_mb = pss / 2**20
            self.pss_peak_mb = max(self.pss_peak_mb, self.pss_now_mb)
            if self.trace is not None:
                sample = {"t": round(time.time(), 1), "rss": round(self.rss_now_mb), "pss": round(self.pss_now_mb),
                          "cpu": round(sum(cpu.values()), 2),
                          **{f"cpu_{role}": round(value, 2) for role, value in sorted(cpu.items())},
                          **{role: round(value / 2**20) for role, value in sorted(parts.items())}}
                with self.trace.open("a") as out:
                    out.write(json.dumps(sample) + "\n")
            if self.rss_now_mb > self.rss_peak_mb:
                self.rss_peak_mb = self.rss_now_mb
                self.rss_peak_parts = {role: round(value / 2**20) for role, value in sorted(parts.items())}


def _stat(pid: int) -> tuple[int | None, int]:
    """CPU ticks (user + system) and private resident bytes (RssAnon + RssFile: PostgreSQL's
    shared buffers, RssShmem, are one allocation however many backends map them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, 0
    fields = stat[stat.rindex(")") + 2 :].split()
    wanted = ("RssAnon", "RssFile")
    kib = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith(wanted)}
    return int(fields[11]) + int(fields[12]), 1024 * sum(kib.values())


def _pss(pid: int) -> int:
    """Proportional set size, shared pages divided among the processes mapping them (PostgreSQL's
    shared buffers excluded, as in `_stat`): what the set-up adds to the machine's memory."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    kib = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:] if line.startswith("Pss")}
    return 1024 * (kib.get("Pss", 0) - kib.get("Pss_Shmem", 0))


def late_runs(api: str) -> int:
    body = {"flow_runs": {"state": {"name": {"any_": ["Late"]}}}}
    try:
        return int(httpx.post(f"{api}/flow_runs/count", json=body, timeout=30).json())
    except (httpx.HTTPError, ValueError, TypeError):  # a busy server's error body is a dict
        return -1


def flow_runs(api: str, state_type: str, tries: int = 5) -> list[dict[str, Any]]:
    """The flow runs in a state; a server too busy to answer (a timeout, an error body) is asked
    again a few times before the bench gives up."""
    body = {"flow_runs": {"state": {"type": {"any_": [state_type]}}}, "limit": 200}
    for attempt in range(tries):
        try:
            answer = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=30).json()
        except (httpx.HTTPError, ValueError):
            answer = None
        if isinstance(answer, list):
            return answer
        time.sleep(2 * (attempt + 1))
    raise RuntimeError(f"the Prefect API did not list the {state_type} flow runs ({tries} tries)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Child:
    path = workdir / f"{name}.log"
    out = path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=workdir)
    return Child(name, process, path)


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    pids = [pid, *descendants(pid)]
    for each in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, sig)
    return pids


def wait_healthy(api: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the Prefect server did not answer within {timeout:.0f} s")



"""Oversized request bodies: how much memory and time one uvicorn worker spends refusing them.

    .venv/bin/python bench/body_limits.py            # 100 MB bodies
    .venv/bin/python bench/body_limits.py --quick    # 20 MB bodies

The server runs in a subprocess (``uvicorn api.app:app_from_env --factory``, one worker, SQLite).
Each phase sends unsigned bodies to ``POST /webhooks/generic`` and to ``POST /api/cases`` without a
token, declared (``Content-Length``) and streamed (chunked, no length), one at a time and four at
once, and reads the server's peak resident memory (``VmHWM`` from /proc) after each phase. The
floor is the same server's peak after small valid-size requests. The last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0:1] = [str(ROOT)]  # bench/ holds calendar.py, which would shadow the standard library's

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from crm.samples import SAMPLE_ENV  # noqa: E402
from storage.db import migrate  # noqa: E402

TARGET_GROWTH_MB = 20.0
"""Peak memory a server may add while refusing four oversized bodies at once."""
TARGET_SECONDS = 1.0
CHUNK = b"x" * 65536


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 MB bodies instead of 100 MB")
    args = parser.parse_args()
    size = (20 if args.quick else 100) * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="slaflow-bench-") as tmp, server(Path(tmp)) as (port, pid):
        for _ in range(20):
            send(port, "/webhooks/generic", 2048, declared=True)
        floor = peak_mb(pid)
        report: dict[str, Any] = {"bench": "body_limits", "body_mb": size // (1024 * 1024), "floor_peak_mb": floor}
        for path in ("/webhooks/generic", "/api/cases"):
            for declared in (True, False):
                name = f"{path.strip('/').split('/')[0]}_{'declared' if declared else 'streamed'}"
                started = time.perf_counter()
                status = send(port, path, size, declared=declared)
                report[f"{name}_status"] = status
                report[f"{name}_seconds"] = round(time.perf_counter() - started, 3)
                report[f"{name}_peak_growth_mb"] = round(peak_mb(pid) - floor, 1)
        started = time.perf_counter()
        statuses = four_at_once(port, size)
        report["four_at_once_statuses"] = statuses
        report["four_at_once_seconds"] = round(time.perf_counter() - started, 3)
        report["four_at_once_peak_growth_mb"] = round(peak_mb(pid) - floor, 1)
    report["target_growth_mb"] = TARGET_GROWTH_MB
    report["target_seconds"] = TARGET_SECONDS
    slowest = max(value for key, value in report.items() if key.endswith("_seconds") and key != "target_seconds")
    report["ok"] = bool(report["four_at_once_peak_growth_mb"] <= TARGET_GROWTH_MB and slowest <= TARGET_SECONDS)
    print(json.dumps(report))


class server:
    """``uvicorn api.app:app_from_env --factory`` on a fresh SQLite file, stopped on exit."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    def __enter__(self) -> tuple[int, int]:
        url = f"sqlite:///{self.tmp / 'bench.db'}"
        migrate(url)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        env = {**os.environ, **SAMPLE_ENV, "SLAFLOW_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app_from_env", "--factory", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            env=env, cwd=self.tmp,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return port, self.process.pid
            except OSError:
                time.sleep(0.2)
        self.process.kill()
        raise SystemExit("the server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM")


def send(port: int, path: str, size: int, *, declared: bool) -> int:
    """Send a body of ``size`` bytes over a raw socket (so the client never buffers it) and
    return the status the server answered with (0 if it closed the connection without one)."""
    framing = f"Content-Length: {size}" if declared else "Transfer-Encoding: chunked"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{framing}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        try:
            for piece in _pieces(size, declared):
                sock.sendall(piece)
        except OSError:
            pass  # the server answered and closed early: that is the point
        try:
            answer = sock.recv(4096)
        except OSError:
            return 0
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def _pieces(size: int, declared: bool) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        piece = CHUNK[: min(len(CHUNK), size - sent)]
        sent += len(piece)
        yield piece if declared else f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    if not declared:
        yield b"0\r\n\r\n"


def four_at_once(port: int, size: int) -> list[int]:
    statuses = [0] * 4

    def one(index: int) -> None:
        statuses[index] = send(port, "/webhooks/generic", size, declared=index % 2 == 0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


if __name__ == "__main__":
    main()

"""CPU time of processes on this machine, read from Linux's ``/proc``: the benches run their
servers (uvicorn, PostgreSQL, Prefect) on the same cores as their clients, so a figure per
request or per trigger names whose CPU it is."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU seconds a process has used so far (0 when it is gone or not on Linux);
    with ``reaped_children``, also its children's that have ended and been waited for."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError, ValueError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by every PostgreSQL process on this machine (backends, WAL writer,
    checkpointer) and by the backends that have ended: the server's whole share of a workload,
    when the server runs here."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("postgres"):
                # The postmaster's reaped children are the backends that ended meanwhile (a
                # connection closed before the second reading): counted, or the difference of two
                # readings came out negative (`pg_cores_busy_4conn` -1.19, ninth session).
                total += cpu_seconds(int(entry.name), reaped_children=True)
    return total


def machine_ticks() -> tuple[int, int, int]:
    """(busy, idle, stolen) clock ticks of all this machine's CPUs so far, from ``/proc/stat``
    ((0, 0, 0) elsewhere). Stolen: time the hypervisor ran another guest on our virtual CPUs. On
    this project's 2-core virtual machine, whole runs go at half speed while that happens; a
    bench that reports it lets a reader tell a slow phase of the host from a slow build."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0, 0
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, idle + iowait, steal


def shares(before: tuple[int, int, int], after: tuple[int, int, int]) -> dict[str, float]:
    """The machine's busy and stolen shares of the time between two `machine_ticks` readings."""
    busy, idle, stolen = (a - b for a, b in zip(after, before, strict=True))
    total = busy + idle + stolen
    if total <= 0:
        return {"machine_busy_share": 0.0, "machine_stolen_share": 0.0}
    return {"machine_busy_share": round(busy / total, 2), "machine_stolen_share": round(stolen / total, 2)}

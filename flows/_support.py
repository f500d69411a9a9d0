"""What every flow shares: the runtime for one run, who is working, where to log.

Flows are entry points (DESIGN.md): they open a `Runtime` from the environment, call one
service, close the database connections and report. A served deployment runs each flow run in
a fresh process, so nothing here is cached between runs.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `slaflow worker` imports this module: it must not load the engine (~30 MB a worker)
    from runtime.assembly import Runtime

LEASE_OWNER_MAX = 64
"""Length of ``timers.lease_owner`` / ``outbox_messages.lease_owner``."""

OFFLINE_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
"""Prefect runs offline: no telemetry, no analytics from the server."""

HEARTBEAT_S = 30
"""Flow-run heartbeat (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``; Prefect's minimum)."""
MALLOC_ARENAS = 2
"""glibc gives threads up to 8 malloc arenas per core, each keeping freed memory; a worker, a flow
run and the Prefect server each run a dozen threads: two arenas are enough (``MALLOC_ARENA_MAX``)."""
FLOW_RUN_ENV = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S), "MALLOC_ARENA_MAX": str(MALLOC_ARENAS)}
"""The environment of every flow run: heartbeats (the zombie automation listens to them) and
fewer malloc arenas. Each deployment sets it as a job variable; `slaflow worker` too."""


@contextmanager
def open_runtime(database_url: str | None = None) -> Iterator[Runtime]:
    """Settings, company and database of one flow run (the database may be given, e.g. by the
    demo); the connections close when it ends."""
    from runtime.assembly import Runtime

    runtime = Runtime.from_env(database_url=database_url)
    try:
        yield runtime
    finally:
        runtime.close()


def worker_id(lane: int = 0) -> str:
    """hostname:pid:flow-run-id[#lane], so a lease names the machine, the process, the Prefect run
    and the thread that holds it (cut to fit the lease column; the run id is kept whole, the host
    shortened)."""
    tail = f":{os.getpid()}:{flow_run_id() or 'local'}" + (f"#{lane}" if lane else "")
    host = socket.gethostname()
    return host[: max(1, LEASE_OWNER_MAX - len(tail))] + tail


def flow_run_id() -> str | None:
    """The id of the Prefect flow run this code runs in, or None outside a run."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def in_flow_run() -> bool:
    """True inside a Prefect flow run (False when a test calls ``flow.fn`` directly)."""
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def run_logger(name: str) -> logging.Logger | logging.LoggerAdapter[Any]:
    """The flow run's logger (its lines show in the Prefect UI), or a plain one outside a run."""
    if in_flow_run():
        from prefect.logging import get_run_logger

        return get_run_logger()
    return logging.getLogger(name)


def publish_table(key: str, rows: list[dict[str, Any]], description: str) -> None:
    """A table artifact on the flow run (the run's page in the UI shows it); no-op outside a run."""
    if not in_flow_run() or not rows:
        return
    from prefect.artifacts import create_table_artifact

    create_table_artifact(table=rows, key=key, description=description)


def apply_offline_env() -> None:
    """Set the offline variables unless the operator set them (call before importing prefect)."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def _libc() -> Any:
    """The C library when it is glibc (has ``mallopt`` and ``malloc_trim``), else None."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and libc.mallopt and libc.malloc_trim else None
    except (OSError, AttributeError):  # not glibc
        return None


def give_back_memory() -> None:
    """After a busy moment (a burst of timers fired): collect cycles and hand the freed heap back
    to the system (glibc's ``malloc_trim``), so a long-lived run idles at its idle size."""
    import gc

    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap this process's malloc arenas now (glibc's ``mallopt(M_ARENA_MAX)``: the environment
    variable is read only when a process starts) and its children's (``MALLOC_ARENA_MAX``, unless
    the operator set it). Call before threads start; elsewhere than glibc, nothing happens."""
    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    libc = _libc()
    if libc is not None:
        libc.mallopt(-8, int(os.environ["MALLOC_ARENA_MAX"]))  # M_ARENA_MAX

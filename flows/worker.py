"""``slaflow worker``: a Prefect process worker on slaflow's work pool, with a clean stop.

Run one on each machine (any number): they share the pool's runs, and the schedules live on the
Prefect server. On SIGTERM or SIGINT the worker stops taking runs, asks its running flow runs to
stop (the sweeper finishes the batch in hand, releases its claims and completes), waits for them
(``grace``), then exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from pathlib import Path

import anyio
import httpx

from core.errors import SlaflowError

API_TIMEOUT_S = 2.0
LATE_SWEEP_S = 30.0
"""How often a worker cancels the pool's runs Late by more than two intervals."""
"""How long to wait for the Prefect API's /health before giving up (the CLI answers in < 5 s)."""


def api_url() -> str | None:
    """PREFECT_API_URL from the environment, else from the Prefect profile. The environment is
    read first: importing Prefect's settings takes seconds on a busy machine, and an unreachable
    API must be reported within 5 s."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def check_api(timeout: float = API_TIMEOUT_S) -> str:
    """The Prefect API URL once its /health answered; one clear error otherwise."""
    url = api_url()
    if not url:
        raise SlaflowError(
            "PREFECT_API_URL is not set: point it at a Prefect server (http://HOST:4200/api), "
            "or run `slaflow up` to start one with a worker"
        )
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=timeout)
    except httpx.TimeoutException:
        raise SlaflowError(f"the Prefect API at {url} did not answer within {timeout:.0f} s") from None
    except httpx.HTTPError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else (str(exc) or type(exc).__name__)
        raise SlaflowError(f"cannot reach the Prefect API at {url}: {reason}") from None
    if response.status_code != 200:
        raise SlaflowError(f"the Prefect API at {url} answered /health with HTTP {response.status_code}")
    return url


def worker_name() -> str:
    return f"slaflow-{socket.gethostname().split('.')[0]}-{os.getpid()}"


def run_worker(pool: str, *, limit: int, grace: float = 60.0) -> None:
    """Poll ``pool`` until SIGTERM/SIGINT, then stop cleanly (see the module)."""
    anyio.run(_serve, pool, limit, grace)


async def _serve(pool: str, limit: int, grace: float) -> None:
    from prefect.workers.process import ProcessWorker

    worker = ProcessWorker(work_pool_name=pool, name=worker_name(), limit=limit, create_pool_if_not_found=False)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.start)
        group.start_soon(_cancel_late_runs_forever, pool)
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                print(f"{name}: stopping the worker's flow runs (up to {grace:.0f} s)", flush=True)
                break
        await _stop_flow_runs(grace)
        group.cancel_scope.cancel()
    print("worker stopped", flush=True)


async def _cancel_late_runs_forever(pool: str, every: float = LATE_SWEEP_S) -> None:
    """Every ``every`` seconds, cancel the pool's runs Late by more than two intervals (see
    `flows.late`); a failure is logged and retried at the next turn."""
    import logging

    from prefect.client.orchestration import get_client

    from core.clock import SystemClock
    from flows.late import cancel_late_runs

    log = logging.getLogger("slaflow.worker")
    while True:
        await anyio.sleep(every)
        try:
            async with get_client() as client:
                cancelled = await cancel_late_runs(client, pool, now=SystemClock().now())
        except Exception as exc:  # the API may be restarting: the next turn tries again
            log.warning("could not cancel late runs: %s", exc)
            continue
        if cancelled:
            log.info("cancelled %d flow runs late by more than two intervals", len(cancelled))


async def _stop_flow_runs(grace: float) -> None:
    """SIGTERM every process this worker started, then wait for them; SIGKILL what is left."""
    children = descendants(os.getpid())
    for pid in children:
        _signal(pid, signal.SIGTERM)
    with anyio.move_on_after(grace):
        while any(_alive(pid) for pid in children):
            await anyio.sleep(0.2)
    for pid in children:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; elsewhere none are known)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie waiting for its parent has stopped


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)

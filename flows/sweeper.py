"""The sweeper flow: every N seconds, fire every due timer (warning, breach, escalation, auto).

One flow run fires thousands of timers: it runs `slaflow.timers.sweep`, which claims due rows in
batches with a lease and fires each in its own transaction. A flow run per timer would cost ~1 s
and 150-200 MB each (measured); a sweep costs one process per tick whatever the backlog.

Several sweeps may overlap (two machines, or a slow tick and the next one): claims skip each
other's rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) and firing
re-checks the lease and status, so each timer fires once. A sweep that dies keeps its unfired
claims only until their lease runs out; the next sweep takes them (that is the reconciliation,
see `flows.reconciler` for what it cannot fix by itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from flows._support import open_runtime, publish_table, run_logger, worker_id
from flows.hooks import start_state_hook
from slaflow.clock import SystemClock, ensure_utc
from slaflow.timers import SweepResult, sweep


def summarise(result: SweepResult, *, owner: str, now: str, capacity: int) -> dict[str, Any]:
    """The flow run's result: counts per kind, plus whether the sweep left a backlog behind."""
    return {
        "flow_run": _flow_run_name(),
        "owner": owner,
        "now": now,
        "claimed": result.claimed,
        "fired": dict(sorted(result.fired.items())),
        "fired_total": result.fired_total,
        "skipped": result.skipped,
        "failed": result.failed,
        "backlog_left": result.claimed >= capacity,
    }


def _start_hook(deployment: str, case_id: int, event_seq: int) -> None:
    start_state_hook(deployment, case_id, event_seq)


def _flow_run_name() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.get_name()) if flow_run.get_id() else None


@flow(name="sweep-timers", retries=0, log_prints=False)
def sweep_timers(
    batch: int = 500, max_batches: int = 100, at: datetime | None = None, database_url: str | None = None
) -> dict[str, Any]:
    """Fire the timers due now (or at ``at``: a simulated week in the demo, a backfill); return
    (and log, and show as an artifact) what fired."""
    log = run_logger(__name__)
    owner = worker_id()
    # Live: the clock is read again for every batch; simulated (``at``): one fixed instant.
    clock = SystemClock() if at is None else None
    fixed = ensure_utc(at) if at is not None else None
    now = fixed or SystemClock().now()
    with open_runtime(database_url) as runtime:
        result = sweep(
            runtime.sessions,
            runtime.company,
            now=fixed,
            clock=clock,
            owner=owner,
            batch=batch,
            max_batches=max_batches,
            hooks=_start_hook,
        )
    summary = summarise(result, owner=owner, now=now.isoformat(), capacity=batch * max_batches)
    log.info(
        "sweep at %s by %s: claimed %d, fired %s, skipped %d, failed %d",
        summary["now"],
        owner,
        result.claimed,
        summary["fired"] or "{}",
        result.skipped,
        result.failed,
    )
    if result.failed:
        log.warning("%d timers raised; their errors are on the rows (timers.last_error)", result.failed)
    if summary["backlog_left"]:
        log.warning("stopped after %d batches of %d with timers still due; the next sweep goes on", max_batches, batch)
    if result.claimed:
        rows = [{"kind": kind, "fired": count} for kind, count in summary["fired"].items()]
        rows.append({"kind": "(skipped by the guard)", "fired": result.skipped})
        rows.append({"kind": "(failed)", "fired": result.failed})
        publish_table("sweep-timers", rows, f"Timers fired by {owner} at {summary['now']}")
    return summary

"""The outbox dispatcher flow: deliver the queued notifications (`notifications.outbox`).

Messages are rows written with their cause; this flow only claims, sends and records them, in
batches until nothing due is left (or ``max_batches``). Overlapping runs share the work through
leases, like the sweeper.
"""

from __future__ import annotations

from dataclasses import asdict, fields

from prefect import flow

from core.clock import SystemClock
from flows._support import open_runtime, publish_table, run_logger, worker_id
from notifications.outbox import DispatchResult, dispatch_due
from notifications.settings import NotificationSettings, load_notification_settings
from runtime.assembly import Runtime


def deliver(
    runtime: Runtime, owner: str, settings: NotificationSettings, *, limit: int = 200, max_batches: int = 10
) -> DispatchResult:
    """Send the due messages in batches until fewer than ``limit`` are due (also called by the
    sweeper's loop, so notifications leave as their timers fire)."""
    clock = SystemClock()
    total = DispatchResult()
    for _ in range(max_batches):
        result = dispatch_due(
            runtime.sessions, runtime.company, now=clock.now(), owner=owner, settings=settings, limit=limit
        )
        for name in (f.name for f in fields(DispatchResult)):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        if result.claimed < limit:
            break
    return total


@flow(name="dispatch-outbox", retries=0)
def dispatch_outbox(limit: int = 200, max_batches: int = 10) -> dict[str, int]:
    """Send the due messages; return how many were sent, retried later, failed or released."""
    log = run_logger(__name__)
    owner = worker_id()
    settings = load_notification_settings()  # fails loudly on a bad setting, before any claim
    with open_runtime() as runtime:
        total = deliver(runtime, owner, settings, limit=limit, max_batches=max_batches)
    counts = asdict(total)
    log.info("outbox by %s: %s", owner, counts)
    if total.failed:
        log.warning("%d messages failed for good; `slaflow outbox list --status failed` shows why", total.failed)
    if total.claimed:
        publish_table("dispatch-outbox", [counts], f"Outbox delivery by {owner}")
    return counts

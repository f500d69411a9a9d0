"""The outbox dispatcher flow: deliver the queued notifications (`notifications.outbox`).

Messages are rows written with their cause; this flow only claims, sends and records them, in
batches until nothing due is left (or ``max_batches``). Overlapping runs share the work through
leases, like the sweeper.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

from prefect import flow

from core.clock import Clock, SystemClock
from flows._support import open_runtime, publish_table, run_logger, worker_id
from notifications.outbox import DispatchResult, dispatch_due
from notifications.settings import NotificationSettings, load_notification_settings
from runtime.assembly import Runtime


@dataclass
class Slice:
    """What one call delivered, and whether it stopped with messages possibly still due."""

    result: DispatchResult = field(default_factory=DispatchResult)
    more: bool = False


def deliver_slice(
    runtime: Runtime,
    owner: str,
    settings: NotificationSettings,
    *,
    limit: int = 200,
    max_batches: int = 10,
    budget_s: float | None = None,
    clock: Clock | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Slice:
    """Send the due messages in batches of ``limit`` until fewer than ``limit`` are due, or
    ``max_batches`` were sent, or (with ``budget_s``) that many seconds have passed after a batch:
    a caller with other work (the sweeper) gets the thread back within about one batch of the
    budget. Whatever is left stays pending for the next call (``more`` says there may be some)."""
    clock = clock or SystemClock()
    done = Slice()
    started = monotonic()
    for _ in range(max_batches):
        result = dispatch_due(
            runtime.sessions, runtime.company, now=clock.now(), owner=owner, settings=settings, limit=limit
        )
        for name in (f.name for f in fields(DispatchResult)):
            setattr(done.result, name, getattr(done.result, name) + getattr(result, name))
        if result.claimed < limit:
            return done
        if budget_s is not None and monotonic() - started >= budget_s:
            break
    done.more = True
    return done


def deliver(
    runtime: Runtime, owner: str, settings: NotificationSettings, *, limit: int = 200, max_batches: int = 10
) -> DispatchResult:
    """Send the due messages in batches until fewer than ``limit`` are due (at most ``max_batches``)."""
    return deliver_slice(runtime, owner, settings, limit=limit, max_batches=max_batches).result


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

"""The inbox flow: a safety net that processes stored CRM webhooks nobody processed yet.

The inbox processor (``slaflow inbox work``, started by ``slaflow serve``; or the HTTP app
itself with ``--no-processor``) processes each webhook right after it is stored; this flow picks
up what a crash or a failure left (``received`` and ``failed`` rows, oldest first). Processing one
row is idempotent and locks the row, so the processor and this flow may work at once.
"""

from __future__ import annotations

from collections import Counter

from prefect import flow

from core.clock import SystemClock
from flows._support import open_runtime, run_logger

BATCH = 32


@flow(name="process-inbox", retries=0)
def process_inbox(limit: int = 100, max_attempts: int = 10) -> dict[str, int]:
    """Process up to ``limit`` pending inbox rows; return how many ended in each status."""
    log = run_logger(__name__)
    try:  # crm.processing is optional for this flow: without it there is nothing to process
        from crm.inbox import pending_inbox_ids
        from crm.parking import expire_parked
        from crm.processing import process_inbox_events
    except ImportError as exc:
        log.info("crm.processing is not importable (%s); skipping inbox processing", exc)
        return {}
    clock = SystemClock()
    counts: Counter[str] = Counter()
    with open_runtime() as runtime:
        with runtime.sessions.begin() as session:
            expired = expire_parked(session, clock.now())
            ids = pending_inbox_ids(session, limit, max_attempts=max_attempts)
        if expired:
            log.warning("%d parked inbox events expired; `slaflow inbox list --status expired` shows why", len(expired))
        for start in range(0, len(ids), BATCH):  # a few rows per transaction, each row isolated
            chunk = ids[start:start + BATCH]
            processed = process_inbox_events(runtime.sessions, runtime.company, chunk, clock.now())
            counts.update(p.status for p in processed)
            if len(processed) < len(chunk):
                counts["missing"] += len(chunk) - len(processed)
    if ids:
        log.info("inbox: processed %d rows: %s", len(ids), dict(counts))
    if counts.get("failed"):
        log.warning("%d inbox rows failed; `slaflow inbox list --status failed` shows why", counts["failed"])
    return dict(sorted(counts.items()))

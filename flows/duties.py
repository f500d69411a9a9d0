"""The duties flow: open the recurring information duties that fell due (a ``duty`` case each).

Opening is idempotent (one case per duty and occurrence, keyed by both), so each run simply
looks back over a window longer than its interval: overlapping or repeated runs open nothing
twice, and a run that was missed is made up by the next. Each case is opened as of its
occurrence, so a late run does not move the deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow

from core.clock import SystemClock, ensure_utc
from duties.opening import open_due_duties
from flows._support import open_runtime, run_logger


@flow(name="open-duties", retries=0)
def open_duties(
    window_minutes: int = 120, at: datetime | None = None, database_url: str | None = None
) -> dict[str, int]:
    """Open the duty occurrences of the last ``window_minutes`` that have no case yet."""
    log = run_logger(__name__)
    now = ensure_utc(at) if at is not None else SystemClock().now()
    with open_runtime(database_url) as runtime, runtime.sessions.begin() as session:
        opened = open_due_duties(session, runtime.company, now=now, since=now - timedelta(minutes=window_minutes))
    log.info("duties at %s: opened %d occurrence(s)", now.isoformat(), len(opened))
    return {"opened": len(opened)}

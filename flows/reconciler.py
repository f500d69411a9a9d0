"""The reconciler: report the timers the sweeper cannot heal by itself.

Work left by a dead sweep needs no reconciler: its claims carry a lease (`engine.timers`,
120 s by default) and the next sweep after the lease runs out claims them again. What remains
for a person:

- ``failed``: a timer raised on every one of ``MAX_ATTEMPTS`` claims and was given up; its
  error is in ``last_error``;
- ``expired_leases``: pending timers whose lease ran out long ago and that nobody claimed
  again: no sweeper is running (or none reaches this database);
- ``overdue``: pending, never claimed, due long ago: the same, or sweeps too slow for the load;
- ``poison``: pending timers claimed ``MAX_ATTEMPTS`` times or more; a timer that kills its
  process (out of memory, a segfault) is never marked failed, it is just claimed again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prefect import flow
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.clock import SystemClock, ensure_utc
from core.vocabulary import TimerStatus
from engine.timers import MAX_ATTEMPTS
from flows._support import open_runtime, publish_table, run_logger
from storage.models import Timer

_t = Timer.__table__.c


@dataclass
class StuckTimers:
    failed: int = 0
    expired_leases: int = 0
    overdue: int = 0
    poison: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.failed + self.expired_leases + self.overdue + self.poison


def find_stuck(session: Session, *, now: datetime, grace: timedelta, samples: int = 20) -> StuckTimers:
    """Count (and sample) the stuck timers. Read-only; the candidate rows sit on the
    ``(status, due_at)`` index."""
    now = ensure_utc(now)
    limit = now - grace
    pending_due = and_(_t.status == TimerStatus.PENDING, _t.due_at <= limit)
    conditions = {
        "failed": _t.status == TimerStatus.FAILED,
        "expired_leases": and_(pending_due, _t.lease_until.is_not(None), _t.lease_until < limit),
        "overdue": and_(pending_due, _t.lease_until.is_(None)),
        "poison": and_(_t.status == TimerStatus.PENDING, _t.attempts >= MAX_ATTEMPTS),
    }
    found = StuckTimers()
    for name, condition in conditions.items():
        setattr(found, name, session.scalar(select(func.count()).where(condition)) or 0)
        if getattr(found, name):
            rows = session.execute(
                select(_t.id, _t.case_id, _t.kind, _t.due_at, _t.attempts, _t.lease_owner, _t.last_error)
                .where(condition)
                .order_by(_t.due_at)
                .limit(samples)
            )
            found.samples += [_sample(name, row._asdict()) for row in rows]
    return found


def _sample(problem: str, row: dict[str, Any]) -> dict[str, Any]:
    error = row["last_error"]
    return {
        "problem": problem, **row, "due_at": row["due_at"].isoformat(),
        "last_error": error[:200] if error else None,
    }


@flow(name="reconcile-timers", retries=0)
def reconcile_timers(grace_minutes: float = 10.0) -> dict[str, Any]:
    """Log (warning) and show as an artifact the timers stuck for more than ``grace_minutes``."""
    log = run_logger(__name__)
    with open_runtime() as runtime, runtime.reads() as session:
        found = find_stuck(session, now=SystemClock().now(), grace=timedelta(minutes=grace_minutes))
    report = asdict(found)
    if found.total:
        log.warning(
            "stuck timers: %d failed, %d leases expired > %s min ago, %d overdue and never claimed, %d poison",
            found.failed, found.expired_leases, grace_minutes, found.overdue, found.poison,
        )
        publish_table("reconcile-timers", found.samples, "Timers the sweeper cannot fire by itself")
    else:
        log.info("no stuck timers")
    return report

"""The sweeper's unit of work: claim due timers, then fire each one in its own transaction.

A claim sets a lease (owner, until); firing re-checks the guard (still pending, still ours,
case still in the timer's state, deadline unchanged) and marks the timer fired in the same
transaction as its effects. A worker that dies loses only its lease: the timer becomes
claimable again when the lease runs out, and the status check stops a second firing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from slaflow import cases, clocks
from slaflow.clock import ensure_utc
from slaflow.company import Actor, Company
from storage.models import Case, SlaClock, Timer

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 10


@dataclass
class SweepResult:
    claimed: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    failed: int = 0

    @property
    def fired_total(self) -> int:
        return sum(self.fired.values())


def claim_due(
    session: Session, *, now: datetime, owner: str, limit: int = 500, lease: timedelta = DEFAULT_LEASE
) -> list[int]:
    """Lease up to ``limit`` due timers to ``owner``. On PostgreSQL concurrent sweepers skip each
    other's rows (``FOR UPDATE SKIP LOCKED``); on SQLite the write lock makes the claim atomic."""
    now = ensure_utc(now)
    candidates = (
        select(Timer.id)
        .where(Timer.status == "pending", Timer.due_at <= now)
        .where(or_(Timer.lease_until.is_(None), Timer.lease_until < now))
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = session.scalars(
        update(Timer)
        .where(Timer.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_until=now + lease, attempts=Timer.attempts + 1)
        .returning(Timer.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


def fire_timer(session: Session, company: Company, *, timer_id: int, owner: str, now: datetime) -> str | None:
    """Fire one claimed timer; return its kind if it fired, None if the guard said no."""
    now = ensure_utc(now)
    timer = session.get(Timer, timer_id, with_for_update=True, populate_existing=True)
    if timer is None or timer.status != "pending" or timer.lease_owner != owner:
        return None
    case = session.get(Case, timer.case_id, with_for_update=True, populate_existing=True)
    assert case is not None
    if timer.state != "*" and case.state != timer.state:
        return _finish(timer, "cancelled", now)
    clock = session.get(SlaClock, timer.clock_id) if timer.clock_id is not None else None
    if clock is not None and (clock.stopped_at is not None or clock.paused_since is not None):
        return _finish(timer, "cancelled", now)
    if timer.kind == "auto":
        assert timer.trigger is not None
        cases.fire(session, company, case_id=case.id, trigger=timer.trigger, actor=Actor.system(),
                   now=now, source="timer")
        return _finish(timer, "fired", now, kind="auto")
    assert clock is not None, f"timer {timer.id} of kind {timer.kind} has no clock"
    if timer.kind == "breach":
        if clock.deadline_at is None or clock.deadline_at != timer.due_at:
            return _finish(timer, "cancelled", now)  # the deadline moved; its own timer exists
        if now <= clock.deadline_at:
            return _release(timer)
        clocks.record_breach(session, clock, case)
        return _finish(timer, "fired", now, kind="breach")
    if timer.kind == "warning":
        return _finish(timer, "fired", now, kind="warning")
    raise ValueError(f"timer {timer.id} has unknown kind {timer.kind!r}")


def sweep(
    factory: sessionmaker[Session],
    company: Company,
    *,
    now: datetime,
    owner: str,
    batch: int = 500,
    max_batches: int = 100,
    lease: timedelta = DEFAULT_LEASE,
) -> SweepResult:
    """Claim and fire due timers until none are left (or ``max_batches`` is reached)."""
    result = SweepResult()
    for _ in range(max_batches):
        with factory.begin() as session:
            ids = claim_due(session, now=now, owner=owner, limit=batch, lease=lease)
        result.claimed += len(ids)
        for timer_id in ids:
            try:
                with factory.begin() as session:
                    kind = fire_timer(session, company, timer_id=timer_id, owner=owner, now=now)
            except Exception as exc:  # one bad timer must not stop the others
                log.exception("timer %s failed", timer_id)
                result.failed += 1
                _record_failure(factory, timer_id, owner, exc)
                continue
            if kind is None:
                result.skipped += 1
            else:
                result.fired[kind] += 1
        if len(ids) < batch:
            break
    return result


def _finish(timer: Timer, status: str, now: datetime, kind: str | None = None) -> str | None:
    timer.status = status
    timer.fired_at = now if status == "fired" else None
    timer.lease_owner = None
    timer.lease_until = None
    return kind


def _release(timer: Timer) -> None:
    timer.lease_owner = None
    timer.lease_until = None
    return None


def _record_failure(factory: sessionmaker[Session], timer_id: int, owner: str, exc: Exception) -> None:
    with factory.begin() as session:
        session.execute(
            update(Timer)
            .where(Timer.id == timer_id, Timer.lease_owner == owner)
            .values(
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                lease_until=None,
                lease_owner=None,
                status=_status_after_failure(session, timer_id),
            )
        )


def _status_after_failure(session: Session, timer_id: int) -> str:
    attempts = session.scalar(select(Timer.attempts).where(Timer.id == timer_id)) or 0
    return "failed" if attempts >= MAX_ATTEMPTS else "pending"

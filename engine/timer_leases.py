"""When the next claim on a timer held by someone else becomes possible: the moment its lease runs out.

A sweeper that dies keeps its claims until their lease (``lease_until``) runs out; a claim then
takes them (`storage.lease.claim`: a row whose lease ran out is due again). A surviving sweeper
that only looks every interval would take them up to one interval late; it asks this instead and
sleeps until the earlier of its next tick and that moment, so the dead one's timers fire a lease
after their claim plus the time to fire them, whatever the interval.

Only leases of other owners count: this sweeper's own claims are being fired as it asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.vocabulary import TimerStatus
from storage.models import Timer, table

_timers = table(Timer)


def next_foreign_expiry(session: Session, *, now: datetime, owners: Sequence[str]) -> datetime | None:
    """The earliest ``lease_until`` at or after ``now`` among the pending, due timers leased to
    an owner not in ``owners``; None when there is none. (A lease already run out is claimed by
    the sweep itself.) Reads the ``(status, due_at)`` index: only due timers are leased."""
    now = ensure_utc(now)
    earliest = session.scalar(
        select(func.min(_timers.c.lease_until)).where(
            _timers.c.status == TimerStatus.PENDING,
            _timers.c.due_at <= now,
            _timers.c.lease_until >= now,
            _timers.c.lease_owner.is_not(None),
            _timers.c.lease_owner.not_in(list(owners)),
        )
    )
    return ensure_utc(earliest) if earliest is not None else None


def pause_before_next_sweep(*, until_tick: float, now: datetime, expiry: datetime | None, margin: float = 0.2) -> float:
    """Seconds to wait before the next sweep: ``until_tick`` (what is left of the interval), or
    less when a foreign lease runs out first (``margin`` after it: a claim takes a lease strictly
    past its end). Never negative."""
    wait = until_tick
    if expiry is not None:
        wait = min(wait, (expiry - ensure_utc(now)).total_seconds() + margin)
    return max(0.0, wait)

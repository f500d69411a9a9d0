"""SLA clock arithmetic: deadlines, warning instants and lateness in a business calendar.

Pure functions over a `BusinessCalendar`; the engine persists what they compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sla.calendar import BusinessCalendar


@dataclass(frozen=True)
class ClockPlan:
    deadline: datetime
    warn_at: datetime


def plan_clock(
    calendar: BusinessCalendar,
    start: datetime,
    target_minutes: float,
    warn_fraction: float,
    used_minutes: float = 0.0,
) -> ClockPlan:
    """Deadline and warning instant for a clock (re)started at ``start`` having already used
    ``used_minutes`` of its target (a resumed clock keeps the time it used before the pause)."""
    remaining = max(target_minutes - used_minutes, 0.0)
    warn_remaining = max(target_minutes * warn_fraction - used_minutes, 0.0)
    return ClockPlan(
        deadline=calendar.add_business_minutes(start, remaining),
        warn_at=calendar.add_business_minutes(start, warn_remaining),
    )


def used_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Business minutes a clock used while running from ``start`` to ``end``."""
    return calendar.business_minutes_between(start, end)


def used_by(
    calendar: BusinessCalendar,
    *,
    used_minutes: float,
    running_since: datetime,
    paused_since: datetime | None,
    stopped_at: datetime | None,
    now: datetime,
) -> float:
    """Business minutes a clock has used by ``now``: what is stored, plus the stretch it has been
    running since (a stopped or paused clock does not count on)."""
    if stopped_at is None and paused_since is None and now > running_since:
        return used_minutes + used_between(calendar, running_since, now)
    return used_minutes

"""SLA clock policy: pure functions over a typed clock (`sla.model.ClockRecord`) and its calendar.

Rules (also in the README):
- a clock's deadline is where the business minutes it used reach its target; its warning where they
  reach ``warn_fraction`` of it; a paused clock keeps what it used and, when it resumes, gets a new
  deadline for the time it had left (so a pause shifts the deadline by the paused business time);
- a clock is *met* if stopped at or before its deadline and *breached* if it is still running at
  any instant after it (a clock found late when it pauses stays breached);
- a breached clock is late by the business minutes it used beyond its target;
- escalation level N is due when the owner has used ``after`` business minutes past the deadline.

Nothing here reads the database or the time: `sla.clock_store` persists what these decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from core.clock import ensure_utc
from sla.calendar import BusinessCalendar
from sla.model import ClockRecord, ClockStatus


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


def late_minutes(used: float, target: float | None) -> float:
    """Business minutes used beyond the target (0 when within it)."""
    return max(used - (target or 0.0), 0.0)


def escalations_due(
    calendar: BusinessCalendar, start: datetime, afters: Sequence[float], *, overdue: float = 0.0
) -> list[datetime]:
    """When each escalation level is due: level N when the owner has used ``afters[N-1]`` business
    minutes past the deadline. From ``start`` (the deadline, or the moment a paused clock resumes)
    ``overdue`` of them are already used (negative: the deadline is that far ahead)."""
    return [calendar.add_business_minutes(start, max(after - overdue, 0.0)) for after in afters]


@dataclass(frozen=True)
class Started:
    """A new clock: its deadline and warning (None without a target) and its escalation levels."""

    deadline: datetime | None
    warn_at: datetime | None
    escalations: list[datetime]


def start(
    calendar: BusinessCalendar,
    now: datetime,
    target_minutes: float | None,
    warn_fraction: float,
    escalation_afters: Sequence[float] = (),
) -> Started:
    if target_minutes is None:
        return Started(None, None, [])
    plan = plan_clock(calendar, now, target_minutes, warn_fraction)
    return Started(plan.deadline, plan.warn_at, escalations_due(calendar, plan.deadline, escalation_afters))


@dataclass(frozen=True)
class Held:
    """A clock that stops running without ending: what it used, its status, and whether it is
    late now (its breach is to be recorded)."""

    used_minutes: float
    status: ClockStatus
    late: bool


def hold(clock: ClockRecord, calendar: BusinessCalendar, now: datetime) -> Held:
    """Stop a running clock without ending it. Whether it is already late is decided here, from
    the time alone, so the records never depend on whether a sweep came first."""
    used = clock.used_minutes + used_between(calendar, clock.running_since, now)
    late = clock.deadline_at is not None and now > clock.deadline_at
    status = ClockStatus.BREACHED if late or clock.status == ClockStatus.BREACHED else ClockStatus.PAUSED
    return Held(used, status, late)


@dataclass(frozen=True)
class Resumed:
    """A paused clock running again: its status, its deadline, the breach and warning timers to
    set (None: none to set) and when its pending escalation levels are now due."""

    status: ClockStatus
    deadline: datetime | None
    warn_at: datetime | None
    breach_due: datetime | None
    warning_due: datetime | None
    escalations: list[datetime]


def resume(
    clock: ClockRecord, calendar: BusinessCalendar, now: datetime, escalation_afters: Sequence[float] = ()
) -> Resumed:
    """Run a paused clock again with the time it had left: new deadline, new timers. Escalation
    levels count the owner's own business time past the deadline, so the pause shifts every
    pending level by its length: a level never fires for time another department (or the
    customer) used. A clock breached before the pause keeps its deadline and gets no new warning
    or breach."""
    status = ClockStatus.RUNNING if clock.status == ClockStatus.PAUSED else clock.status
    deadline, warn_at, breach_due, warning_due = clock.deadline_at, None, None, None
    if clock.status != ClockStatus.BREACHED and clock.target_minutes is not None:
        plan = plan_clock(calendar, now, clock.target_minutes, clock.warn_fraction, clock.used_minutes)
        deadline, warn_at, breach_due = plan.deadline, plan.warn_at, plan.deadline
        if plan.warn_at > now:  # a warning instant passed before the pause was due then
            warning_due = plan.warn_at
    escalations: list[datetime] = []
    if clock.target_minutes is not None:
        overdue = clock.used_minutes - clock.target_minutes
        escalations = escalations_due(calendar, now, escalation_afters, overdue=overdue)
    return Resumed(status, deadline, warn_at, breach_due, warning_due, escalations)


@dataclass(frozen=True)
class Stopped:
    """A clock that ends: what it used, met or breached, and (breached) by how many business
    minutes it is late."""

    used_minutes: float
    status: ClockStatus
    late_minutes: float | None


def stop(clock: ClockRecord, calendar: BusinessCalendar, now: datetime) -> Stopped:
    """End a clock. It is breached if it already was, or if it runs past its deadline; it is late
    by the business minutes it used beyond its target (the deadline is where used == target, so
    this also counts lateness from before a pause). A suspended clock did not run since its pause."""
    running = clock.paused_since is None
    used = clock.used_minutes + (used_between(calendar, clock.running_since, now) if running else 0.0)
    late = clock.status == ClockStatus.BREACHED or (
        running and clock.deadline_at is not None and now > clock.deadline_at
    )
    if late:
        return Stopped(used, ClockStatus.BREACHED, late_minutes(used, clock.target_minutes))
    return Stopped(used, ClockStatus.MET, None)


def promised_instant(value: object, zone: tzinfo) -> datetime | None:
    """The instant a customer was promised (ISO 8601; a day or an instant without an offset is
    read in ``zone``), None when absent or not a date."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return ensure_utc(moment)


def minutes_before(calendar: BusinessCalendar, now: datetime, promised: datetime) -> float:
    """Business minutes left from ``now`` until the promised instant (0 once it has passed)."""
    return calendar.business_minutes_between(now, promised) if promised > now else 0.0


def promise_warning(field: str, promised: datetime, left: float, needed: float | None) -> str | None:
    """Why the instant promised to the customer may not be kept: it leaves ``left`` business
    minutes, less than the ``needed`` whole-case target (or none at all). None when it leaves enough."""
    if left <= 0:
        return f"{field} {promised.isoformat()} leaves no business time: the promise cannot be met"
    if needed is not None and left < needed:
        return (f"{field} {promised.isoformat()} leaves {left:.0f} business minutes, less than the "
                f"{needed:.0f} the SLA gives: the promise may not be met")
    return None

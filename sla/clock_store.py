"""Persisting SLA clocks, their pauses and their timers (always inside the caller's transaction).

`sla.policy` decides; this module reads the clock, asks the policy and writes what it decided:
the clock row, its pause rows, its warning, breach and escalation timers, and its breach
(`sla.breach_log`). Calendars, targets and escalation levels are the caller's to resolve.

The write path uses statements built once at import (``bindparam`` placeholders), not the ORM
unit of work: it is the hot path of every trigger, and this is 4-5x faster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from core.vocabulary import TimerKind, TimerStatus
from sla import breach_log, policy
from sla.calendar import BusinessCalendar
from sla.model import ClockKind, ClockRecord, ClockStatus
from storage.models import CalendarVersion, ClockPause, SlaClock, Timer, table
from storage.prepared import Prepared, prepared_insert

_clocks = table(SlaClock)
_timers = table(Timer)
_pauses = table(ClockPause)
_calendar_versions = table(CalendarVersion)

_OPEN_STEP_CLOCK = Prepared(
    select(_clocks)
    .where(_clocks.c.case_id == bindparam("b_case_id"), _clocks.c.kind == ClockKind.STEP,
           _clocks.c.stopped_at.is_(None))
    .order_by(_clocks.c.id.desc())
    .limit(1)
)
_CASE_CLOCK = Prepared(
    select(_clocks).where(_clocks.c.case_id == bindparam("b_case_id"), _clocks.c.kind == ClockKind.WHOLE_CASE)
)
_SUSPENDED_STEP_CLOCK = Prepared(
    select(_clocks)
    .where(
        _clocks.c.case_id == bindparam("b_case_id"),
        _clocks.c.kind == ClockKind.STEP,
        _clocks.c.state == bindparam("b_state"),
        _clocks.c.stopped_at.is_(None),
        _clocks.c.paused_since.is_not(None),
    )
    .order_by(_clocks.c.id.desc())
    .limit(1)
)
_CLOCK_COLUMNS = ("case_id", "kind", "state", "event_seq", "department", "role", "person", "calendar",
                  "calendar_fingerprint", "target_minutes", "warn_fraction", "started_at", "running_since",
                  "deadline_at", "warn_at", "used_minutes", "paused_since", "stopped_at", "status", "requester",
                  "case_opened_at")
_INSERT_CLOCK = prepared_insert(_clocks, _CLOCK_COLUMNS, returning="id")


def _insert_clock_if_calendar_stored(columns: Sequence[str]) -> Insert:
    return (
        insert(_clocks)
        .from_select(
            list(columns),
            select(*[bindparam(name, type_=_clocks.c[name].type) for name in columns]).where(
                exists().where(_calendar_versions.c.fingerprint == bindparam("calendar_fingerprint"))
            ),
        )
        .returning(_clocks.c.id)
    )


_INSERT_CLOCK_IF_CALENDAR_STORED = Prepared(
    _insert_clock_if_calendar_stored(_CLOCK_COLUMNS),
    with_id=(_clocks.name, Prepared(_insert_clock_if_calendar_stored(("id", *_CLOCK_COLUMNS)))),
)
"""The clock, inserted only if its calendar version is stored (no row back otherwise): the check
rides on the insert, so registering the version costs statements only the first time."""
_UPDATE_CLOCK = update(_clocks).where(_clocks.c.id == bindparam("b_clock_id"))
_STOP_CLOCK = Prepared(_UPDATE_CLOCK.values(
    used_minutes=bindparam("b_used"), stopped_at=bindparam("b_now"), paused_since=None, status=bindparam("b_st")
))
_PAUSE_CLOCK = Prepared(_UPDATE_CLOCK.values(
    used_minutes=bindparam("b_used"), paused_since=bindparam("b_now"), status=bindparam("b_st")
))
_RESUME_CLOCK = Prepared(_UPDATE_CLOCK.values(
    paused_since=None, running_since=bindparam("b_now"), status=bindparam("b_st"),
    deadline_at=bindparam("b_deadline"), warn_at=bindparam("b_warn"),
))
_RESUME_KEEPING_PLAN = Prepared(_UPDATE_CLOCK.values(
    paused_since=None, running_since=bindparam("b_now"), status=bindparam("b_st")
))
_MARK_BREACHED = Prepared(_UPDATE_CLOCK.values(status=ClockStatus.BREACHED))
_ASSIGN_CLOCK = Prepared(_UPDATE_CLOCK.values(person=bindparam("b_person")))
_INSERT_PAUSE = prepared_insert(_pauses, ("clock_id", "started_at", "ended_at", "reason", "waiting_on"))
_CLOSE_PAUSE = Prepared(
    update(_pauses)
    .where(_pauses.c.clock_id == bindparam("b_clock_id"), _pauses.c.ended_at.is_(None))
    .values(ended_at=bindparam("b_now"))
)
_TIMER_COLUMNS = ("case_id", "clock_id", "kind", "level", "trigger", "state", "due_at", "status", "fired_at",
                  "lease_until", "lease_owner", "attempts", "last_error")
_INSERT_TIMERS = prepared_insert(_timers, _TIMER_COLUMNS)
_CANCELLED = {"status": TimerStatus.CANCELLED, "lease_owner": None, "lease_until": None}
_CANCEL_STATE_TIMERS = Prepared(
    update(_timers)
    .where(
        _timers.c.case_id == bindparam("b_case_id"),
        _timers.c.state == bindparam("b_timer_state"),
        _timers.c.status == TimerStatus.PENDING,
    )
    .values(**_CANCELLED)
)
_CANCEL_CLOCK_TIMERS = Prepared(
    update(_timers)
    .where(_timers.c.clock_id == bindparam("b_clock_id"), _timers.c.status == TimerStatus.PENDING)
    .values(**_CANCELLED)
)
_CANCEL_WARNING = Prepared(
    update(_timers)
    .where(
        _timers.c.clock_id == bindparam("b_clock_id"),
        _timers.c.kind == TimerKind.WARNING,
        _timers.c.status == TimerStatus.PENDING,
    )
    .values(**_CANCELLED)
)
_PENDING_ESCALATION = (
    _timers.c.clock_id == bindparam("b_clock_id"),
    _timers.c.kind == TimerKind.ESCALATION,
    _timers.c.status == TimerStatus.PENDING,
)
_CANCEL_ESCALATIONS = Prepared(update(_timers).where(*_PENDING_ESCALATION).values(status=TimerStatus.CANCELLED))
_SNOOZE_ESCALATIONS = Prepared(
    update(_timers)
    .where(*_PENDING_ESCALATION, _timers.c.due_at < bindparam("b_until"))
    .values(due_at=bindparam("b_until"), lease_owner=None, lease_until=None)
)


def _one(session: Session, statement: Prepared, params: dict[str, Any]) -> ClockRecord | None:
    row = statement.first(session, params)
    return None if row is None else ClockRecord.of(row)


def open_step_clock(session: Session, case_id: int) -> ClockRecord | None:
    """The case's running (or suspended) step clock, the latest if several."""
    return _one(session, _OPEN_STEP_CLOCK, {"b_case_id": case_id})


def case_clock(session: Session, case_id: int) -> ClockRecord | None:
    return _one(session, _CASE_CLOCK, {"b_case_id": case_id})


def suspended_step_clock(session: Session, case_id: int, state: str) -> ClockRecord | None:
    """The state's step clock suspended while the case waits on another department."""
    return _one(session, _SUSPENDED_STEP_CLOCK, {"b_case_id": case_id, "b_state": state})


def start(
    session: Session,
    calendar: BusinessCalendar,
    *,
    case_id: int,
    kind: ClockKind,
    state: str | None,
    department: str,
    role: str | None,
    person: str | None,
    calendar_fingerprint: str,
    target: float | None,
    warn_fraction: float,
    event_seq: int,
    now: datetime,
    requester: str,
    case_opened_at: datetime,
    escalation_afters: Sequence[float] = (),
    register_calendar: Callable[[], object] | None = None,
) -> datetime | None:
    """Insert a running clock (and its warning, breach and escalation timers); return its deadline.
    It carries its case's ``requester`` and ``case_opened_at`` (the whole-case clock's department
    and start: the ledger groups by them, `reports.ledger`). With ``register_calendar``, the clock
    is inserted if its calendar version is stored, else that is called to store it first (one
    statement when stored, as is usual)."""
    plan = policy.start(calendar, now, target, warn_fraction, escalation_afters)
    row = {
        "case_id": case_id, "kind": kind, "state": state, "event_seq": event_seq, "department": department,
        "role": role, "person": person, "calendar": calendar.name, "calendar_fingerprint": calendar_fingerprint,
        "target_minutes": target, "warn_fraction": warn_fraction, "started_at": now, "running_since": now,
        "deadline_at": plan.deadline, "warn_at": plan.warn_at, "used_minutes": 0.0, "paused_since": None,
        "stopped_at": None, "status": ClockStatus.RUNNING, "requester": requester, "case_opened_at": case_opened_at,
    }
    clock_id = None if register_calendar is None else _INSERT_CLOCK_IF_CALENDAR_STORED.scalar(session, row)
    if clock_id is None:
        if register_calendar is not None:
            register_calendar()
        clock_id = _INSERT_CLOCK.scalar(session, row)
    if plan.deadline is not None and plan.warn_at is not None:
        timer_state = state or "*"
        insert_timers(
            session,
            [
                timer_row(case_id, clock_id, TimerKind.WARNING, timer_state, plan.warn_at),
                timer_row(case_id, clock_id, TimerKind.BREACH, timer_state, plan.deadline),
                *_escalation_rows(case_id, clock_id, timer_state, plan.escalations),
            ],
        )
    return plan.deadline


def suspend(session: Session, clock: ClockRecord, calendar: BusinessCalendar, now: datetime, waiting_on: str) -> None:
    """Hold a step clock while the case waits on ``waiting_on`` (that time is not the owner's)."""
    _hold(session, clock, calendar, now)
    _insert_pause(session, clock.id, now, "dependency", waiting_on)


def pause(session: Session, clock: ClockRecord, calendar: BusinessCalendar, now: datetime) -> None:
    """Hold the whole-case clock while the case is in a paused state (its timers are cancelled)."""
    _hold(session, clock, calendar, now)
    _CANCEL_CLOCK_TIMERS.later(session, {"b_clock_id": clock.id})
    _insert_pause(session, clock.id, now, "paused_state", None)


def _hold(session: Session, clock: ClockRecord, calendar: BusinessCalendar, now: datetime) -> None:
    held = policy.hold(clock, calendar, now)
    _PAUSE_CLOCK.later(
        session, {"b_clock_id": clock.id, "b_used": held.used_minutes, "b_now": now, "b_st": held.status}
    )
    if held.late:
        record_breach(session, clock, now=now)


def _insert_pause(session: Session, clock_id: int, now: datetime, reason: str, waiting_on: str | None) -> None:
    _INSERT_PAUSE.later(
        session,
        {"clock_id": clock_id, "started_at": now, "ended_at": None, "reason": reason, "waiting_on": waiting_on},
    )


def resume(
    session: Session,
    clock: ClockRecord,
    calendar: BusinessCalendar,
    *,
    timer_state: str,
    now: datetime,
    escalation_afters: Sequence[float] = (),
) -> datetime | None:
    """Run a paused clock again (`sla.policy.resume`): new deadline, new timers; return the deadline."""
    resumed = policy.resume(clock, calendar, now, escalation_afters)
    timers = []
    if resumed.breach_due is not None:
        timers.append(timer_row(clock.case_id, clock.id, TimerKind.BREACH, timer_state, resumed.breach_due))
    if resumed.warning_due is not None:
        timers.append(timer_row(clock.case_id, clock.id, TimerKind.WARNING, timer_state, resumed.warning_due))
    if timers:
        insert_timers(session, timers)
    if resumed.escalations:
        insert_timers(session, _escalation_rows(clock.case_id, clock.id, timer_state, resumed.escalations))
    if resumed.breach_due is None:  # no new plan: the deadline and warning stand
        _RESUME_KEEPING_PLAN.later(session, {"b_clock_id": clock.id, "b_now": now, "b_st": resumed.status})
    else:
        _RESUME_CLOCK.later(session, {"b_clock_id": clock.id, "b_now": now, "b_st": resumed.status,
                                        "b_deadline": resumed.deadline, "b_warn": resumed.warn_at})
    _CLOSE_PAUSE.later(session, {"b_clock_id": clock.id, "b_now": now})
    return resumed.deadline


def stop(session: Session, clock: ClockRecord, calendar: BusinessCalendar, now: datetime) -> None:
    """End a clock, met or breached (`sla.policy.stop`); a breached one's breach is closed with
    the business minutes late."""
    stopped = policy.stop(clock, calendar, now)
    if clock.paused_since is not None:
        _CLOSE_PAUSE.later(session, {"b_clock_id": clock.id, "b_now": now})
    _STOP_CLOCK.later(
        session, {"b_clock_id": clock.id, "b_used": stopped.used_minutes, "b_now": now, "b_st": stopped.status}
    )
    if stopped.late_minutes is not None:
        record_breach(session, clock, now=now)
        breach_log.close_breach(session, clock.id, now=now, late_minutes=stopped.late_minutes)


def record_breach(session: Session, clock: ClockRecord, *, now: datetime, reserved: int | None = None) -> None:
    """Log the breach of a clock that ran past its deadline (`sla.breach_log`, with the breach id
    ``reserved`` by a sweep group, if given) and mark the clock breached; its pending warning is
    cancelled, since that stage has passed."""
    breach_log.log_breach(session, clock, now=now, reserved=reserved)
    _MARK_BREACHED.later(session, {"b_clock_id": clock.id})
    _CANCEL_WARNING.later(session, {"b_clock_id": clock.id})


def assign(session: Session, clock_id: int, person: str) -> None:
    """Name the person on a step clock; its open breach, if any, follows (`sla.breach_log`)."""
    _ASSIGN_CLOCK.later(session, {"b_clock_id": clock_id, "b_person": person})
    breach_log.assign_open_breach(session, clock_id, person)


def cancel_clock_timers(session: Session, clock_id: int) -> None:
    _CANCEL_CLOCK_TIMERS.later(session, {"b_clock_id": clock_id})


def cancel_state_timers(session: Session, case_id: int, timer_state: str) -> None:
    """Cancel the pending timers carrying ``timer_state`` (a state's name, or "*" for the whole case)."""
    _CANCEL_STATE_TIMERS.later(session, {"b_case_id": case_id, "b_timer_state": timer_state})


def cancel_escalations(session: Session, clock_id: int) -> None:
    _CANCEL_ESCALATIONS.later(session, {"b_clock_id": clock_id})


def snooze_escalations(session: Session, clock_id: int, until: datetime) -> None:
    """Postpone the clock's pending escalation levels due before ``until`` to ``until``."""
    _SNOOZE_ESCALATIONS.later(session, {"b_clock_id": clock_id, "b_until": until})


def insert_timers(session: Session, rows: list[dict[str, Any]]) -> None:
    _INSERT_TIMERS.later_many(session, rows)


def _escalation_rows(case_id: int, clock_id: int, state: str, due: Sequence[datetime]) -> list[dict[str, Any]]:
    return [timer_row(case_id, clock_id, TimerKind.ESCALATION, state, at, level=n) for n, at in enumerate(due, start=1)]


def timer_row(
    case_id: int,
    clock_id: int | None,
    kind: TimerKind,
    state: str,
    due: datetime,
    trigger: str | None = None,
    level: int = 0,
) -> dict[str, Any]:
    """A pending timer row (for `insert_timers`)."""
    return {
        "case_id": case_id, "clock_id": clock_id, "kind": kind, "level": level, "trigger": trigger, "state": state,
        "due_at": due, "status": TimerStatus.PENDING, "fired_at": None, "lease_until": None, "lease_owner": None,
        "attempts": 0, "last_error": None,
    }

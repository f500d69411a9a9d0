"""Persisting SLA clocks and their timers as a case moves (always inside the caller's transaction).

Rules (also in the README):
- a step clock runs for each visit of a non-paused, non-terminal state, in the owning
  department's calendar; the whole-case clock runs in the requesting department's calendar and
  pauses while the case is in a paused state (waiting on the customer);
- a clock is *met* if stopped at or before its deadline and *breached* if it is still running at
  any instant after it; the breach row is written once per clock (by the sweeper at the deadline,
  or when the clock stops late if no sweep came first) and closed with the business minutes late.

The engine's write path uses statements built once at import (``bindparam`` placeholders), not
the ORM unit of work: it is the hot path of every trigger, and this is 4-5x faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from engine import versions
from org.chart import Company
from sla.calendar import BusinessCalendar
from sla.clocks import plan_clock, used_between
from state_machines.schema import CaseTypeDef, EscalationLevel
from storage.db import insert_ignoring_duplicates
from storage.models import Breach, ClockPause, SlaClock, Timer, table

STEP, WHOLE_CASE = "step", "case"
RUNNING, PAUSED, MET, BREACHED = "running", "paused", "met", "breached"

_clocks = table(SlaClock)
_timers = table(Timer)
_pauses = table(ClockPause)
_INSERT_PAUSE = insert(_pauses)
_CLOSE_PAUSE = (
    update(_pauses)
    .where(_pauses.c.clock_id == bindparam("b_clock_id"), _pauses.c.ended_at.is_(None))
    .values(ended_at=bindparam("b_now"))
)
_breaches = table(Breach)

_OPEN_STEP_CLOCK = (
    select(_clocks)
    .where(_clocks.c.case_id == bindparam("b_case_id"), _clocks.c.kind == STEP, _clocks.c.stopped_at.is_(None))
    .order_by(_clocks.c.id.desc())
    .limit(1)
)
_CASE_CLOCK = select(_clocks).where(_clocks.c.case_id == bindparam("b_case_id"), _clocks.c.kind == WHOLE_CASE)
_SUSPENDED_STEP_CLOCK = (
    select(_clocks)
    .where(
        _clocks.c.case_id == bindparam("b_case_id"),
        _clocks.c.kind == STEP,
        _clocks.c.state == bindparam("b_state"),
        _clocks.c.stopped_at.is_(None),
        _clocks.c.paused_since.is_not(None),
    )
    .order_by(_clocks.c.id.desc())
    .limit(1)
)
_INSERT_CLOCK = insert(_clocks).returning(_clocks.c.id)
_UPDATE_CLOCK = update(_clocks).where(_clocks.c.id == bindparam("b_clock_id"))
_STOP_CLOCK = _UPDATE_CLOCK.values(
    used_minutes=bindparam("b_used"), stopped_at=bindparam("b_now"), paused_since=None, status=bindparam("b_st")
)
_PAUSE_CLOCK = _UPDATE_CLOCK.values(
    used_minutes=bindparam("b_used"), paused_since=bindparam("b_now"), status=bindparam("b_st")
)
_MARK_BREACHED = _UPDATE_CLOCK.values(status=BREACHED)
_ASSIGN_CLOCK = _UPDATE_CLOCK.values(person=bindparam("b_person"))
_INSERT_TIMERS = insert(_timers)
_CANCEL_STATE_TIMERS = (
    update(_timers)
    .where(
        _timers.c.case_id == bindparam("b_case_id"),
        _timers.c.state == bindparam("b_timer_state"),
        _timers.c.status == "pending",
    )
    .values(status="cancelled", lease_owner=None, lease_until=None)
)
_CANCEL_CLOCK_TIMERS = (
    update(_timers)
    .where(_timers.c.clock_id == bindparam("b_clock_id"), _timers.c.status == "pending")
    .values(status="cancelled", lease_owner=None, lease_until=None)
)
_CANCEL_WARNING = (
    update(_timers)
    .where(_timers.c.clock_id == bindparam("b_clock_id"), _timers.c.kind == "warning", _timers.c.status == "pending")
    .values(status="cancelled", lease_owner=None, lease_until=None)
)
_INSERT_BREACH = insert_ignoring_duplicates(_breaches, "clock_id")
_ASSIGN_OPEN_BREACH = (
    update(_breaches)
    .where(_breaches.c.clock_id == bindparam("b_clock_id"), _breaches.c.closed_at.is_(None))
    .values(person=bindparam("b_person"))
)
_CLOSE_BREACH = (
    update(_breaches)
    .where(_breaches.c.clock_id == bindparam("b_clock_id"))
    .values(closed_at=bindparam("b_closed_at"), late_minutes=bindparam("b_late"))
)


@dataclass
class StepResult:
    """What entering a state decided, for the case row."""

    owner_department: str | None
    owner_role: str | None
    due_at: datetime | None
    closed_at: datetime | None


def enter_state(
    session: Session,
    company: Company,
    *,
    case_id: int,
    definition: CaseTypeDef,
    state_name: str,
    data: dict[str, Any],
    owner_person: str | None,
    event_seq: int,
    now: datetime,
    was_paused: bool = False,
    resume: bool = False,
) -> StepResult:
    """Start whatever the new state needs: its step clock and timers, a pause, or the end.
    ``was_paused`` says whether the state left was paused, so the whole-case clock is only
    touched when pausedness changes; ``resume`` says the case returns from a dependency, so the
    state's suspended clock resumes instead of a new one starting."""
    state = definition.states[state_name]
    if state.terminal:
        stop_case_clock(session, company, case_id=case_id, now=now)
        return StepResult(None, None, None, now)
    if state.paused and not was_paused:
        pause_case_clock(session, company, case_id=case_id, now=now)
    elif was_paused and not state.paused:
        resume_case_clock(session, company, case_id=case_id, now=now)
    department = state.department or definition.performer
    due_at = None
    suspended = None
    if resume:
        suspended = (
            session.connection().execute(_SUSPENDED_STEP_CLOCK, {"b_case_id": case_id, "b_state": state_name}).first()
        )
    if suspended is not None:
        due_at = _resume(
            session,
            company,
            suspended,
            case_id=case_id,
            timer_state=state_name,
            now=now,
            escalation=definition.escalation_of(state_name),
        )
    elif not state.paused:  # (a case opened before the state became a dependency starts afresh)
        due_at = _start_clock(
            session,
            company,
            case_id=case_id,
            kind=STEP,
            state=state_name,
            department=department,
            role=state.role,
            person=owner_person,
            target=definition.step_target(state_name, data),
            warn_fraction=state.warn_at,
            event_seq=event_seq,
            now=now,
            escalation=definition.escalation_of(state_name),
        )
    if state.hook is not None:  # started by the sweeper's hook handler, once (the timer is the record)
        session.connection().execute(
            _INSERT_TIMERS, [_timer(case_id, None, "hook", state_name, now, trigger=state.hook, level=event_seq)]
        )
    if state.auto is not None:
        due = company.calendar_of(department).add_business_minutes(now, state.auto.after)
        timers = [_timer(case_id, None, "auto", state_name, due, trigger=state.auto.trigger)]
        session.connection().execute(_INSERT_TIMERS, timers)  # a notice before it: engine.holds
    return StepResult(state.department, state.role, due_at, None)


def leave_state(
    session: Session,
    company: Company,
    *,
    case_id: int,
    state_name: str,
    now: datetime,
    waiting_on: str | None = None,
) -> None:
    """Stop the current step clock (met or breached) and cancel the state's pending timers. When
    the case goes to a dependency (``waiting_on`` names its department), the clock is suspended
    instead: the owner waits on another department and that time is not theirs."""
    clock = session.connection().execute(_OPEN_STEP_CLOCK, {"b_case_id": case_id}).first()
    if clock is not None and waiting_on is not None:
        _suspend(session, company, clock, now, waiting_on)
    elif clock is not None:
        _stop(session, company, clock, now)
    # Step and automatic timers carry the state's name (whole-case timers carry "*"), so this
    # one statement cancels them all.
    session.connection().execute(_CANCEL_STATE_TIMERS, {"b_case_id": case_id, "b_timer_state": state_name})


def hold_escalation(
    session: Session, company: Company, *, case_id: int, now: datetime, snooze_minutes: float | None
) -> None:
    """Acknowledge (cancel) or snooze (postpone to ``now`` + business minutes) the pending
    escalation levels of the running step."""
    clock = session.connection().execute(_OPEN_STEP_CLOCK, {"b_case_id": case_id}).first()
    if clock is None:
        return
    pending = _timers.c.clock_id == clock.id, _timers.c.kind == "escalation", _timers.c.status == "pending"
    if snooze_minutes is None:
        session.connection().execute(update(_timers).where(*pending).values(status="cancelled"))
        return
    until = _calendar(session, company, clock).add_business_minutes(now, snooze_minutes)
    session.connection().execute(
        update(_timers)
        .where(*pending, _timers.c.due_at < until)
        .values(due_at=until, lease_owner=None, lease_until=None)
    )


def stop_suspended(session: Session, company: Company, *, case_id: int, state_name: str, now: datetime) -> None:
    """The case left a dependency without returning: the step it served is over too."""
    clock = session.connection().execute(_SUSPENDED_STEP_CLOCK, {"b_case_id": case_id, "b_state": state_name}).first()
    if clock is not None:
        _stop(session, company, clock, now)


def _suspend(session: Session, company: Company, clock: Row[Any], now: datetime, waiting_on: str) -> None:
    _hold(session, company, clock, now)
    session.connection().execute(
        _INSERT_PAUSE,
        {"clock_id": clock.id, "started_at": now, "ended_at": None, "reason": "dependency", "waiting_on": waiting_on},
    )


def _hold(session: Session, company: Company, clock: Row[Any], now: datetime) -> None:
    """Stop a clock from running without ending it. Whether it is already late is decided here,
    from the time alone, so the records never depend on whether a sweep came first."""
    used = clock.used_minutes + used_between(_calendar(session, company, clock), clock.running_since, now)
    late = clock.deadline_at is not None and now > clock.deadline_at
    status = BREACHED if late or clock.status == BREACHED else PAUSED
    session.connection().execute(_PAUSE_CLOCK, {"b_clock_id": clock.id, "b_used": used, "b_now": now, "b_st": status})
    if late:
        record_breach(session, clock, now=now)


def start_case_clock(
    session: Session, company: Company, *, case_id: int, definition: CaseTypeDef, now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    _start_clock(
        session,
        company,
        case_id=case_id,
        kind=WHOLE_CASE,
        state=None,
        department=definition.requester,
        role=None,
        person=None,
        target=case_target(company, definition, data or {}, now),
        warn_fraction=0.75,
        event_seq=1,
        now=now,
    )


def case_target(company: Company, definition: CaseTypeDef, data: dict[str, Any], now: datetime) -> float | None:
    """The whole-case target: the type's target for this case's priority, cut to the business
    minutes left before the instant promised to the customer (``promised_by``) if that is earlier."""
    target = definition.case_target(data)
    promised = promised_instant(company, definition, data)
    if promised is None:
        return target
    left = company.calendar_of(definition.requester).business_minutes_between(now, promised) if promised > now else 0.0
    return left if target is None else min(target, left)


def promise_warning(company: Company, definition: CaseTypeDef, data: dict[str, Any], now: datetime) -> str | None:
    """Why the instant promised to the customer may not be kept: it leaves less business time
    than the type's whole-case target for this case (or none at all). None when it leaves enough."""
    promised = promised_instant(company, definition, data)
    if promised is None:
        return None
    left = company.calendar_of(definition.requester).business_minutes_between(now, promised) if promised > now else 0.0
    needed = definition.case_target(data)
    field = definition.promised_by
    if left <= 0:
        return f"{field} {promised.isoformat()} leaves no business time: the promise cannot be met"
    if needed is not None and left < needed:
        return (f"{field} {promised.isoformat()} leaves {left:.0f} business minutes, less than the "
                f"{needed:.0f} the SLA gives: the promise may not be met")
    return None


def promised_instant(company: Company, definition: CaseTypeDef, data: dict[str, Any]) -> datetime | None:
    """The instant in ``data[definition.promised_by]`` (ISO 8601; a day or an instant without an
    offset is read in the requesting department's zone), None when absent or not a date."""
    value = data.get(definition.promised_by) if definition.promised_by else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=company.calendar_of(definition.requester).tz)
    return ensure_utc(moment)


def assign_step(session: Session, *, case_id: int, person: str) -> None:
    """Name the person on the running step clock (their breaches carry their name). The step's
    breach, if already recorded and still open, follows: it carries whoever holds the late step,
    as it would had it been recorded at the stop, so the records never depend on whether a sweep
    detected the breach before the assignment (`slaflow sla rebuild` replays without sweeps)."""
    clock = session.connection().execute(_OPEN_STEP_CLOCK, {"b_case_id": case_id}).first()
    if clock is not None:
        params = {"b_clock_id": clock.id, "b_person": person}
        session.connection().execute(_ASSIGN_CLOCK, params)
        session.connection().execute(_ASSIGN_OPEN_BREACH, params)


def pause_case_clock(session: Session, company: Company, *, case_id: int, now: datetime) -> None:
    clock = session.connection().execute(_CASE_CLOCK, {"b_case_id": case_id}).first()
    if clock is None or clock.stopped_at is not None or clock.paused_since is not None:
        return
    _hold(session, company, clock, now)
    conn = session.connection()
    conn.execute(_CANCEL_CLOCK_TIMERS, {"b_clock_id": clock.id})
    conn.execute(
        _INSERT_PAUSE,
        {"clock_id": clock.id, "started_at": now, "ended_at": None, "reason": "paused_state", "waiting_on": None},
    )


def resume_case_clock(session: Session, company: Company, *, case_id: int, now: datetime) -> None:
    clock = session.connection().execute(_CASE_CLOCK, {"b_case_id": case_id}).first()
    if clock is None or clock.stopped_at is not None or clock.paused_since is None:
        return
    _resume(session, company, clock, case_id=case_id, timer_state="*", now=now)


def _resume(
    session: Session,
    company: Company,
    clock: Row[Any],
    *,
    case_id: int,
    timer_state: str,
    now: datetime,
    escalation: Sequence[EscalationLevel] = (),
) -> datetime | None:
    """Run a paused clock again with the time it had left: new deadline, new timers. Escalation
    levels count the owner's own business time past the deadline, so the pause shifts every
    pending level by its length: a level never fires for time another department (or the
    customer) used. A level that already fired is not fired again (checked when it fires)."""
    values: dict[str, Any] = {
        "paused_since": None,
        "running_since": now,
        "status": RUNNING if clock.status == PAUSED else clock.status,
    }
    deadline: datetime | None = clock.deadline_at
    calendar = _calendar(session, company, clock)
    if clock.status == BREACHED:
        pass  # already breached before the pause: its breach stays open, no new warning or breach
    elif clock.target_minutes is not None:
        plan = plan_clock(calendar, now, clock.target_minutes, clock.warn_fraction, clock.used_minutes)
        deadline = plan.deadline
        values.update(deadline_at=plan.deadline, warn_at=plan.warn_at)
        timers = [_timer(case_id, clock.id, "breach", timer_state, plan.deadline)]
        if plan.warn_at > now:  # a warning instant passed before the pause was due then
            timers.append(_timer(case_id, clock.id, "warning", timer_state, plan.warn_at))
        session.connection().execute(_INSERT_TIMERS, timers)
    if clock.target_minutes is not None and escalation:
        overdue = clock.used_minutes - clock.target_minutes
        levels = _escalation_timers(calendar, case_id, clock.id, timer_state, now, escalation, overdue=overdue)
        session.connection().execute(_INSERT_TIMERS, levels)
    session.connection().execute(update(_clocks).where(_clocks.c.id == clock.id).values(**values))
    session.connection().execute(_CLOSE_PAUSE, {"b_clock_id": clock.id, "b_now": now})
    return deadline


def stop_case_clock(session: Session, company: Company, *, case_id: int, now: datetime) -> None:
    clock = session.connection().execute(_CASE_CLOCK, {"b_case_id": case_id}).first()
    if clock is not None and clock.stopped_at is None:
        _stop(session, company, clock, now)
        session.connection().execute(_CANCEL_CLOCK_TIMERS, {"b_clock_id": clock.id})


def record_breach(session: Session, clock: Row[Any] | SlaClock, *, now: datetime) -> None:
    """Write the breach row of a clock that ran past its deadline (once per clock) and mark
    the clock breached. The row keeps the deadline (``breached_at``) and the moment the breach
    was detected (``detected_at``: the sweep that fired, or the stop or pause that found it
    late); its pending warning is cancelled, since that stage has passed."""
    assert clock.deadline_at is not None
    session.execute(
        _INSERT_BREACH[session.get_bind().dialect.name],
        {
            "case_id": clock.case_id,
            "clock_id": clock.id,
            "kind": clock.kind,
            "department": clock.department,
            "person": clock.person,
            "state": clock.state,
            "deadline_at": clock.deadline_at,
            "breached_at": clock.deadline_at,
            "detected_at": now,
            "closed_at": None,
            "late_minutes": None,
        },
    )
    session.connection().execute(_MARK_BREACHED, {"b_clock_id": clock.id})
    session.connection().execute(_CANCEL_WARNING, {"b_clock_id": clock.id})


def _stop(session: Session, company: Company, clock: Row[Any], now: datetime) -> None:
    """Stop a clock. It is breached if it already was, or if it runs past its deadline; it is late
    by the business minutes it used beyond its target (the deadline is where used == target, so
    this also counts lateness from before a pause)."""
    used = clock.used_minutes
    conn = session.connection()
    if clock.paused_since is None:
        used += used_between(_calendar(session, company, clock), clock.running_since, now)
    else:  # a suspended clock did not run since its pause
        conn.execute(_CLOSE_PAUSE, {"b_clock_id": clock.id, "b_now": now})
    late = clock.status == BREACHED or (
        clock.paused_since is None and clock.deadline_at is not None and now > clock.deadline_at
    )
    conn.execute(_STOP_CLOCK, {"b_clock_id": clock.id, "b_used": used, "b_now": now, "b_st": BREACHED if late else MET})
    if late:
        record_breach(session, clock, now=now)
        late_by = max(used - (clock.target_minutes or 0.0), 0.0)
        conn.execute(_CLOSE_BREACH, {"b_clock_id": clock.id, "b_closed_at": now, "b_late": late_by})


def _start_clock(
    session: Session,
    company: Company,
    *,
    case_id: int,
    kind: str,
    state: str | None,
    department: str,
    role: str | None,
    person: str | None,
    target: float | None,
    warn_fraction: float,
    event_seq: int,
    now: datetime,
    escalation: Sequence[EscalationLevel] = (),
) -> datetime | None:
    """Insert a running clock (and its warning, breach and escalation timers); return its deadline."""
    calendar = company.calendar_of(department)
    fingerprint = versions.register_calendar(session, calendar, now)
    deadline = warn_at = None
    if target is not None:
        plan = plan_clock(calendar, now, target, warn_fraction)
        deadline, warn_at = plan.deadline, plan.warn_at
    clock_id = session.execute(
        _INSERT_CLOCK,
        {
            "case_id": case_id,
            "kind": kind,
            "state": state,
            "event_seq": event_seq,
            "department": department,
            "role": role,
            "person": person,
            "calendar": calendar.name,
            "calendar_fingerprint": fingerprint,
            "target_minutes": target,
            "warn_fraction": warn_fraction,
            "started_at": now,
            "running_since": now,
            "deadline_at": deadline,
            "warn_at": warn_at,
            "used_minutes": 0.0,
            "paused_since": None,
            "stopped_at": None,
            "status": RUNNING,
        },
    ).scalar_one()
    if deadline is not None and warn_at is not None:
        timer_state = state or "*"
        session.connection().execute(
            _INSERT_TIMERS,
            [
                _timer(case_id, clock_id, "warning", timer_state, warn_at),
                _timer(case_id, clock_id, "breach", timer_state, deadline),
                *_escalation_timers(calendar, case_id, clock_id, timer_state, deadline, escalation),
            ],
        )
    return deadline


def _escalation_timers(
    calendar: BusinessCalendar,
    case_id: int,
    clock_id: int,
    state: str,
    start: datetime,
    escalation: Sequence[EscalationLevel],
    *,
    overdue: float = 0.0,
) -> list[dict[str, Any]]:
    """Level N is due when the owner has used ``after`` business minutes past the deadline, in
    the owner's calendar. From ``start`` (the deadline, or the moment a paused clock resumes)
    ``overdue`` of them are already used (negative: the deadline is that far ahead)."""
    return [
        _timer(
            case_id,
            clock_id,
            "escalation",
            state,
            calendar.add_business_minutes(start, max(level.after - overdue, 0.0)),
            level=n,
        )
        for n, level in enumerate(escalation, start=1)
    ]


def _calendar(session: Session, company: Company, clock: Row[Any]) -> BusinessCalendar:
    return versions.calendar_for(session, company, clock.calendar, clock.calendar_fingerprint)


def _timer(
    case_id: int,
    clock_id: int | None,
    kind: str,
    state: str,
    due: datetime,
    trigger: str | None = None,
    level: int = 0,
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "clock_id": clock_id,
        "kind": kind,
        "level": level,
        "trigger": trigger,
        "state": state,
        "due_at": due,
        "status": "pending",
        "fired_at": None,
        "lease_until": None,
        "lease_owner": None,
        "attempts": 0,
        "last_error": None,
    }

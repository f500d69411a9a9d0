"""Which SLA clocks a case runs as it moves: the case type and the company decide which clock
starts, in whose calendar, for what target, with which escalation chain; `sla.policy` decides what
happens to a clock and `sla.clock_store` persists it (inside the caller's transaction):
- a step clock runs for each visit of a non-paused, non-terminal state, in the owning
  department's calendar; the whole-case clock runs in the requesting department's calendar and
  pauses while the case is in a paused state (waiting on the customer);
- while the case waits on another department (a dependency), the step it serves is suspended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.vocabulary import TimerKind
from engine import versions
from org.chart import Company
from sla import clock_store, policy
from sla.calendar import BusinessCalendar
from sla.model import ClockKind, ClockRecord
from state_machines.schema import CaseTypeDef


@dataclass
class StepResult:
    """What entering a state decided, for the case row."""

    owner_department: str | None
    owner_role: str | None
    due_at: datetime | None
    closed_at: datetime | None


def enter_state(
    session: Session, company: Company, *, case_id: int, definition: CaseTypeDef, state_name: str,
    data: dict[str, Any], owner_person: str | None, event_seq: int, now: datetime, requester: str,
    opened_at: datetime, was_paused: bool = False, resume: bool = False,
) -> StepResult:
    """Start whatever the new state needs: its step clock and timers, a pause, or the end.
    ``requester`` and ``opened_at`` are the case's (its step clocks carry them). ``was_paused``
    says whether the state left was paused, so the whole-case clock is only touched when
    pausedness changes; ``resume`` says the case returns from a dependency, so the state's
    suspended clock resumes instead of a new one starting."""
    state = definition.states[state_name]
    if state.terminal:
        stop_case_clock(session, company, case_id=case_id, now=now)
        return StepResult(None, None, None, now)
    if state.paused and not was_paused:
        pause_case_clock(session, company, case_id=case_id, now=now)
    elif was_paused and not state.paused:
        resume_case_clock(session, company, case_id=case_id, now=now)
    department = state.department or definition.performer
    afters = [level.after for level in definition.escalation_of(state_name)] if not state.paused or resume else []
    due_at = None
    suspended = clock_store.suspended_step_clock(session, case_id, state_name) if resume else None
    if suspended is not None:
        due_at = clock_store.resume(session, suspended, _calendar(session, company, suspended), timer_state=state_name,
                                    now=now, escalation_afters=afters)
    elif not state.paused:  # (a case opened before the state became a dependency starts afresh)
        due_at = _start_clock(session, company, case_id=case_id, kind=ClockKind.STEP, state=state_name,
                              department=department, role=state.role, person=owner_person,
                              target=definition.step_target(state_name, data), warn_fraction=state.warn_at,
                              event_seq=event_seq, now=now, escalation_afters=afters, requester=requester,
                              opened_at=opened_at)
    if state.hook is not None:  # started by the sweeper's hook handler, once (the timer is the record)
        hook = clock_store.timer_row(case_id, None, TimerKind.HOOK, state_name, now, trigger=state.hook,
                                     level=event_seq)
        clock_store.insert_timers(session, [hook])
    if state.auto is not None:
        due = company.calendar_of(department).add_business_minutes(now, state.auto.after)
        auto = clock_store.timer_row(case_id, None, TimerKind.AUTO, state_name, due, trigger=state.auto.trigger)
        clock_store.insert_timers(session, [auto])  # a notice before it: HoldStarted, engine.timer_kinds
    return StepResult(state.department, state.role, due_at, None)


def leave_state(
    session: Session, company: Company, *, case_id: int, state_name: str, now: datetime, waiting_on: str | None = None
) -> None:
    """Stop the current step clock (met or breached) and cancel the state's pending timers. When
    the case goes to a dependency (``waiting_on`` names its department), the clock is suspended
    instead: the owner waits on another department and that time is not theirs."""
    clock = clock_store.open_step_clock(session, case_id)
    if clock is not None and waiting_on is not None:
        clock_store.suspend(session, clock, _calendar(session, company, clock), now, waiting_on)
    elif clock is not None:
        clock_store.stop(session, clock, _calendar(session, company, clock), now)
    # Step and automatic timers carry the state's name (whole-case timers carry "*"), so this
    # one statement cancels them all.
    clock_store.cancel_state_timers(session, case_id, state_name)


def hold_escalation(
    session: Session, company: Company, *, case_id: int, now: datetime, snooze_minutes: float | None
) -> None:
    """Acknowledge (cancel) or snooze (postpone to ``now`` + business minutes) the pending
    escalation levels of the running step."""
    clock = clock_store.open_step_clock(session, case_id)
    if clock is not None and snooze_minutes is None:
        clock_store.cancel_escalations(session, clock.id)
    elif clock is not None and snooze_minutes is not None:
        until = _calendar(session, company, clock).add_business_minutes(now, snooze_minutes)
        clock_store.snooze_escalations(session, clock.id, until)


def stop_suspended(session: Session, company: Company, *, case_id: int, state_name: str, now: datetime) -> None:
    """The case left a dependency without returning: the step it served is over too."""
    clock = clock_store.suspended_step_clock(session, case_id, state_name)
    if clock is not None:
        clock_store.stop(session, clock, _calendar(session, company, clock), now)


def start_case_clock(
    session: Session, company: Company, *, case_id: int, definition: CaseTypeDef, now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    _start_clock(session, company, case_id=case_id, kind=ClockKind.WHOLE_CASE, state=None,
                 department=definition.requester, role=None, person=None,
                 target=case_target(company, definition, data or {}, now), warn_fraction=0.75, event_seq=1, now=now,
                 requester=definition.requester, opened_at=now)


def case_target(company: Company, definition: CaseTypeDef, data: dict[str, Any], now: datetime) -> float | None:
    """The whole-case target: the type's target for this case's priority, cut to the business
    minutes left before the instant promised to the customer (``promised_by``) if that is earlier."""
    target, promise = definition.case_target(data), _promise(company, definition, data, now)
    if promise is None:
        return target
    return promise[1] if target is None else min(target, promise[1])


def promise_warning(company: Company, definition: CaseTypeDef, data: dict[str, Any], now: datetime) -> str | None:
    """Why the instant promised to the customer may not be kept (`sla.policy.promise_warning`)."""
    promise = _promise(company, definition, data, now)
    if promise is None or definition.promised_by is None:
        return None
    return policy.promise_warning(definition.promised_by, *promise, definition.case_target(data))


def _promise(
    company: Company, definition: CaseTypeDef, data: dict[str, Any], now: datetime
) -> tuple[datetime, float] | None:
    """The instant in ``data[definition.promised_by]`` (read in the requesting department's zone)
    and the business minutes left before it; None when absent or not a date."""
    calendar, field = company.calendar_of(definition.requester), definition.promised_by
    promised = policy.promised_instant(data.get(field), calendar.tz) if field else None
    return None if promised is None else (promised, policy.minutes_before(calendar, now, promised))


def assign_step(session: Session, *, case_id: int, person: str) -> None:
    """Name the person on the running step clock (their breaches carry their name). The step's
    breach, if already recorded and still open, follows: it carries whoever holds the late step,
    as it would had it been recorded at the stop, so the records never depend on whether a sweep
    detected the breach before the assignment (`slaflow sla rebuild` replays without sweeps)."""
    clock = clock_store.open_step_clock(session, case_id)
    if clock is not None:
        clock_store.assign(session, clock.id, person)


def pause_case_clock(session: Session, company: Company, *, case_id: int, now: datetime) -> None:
    """The case entered a paused state: the whole-case clock stops running."""
    clock = clock_store.case_clock(session, case_id)
    if clock is not None and clock.stopped_at is None and clock.paused_since is None:
        clock_store.pause(session, clock, _calendar(session, company, clock), now)


def resume_case_clock(session: Session, company: Company, *, case_id: int, now: datetime) -> None:
    clock = clock_store.case_clock(session, case_id)
    if clock is not None and clock.stopped_at is None and clock.paused_since is not None:
        clock_store.resume(session, clock, _calendar(session, company, clock), timer_state="*", now=now)


def stop_case_clock(session: Session, company: Company, *, case_id: int, now: datetime) -> None:
    clock = clock_store.case_clock(session, case_id)
    if clock is not None and clock.stopped_at is None:
        clock_store.stop(session, clock, _calendar(session, company, clock), now)
        clock_store.cancel_clock_timers(session, clock.id)


def _start_clock(
    session: Session, company: Company, *, case_id: int, kind: ClockKind, state: str | None, department: str,
    role: str | None, person: str | None, target: float | None, warn_fraction: float, event_seq: int, now: datetime,
    requester: str, opened_at: datetime, escalation_afters: list[float] | None = None,
) -> datetime | None:
    """Start a clock in ``department``'s calendar (registered as the version it runs on, when not yet),
    carrying its case's requester and opening instant."""
    calendar = company.calendar_of(department)
    return clock_store.start(
        session, calendar, case_id=case_id, kind=kind, state=state, department=department, role=role, person=person,
        calendar_fingerprint=calendar.fingerprint, target=target, warn_fraction=warn_fraction, event_seq=event_seq,
        now=now, requester=requester, case_opened_at=opened_at, escalation_afters=escalation_afters or (),
        register_calendar=lambda: versions.register_calendar(session, calendar, now),
    )


def _calendar(session: Session, company: Company, clock: ClockRecord) -> BusinessCalendar:
    """The calendar version the clock started on."""
    return versions.calendar_for(session, company, clock.calendar, clock.calendar_fingerprint)

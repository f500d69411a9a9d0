"""Persisting SLA clocks and their timers as a case moves (always inside the caller's transaction).

Rules (also in the README):
- a step clock runs for each visit of a non-paused, non-terminal state, in the owning
  department's calendar; the whole-case clock runs in the requesting department's calendar and
  pauses while the case is in a paused state (waiting on the customer);
- a clock is *met* if stopped at or before its deadline and *breached* if it is still running at
  any instant after it; the breach row is written once per clock (by the sweeper at the deadline,
  or when the clock stops late if no sweep came first) and closed with the business minutes late.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sla.clocks import late_minutes, plan_clock, used_between
from slaflow.company import Company
from state_machines.schema import CaseTypeDef
from storage.models import Breach, Case, SlaClock, Timer

STEP, WHOLE_CASE = "step", "case"
RUNNING, PAUSED, MET, BREACHED = "running", "paused", "met", "breached"


def enter_state(
    session: Session, company: Company, case: Case, definition: CaseTypeDef, event_seq: int, now: datetime
) -> None:
    """Start whatever the new state needs: its step clock and timers, or a pause, or the end."""
    state = definition.states[case.state]
    case.owner_department = state.department
    case.owner_role = state.role
    case.due_at = None
    if state.terminal:
        case.closed_at = now
        stop_case_clock(session, company, case, now)
        return
    if state.paused:
        pause_case_clock(session, company, case, now)
    else:
        resume_case_clock(session, company, case, now)
        target = state.target_for(case.data)
        clock = _new_clock(
            company, case, kind=STEP, state=case.state, department=state.department or case.performer,
            role=state.role, target=target, warn_fraction=state.warn_at, event_seq=event_seq, now=now,
        )
        session.add(clock)
        session.flush()
        case.due_at = clock.deadline_at
        _schedule_clock_timers(session, case, clock)
    if state.auto is not None:
        calendar = company.calendar_of(state.department or case.performer)
        session.add(
            Timer(
                case_id=case.id, clock_id=None, kind="auto", level=0, trigger=state.auto.trigger,
                state=case.state, due_at=calendar.add_business_minutes(now, state.auto.after),
                status="pending", attempts=0,
            )
        )


def leave_state(session: Session, company: Company, case: Case, now: datetime) -> None:
    """Stop the current step clock (met or breached) and cancel the state's pending timers."""
    clock = current_step_clock(session, case)
    if clock is not None:
        _stop(session, company, clock, now)
    # Step and automatic timers carry the state's name; whole-case timers carry "*".
    session.execute(
        update(Timer)
        .where(Timer.case_id == case.id, Timer.state == case.state, Timer.status == "pending")
        .values(status="cancelled", lease_owner=None, lease_until=None)
    )


def start_case_clock(session: Session, company: Company, case: Case, definition: CaseTypeDef, now: datetime) -> None:
    clock = _new_clock(
        company, case, kind=WHOLE_CASE, state=None, department=case.requester, role=None,
        target=definition.target, warn_fraction=0.75, event_seq=1, now=now,
    )
    session.add(clock)
    session.flush()
    _schedule_clock_timers(session, case, clock)


def current_step_clock(session: Session, case: Case) -> SlaClock | None:
    return session.scalars(
        select(SlaClock)
        .where(SlaClock.case_id == case.id, SlaClock.kind == STEP, SlaClock.stopped_at.is_(None))
        .order_by(SlaClock.id.desc())
        .limit(1)
    ).first()


def case_clock(session: Session, case: Case) -> SlaClock | None:
    return session.scalars(select(SlaClock).where(SlaClock.case_id == case.id, SlaClock.kind == WHOLE_CASE)).first()


def pause_case_clock(session: Session, company: Company, case: Case, now: datetime) -> None:
    clock = case_clock(session, case)
    if clock is None or clock.stopped_at is not None or clock.paused_since is not None:
        return
    calendar = company.calendars[clock.calendar]
    clock.used_minutes += used_between(calendar, clock.running_since, now)
    clock.paused_since = now
    if clock.status == RUNNING:
        clock.status = PAUSED
    _cancel_clock_timers(session, clock)


def resume_case_clock(session: Session, company: Company, case: Case, now: datetime) -> None:
    clock = case_clock(session, case)
    if clock is None or clock.stopped_at is not None or clock.paused_since is None:
        return
    clock.paused_since = None
    clock.running_since = now
    if clock.status == PAUSED:
        clock.status = RUNNING
    if clock.target_minutes is not None:
        plan = plan_clock(
            company.calendars[clock.calendar], now, clock.target_minutes, clock.warn_fraction, clock.used_minutes
        )
        clock.deadline_at, clock.warn_at = plan.deadline, plan.warn_at
        _schedule_clock_timers(session, case, clock, resumed_at=now)


def stop_case_clock(session: Session, company: Company, case: Case, now: datetime) -> None:
    clock = case_clock(session, case)
    if clock is not None and clock.stopped_at is None:
        _stop(session, company, clock, now)


def record_breach(session: Session, clock: SlaClock, case: Case) -> Breach:
    """The breach row for a clock that ran past its deadline (one per clock)."""
    assert clock.deadline_at is not None
    breach = session.scalars(select(Breach).where(Breach.clock_id == clock.id)).first()
    if breach is None:
        breach = Breach(
            case_id=case.id, clock_id=clock.id, kind=clock.kind, department=clock.department,
            person=clock.person, state=clock.state, deadline_at=clock.deadline_at, breached_at=clock.deadline_at,
        )
        session.add(breach)
    clock.status = BREACHED
    return breach


def _stop(session: Session, company: Company, clock: SlaClock, now: datetime) -> None:
    calendar = company.calendars[clock.calendar]
    if clock.paused_since is None:
        clock.used_minutes += used_between(calendar, clock.running_since, now)
    clock.stopped_at = now
    clock.paused_since = None
    late = clock.deadline_at is not None and now > clock.deadline_at
    if late:
        assert clock.deadline_at is not None
        case = session.get(Case, clock.case_id)
        assert case is not None
        breach = record_breach(session, clock, case)
        breach.closed_at = now
        breach.late_minutes = late_minutes(calendar, clock.deadline_at, now)
    else:
        clock.status = MET
    _cancel_clock_timers(session, clock)


def _new_clock(
    company: Company, case: Case, *, kind: str, state: str | None, department: str, role: str | None,
    target: float | None, warn_fraction: float, event_seq: int, now: datetime,
) -> SlaClock:
    calendar_name = company.config.departments[department].calendar
    clock = SlaClock(
        case_id=case.id, kind=kind, state=state, event_seq=event_seq, department=department, role=role,
        person=case.owner_person if kind == STEP else None, calendar=calendar_name, target_minutes=target,
        warn_fraction=warn_fraction, started_at=now, running_since=now, used_minutes=0.0, status=RUNNING,
    )
    if target is not None:
        plan = plan_clock(company.calendars[calendar_name], now, target, warn_fraction)
        clock.deadline_at, clock.warn_at = plan.deadline, plan.warn_at
    return clock


def _schedule_clock_timers(session: Session, case: Case, clock: SlaClock, resumed_at: datetime | None = None) -> None:
    if clock.deadline_at is None or clock.warn_at is None:
        return
    state = clock.state or "*"
    for kind, due in (("warning", clock.warn_at), ("breach", clock.deadline_at)):
        if kind == "warning" and resumed_at is not None and due <= resumed_at:
            continue  # the warning instant passed before the pause; it was already due then
        session.add(
            Timer(case_id=case.id, clock_id=clock.id, kind=kind, level=0, state=state, due_at=due,
                  status="pending", attempts=0)
        )


def _cancel_clock_timers(session: Session, clock: SlaClock) -> None:
    session.execute(
        update(Timer)
        .where(Timer.clock_id == clock.id, Timer.status == "pending")
        .values(status="cancelled", lease_owner=None, lease_until=None)
    )


"""What a due timer does, one handler per timer kind (`HANDLERS`), and how a timer is finished.

`engine.timers.fire_timer` checks the guard common to every kind (still pending, still ours,
case still in the timer's state, clock neither stopped nor paused) and hands the timer to its
kind's handler, which returns the kind if it fired, None if it did not (yet). A new kind is a
handler here and a row in `HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from core.vocabulary import TimerKind, TimerStatus
from engine import cases, records
from engine import events as ev
from org import audience
from org.chart import Actor, Company
from sla import breach_log, clock_store
from sla.model import ClockRecord, ClockStatus
from storage.models import Breach, Timer, table
from storage.prepared import Prepared

_timers = table(Timer)
_FINISH = Prepared(
    update(_timers)
    .where(_timers.c.id == bindparam("b_timer_id"))
    .values(
        status=bindparam("b_status"),
        fired_at=bindparam("b_fired_at"),
        lease_owner=None,
        lease_until=None,
        flow_run_id=bindparam("b_flow_run_id"),
    )
)
RELEASE = Prepared(
    update(_timers).where(_timers.c.id == bindparam("b_timer_id")).values(lease_owner=None, lease_until=None)
)
"""Give the timer back unfired (its lease cleared): another sweep, or a later one, takes it."""
_BREACH_OF_CLOCK = Prepared(select(table(Breach)).where(table(Breach).c.clock_id == bindparam("b_clock_id")))
_STAGE_PASSED = Prepared(
    select(_timers.c.id)
    .where(
        _timers.c.clock_id == bindparam("b_clock_id"),
        _timers.c.kind == TimerKind.ESCALATION,
        _timers.c.status == TimerStatus.FIRED,
        or_(_timers.c.level == bindparam("b_level"),
            and_(_timers.c.level > bindparam("b_level"), _timers.c.fired_at < bindparam("b_due"))),
    )
    .limit(1)
)
"""A level fires once per clock, and not once a higher one fired before it came due (its stage
had passed: a dependency pause moved it). A higher level that fired after it came due fired
beside it, only earlier (two sweepers, or a retry): it is one of `_HIGHER_DUE`."""
_HIGHER_DUE = Prepared(
    select(_timers.c.level)
    .where(
        _timers.c.clock_id == bindparam("b_clock_id"),
        _timers.c.kind == TimerKind.ESCALATION,
        _timers.c.level > bindparam("b_level"),
        or_(and_(_timers.c.status == TimerStatus.PENDING, _timers.c.due_at <= bindparam("b_now")),
            and_(_timers.c.status == TimerStatus.FIRED, _timers.c.fired_at >= bindparam("b_due"))),
    )
    .distinct()
)
"""The higher levels due with this one: pending and due now, or fired since this one came due
(whichever order the sweep took them in, a person hears the highest level only)."""
FINISH_LATER = "slaflow.finish_later"
"""``Session.info`` key: while a sweep group fires, the finishes held back for one driver call
(`write_finishes`; see `engine.timer_group`)."""
RUN_ID = "slaflow.flow_run_id"
"""``Session.info`` key: the id of the (Prefect) run that sweeps, stored on the timers it finishes."""
HOOKS_AFTER_COMMIT = "slaflow.hooks_after_commit"
"""``Session.info`` key: hook timers whose deployment starts once the guard's transaction committed."""

HookHandler = Callable[[str, int, int], None]
"""Starts a state's hook: (deployment name, case id, event seq). Given by the entry point (the
Prefect sweeper flow passes `flows.hooks.start_state_hook`); the core never imports Prefect."""


@dataclass
class BreachesAhead:
    """A sweep group's breaches read ahead (PostgreSQL, `sla.breach_log.read_ahead`): the rows of
    the breaches its clocks have, and ids reserved for the ones it may write. A clock is in
    ``clocks`` until its first breach timer of the group takes it."""

    clocks: set[int]
    rows: dict[int, Any]
    ids: list[int]

    def take(self, clock_id: int) -> tuple[Any, int | None] | None:
        """(the clock's breach row or None, the id to write one with), or None when the clock was
        not read ahead (or is taken already, or no id is left): then it is read back."""
        if clock_id not in self.clocks:
            return None
        existing = self.rows.get(clock_id)
        if existing is None and not self.ids:
            return None
        self.clocks.discard(clock_id)
        return existing, None if existing is not None else self.ids.pop()


@dataclass(frozen=True)
class Due:
    """A timer whose guard passed, with what its handler may need."""

    session: Session
    company: Company
    timer: Row[Any]
    case: records.CaseRecord
    clock: Row[Any] | None
    now: datetime
    hooks: HookHandler | None
    ahead: BreachesAhead | None = None

    def finish(self, status: TimerStatus, kind: TimerKind | None = None) -> TimerKind | None:
        return finish(self.session, self.timer.id, status, self.now, kind)

    def release(self) -> None:
        RELEASE.execute(self.session, {"b_timer_id": self.timer.id})

    def step_clock(self) -> Row[Any]:
        assert self.clock is not None, f"timer {self.timer.id} of kind {self.timer.kind} has no clock"
        return self.clock


def finish(
    session: Session, timer_id: int, status: TimerStatus, now: datetime, kind: TimerKind | None = None
) -> TimerKind | None:
    """Mark the timer ``status`` (fired or cancelled), clear its lease; return ``kind``. Inside a
    sweep group the write is held back until `write_finishes`."""
    row = {
        "b_timer_id": timer_id,
        "b_status": status,
        "b_fired_at": now if status == TimerStatus.FIRED else None,
        "b_flow_run_id": session.info.get(RUN_ID),
    }
    later = session.info.get(FINISH_LATER)
    if later is not None:
        later.append(row)
    else:
        _FINISH.execute(session, row)
    return kind


def write_finishes(session: Session, *, done: bool = False) -> None:
    """Write the finishes held back so far (one driver call); with ``done``, stop holding back."""
    later = session.info.pop(FINISH_LATER, None) if done else session.info.get(FINISH_LATER)
    if later:
        _FINISH.execute_many(session, later)
        later.clear()


def _hook(due: Due) -> TimerKind | None:
    """A state's hook deployment. Started after this transaction commits (no row lock held while
    Prefect answers), then marked fired; a crash in between leaves the lease to expire, the next
    sweep starts it again and the deployment's idempotency key makes it one flow run all the same."""
    if due.hooks is None:  # this sweeper cannot start deployments: leave it to one that can
        due.release()
        return None
    deferred = due.session.info.setdefault(HOOKS_AFTER_COMMIT, [])
    deferred.append((due.timer.id, str(due.timer.trigger), due.timer.case_id, due.timer.level))
    return None


def _auto(due: Due) -> TimerKind | None:
    """The state releases itself: fire its automatic trigger as the system."""
    assert due.timer.trigger is not None
    cases.fire(due.session, due.company, case_id=due.timer.case_id, trigger=due.timer.trigger,
               actor=Actor.system(), now=due.now, source="timer")
    return due.finish(TimerStatus.FIRED, kind=TimerKind.AUTO)


def schedule_notice(session: Session, company: Company, hold: ev.HoldStarted, *, lead_minutes: float) -> None:
    """A ``notice`` timer ``lead_minutes`` of business time before ``hold`` releases itself
    (a subscriber that wants to warn before a hold expires calls this; none if the hold is shorter)."""
    if lead_minutes >= hold.after_minutes:
        return
    notice_at = company.calendar_of(hold.department).add_business_minutes(hold.now, hold.after_minutes - lead_minutes)
    row = clock_store.timer_row(hold.case.id, None, TimerKind.NOTICE, hold.state, notice_at, trigger=hold.trigger)
    clock_store.insert_timers(session, [row])


def _notice(due: Due) -> TimerKind | None:
    """A hold is about to expire: the pending automatic transition of the same state says when."""
    timer = due.timer
    expires_at = due.session.scalar(select(Timer.due_at).where(
        Timer.case_id == timer.case_id, Timer.kind == TimerKind.AUTO, Timer.state == timer.state,
        Timer.status == TimerStatus.PENDING))
    if expires_at is None:
        return due.finish(TimerStatus.CANCELLED)
    ev.emit(due.session, due.company, ev.HoldExpiring(due.case, due.now, expires_at=expires_at))
    return due.finish(TimerStatus.FIRED, kind=TimerKind.NOTICE)


def _breach(due: Due) -> TimerKind | None:
    """The step's deadline passed: record the breach once (the clock's deadline must be the one
    this timer was set for; a moved deadline has its own timer)."""
    clock = due.step_clock()
    if clock.deadline_at is None or clock.deadline_at != due.timer.due_at:
        return due.finish(TimerStatus.CANCELLED)
    if due.now <= clock.deadline_at:
        due.release()
        return None
    record = ClockRecord.of(clock)
    ahead = due.ahead.take(clock.id) if due.ahead is not None else None
    if ahead is None:
        clock_store.record_breach(due.session, record, now=due.now)
        breach = _BREACH_OF_CLOCK.first(due.session, {"b_clock_id": clock.id})
    else:  # known without reading it back (the write may still wait: storage.deferred)
        existing, reserved = ahead
        clock_store.record_breach(due.session, record, now=due.now, reserved=reserved)
        breach = existing if reserved is None else breach_log.row_of(record, now=due.now, breach_id=reserved)
    assert breach is not None, f"clock {clock.id} was just recorded breached"
    ev.emit(due.session, due.company, ev.StepBreached(due.case, due.now, clock=clock, breach=breach))
    return due.finish(TimerStatus.FIRED, kind=TimerKind.BREACH)


def _warn(due: Due) -> TimerKind | None:
    """The deadline is near. Checked when it fires (a warning reclaimed after its worker died may
    fire late): once the clock is breached or past its deadline, that stage has passed and no
    "75 % used" goes out after the breach."""
    clock = due.step_clock()
    if clock.status == ClockStatus.BREACHED or (clock.deadline_at is not None and due.now > clock.deadline_at):
        return due.finish(TimerStatus.CANCELLED)
    ev.emit(due.session, due.company, ev.StepWarned(due.case, due.now, clock=clock))
    return due.finish(TimerStatus.FIRED, kind=TimerKind.WARNING)


def _escalate(due: Due) -> TimerKind | None:
    """Level N of the step's chain: tell its audience (resolved from the org chart now) and/or
    hand the step to someone (an ``assign`` event). A level fires once per clock, even when a
    dependency pause re-scheduled it, and never once a higher level fired before it came due (its
    stage has passed). When higher levels are due too, a person they also reach hears only the
    highest one: one message naming the higher level instead of several at the same moment. The
    order the levels due together are fired in does not matter (two sweepers may take the higher
    one first): the lower one still tells the people only it reaches, and hands the step over
    unless a higher level does."""
    session, company, timer, case, now = due.session, due.company, due.timer, due.case, due.now
    clock = due.step_clock()
    if _STAGE_PASSED.scalar(session, {"b_clock_id": clock.id, "b_level": timer.level, "b_due": timer.due_at}):
        return due.finish(TimerStatus.CANCELLED)
    levels = cases.definition_of(session, company, case).escalation_of(timer.state)
    if timer.level > len(levels):
        return due.finish(TimerStatus.CANCELLED)  # the chain was shortened since
    level = levels[timer.level - 1]
    higher = [
        levels[n - 1]
        for (n,) in _HIGHER_DUE.all(session, {"b_clock_id": clock.id, "b_level": timer.level, "b_now": now,
                                              "b_due": timer.due_at})
        if n <= len(levels)
    ]
    specs = level.notify
    if specs and higher:
        scope = audience.Scope.of_clock(case, clock)
        reached = {person for up in higher for person in audience.resolve(company, up.notify, scope)}
        specs = [audience.person_spec(p) for p in audience.resolve(company, level.notify, scope) if p not in reached]
    if specs:
        ev.emit(session, company, ev.Escalated(case, now, clock=clock, level=timer.level, audience=list(specs)))
    reassign = level.reassign_to if not any(up.reassign_to for up in higher) else None
    if reassign is not None:
        person = level.reassign_person or company.head_of(clock.department)
        if person != case.owner_person:
            cases.assign(session, company, case_id=case.id, person=person, actor=Actor.system("escalation"), now=now,
                         source="timer")
    return due.finish(TimerStatus.FIRED, kind=TimerKind.ESCALATION)


HANDLERS: dict[TimerKind, Callable[[Due], TimerKind | None]] = {
    TimerKind.HOOK: _hook,
    TimerKind.NOTICE: _notice,
    TimerKind.AUTO: _auto,
    TimerKind.BREACH: _breach,
    TimerKind.WARNING: _warn,
    TimerKind.ESCALATION: _escalate,
}
"""Timer kind -> what firing it does."""

"""A clock as people read it at ``now``: business time used and left, and its status word.

One function each, all over `sla.compliance` / `sla.policy`: `clock_used` (business minutes used,
on the calendar version the clock runs on), `remaining` (time left to its deadline), `step_status`
(on time, at risk, breached, paused, untimed) and `case_status` (a case without a step clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from engine import versions
from org.chart import Company
from sla.compliance import Outcome, outcome, used_now
from sla.model import ClockKind, ClockRecord, ClockStatus
from storage.models import Case, ClockPause, SlaClock


class StepStatus(StrEnum):
    """Where a step stands for people (the board's rows, the case page's badges)."""

    OK = "ok"
    WARNING = "warning"
    """The warning threshold passed: at risk."""
    BREACHED = "breached"
    PAUSED = "paused"
    UNTIMED = "untimed"
    CLOSED = "closed"
    """The case is closed (a case's status only)."""


STATUS_ORDER = (StepStatus.BREACHED, StepStatus.WARNING, StepStatus.OK, StepStatus.PAUSED, StepStatus.UNTIMED)
"""Worst first."""


@dataclass(frozen=True)
class Remaining:
    business_minutes: float
    """Business minutes to the deadline in the owner's calendar; negative when late."""
    wall_minutes: float
    """Wall-clock minutes to the deadline; negative when late."""


@dataclass(frozen=True)
class ClockView:
    id: int
    kind: ClockKind
    state: str | None
    event_seq: int
    """The event that started the clock."""
    department: str
    person: str | None
    stored_status: ClockStatus
    """As stored (``sla_clocks.status``)."""
    status: str
    """A `StepStatus` word while the clock is open; the stored status once it stopped."""
    target_minutes: float | None
    used_minutes: float
    started_at: datetime
    deadline_at: datetime | None
    stopped_at: datetime | None
    running: bool
    remaining: Remaining | None
    pauses: tuple[ClockPause, ...] = ()


def clock_used(
    session: Session, company: Company, clock: SlaClock, now: datetime, record: ClockRecord | None = None
) -> float:
    """Business minutes a clock has used by ``now`` (`sla.compliance.used_now`), on the calendar
    version it runs on. ``record``: ``ClockRecord.of(clock)`` when the caller has it already
    (building it is most of a board row's cost)."""
    calendar = versions.calendar_for(session, company, clock.calendar, clock.calendar_fingerprint)
    return used_now(record or ClockRecord.of(clock), calendar, now)


def remaining(clock: SlaClock | None, used: float, now: datetime) -> Remaining | None:
    """Time left to an open clock's deadline (``used``: `clock_used`); None without a deadline."""
    if clock is None or clock.deadline_at is None or clock.target_minutes is None or clock.stopped_at is not None:
        return None
    return Remaining(clock.target_minutes - used, (clock.deadline_at - now).total_seconds() / 60)


def step_status(clock: SlaClock | None, now: datetime, record: ClockRecord | None = None) -> StepStatus:
    """The status of an open step clock at ``now``; breached by the ledger's rule, as in the figures
    (``record``: ``ClockRecord.of(clock)`` when the caller has it)."""
    if clock is None:
        return StepStatus.UNTIMED
    if outcome(record or ClockRecord.of(clock), now) is Outcome.BREACHED:
        return StepStatus.BREACHED
    if clock.paused_since is not None:
        return StepStatus.PAUSED
    if clock.target_minutes is None:
        return StepStatus.UNTIMED
    if clock.warn_at is not None and clock.warn_at <= now:
        return StepStatus.WARNING
    return StepStatus.OK


def case_status(
    company: Company, case: Case, step: SlaClock | None, now: datetime, record: ClockRecord | None = None
) -> StepStatus:
    """The status of a case from its current step clock (``step``: the open step clock of the
    state it is in). A closed case is closed; one without a step clock is either waiting outside
    the company (a paused state) or in an untimed step."""
    if case.closed_at is not None:
        return StepStatus.CLOSED
    if step is None:
        definition = company.case_types.get(case.case_type)
        state = definition.states.get(case.state) if definition else None
        return StepStatus.PAUSED if state is not None and state.paused else StepStatus.UNTIMED
    return step_status(step, now, record)


def clock_view(
    session: Session, company: Company, clock: SlaClock, now: datetime, pauses: Sequence[ClockPause] = (),
    record: ClockRecord | None = None,
) -> ClockView:
    record = record or ClockRecord.of(clock)
    used = clock_used(session, company, clock, now, record)
    return ClockView(
        id=clock.id,
        kind=ClockKind(clock.kind),
        state=clock.state,
        event_seq=clock.event_seq,
        department=clock.department,
        person=clock.person,
        stored_status=ClockStatus(clock.status),
        status=step_status(clock, now, record) if clock.stopped_at is None else clock.status,
        target_minutes=clock.target_minutes,
        used_minutes=used,
        started_at=clock.started_at,
        deadline_at=clock.deadline_at,
        stopped_at=clock.stopped_at,
        running=clock.status == ClockStatus.RUNNING and clock.stopped_at is None,
        remaining=remaining(clock, used, now),
        pauses=tuple(pauses),
    )

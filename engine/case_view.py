"""The one read model of a case for people (CLI, REST API, dashboard, workplace), computed once
at ``now``: `CaseHead` for lists (the case, its owner, its current step's status and time left),
`CaseView` for one case (also every clock, the ledger, events, breaches, messages, fired timers).

The renderings read it: `engine.views` (the CLI's and the API's JSON), `engine.timeline` (the
history and the case page's timeline), `api.dashboard.data` (the pages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, aliased

from core.vocabulary import TimerKind, TimerStatus
from engine import cases
from engine.clock_view import ClockView, Remaining, StepStatus, case_status, clock_view
from org.chart import Company
from sla.compliance import Share, blame
from sla.model import ClockKind, ClockRecord
from state_machines.schema import CaseTypeDef
from storage.models import Breach, Case, ClockPause, OutboxMessage, SlaClock, Timer


@dataclass(frozen=True)
class CaseHead:
    id: int
    case_type: str
    state: str
    version: int
    owner_department: str | None
    owner_role: str | None
    owner_person: str | None
    due_at: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    open_step: ClockView | None
    """The running (or suspended) step clock; while the case waits on another department, the
    suspended clock of the step it returns to."""
    status: StepStatus
    """Of the step the case is in (`engine.clock_view.case_status`)."""

    @property
    def remaining(self) -> Remaining | None:
        return self.open_step.remaining if self.open_step is not None else None

    @property
    def owner(self) -> str | None:
        """``department/role (person)``."""
        if self.owner_department is None:
            return None
        owner = self.owner_department + (f"/{self.owner_role}" if self.owner_role else "")
        return owner + (f" ({self.owner_person})" if self.owner_person else "")


@dataclass(frozen=True)
class EventView:
    seq: int
    at: datetime
    actor: str
    trigger: str
    from_state: str | None
    to_state: str
    payload: dict[str, Any]
    source: str


@dataclass(frozen=True)
class CaseView:
    head: CaseHead
    now: datetime
    definition: CaseTypeDef
    data: dict[str, Any]
    participants: tuple[str, ...]
    external: str | None
    """``source:key`` of the record in another system."""
    clocks: tuple[ClockView, ...]
    """Oldest first, each with its pauses."""
    ledger: tuple[Share, ...]
    """Business minutes each department's steps used (open ones up to now), and its share."""
    events: tuple[EventView, ...]
    breaches: tuple[Breach, ...]
    """By breach time."""
    messages: tuple[OutboxMessage, ...]
    """By creation, kind and level (messages sent together are adjacent)."""
    fired: tuple[Timer, ...]
    """Fired timers other than breaches (warnings, escalations, automatic moves, notices)."""


def _open_step_clock(session: Session, case_id: int) -> SlaClock | None:
    return session.scalars(
        select(SlaClock)
        .where(SlaClock.case_id == case_id, SlaClock.kind == ClockKind.STEP, SlaClock.stopped_at.is_(None))
        .order_by(SlaClock.id.desc())
    ).first()


class Stated(Protocol):
    """A case as a list read it: its id and the state it is in (a `Case`, or a row of a report)."""

    @property
    def id(self) -> int: ...

    @property
    def state(self) -> str: ...


STEP = aliased(SlaClock)
"""The alias a list's query tests a case's current step clock with (`current_step`); one for
every query, as SQLAlchemy memoizes an alias's columns on it."""


def current_step(step: type[SlaClock]) -> ColumnElement[bool]:
    """Join condition of a case's current step clock: ``step`` (an alias of ``SlaClock``) is an
    open step clock of the state the case is in (the latest, ``step.id`` descending, is current)."""
    return and_(step.case_id == Case.id, step.kind == ClockKind.STEP, step.stopped_at.is_(None),
                step.state == Case.state)


def current_steps(session: Session, found: Sequence[Stated]) -> dict[int, SlaClock]:
    """The current step clock (`current_step`) of each of a page of cases, in one query by case
    id. Lists read their page of cases by the cases' own index first and then this: joining the
    clocks before the limit made PostgreSQL join and sort every open case (bench/dashboard.py)."""
    states = {case.id: case.state for case in found}
    current: dict[int, SlaClock] = {}
    if not states:
        return current
    for clock in session.scalars(
        select(SlaClock)
        .where(SlaClock.case_id.in_(list(states)), SlaClock.kind == ClockKind.STEP, SlaClock.stopped_at.is_(None))
        .order_by(SlaClock.id)
    ):
        if clock.state == states[clock.case_id]:
            current[clock.case_id] = clock  # ascending ids: the latest one stays
    return current


def head_of(
    session: Session, company: Company, case: Case, now: datetime, open_step: SlaClock | None
) -> CaseHead:
    """``open_step``: the case's open step clock (one query per case in `case_head`, one per page
    of cases on the board and the queue: `current_steps`)."""
    step = open_step if open_step is not None and open_step.state == case.state else None
    record = None if open_step is None else ClockRecord.of(open_step)  # once: the status and the view read it
    return CaseHead(
        id=case.id,
        case_type=case.case_type,
        state=case.state,
        version=case.version,
        owner_department=case.owner_department,
        owner_role=case.owner_role,
        owner_person=case.owner_person,
        due_at=case.due_at,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
        open_step=None if open_step is None else clock_view(session, company, open_step, now, record=record),
        status=case_status(company, case, step, now, record if step is not None else None),
    )


def case_head(session: Session, company: Company, case: Case, now: datetime) -> CaseHead:
    return head_of(session, company, case, now, _open_step_clock(session, case.id))


def case_view(session: Session, company: Company, case: Case, now: datetime) -> CaseView:
    clocks = list(session.scalars(select(SlaClock).where(SlaClock.case_id == case.id).order_by(SlaClock.id)))
    pauses: dict[int, list[ClockPause]] = {}
    ids = [clock.id for clock in clocks]
    for pause in session.scalars(select(ClockPause).where(ClockPause.clock_id.in_(ids)).order_by(ClockPause.id)):
        pauses.setdefault(pause.clock_id, []).append(pause)
    views = [clock_view(session, company, clock, now, pauses.get(clock.id, ())) for clock in clocks]
    used: dict[str, float] = {}
    for view in views:
        if view.kind == ClockKind.STEP:
            used[view.department] = used.get(view.department, 0.0) + view.used_minutes
    open_steps = [c for c in clocks if c.kind == ClockKind.STEP and c.stopped_at is None]
    return CaseView(
        head=head_of(session, company, case, now, open_steps[-1] if open_steps else None),
        now=now,
        definition=cases.definition_of(session, company, case),
        data=case.data,
        participants=tuple(sorted(p.department for p in case.participants)),
        external=f"{case.external_source}:{case.external_key}" if case.external_key else None,
        clocks=tuple(views),
        ledger=tuple(blame(used)),
        events=tuple(
            EventView(e.seq, e.at, e.actor, e.trigger, e.from_state, e.to_state, e.payload, e.source)
            for e in case.events
        ),
        breaches=tuple(session.scalars(
            select(Breach).where(Breach.case_id == case.id).order_by(Breach.breached_at, Breach.id)
        )),
        messages=tuple(session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.case_id == case.id)
            .order_by(OutboxMessage.created_at, OutboxMessage.kind, OutboxMessage.level, OutboxMessage.id)
        )),
        fired=tuple(session.scalars(
            select(Timer)
            .where(Timer.case_id == case.id, Timer.status == TimerStatus.FIRED, Timer.kind != TimerKind.BREACH)
            .order_by(Timer.id)
        )),
    )

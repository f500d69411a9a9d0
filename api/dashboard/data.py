"""What the pages show, read at the app clock's ``now``: open cases with their current step clock,
compliance per department (from `reports.steps` and `reports.trend`), and one case's timeline.

`reports.cases.open_cases` lists only cases with a step deadline and has no warning threshold,
so the board reads open cases joined with their running step clock itself (one query)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import groupby
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from duties.config import duties_of
from duties.freshness import DutyFreshness, freshness
from engine import cases
from engine.views import case_detail, clock_used, remaining
from org.actors import ReadScope
from org.chart import Company
from org.scope import case_filter, require_readable
from reports.scope import Scope, report_zone
from reports.steps import DepartmentFigures, step_figures
from reports.trend import WeekTrend, weekly_trend
from sla.compliance import Outcome, outcome
from sla.model import ClockRecord
from state_machines.schema import CaseTypeDef
from storage.models import Breach, Case, ClockPause, OutboxMessage, SlaClock

OK, WARNING, BREACHED, PAUSED, UNTIMED = "ok", "warning", "breached", "paused", "untimed"
STATUS_ORDER = (BREACHED, WARNING, OK, PAUSED, UNTIMED)
PERIODS: dict[str, int] = {"week": 1, "4w": 4}
"""Period key -> whole ISO weeks ending with the current one (in the head office's zone)."""
OPEN_LIMIT = 500
"""Open cases on the board (nearest deadline first); the rest are counted, not listed."""


# --------------------------------------------------------------------------------------------
# The board


@dataclass(frozen=True)
class OpenRow:
    case_id: int
    case_type: str
    state: str
    department: str | None
    person: str | None
    opened_at: datetime
    deadline_at: datetime | None
    status: str
    """ok, warning (the warning threshold passed), breached, paused or untimed."""
    business_left: float | None
    """Business minutes to the step deadline in the owner's calendar; negative when late."""


@dataclass(frozen=True)
class DepartmentBoard:
    department: str | None
    rows: list[OpenRow]

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)


@dataclass(frozen=True)
class Period:
    key: str
    since: datetime
    until: datetime

    def days(self, tz: tzinfo) -> tuple[date, date]:
        """First and last day of the period in ``tz`` (``until`` is the midnight after it)."""
        return self.since.astimezone(tz).date(), (self.until.astimezone(tz) - timedelta(days=1)).date()


@dataclass(frozen=True)
class Board:
    now: datetime
    period: Period
    departments: list[DepartmentBoard]
    open_total: int
    """All open cases, also those beyond ``OPEN_LIMIT``."""
    figures: list[DepartmentFigures]
    trend: list[WeekTrend]
    duties: list[DutyFreshness] = field(default_factory=list)
    """How reliably each recurring information duty arrived in the period, and today."""

    def count(self, status: str) -> int:
        return sum(board.count(status) for board in self.departments)

    @property
    def listed(self) -> int:
        return sum(len(board.rows) for board in self.departments)

    @property
    def compliance(self) -> float | None:
        met = sum(f.met for f in self.figures)
        finished = met + sum(f.breached for f in self.figures)
        return met / finished if finished else None


def period(key: str, now: datetime, tz: tzinfo) -> Period:
    """Whole weeks, Monday 00:00 in ``tz``, up to the end of the current week: a step belongs to
    the week it started in, as in the reports."""
    weeks = PERIODS[key]
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    since = datetime.combine(monday - timedelta(weeks=weeks - 1), time(), tzinfo=tz)
    until = datetime.combine(monday + timedelta(weeks=1), time(), tzinfo=tz)
    return Period(key, since.astimezone(UTC), until.astimezone(UTC))


def status_of(clock: SlaClock | None, now: datetime) -> str:
    if clock is None:
        return UNTIMED
    if outcome(ClockRecord.of(clock), now) is Outcome.BREACHED:  # the ledger's rule, as in the figures
        return BREACHED
    if clock.paused_since is not None:
        return PAUSED
    if clock.target_minutes is None:
        return UNTIMED
    if clock.warn_at is not None and clock.warn_at <= now:
        return WARNING
    return OK


def _case_status(company: Company, case: Case, clock: SlaClock | None, now: datetime) -> str:
    """A case without a running step clock is either waiting outside the company (a paused state)
    or in an untimed step."""
    if clock is None:
        definition = company.case_types.get(case.case_type)
        state = definition.states.get(case.state) if definition else None
        return PAUSED if state is not None and state.paused else UNTIMED
    return status_of(clock, now)


def open_rows(session: Session, company: Company, now: datetime, *, reader: ReadScope,
              limit: int = OPEN_LIMIT) -> list[OpenRow]:
    step = aliased(SlaClock)
    current = and_(step.case_id == Case.id, step.kind == "step", step.stopped_at.is_(None), step.state == Case.state)
    found = session.execute(
        select(Case, step)
        .outerjoin(step, current)
        .where(Case.closed_at.is_(None), case_filter(reader, Case.id))
        .order_by(Case.due_at.asc().nulls_last(), Case.id, step.id.desc())
        .limit(limit)
    ).all()
    rows: dict[int, OpenRow] = {}
    for case, clock in found:
        if case.id in rows:
            continue
        left = remaining(session, company, clock, now)
        rows[case.id] = OpenRow(
            case_id=case.id,
            case_type=case.case_type,
            state=case.state,
            department=case.owner_department,
            person=case.owner_person,
            opened_at=case.opened_at,
            deadline_at=clock.deadline_at if clock is not None else None,
            status=_case_status(company, case, clock, now),
            business_left=None if left is None else left["business_minutes"],
        )
    return list(rows.values())


def by_department(company: Company, rows: list[OpenRow]) -> list[DepartmentBoard]:
    """Departments in the company config's order, worst status first inside each."""
    order = {code: index for index, code in enumerate(company.config.departments)}

    def department_key(row: OpenRow) -> tuple[int, str]:
        return (order.get(row.department or "", len(order)), row.department or "")

    def row_key(row: OpenRow) -> tuple[int, datetime, int]:
        return (STATUS_ORDER.index(row.status), row.deadline_at or datetime.max.replace(tzinfo=UTC), row.case_id)

    ordered = sorted(rows, key=department_key)
    return [
        DepartmentBoard(department, sorted(group, key=row_key))
        for department, group in groupby(ordered, key=lambda row: row.department)
    ]


def board(session: Session, company: Company, now: datetime, period_key: str, *, reader: ReadScope) -> Board:
    """Everything on the board, read within ``reader``'s scope (SQL filters, org.scope)."""
    zone = report_zone(company)
    chosen = period(period_key, now, zone)
    scope = Scope(
        since=chosen.since, until=chosen.until, now=now, readable=lambda case_id: case_filter(reader, case_id)
    )
    rows = open_rows(session, company, now, reader=reader)
    total = session.scalar(
        select(func.count()).select_from(Case).where(Case.closed_at.is_(None), case_filter(reader, Case.id))
    )
    return Board(
        now=now,
        period=chosen,
        departments=by_department(company, rows),
        open_total=int(total or 0),
        figures=step_figures(session, scope),
        trend=weekly_trend(session, scope, zone) if PERIODS[period_key] > 1 else [],
        duties=_readable_duties(company, reader, freshness(session, company, now=now, since=chosen.since))
        if duties_of(company) else [],
    )


def _readable_duties(company: Company, reader: ReadScope, rows: list[DutyFreshness]) -> list[DutyFreshness]:
    """Duty figures of the duties whose owing or receiving department the reader sees (a
    per-duty summary from the config, not a case list)."""
    if reader.everything:
        return rows
    receiving = {duty.name: duty.requester for duty in duties_of(company)}
    return [row for row in rows if row.department in reader.departments
            or receiving.get(row.duty) in reader.departments]


# --------------------------------------------------------------------------------------------
# One case


@dataclass(frozen=True)
class ClockRow:
    id: int
    kind: str
    state: str | None
    event_seq: int
    """The event that started the clock."""
    department: str
    person: str | None
    status: str
    target_minutes: float | None
    used_minutes: float
    started_at: datetime
    deadline_at: datetime | None
    stopped_at: datetime | None
    pauses: list[ClockPause] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. ``kind`` is state, pause, breach or messages; ``item`` is the
    event dict, the pause, the breach, or the messages sent together."""

    at: datetime
    kind: str
    item: Any
    clock: ClockRow | None = None
    """For a state entry: the step clock that ran while the case was in that state."""


ENTRY_ORDER = {"state": 0, "pause": 1, "breach": 2, "messages": 3}


@dataclass(frozen=True)
class CasePage:
    detail: dict[str, Any]
    """`engine.views.case_detail`: the case, its remaining time, events and ledger."""
    definition: CaseTypeDef
    status: str
    """The board's status of the current step, or closed."""
    owner_department: str | None
    owner_person: str | None
    clocks: list[ClockRow]
    breaches: list[Breach]
    messages: list[OutboxMessage]
    timeline: list[Entry]


def _clock_rows(session: Session, company: Company, case_id: int, now: datetime) -> list[ClockRow]:
    clocks = list(session.scalars(select(SlaClock).where(SlaClock.case_id == case_id).order_by(SlaClock.id)))
    pauses: dict[int, list[ClockPause]] = {}
    ids = [clock.id for clock in clocks]
    for pause in session.scalars(select(ClockPause).where(ClockPause.clock_id.in_(ids)).order_by(ClockPause.id)):
        pauses.setdefault(pause.clock_id, []).append(pause)
    return [
        ClockRow(
            id=clock.id,
            kind=clock.kind,
            state=clock.state,
            event_seq=clock.event_seq,
            department=clock.department,
            person=clock.person,
            status=status_of(clock, now) if clock.stopped_at is None else clock.status,
            target_minutes=clock.target_minutes,
            used_minutes=clock_used(session, company, clock, now),
            started_at=clock.started_at,
            deadline_at=clock.deadline_at,
            stopped_at=clock.stopped_at,
            pauses=pauses.get(clock.id, []),
        )
        for clock in clocks
    ]


def _state_clock(clocks: list[ClockRow], state: str, seq: int) -> ClockRow | None:
    """The step clock of a state visit: the latest one for the state started at or before this
    event (a clock paused for a dependency resumes when the case comes back)."""
    found = [c for c in clocks if c.kind == "step" and c.state == state and c.event_seq <= seq]
    return found[-1] if found else None


def timeline(
    detail: dict[str, Any], clocks: list[ClockRow], breaches: list[Breach], messages: list[OutboxMessage]
) -> list[Entry]:
    """Everything that happened to the case, oldest first; messages sent together (same kind,
    level and moment) form one entry."""
    entries = [
        Entry(event["at"], "state", event, _state_clock(clocks, event["to"], event["seq"]))
        for event in detail["events"]
    ]
    entries += [Entry(pause.started_at, "pause", pause, clock) for clock in clocks for pause in clock.pauses]
    entries += [Entry(breach.breached_at, "breach", breach) for breach in breaches]
    for (at, _, _), group in groupby(messages, key=lambda m: (m.created_at, m.kind, m.level)):
        entries.append(Entry(at, "messages", list(group)))
    return sorted(entries, key=lambda entry: (entry.at, ENTRY_ORDER[entry.kind]))


def case_page(session: Session, company: Company, case_id: int, now: datetime, *, reader: ReadScope) -> CasePage:
    """Raises `CaseNotFound` for an unknown id or one outside ``reader``'s scope."""
    require_readable(session, reader, case_id)
    case = cases.get_case(session, case_id)
    detail = case_detail(session, company, case, now)
    clocks = _clock_rows(session, company, case.id, now)
    breaches = list(session.scalars(select(Breach).where(Breach.case_id == case.id).order_by(Breach.breached_at)))
    messages = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.case_id == case.id)
            .order_by(OutboxMessage.created_at, OutboxMessage.kind, OutboxMessage.level, OutboxMessage.id)
        )
    )
    step = aliased(SlaClock)
    current = session.scalars(
        select(step)
        .where(step.case_id == case.id, step.kind == "step", step.stopped_at.is_(None), step.state == case.state)
        .order_by(step.id.desc())
    ).first()
    return CasePage(
        detail=detail,
        definition=cases.definition_of(session, company, case),
        status=_case_status(company, case, current, now) if case.closed_at is None else "closed",
        owner_department=case.owner_department,
        owner_person=case.owner_person,
        clocks=clocks,
        breaches=breaches,
        messages=messages,
        timeline=timeline(detail, clocks, breaches, messages),
    )

"""What the pages show, read at the app clock's ``now``: open cases with their current step clock,
compliance per department (from `reports.steps` and `reports.trend`), and one case's timeline.

`reports.cases.open_cases` lists only cases with a step deadline and has no warning threshold,
so the board reads open cases joined with their running step clock itself (one query)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session

from api.dashboard.open_cases import PAGE, Nearest, count_after, nearest, nearest_statuses
from duties.config import duties_of
from duties.freshness import DutyFreshness, freshness
from engine import cases
from engine.case_view import CaseHead, CaseView, case_view, current_steps, head_of
from engine.clock_view import STATUS_ORDER, ClockView, StepStatus
from engine.timeline import Entry, timeline
from engine.views import detail_of
from org.actors import ReadScope
from org.chart import Company
from org.scope import case_filter, require_readable
from reports.scope import Scope, report_zone
from reports.steps import DepartmentFigures, step_figures
from reports.trend import WeekTrend, weekly_trend
from state_machines.schema import CaseTypeDef
from storage.models import Case, SlaClock

PERIODS: dict[str, int] = {"week": 1, "4w": 4}
"""Period key -> whole ISO weeks ending with the current one (in the head office's zone)."""
OPEN_LIMIT = 500
"""Open cases the board reads (nearest deadline first): their statuses make the breached and
warning figures, and they are listed `PAGE_SIZE` at a time; the rest are counted, not listed."""
PAGE_SIZE = 100
"""Rows of the board's open-case list on one page (``?page=N``): rendering 500 rows was half the
board's time (bench/dashboard.py)."""
OPEN_COUNT_CAP = 1_000
"""The open-case count is exact up to this many and shown as "1,000+" beyond: counting every
open case a department head may read is one scope probe per case (seconds at 100,000 open); up
to 10,000 it still cost a head 20 ms on SQLite and 80 ms on PostgreSQL with 10,000 open
(bench/dashboard.py), twice the rest of the board's SQL."""


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
    status: StepStatus
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
    """This page's rows (`PAGE_SIZE` of the `OPEN_LIMIT` nearest deadlines) by department."""
    open_total: int
    """All readable open cases, also those beyond ``OPEN_LIMIT``, counted up to ``OPEN_COUNT_CAP``
    (``open_capped``: there are more)."""
    figures: list[DepartmentFigures]
    trend: list[WeekTrend]
    duties: list[DutyFreshness] = field(default_factory=list)
    """How reliably each recurring information duty arrived in the period, and today."""
    statuses: Counter[str] = field(default_factory=Counter)
    """Statuses of the ``read`` nearest-deadline open cases (every page's rows)."""
    read: int = 0
    """Open cases read for the list and the statuses (at most ``OPEN_LIMIT``)."""
    page: int = 1
    open_capped: bool = False

    def count(self, status: str) -> int:
        return self.statuses[status]

    @property
    def listed(self) -> int:
        """Rows on this page."""
        return sum(len(board.rows) for board in self.departments)

    @property
    def pages(self) -> int:
        return max(1, -(-self.read // PAGE_SIZE))

    @property
    def first(self) -> int:
        """1-based position of this page's first row among the ``read`` ones."""
        return (self.page - 1) * PAGE_SIZE + 1

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


def open_row(head: CaseHead) -> OpenRow:
    step = head.open_step
    left = head.remaining
    return OpenRow(
        case_id=head.id,
        case_type=head.case_type,
        state=head.state,
        department=head.owner_department,
        person=head.owner_person,
        opened_at=head.opened_at,
        deadline_at=step.deadline_at if step is not None else None,
        status=head.status,
        business_left=None if left is None else left.business_minutes,
    )


def open_rows(
    session: Session, company: Company, now: datetime, *, reader: ReadScope, limit: int = OPEN_LIMIT
) -> list[OpenRow]:
    """The ``limit`` open cases with the nearest deadlines, with their current step clocks."""
    found = session.scalars(nearest(reader, limit)).all()
    steps = current_steps(session, found)
    return [open_row(head_of(session, company, case, now, steps.get(case.id))) for case in found]


def open_page(
    session: Session, company: Company, now: datetime, *, reader: ReadScope, page: int
) -> tuple[list[OpenRow], Counter[str], list[Nearest]]:
    """The board's list: the `OPEN_LIMIT` nearest-deadline open cases with the status of their
    current step computed by the database (the breached and warning figures: one statement, no
    row objects), and only ``page``'s `PAGE_SIZE` of them become full rows (business time left
    is a calendar walk per row). Returns the rows, the statuses and the cases read."""
    found = nearest_statuses(session, company, now, reader=reader, limit=OPEN_LIMIT)
    statuses: Counter[str] = Counter(near.status for near in found)
    ids = [near.case_id for near in found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    shown: dict[int, tuple[Case, SlaClock | None]] = {}
    for case, step in session.execute(PAGE, {"ids": ids}).tuples() if ids else ():
        shown[case.id] = (case, step)  # ascending clock ids: the latest one stays
    rows = []
    for case_id in ids:
        listed, current = shown[case_id]
        rows.append(open_row(head_of(session, company, listed, now, current)))
    return rows, statuses, found


def open_count(session: Session, reader: ReadScope, read: list[Nearest]) -> tuple[int, bool]:
    """Readable open cases, counted up to `OPEN_COUNT_CAP`: (the count, whether there are more).
    ``read``: the nearest ones `open_page` read, in order; when they fill `OPEN_LIMIT`, only the
    cases after the last of them are counted (counting from the start went through the reader's
    look-ups for those again: a head's count cost more than the list, bench/dashboard.py)."""
    total = len(read)
    wanted = OPEN_COUNT_CAP + 1 - total
    if total >= OPEN_LIMIT and wanted > 0:
        last = read[-1]
        total += count_after(session, reader, last, wanted)
    return min(total, OPEN_COUNT_CAP), total > OPEN_COUNT_CAP


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


def board(
    session: Session, company: Company, now: datetime, period_key: str, *, reader: ReadScope, page: int = 1
) -> Board:
    """Everything on the board, read within ``reader``'s scope (SQL filters, org.scope); ``page``
    of the open-case list (a page past the last shows none of its rows)."""
    zone = report_zone(company)
    chosen = period(period_key, now, zone)
    scope = Scope(
        since=chosen.since, until=chosen.until, now=now, readable=lambda case_id: case_filter(reader, case_id)
    )
    rows, statuses, read = open_page(session, company, now, reader=reader, page=page)
    total, capped = open_count(session, reader, read)
    return Board(
        now=now,
        period=chosen,
        departments=by_department(company, rows),
        open_total=total,
        open_capped=capped,
        statuses=statuses,
        read=len(read),
        page=page,
        figures=step_figures(session, scope),
        trend=weekly_trend(session, scope, zone) if PERIODS[period_key] > 1 else [],
        duties=_readable_duties(company, reader, freshness(session, company, now=now, since=chosen.since))
        if duties_of(company)
        else [],
    )


def _readable_duties(company: Company, reader: ReadScope, rows: list[DutyFreshness]) -> list[DutyFreshness]:
    """Duty figures of the duties whose owing or receiving department the reader sees (a
    per-duty summary from the config, not a case list)."""
    if reader.everything:
        return rows
    receiving = {duty.name: duty.requester for duty in duties_of(company)}
    return [
        row for row in rows if row.department in reader.departments or receiving.get(row.duty) in reader.departments
    ]


# --------------------------------------------------------------------------------------------
# One case


@dataclass(frozen=True)
class CasePage:
    view: CaseView
    detail: dict[str, Any]
    """`engine.views.detail_of` the view: the case, its remaining time, events and ledger."""
    timeline: list[Entry]

    @property
    def definition(self) -> CaseTypeDef:
        return self.view.definition

    @property
    def status(self) -> StepStatus:
        """The board's status of the current step, or closed."""
        return self.view.head.status

    @property
    def owner_department(self) -> str | None:
        return self.view.head.owner_department

    @property
    def owner_person(self) -> str | None:
        return self.view.head.owner_person

    @property
    def clocks(self) -> tuple[ClockView, ...]:
        return self.view.clocks


def case_page(session: Session, company: Company, case_id: int, now: datetime, *, reader: ReadScope) -> CasePage:
    """Raises `CaseNotFound` for an unknown id or one outside ``reader``'s scope."""
    require_readable(session, reader, case_id)
    view = case_view(session, company, cases.get_case(session, case_id), now)
    return CasePage(view=view, detail=detail_of(view), timeline=timeline(view))

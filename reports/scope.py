"""The period and filters every report query shares (`Scope`), and the SQL pieces they share.

The report queries (`reports.steps`, `reports.cases`, `reports.ledger`, `reports.trend`,
`reports.outcomes`, merged by `reports.departments`): every figure is aggregated by the database
(GROUP BY and window functions), in SQL that runs unchanged on SQLite and PostgreSQL; Python only
turns the few aggregate rows into dataclasses (at most one row per department, department pair,
week or listed case). One exception: SQLite has no percentile function, so `reports.steps` sorts a
department's finished minutes in Python for its median and 90th percentile (PostgreSQL picks them
with ``percentile_disc``).

Which rows a period ``[since, until)`` covers:

- step figures, time in state and the weekly trend: *step* clocks with a target that *started* in
  the period (a clock belongs to exactly one period; its outcome is decided once it stops or
  breaches);
- the ledger, whole-case figures and breach causes: cases whose *whole-case* clock started (the
  case was opened) in the period;
- outcome figures (lead quality): cases of the type opened in the period;
- open cases: as of ``now``, whatever the period.

A department filter keeps the rows of that department (as step owner, as requester, or as the
owner of an open case's current step); a case-type filter keeps the clocks and cases of that type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from org.chart import Company
from sla import ledger as sla_ledger
from sla.model import ClockKind, ClockStatus
from storage.models import Case, SlaClock

EXEMPTED = "exempted"
"""The status a trend row reads for a clock whose breach was exempted (never stored)."""

_clocks = SlaClock.__table__
_cases = Case.__table__


@dataclass(frozen=True)
class Scope:
    """The period ``[since, until)`` and the optional filters every query shares."""

    since: datetime
    until: datetime
    department: str | None = None
    case_type: str | None = None
    now: datetime | None = None
    """The instant open clocks are judged at (default: ``until``): an open step past its deadline
    is breached, late by the business time it has used so far."""
    readable: Callable[[Any], ColumnElement[bool]] | None = field(default=None, compare=False)
    """The reader's scope: given a case-id column, the condition keeping readable cases
    (``org.scope.case_filter``); None reads every case (CLI reports)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", ensure_utc(self.since))
        object.__setattr__(self, "until", ensure_utc(self.until))
        object.__setattr__(self, "now", ensure_utc(self.now) if self.now is not None else self.until)

    @property
    def at(self) -> datetime:
        assert self.now is not None
        return self.now


def sum_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def of_type(case_id: ColumnElement[Any], case_type: str) -> ColumnElement[bool]:
    """``case_id IN (cases of the type)``: both databases run it as a semi-join on the indexed
    ``cases.case_type``, cheaper than joining every clock to its case."""
    return case_id.in_(select(_cases.c.id).where(_cases.c.case_type == case_type))


def step_filter(scope: Scope) -> list[ColumnElement[bool]]:
    """Step clocks with a target started in the period, within the scope's filters."""
    where = [
        _clocks.c.kind == ClockKind.STEP,
        _clocks.c.target_minutes.is_not(None),
        _clocks.c.started_at >= scope.since,
        _clocks.c.started_at < scope.until,
    ]
    if scope.department:
        where.append(_clocks.c.department == scope.department)
    if scope.case_type:
        where.append(of_type(_clocks.c.case_id, scope.case_type))
    if scope.readable is not None:
        where.append(scope.readable(_clocks.c.case_id))
    return where


def clock_departments(session: Session, kind: ClockKind) -> list[str]:
    """The departments owning clocks of ``kind``, in order: a skip scan of the index by
    department (`storage.models.SlaClock`), one seek per department whatever the number of
    clocks. ``department IN`` these makes SQLite group a period's clocks by department along the
    index instead of sorting them."""
    return [name for name in session.scalars(_departments_statement(kind)) if name is not None]


@lru_cache(maxsize=4)
def _departments_statement(kind: ClockKind) -> Select[Any]:
    """Built once: building the recursive query cost more than running it (bench/dashboard.py)."""
    later = _clocks.alias("later")
    names = (
        select(func.min(_clocks.c.department).label("name")).where(_clocks.c.kind == kind).cte("names", recursive=True)
    )
    following = select(func.min(later.c.department)).where(later.c.kind == kind, later.c.department > names.c.name)
    names = names.union_all(select(following.scalar_subquery()).where(names.c.name.is_not(None)))
    return select(names.c.name)


def breached_if_open(now: datetime) -> ColumnElement[bool]:
    """An open clock that `sla.compliance.outcome` calls breached at ``now``: recorded as
    breached, or running (not suspended) past its deadline. The same rule in SQL, so a query
    reads only these open clocks whole (their lateness is business time, judged in Python,
    `sla.ledger.judge`) and counts the others, which are running, by department: at 100,000
    open cases a week's open steps are thousands of rows, almost all running."""
    return (_clocks.c.status == ClockStatus.BREACHED) | (
        _clocks.c.paused_since.is_(None) & _clocks.c.deadline_at.is_not(None) & (_clocks.c.deadline_at < now)
    )


def open_by_department(session: Session, where: list[ColumnElement[bool]]) -> dict[str, list[Any]]:
    """The open clocks ``where`` selects, by department."""
    found: dict[str, list[Any]] = {}
    for row in sla_ledger.open_clocks(session, where):
        found.setdefault(row.department, []).append(row)
    return found


def case_clock_filter(clock: Any, scope: Scope) -> list[ColumnElement[bool]]:
    """Whole-case clocks (of the ``clock`` alias) of the cases opened in the period, within the
    scope's case-type and reader filters (the department filter is each query's own)."""
    where = [clock.c.kind == ClockKind.WHOLE_CASE, clock.c.started_at >= scope.since, clock.c.started_at < scope.until]
    if scope.case_type:
        where.append(of_type(clock.c.case_id, scope.case_type))
    if scope.readable is not None:
        where.append(scope.readable(clock.c.case_id))
    return where


def report_zone(company: Company) -> tzinfo:
    """The time zone of report weeks and dates: the calendar of the department the company's
    director heads (the head office), else of the first department."""
    return company.zone  # one definition of the head office's zone (runtime.company)

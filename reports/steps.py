"""Step figures per department: steps owned, met, breached, running and minutes late, and the
time in state (median and 90th percentile of business minutes per finished step)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, case, cast, func, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from reports.scope import Scope, open_by_department, step_filter
from sla import ledger as sla_ledger
from sla.compliance import Tally
from storage.models import Case, SlaClock

_clocks = SlaClock.__table__
_cases = Case.__table__

DepartmentFigures = Tally
"""Steps owned, met, breached, running and minutes late per department (`sla.compliance`)."""


@dataclass(frozen=True)
class TimeInState:
    """Business minutes the department's finished steps took (stopped clocks only: a running
    clock's time is not known yet)."""

    department: str
    finished: int
    median_minutes: float | None
    p90_minutes: float | None


def department_figures(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> list[DepartmentFigures]:
    """Step figures per owning department (`sla.ledger.tallies`) for clocks started in
    ``[since, until)`` (either bound may be open), judged at ``now`` (default ``until``)."""
    moment = now if now is not None else until
    if moment is None:
        raise ValueError("department_figures needs now= (or until=) to judge open steps")
    where = sla_ledger.step_where(
        since=None if since is None else ensure_utc(since), until=None if until is None else ensure_utc(until)
    )
    return sla_ledger.tallies(session, where, ensure_utc(moment))


PERCENTILES = {"median": (1, 2), "p90": (9, 10)}
"""Percentiles as fractions k/d, so the interpolation index is exact integer arithmetic."""


def _ranks(n: ColumnElement[Any], k: int, d: int) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """``percentile_cont(k/d)`` of n sorted values sits at position ``h = k/d * (n-1)`` (ranks
    from 0): between ranks ``floor(h)`` and ``floor(h) + 1``, at ``h - floor(h)`` from the first.
    Integer division and modulo give both identically on SQLite and PostgreSQL (a CAST to
    integer rounds on PostgreSQL but truncates on SQLite)."""
    scaled = k * (n - 1)
    return scaled // d, cast(scaled % d, Float) / float(d)


def _percentile(rank: ColumnElement[Any], n: ColumnElement[Any], value: ColumnElement[Any], k: int, d: int) -> Any:
    """Summed over a department's picked rows: the two neighbours weighted by the fraction."""
    lower, fraction = _ranks(n, k, d)
    return func.sum(case((rank == lower, value * (1.0 - fraction)), (rank == lower + 1, value * fraction), else_=0.0))


def _step_statement(scope: Scope) -> Select[Any]:
    """Per department in one statement: step counts (a GROUP BY) and the median and 90th
    percentile of the finished steps' business minutes. SQLite has no percentile function, so
    a ``row_number()`` window ranks each department's finished steps, the counts give n, and only
    the rows at the ranks each percentile needs are aggregated; the result equals PostgreSQL's
    ``percentile_cont``. (One window plus the grouped n is about twice as fast on SQLite as a
    second ``count() over (partition by ...)`` window.)"""
    where = step_filter(scope)
    counts = (
        select(_clocks.c.department.label("department"), *sla_ledger.settled_columns())
        .where(*where)
        .group_by(_clocks.c.department)
        .cte("counts")
    )
    ranked = (
        select(
            _clocks.c.department.label("department"),
            _clocks.c.used_minutes.label("minutes"),
            (func.row_number().over(partition_by=_clocks.c.department, order_by=_clocks.c.used_minutes) - 1).label(
                "rank"
            ),
        )
        .where(*where, _clocks.c.stopped_at.is_not(None))
        .subquery("ranked")
    )
    n = counts.c.stopped
    wanted = [rank for k, d in PERCENTILES.values() for lower in [_ranks(n, k, d)[0]] for rank in (lower, lower + 1)]
    picked = (
        select(
            ranked.c.department.label("department"),
            *(
                _percentile(ranked.c.rank, n, ranked.c.minutes, k, d).label(name)
                for name, (k, d) in PERCENTILES.items()
            ),
        )
        .join(counts, counts.c.department == ranked.c.department)
        .where(ranked.c.rank.in_(wanted))
        .group_by(ranked.c.department)
        .subquery("picked")
    )
    return (
        select(counts, picked.c.median, picked.c.p90)
        .outerjoin(picked, picked.c.department == counts.c.department)
        .order_by(counts.c.department)
    )


def step_rows(session: Session, scope: Scope) -> list[tuple[DepartmentFigures, TimeInState]]:
    """Per department: its step figures and time in state, from one statement."""
    open_by = open_by_department(session, step_filter(scope))
    return [
        (
            sla_ledger.tally_of(session, row.department, row, open_by.get(row.department, []), scope.at),
            TimeInState(
                department=row.department,
                finished=int(row.stopped),
                median_minutes=None if row.median is None else float(row.median),
                p90_minutes=None if row.p90 is None else float(row.p90),
            ),
        )
        for row in session.execute(_step_statement(scope))
    ]


def step_figures(session: Session, scope: Scope) -> list[DepartmentFigures]:
    """Steps owned, met, breached, running and business minutes late, per owning department."""
    return [figures for figures, _ in step_rows(session, scope)]


def time_in_state(session: Session, scope: Scope) -> list[TimeInState]:
    """Median and 90th percentile of business minutes per finished step, per department (only
    departments with finished steps)."""
    return [times for _, times in step_rows(session, scope) if times.finished]

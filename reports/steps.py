"""Step figures per department: steps owned, met, breached, running and minutes late, and the
time in state (median and 90th percentile of business minutes per finished step)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
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


def _ranks(n: int, k: int, d: int) -> tuple[int, float]:
    """``percentile_cont(k/d)`` of n sorted values sits at position ``h = k/d * (n-1)`` (ranks
    from 0): between ranks ``floor(h)`` and ``floor(h) + 1``, at ``h - floor(h)`` from the first
    (n >= 1)."""
    scaled = k * (n - 1)
    return scaled // d, float(scaled % d) / float(d)


def _counts_statement(session: Session, scope: Scope) -> Select[Any]:
    """Step counts per department (one GROUP BY over the report index)."""
    where = step_filter(scope)
    return (
        select(
            _clocks.c.department.label("department"),
            *sla_ledger.settled_columns(sla_ledger.any_exempted(session, where)),
        )
        .where(*where)
        .group_by(_clocks.c.department)
        .order_by(_clocks.c.department)
    )


def _picked_statement(scope: Scope, ranks: set[int]) -> Select[Any]:
    """The finished steps' business minutes at the given ranks of their department (a
    ``row_number()`` window over the finished steps: SQLite has no percentile function)."""
    ranked = (
        select(
            _clocks.c.department.label("department"),
            _clocks.c.used_minutes.label("minutes"),
            (func.row_number().over(partition_by=_clocks.c.department, order_by=_clocks.c.used_minutes) - 1).label(
                "rank"
            ),
        )
        .where(*step_filter(scope), _clocks.c.stopped_at.is_not(None))
        .subquery("ranked")
    )
    return select(ranked.c.department, ranked.c.rank, ranked.c.minutes).where(ranked.c.rank.in_(sorted(ranks)))


def _percentiles(session: Session, scope: Scope, finished: dict[str, int]) -> dict[str, dict[str, float]]:
    """Median and 90th percentile of the finished steps' business minutes per department, equal
    to PostgreSQL's ``percentile_cont``: the counts give each department's n, one window pass
    reads only the rows at the ranks each percentile needs, and the two neighbours are weighted
    by the fraction here (the database sorts; Python combines a few dozen values)."""
    wanted = {
        department: {name: _ranks(n, k, d) for name, (k, d) in PERCENTILES.items()}
        for department, n in finished.items()
        if n > 0
    }
    ranks = {rank for by_name in wanted.values() for lower, _ in by_name.values() for rank in (lower, lower + 1)}
    if not ranks:
        return {}
    values = {
        (row.department, int(row.rank)): float(row.minutes) for row in session.execute(_picked_statement(scope, ranks))
    }
    found: dict[str, dict[str, float]] = {}
    for department, by_name in wanted.items():
        for name, (lower, fraction) in by_name.items():
            value = values[(department, lower)] * (1.0 - fraction)
            upper = values.get((department, lower + 1))
            if upper is not None:
                value += upper * fraction
            found.setdefault(department, {})[name] = value
    return found


def step_rows(session: Session, scope: Scope) -> list[tuple[DepartmentFigures, TimeInState]]:
    """Per department: its step figures and time in state (the counts, then the percentiles)."""
    open_by = open_by_department(session, step_filter(scope))
    counted = list(session.execute(_counts_statement(session, scope)))
    times = _percentiles(session, scope, {row.department: int(row.stopped) for row in counted})
    return [
        (
            sla_ledger.tally_of(session, row.department, row, open_by.get(row.department, []), scope.at),
            TimeInState(
                department=row.department,
                finished=int(row.stopped),
                median_minutes=times.get(row.department, {}).get("median"),
                p90_minutes=times.get(row.department, {}).get("p90"),
            ),
        )
        for row in counted
    ]


def step_figures(session: Session, scope: Scope) -> list[DepartmentFigures]:
    """Steps owned, met, breached, running and business minutes late, per owning department."""
    return [figures for figures, _ in step_rows(session, scope)]


def time_in_state(session: Session, scope: Scope) -> list[TimeInState]:
    """Median and 90th percentile of business minutes per finished step, per department (only
    departments with finished steps)."""
    return [times for _, times in step_rows(session, scope) if times.finished]

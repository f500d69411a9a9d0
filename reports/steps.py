"""Step figures per department: steps owned, met, breached, running and minutes late, and the
time in state (median and 90th percentile of business minutes per finished step)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, Float, Select, bindparam, false, func, literal_column, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from reports.scope import Scope, breached_if_open, clock_departments, open_by_department, step_filter, sum_if
from sla import ledger as sla_ledger
from sla.compliance import Tally
from sla.model import ClockKind
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


def _counts_statement(where: list[ColumnElement[bool]], exemptions: bool) -> Select[Any]:
    """Settled step counts per department, over the finished steps of ``where`` only: one range
    per department of the partial index of finished steps (``ix_sla_clocks_finished``, half the
    size of the index by department; ``where`` keeps ``department IN`` the departments that own
    steps: SQLite then groups without sorting). The open steps are counted by `_open_statement`."""
    return (
        select(_clocks.c.department.label("department"), *sla_ledger.settled_columns(exemptions))
        .where(*where, _clocks.c.stopped_at.is_not(None))
        .group_by(_clocks.c.department)
        .order_by(_clocks.c.department)
    )


def _open_statement(steps: list[ColumnElement[bool]], at: datetime, exemptions: bool) -> Select[Any]:
    """Per department, the open steps of ``steps`` (`step_filter`): how many (``opened``), how
    many have an approved exemption (``exempted``), and among the others those not breached at
    ``at`` (`breached_if_open`) and the suspended ones among them: what `sla.ledger.tally_of`
    would count as running and paused, counted without reading them (the breached ones are read,
    `_breached_open`). The index of open clocks covers it."""
    exempt = sla_ledger.exempted() if exemptions else false()
    still = ~breached_if_open(at)
    if exemptions:
        still = still & ~exempt
    return (
        select(
            _clocks.c.department.label("department"),
            func.count().label("opened"),
            (sum_if(exempt) if exemptions else literal_column("0")).label("exempted"),
            sum_if(still).label("running"),
            sum_if(still & _clocks.c.paused_since.is_not(None)).label("paused"),
        )
        .where(*steps, _clocks.c.stopped_at.is_(None))
        .group_by(_clocks.c.department)
    )


@dataclass(frozen=True)
class _Counted:
    """A department's counts, finished and open steps together: the settled row `tally_of` reads
    (``steps`` and ``exempted`` of every step, ``met`` and the breached ones of the finished)."""

    department: str
    steps: int
    met: int
    settled_breached: int
    settled_late: float
    stopped: int
    exempted: int

    @classmethod
    def of(cls, department: str, settled: Any, opened: Any) -> _Counted:
        """``settled`` (`_counts_statement`) and ``opened`` (`_open_statement`): either may be None."""
        open_steps, open_exempted = (int(opened.opened), int(opened.exempted)) if opened is not None else (0, 0)
        steps, met, breached, late, stopped, exempted = (
            (int(settled.steps), int(settled.met), int(settled.settled_breached), float(settled.settled_late),
             int(settled.stopped), int(settled.exempted))
            if settled is not None
            else (0, 0, 0, 0.0, 0, 0)
        )
        return cls(department, steps + open_steps - open_exempted, met, breached, late, stopped,
                   exempted + open_exempted)


def _breached_open(steps: list[ColumnElement[bool]], at: datetime) -> list[ColumnElement[bool]]:
    """The open steps of ``steps`` breached at ``at``, found in the index of open clocks before
    their rows are read (filtering the rows read them all: PostgreSQL fetched every open step of
    the period from the table, bench/dashboard.py)."""
    found = select(_clocks.c.id).where(*steps, _clocks.c.stopped_at.is_(None), breached_if_open(at))
    return [_clocks.c.id.in_(found)]


def _finished(scope: Scope, department: str) -> list[ColumnElement[bool]]:
    """The department's finished (stopped) steps in the scope: one range of the index by
    department."""
    return [*step_filter(scope), _clocks.c.department == department, _clocks.c.stopped_at.is_not(None)]


def _needed(n: int) -> list[int]:
    """The ranks `PERCENTILES` read among n values: the two around each percentile's position."""
    return sorted({rank for lower, _ in _positions(n).values() for rank in (lower, lower + 1) if rank < n})


def _positions(n: int) -> dict[str, tuple[int, float]]:
    return {name: _ranks(n, k, d) for name, (k, d) in PERCENTILES.items()}


def _minutes_at(session: Session, scope: Scope, department: str, n: int) -> tuple[int, dict[int, float]]:
    """The business minutes of the department's finished steps at the ranks `_needed` reads,
    and how many steps they are ranked among (n, as counted). PostgreSQL picks them with
    ``percentile_disc``: the fraction ``(rank + 1/2) / n`` selects the row at ``rank`` exactly,
    and it sorts the department's minutes alone. SQLite has no percentile function (and its
    ``row_number()`` window costs twice its sort): it reads the department's minutes from the
    index by department, sorted here."""
    if session.get_bind().dialect.name == "postgresql":
        ranks = _needed(n)
        fractions = bindparam("fractions", [(rank + 0.5) / n for rank in ranks], type_=ARRAY(Float))
        picked = select(func.percentile_disc(fractions).within_group(_clocks.c.used_minutes))
        values = session.execute(picked.where(*_finished(scope, department))).scalar_one() or []
        return n, {rank: float(value) for rank, value in zip(ranks, values, strict=True)}
    # The DBAPI cursor's plain floats, without a result row per value (a third of the time at 1M
    # cases), iterated rather than fetched into a list first (~15% less).
    with closing(
        session.connection().execute(select(_clocks.c.used_minutes).where(*_finished(scope, department)))
    ) as read:
        minutes = sorted(map(itemgetter(0), cast("Iterable[tuple[float]]", read.cursor)))
    return len(minutes), {rank: float(minutes[rank]) for rank in _needed(len(minutes))}


def _percentiles(session: Session, scope: Scope, finished: dict[str, int]) -> dict[str, dict[str, float]]:
    """Median and 90th percentile of the finished steps' business minutes per department, equal
    to PostgreSQL's ``percentile_cont``: the counts give each department's n, the database gives
    the minutes at the two ranks around each percentile (`_minutes_at`), and the two neighbours
    are weighted by the fraction here (the ranks in exact integer arithmetic)."""
    found: dict[str, dict[str, float]] = {}
    for department, counted in finished.items():
        n, at = _minutes_at(session, scope, department, counted) if counted > 0 else (0, {})
        for name, (lower, fraction) in _positions(n).items() if n > 0 else ():
            value = at[lower] * (1.0 - fraction)
            upper = at.get(lower + 1)
            if upper is not None:
                value += upper * fraction
            found.setdefault(department, {})[name] = value
    return found


def _tallies(session: Session, scope: Scope) -> list[tuple[_Counted, DepartmentFigures]]:
    """Per department: the counts and the figures. Open steps are judged as `sla.ledger.tallies`
    judges them, but only those breached at ``scope.at`` are read (their lateness is business
    time); the others are counted by the database, finished and open apart, each from its own
    partial index."""
    steps = step_filter(scope)  # once: with a reader's scope it holds three look-ups to build
    where = [*steps, _clocks.c.department.in_(clock_departments(session, ClockKind.STEP))]
    exemptions = sla_ledger.any_exempted(session, where)
    late = open_by_department(session, _breached_open(steps, scope.at))
    opened = {row.department: row for row in session.execute(_open_statement(steps, scope.at, exemptions))}
    settled = {row.department: row for row in session.execute(_counts_statement(where, exemptions))}
    found = []
    for department in sorted(settled.keys() | opened.keys()):
        counted = _Counted.of(department, settled.get(department), opened.get(department))
        figures = sla_ledger.tally_of(session, department, counted, late.get(department, []), scope.at)
        still = opened.get(department)
        if still is not None:
            figures.running += int(still.running)
            figures.paused += int(still.paused)
        found.append((counted, figures))
    return found


def step_rows(session: Session, scope: Scope) -> list[tuple[DepartmentFigures, TimeInState]]:
    """Per department: its step figures and time in state (the counts, then the percentiles)."""
    counted = _tallies(session, scope)
    times = _percentiles(session, scope, {row.department: int(row.stopped) for row, _ in counted})
    return [
        (
            figures,
            TimeInState(
                department=row.department,
                finished=int(row.stopped),
                median_minutes=times.get(row.department, {}).get("median"),
                p90_minutes=times.get(row.department, {}).get("p90"),
            ),
        )
        for row, figures in counted
    ]


def step_figures(session: Session, scope: Scope) -> list[DepartmentFigures]:
    """Steps owned, met, breached, running and business minutes late, per owning department
    (without the time in state: the dashboard shows no percentiles)."""
    return [figures for _, figures in _tallies(session, scope)]


def time_in_state(session: Session, scope: Scope) -> list[TimeInState]:
    """Median and 90th percentile of business minutes per finished step, per department (only
    departments with finished steps)."""
    return [times for _, times in step_rows(session, scope) if times.finished]

"""The board's statements over open cases, built once per reader's scope (building the scope's
look-ups and the status expression cost as much CPU as SQLite running them: bench/dashboard.py;
a statement depends only on the scope, never on data): the nearest deadlines with the status of
each case's current step, computed by the database; the count of those after them; a page of
cases with their current step clocks."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, literal, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session, defer

from engine.case_view import STEP, current_step
from engine.clock_view import StepStatus, case_status
from org.actors import ReadScope
from org.chart import Company
from org.scope import case_filter
from sla.model import ClockKind, ClockStatus
from storage.models import Case, SlaClock


def nearest(reader: ReadScope, limit: int) -> Select[Any]:
    """The ``limit`` readable open cases with the nearest deadlines (none last), in that order."""
    return (
        select(Case)
        .where(Case.closed_at.is_(None), case_filter(reader, Case.id))
        .order_by(Case.due_at.asc().nulls_last(), Case.id)
        .limit(limit)
    )


def step_status_sql(step: Any, now: ColumnElement[datetime]) -> ColumnElement[str]:
    """`engine.clock_view.step_status` of an open step clock (``step``: a table alias), in SQL:
    breached by the ledger's rule (recorded, or running past its deadline:
    `reports.scope.breached_if_open`), paused, untimed (no target), warning (its warning
    instant passed), else on track. tests/test_dashboard_reads.py holds it to the Python rule."""
    return sql_case(
        (
            (step.c.status == ClockStatus.BREACHED)
            | (step.c.paused_since.is_(None) & step.c.deadline_at.is_not(None) & (step.c.deadline_at < now)),
            literal(StepStatus.BREACHED.value),
        ),
        (step.c.paused_since.is_not(None), literal(StepStatus.PAUSED.value)),
        (step.c.target_minutes.is_(None), literal(StepStatus.UNTIMED.value)),
        (step.c.warn_at.is_not(None) & (step.c.warn_at <= now), literal(StepStatus.WARNING.value)),
        else_=literal(StepStatus.OK.value),
    )


_STEP = SlaClock.__table__.alias("current_step")
_NOW = bindparam("now", type_=SlaClock.__table__.c.deadline_at.type)
"""The instant the statements built once below judge at (a parameter of each execution)."""


def _current_status() -> Any:
    """The status of the case's current step clock (`engine.case_view.current_step`: the latest
    open step clock of its state) at `_NOW`, NULL without one: a scalar subquery, evaluated only
    for the rows a limited query returns."""
    return (
        select(step_status_sql(_STEP, _NOW))
        .where(
            _STEP.c.case_id == Case.id,
            _STEP.c.kind == ClockKind.STEP,
            _STEP.c.stopped_at.is_(None),
            _STEP.c.state == Case.state,
        )
        .order_by(_STEP.c.id.desc())
        .limit(1)
        .correlate(Case)
        .scalar_subquery()
    )


@lru_cache(maxsize=256)
def _nearest_statement(reader: ReadScope, limit: int) -> Select[Any]:
    """`nearest_statuses`' statement for one reader, built once: building the scope's look-ups
    and the status expression cost as much CPU as SQLite running them (bench/dashboard.py). A
    statement depends only on the scope, never on data."""
    return nearest(reader, limit).with_only_columns(
        Case.id, Case.case_type, Case.state, Case.closed_at, Case.due_at, _current_status().label("status")
    )


def _after(no_deadline: bool) -> ColumnElement[bool]:
    """Open cases after the one at (``after_due``, ``after_id``) in the board's order (deadline,
    none last; id); ``no_deadline``: that one has none."""
    due, case_id = bindparam("after_due", type_=Case.due_at.type), bindparam("after_id", type_=Integer())
    if no_deadline:
        return Case.due_at.is_(None) & (Case.id > case_id)
    return (Case.due_at > due) | ((Case.due_at == due) & (Case.id > case_id)) | Case.due_at.is_(None)


@lru_cache(maxsize=256)
def _count_statement(reader: ReadScope, limit: int, no_deadline: bool) -> Select[Any]:
    """Up to ``limit`` readable open cases after a given one (`_after`): the cheap comparison
    first, the reader's look-ups only for the cases after it."""
    after = select(Case.id).where(Case.closed_at.is_(None), _after(no_deadline), case_filter(reader, Case.id))
    return select(func.count()).select_from(after.limit(limit).subquery())


PAGE = (
    select(Case, STEP)
    .outerjoin(STEP, current_step(STEP))
    .where(Case.id.in_(bindparam("ids", expanding=True)))
    .options(defer(Case.data))
    .order_by(Case.id, STEP.id)
)
"""A page's cases with their current step clocks (`engine.case_view.current_step`; several open
clocks of one state: the latest is current), in one statement."""


class Nearest(NamedTuple):
    case_id: int
    status: str
    due_at: datetime | None


def nearest_statuses(
    session: Session, company: Company, now: datetime, *, reader: ReadScope, limit: int
) -> list[Nearest]:
    """The ``limit`` nearest-deadline open cases and their statuses (`case_status`), in order:
    one statement, the status of a case without a step clock from its state's definition."""
    found: list[Any] = list(session.execute(_nearest_statement(reader, limit), {"now": now}))  # rows as cases
    return [
        Nearest(row.id, row.status if row.status is not None else case_status(company, row, None, now), row.due_at)
        for row in found
    ]


def count_after(session: Session, reader: ReadScope, last: Nearest, limit: int) -> int:
    """Readable open cases after ``last`` in the board's order, up to ``limit``."""
    counted = session.scalar(
        _count_statement(reader, limit, last.due_at is None), {"after_due": last.due_at, "after_id": last.case_id}
    )
    return int(counted or 0)

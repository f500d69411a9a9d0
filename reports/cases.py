"""Whole-case figures per requesting department, and the open cases nearest their deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from engine.case_view import current_steps
from engine.clock_view import Remaining, clock_used, remaining
from org.chart import Company
from reports.scope import Scope, case_clock_filter, clock_departments
from sla import ledger as sla_ledger
from sla.model import ClockKind
from storage.models import Case, SlaClock

_clocks = SlaClock.__table__
_cases = Case.__table__


@dataclass(frozen=True)
class CaseFigures:
    """Whole-case clocks of the cases a department requested."""

    department: str
    cases: int
    met: int
    breached: int
    running: int


@dataclass(frozen=True)
class OpenCase:
    case_id: int
    case_type: str
    state: str
    department: str
    person: str | None
    due_at: datetime
    opened_at: datetime
    remaining_minutes: float | None = None
    """Business minutes left until the step deadline in the owner's calendar; negative when late."""


def case_figures(session: Session, scope: Scope) -> list[CaseFigures]:
    """Whole-case clocks (cases opened in the period) per requesting department, by the same
    rules as steps (`sla.ledger.tallies`): an open case past its deadline is breached."""
    where = case_clock_filter(_clocks, scope)
    if scope.department:
        where.append(_clocks.c.department == scope.department)
    # IN the requesting departments: SQLite groups along the index by department, without a sort.
    grouping = [_clocks.c.department.in_(clock_departments(session, ClockKind.WHOLE_CASE))]
    return [
        CaseFigures(department=row.department, cases=row.steps, met=row.met, breached=row.breached,
                    running=row.running)
        for row in sla_ledger.tallies(session, where, scope.at, grouping=grouping)
    ]


def open_cases(
    session: Session,
    company: Company | None = None,
    *,
    now: datetime,
    department: str | None = None,
    case_type: str | None = None,
    limit: int = 10,
) -> list[OpenCase]:
    """Open cases nearest to or past their step deadline (``cases.due_at``, indexed with
    ``closed_at``). With ``company``, each gets its current step's remaining business minutes
    (negative when late), counted as the dashboard counts them (`engine.clock_view.remaining`):
    arithmetic on the ``limit`` rows listed, not an aggregate."""
    now = ensure_utc(now)
    query = (
        select(
            _cases.c.id,
            _cases.c.case_type,
            _cases.c.state,
            _cases.c.owner_department,
            _cases.c.owner_person,
            _cases.c.due_at,
            _cases.c.opened_at,
        )
        .where(_cases.c.closed_at.is_(None), _cases.c.due_at.is_not(None))
        .order_by(_cases.c.due_at, _cases.c.id)
        .limit(limit)
    )
    if department:
        query = query.where(_cases.c.owner_department == department)
    if case_type:
        query = query.where(_cases.c.case_type == case_type)
    rows = list(session.execute(query))
    # The time left as the board and the case page count it: the step's own business minutes left,
    # on the calendar version it runs on, not today's calendar between now and the stored deadline.
    left: dict[int, Remaining | None] = {}
    if company is not None:
        for case_id, step in current_steps(session, rows).items():
            left[case_id] = remaining(step, clock_used(session, company, step, now), now)
    found = []
    for row in rows:
        time_left = left.get(row.id)
        found.append(
            OpenCase(
                case_id=row.id,
                case_type=row.case_type,
                state=row.state,
                department=row.owner_department,
                person=row.owner_person,
                due_at=row.due_at,
                opened_at=row.opened_at,
                remaining_minutes=None if time_left is None else time_left.business_minutes,
            )
        )
    return found

"""My queue as data: the open steps a signed-in person must act on now — the ones assigned to
them, then their departments' unassigned steps they could take — within their read scope
(``org.scope.case_filter``, in SQL), nearest business deadline first.

"Breaching within N hours" counts business time left on the step clock's own calendar version.
SQL cannot count business minutes, so it narrows conservatively before any limit (`_due_within`:
a step deadline no later than the latest instant at which N business hours from now can end) and
Python keeps the exact business-minute check; pages are read until the queue is full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from api.dashboard.data import OpenRow, open_row
from engine import versions
from engine.case_view import STEP, current_step, current_steps, head_of
from org.actors import Principal
from org.chart import Company
from org.scope import case_filter
from sla.model import ClockKind
from storage.models import Case, SlaClock

QUEUE_LIMIT = 200
"""Rows read per page: a queue longer than this is a staffing problem, not a list to scroll."""


@dataclass(frozen=True)
class QueueFilters:
    """What the person narrowed the queue to (already validated by the route)."""

    within_hours: float | None = None
    case_type: str | None = None
    state: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class QueueRow:
    row: OpenRow
    mine: bool
    """Assigned to me (else an unassigned step of one of my departments)."""
    customer: str | None
    order: str | None
    external_key: str | None


def _mine_or_takeable(principal: Principal, company: Company) -> ColumnElement[bool]:
    """Steps held by me, or unassigned steps of a department where my role fits the step (a
    head may take any step of their department)."""
    actor = principal.actor
    conditions: list[ColumnElement[bool]] = []
    if actor.person is not None:
        conditions.append(Case.owner_person == actor.person)
    headed = sorted(code for code, dept in company.config.departments.items() if dept.head == actor.person)
    unassigned = Case.owner_person.is_(None)
    if headed:
        conditions.append(and_(unassigned, Case.owner_department.in_(headed)))
    for department, role in sorted(actor.memberships):
        conditions.append(and_(unassigned, Case.owner_department == department,
                               or_(Case.owner_role.is_(None), Case.owner_role == role)))
    return or_(*conditions) if conditions else false()


def _search(text: str) -> ColumnElement[bool]:
    """Customer, order or CRM key containing the text (any case), or the case number."""
    pattern = f"%{text}%"
    found: list[ColumnElement[bool]] = [
        Case.data["customer"].as_string().ilike(pattern),
        Case.data["order"].as_string().ilike(pattern),
        Case.external_key.ilike(pattern),
    ]
    if text.isdigit() and len(text) < 10:
        found.append(Case.id == int(text))
    return or_(*found)


_SLACK = timedelta(minutes=1)
"""Added to the SQL bound so that rounding of stored deadlines never drops a row; the exact check follows."""


def _due_within(session: Session, company: Company, step: type[SlaClock], now: datetime,
                hours: float) -> ColumnElement[bool]:
    """A wall-clock pre-filter implied by "at most ``hours`` business hours left": a running
    clock's deadline is where its business minutes run out (``add_business_minutes``), so
    ``left <= N`` means ``deadline <= add_business_minutes(now, N)`` on its calendar; a paused
    clock keeps the earlier deadline it had when it paused, which is also no later. The bound is
    the latest such instant over every calendar version an open step clock runs on, pushed to
    the next working instant (a deadline never lies in the closed time after it)."""
    timed = and_(SlaClock.kind == ClockKind.STEP, SlaClock.stopped_at.is_(None),
                 SlaClock.target_minutes.is_not(None), SlaClock.deadline_at.is_not(None))
    used = session.execute(select(SlaClock.calendar, SlaClock.calendar_fingerprint).where(timed).distinct()).all()
    bounds: list[datetime] = []
    for name, fingerprint in used:
        calendar = versions.calendar_for(session, company, name, fingerprint)
        bounds.append(calendar.next_working_instant(calendar.add_business_minutes(now, hours * 60)))
    if not bounds:
        return false()
    return and_(step.target_minutes.is_not(None), step.deadline_at <= max(bounds) + _SLACK)


def my_queue(session: Session, company: Company, principal: Principal, now: datetime,
             filters: QueueFilters = QueueFilters()) -> list[QueueRow]:
    """Assigned to me first, then takeable; each group by business time left (untimed last)."""
    query = (
        select(Case)
        .where(Case.closed_at.is_(None), case_filter(principal.scope, Case.id),
               _mine_or_takeable(principal, company))
    )
    if filters.case_type:
        query = query.where(Case.case_type == filters.case_type)
    if filters.state:
        query = query.where(Case.state == filters.state)
    if filters.search:
        query = query.where(_search(filters.search))
    if filters.within_hours is not None:
        query = query.where(exists().where(current_step(STEP), _due_within(session, company, STEP, now,
                                                                          filters.within_hours)).correlate_except(STEP))
    query = query.order_by(Case.due_at.asc().nulls_last(), Case.id)
    rows: dict[int, QueueRow] = {}
    offset = 0
    while len(rows) < QUEUE_LIMIT:  # more pages only when the exact check dropped pre-filtered rows
        found = session.scalars(query.offset(offset).limit(QUEUE_LIMIT)).all()
        steps = current_steps(session, found)
        for case in found:
            if case.id in rows or len(rows) >= QUEUE_LIMIT:
                continue
            row = open_row(head_of(session, company, case, now, steps.get(case.id)))
            left = row.business_left
            if filters.within_hours is not None and (left is None or left > filters.within_hours * 60):
                continue
            rows[case.id] = QueueRow(
                row=row,
                mine=case.owner_person is not None and case.owner_person == principal.person,
                customer=_text(case.data.get("customer")),
                order=_text(case.data.get("order")),
                external_key=case.external_key,
            )
        if len(found) < QUEUE_LIMIT:
            break
        offset += QUEUE_LIMIT

    def order(item: QueueRow) -> tuple[bool, bool, float, int]:
        left = item.row.business_left
        return (not item.mine, left is None, left if left is not None else 0.0, item.row.case_id)

    return sorted(rows.values(), key=order)


def _text(value: object) -> str | None:
    return None if value is None else str(value)

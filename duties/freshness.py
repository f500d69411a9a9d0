"""How fresh each duty's information has been: on-time rate, lateness and the state of the latest
occurrence, per duty and owing department (the dashboard and ``slaflow duties``)."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from duties.config import DutyConfig, duties_of
from org.chart import Company
from sla.calendar import BusinessCalendar
from sla.model import ClockKind, ClockStatus
from state_machines import duty as duty_type
from storage.models import Breach, Case, SlaClock


@dataclasses.dataclass(frozen=True)
class DutyFreshness:
    """How reliably one duty's information arrived in a window."""

    duty: str
    department: str
    occurrences: int
    delivered: int
    on_time: int
    late: int
    """Delivered after the deadline, or still open past it."""
    waived: int
    pending: int
    """Open, deadline still ahead."""
    on_time_rate: float | None
    """``on_time / (delivered + open overdue)``; waived and pending occurrences are not judged."""
    median_late_minutes: float | None
    """Among the late ones, in the owing department's business minutes (open ones: so far)."""
    worst_late_minutes: float | None
    current_state: str | None
    """State of the latest occurrence: ``due``, ``overdue``, ``delivered`` or ``waived``."""
    latest_occurrence: datetime | None
    delivered_today: bool
    """The latest occurrence was delivered today (the owing department's local date)."""


def freshness(
    session: Session,
    company: Company,
    *,
    now: datetime,
    since: datetime,
    duties: Sequence[DutyConfig] | None = None,
) -> list[DutyFreshness]:
    """Per duty (and owing department), for occurrences in ``(since, now]``: on-time rate, median
    and worst lateness, and the state of the latest occurrence."""
    now, since = ensure_utc(now), ensure_utc(since)
    counts = _counts(session, now=now, since=since)
    lateness = _lateness(session, company, now=now, since=since)
    latest = _latest(session, since=since, now=now)
    names = {(d.name, d.department) for d in (duties if duties is not None else duties_of(company))} | set(counts)
    rows = []
    for name, department in sorted(names, key=lambda key: (key[1], key[0])):
        c = counts.get((name, department), {})
        late = lateness.get((name, department), [])
        judged = c.get("delivered", 0) + c.get("overdue", 0)
        state, opened_at, closed_at = latest.get((name, department), (None, None, None))
        tz = company.calendar_of(department).tz if department in company.config.departments else UTC
        rows.append(
            DutyFreshness(
                duty=name,
                department=department,
                occurrences=c.get("occurrences", 0),
                delivered=c.get("delivered", 0),
                on_time=c.get("on_time", 0),
                late=len(late),
                waived=c.get("waived", 0),
                pending=c.get("occurrences", 0) - c.get("delivered", 0) - c.get("waived", 0) - c.get("overdue", 0),
                on_time_rate=c["on_time"] / judged if judged else None,
                median_late_minutes=statistics.median(late) if late else None,
                worst_late_minutes=max(late) if late else None,
                current_state=state,
                latest_occurrence=opened_at,
                delivered_today=state == duty_type.DELIVERED
                and closed_at is not None
                and closed_at.astimezone(tz).date() == now.astimezone(tz).date(),
            )
        )
    return rows


def _window(since: datetime, now: datetime) -> Any:
    return and_(Case.case_type == duty_type.NAME, Case.opened_at > since, Case.opened_at <= now)


def _counts(session: Session, *, now: datetime, since: datetime) -> dict[tuple[str, str], dict[str, int]]:
    """Counts per (duty, department), aggregated by the database. The duty name is selected in
    a subquery first: grouping by a JSON expression would repeat its bound key, which PostgreSQL
    does not recognise as the same expression."""
    step = (
        select(
            Case.data["duty"].as_string().label("duty"),
            Case.performer.label("department"),
            Case.state.label("state"),
            Case.closed_at.label("closed_at"),
            SlaClock.status.label("status"),
            SlaClock.deadline_at.label("deadline_at"),
        )
        .join(SlaClock, and_(SlaClock.case_id == Case.id, SlaClock.kind == ClockKind.STEP))
        .where(_window(since, now))
        .subquery()
    )
    delivered = step.c.state == duty_type.DELIVERED
    overdue = and_(step.c.closed_at.is_(None), step.c.deadline_at < now)
    query = select(
        step.c.duty,
        step.c.department,
        func.count().label("occurrences"),
        func.sum(when((delivered, 1), else_=0)).label("delivered"),
        func.sum(when((and_(delivered, step.c.status == ClockStatus.MET), 1), else_=0)).label("on_time"),
        func.sum(when((step.c.state == duty_type.WAIVED, 1), else_=0)).label("waived"),
        func.sum(when((overdue, 1), else_=0)).label("overdue"),
    ).group_by(step.c.duty, step.c.department)
    return {
        (row.duty, row.department): {
            key: int(value or 0) for key, value in row._mapping.items() if key not in ("duty", "department")
        }
        for row in session.execute(query)
    }


def _lateness(
    session: Session, company: Company, *, now: datetime, since: datetime
) -> dict[tuple[str, str], list[float]]:
    """Business minutes late of each late occurrence that was not waived: delivered after its
    deadline (the breach's figure) or still open past it (late so far, swept or not)."""
    query = (
        select(
            Case.data["duty"].as_string().label("duty"),
            Case.performer,
            SlaClock.calendar,
            SlaClock.deadline_at,
            SlaClock.stopped_at,
            Breach.late_minutes,
        )
        .join(SlaClock, and_(SlaClock.case_id == Case.id, SlaClock.kind == ClockKind.STEP))
        .outerjoin(Breach, Breach.clock_id == SlaClock.id)
        .where(
            _window(since, now),
            Case.state != duty_type.WAIVED,
            or_(
                SlaClock.status == ClockStatus.BREACHED,
                and_(SlaClock.stopped_at.is_(None), SlaClock.deadline_at < now),
            ),
        )
        .order_by(Case.opened_at, Case.id)
    )
    found: dict[tuple[str, str], list[float]] = {}
    for row in session.execute(query):
        late = row.late_minutes
        if late is None:
            calendar = _calendar(company, row.calendar, row.performer)
            late = calendar.business_minutes_between(row.deadline_at, row.stopped_at or now)
        found.setdefault((row.duty, row.performer), []).append(float(late))
    return found


def _latest(
    session: Session, *, since: datetime, now: datetime
) -> dict[tuple[str, str], tuple[str, datetime, datetime | None]]:
    """The state of each duty's latest occurrence (``overdue`` if due and past its deadline)."""
    query = (
        select(
            Case.data["duty"].as_string().label("duty"),
            Case.performer,
            Case.state,
            Case.opened_at,
            Case.closed_at,
            Case.due_at,
        )
        .where(_window(since, now))
        .order_by(Case.opened_at, Case.id)
    )
    found: dict[tuple[str, str], tuple[str, datetime, datetime | None]] = {}
    for row in session.execute(query):
        state = row.state
        if state == duty_type.DUE and row.due_at is not None and row.due_at < now:
            state = "overdue"
        found[(row.duty, row.performer)] = (state, row.opened_at, row.closed_at)  # later rows win
    return found


def _calendar(company: Company, name: str, department: str) -> BusinessCalendar:
    return company.calendars.get(name) or company.calendar_of(department)

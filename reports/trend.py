"""The weekly trend: steps, met and breached per ISO week of the step's start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, case, select
from sqlalchemy.orm import Session

from reports.scope import EXEMPTED, Scope, step_filter, sum_if
from sla import ledger as sla_ledger
from sla.compliance import Outcome
from sla.model import ClockStatus
from storage.models import Case, SlaClock

_clocks = SlaClock.__table__
_cases = Case.__table__


@dataclass(frozen=True)
class WeekTrend:
    week: str
    """ISO week, e.g. ``2026-W47``."""
    start: date
    steps: int
    met: int
    breached: int

    @property
    def compliance(self) -> float | None:
        finished = self.met + self.breached
        return self.met / finished if finished else None


def iso_weeks(since: datetime, until: datetime, tz: tzinfo) -> list[tuple[str, date, datetime]]:
    """The ISO weeks (Monday 00:00 in ``tz``) overlapping ``[since, until)``: label, Monday and
    the instant the week ends (clipped to ``until``)."""
    first = since.astimezone(tz).date()
    monday = first - timedelta(days=first.weekday())
    weeks = []
    while True:
        start = datetime.combine(monday, time(), tzinfo=tz)
        if start >= until:
            break
        end = min(datetime.combine(monday + timedelta(days=7), time(), tzinfo=tz), until)
        year, week, _ = monday.isocalendar()
        weeks.append((f"{year}-W{week:02d}", monday, end.astimezone(since.tzinfo)))
        monday += timedelta(days=7)
    return weeks


def weekly_trend(session: Session, scope: Scope, tz: tzinfo) -> list[WeekTrend]:
    """Steps, met and breached per ISO week (in ``tz``) of the step's start. The week of each
    clock is a CASE over the week boundaries computed here (exact across DST changes, and the
    same SQL on both databases); weeks without steps are listed with zeros."""
    weeks = iso_weeks(scope.since, scope.until, tz)
    if not weeks:
        return []
    bucket = case(*((_clocks.c.started_at < end, index) for index, (_, _, end) in enumerate(weeks)), else_=len(weeks))
    # Grouped in an outer query: PostgreSQL cannot match a GROUP BY expression with bound
    # parameters to the same expression in the SELECT list.
    inner = (
        select(bucket.label("week"), case((sla_ledger.exempted(), EXEMPTED), else_=_clocks.c.status).label("status"),
               _clocks.c.stopped_at.label("stopped_at"))
        .where(*step_filter(scope))
        .subquery()
    )
    settled = inner.c.stopped_at.is_not(None)
    query = select(
        inner.c.week,
        sum_if(inner.c.status != EXEMPTED),  # an exempted step is no step of the figures (sla.compliance)
        sum_if(and_(settled, inner.c.status == ClockStatus.MET)),
        sum_if(and_(settled, inner.c.status == ClockStatus.BREACHED)),
    ).group_by(inner.c.week)
    counts = {int(row[0]): [int(row[1]), int(row[2]), int(row[3])] for row in session.execute(query)}
    open_rows = sla_ledger.open_clocks(session, step_filter(scope))
    for row in open_rows:  # an open step past its deadline is breached, in the week it started
        if not row.exempted and sla_ledger.judge(session, row, scope.at)[0] is Outcome.BREACHED:
            index = next((i for i, (_, _, end) in enumerate(weeks) if row.started_at < end), len(weeks))
            counts.setdefault(index, [0, 0, 0])[2] += 1
    return [WeekTrend(label, monday, *counts.get(index, (0, 0, 0))) for index, (label, monday, _) in enumerate(weeks)]

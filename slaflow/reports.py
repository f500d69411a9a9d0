"""SLA figures per department, aggregated in the database (never Python loops over rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models import Breach, SlaClock


@dataclass(frozen=True)
class DepartmentFigures:
    department: str
    steps: int
    met: int
    breached: int
    running: int
    late_minutes: float
    """Business minutes past deadlines, summed over closed breaches."""

    @property
    def compliance(self) -> float | None:
        """Share of finished steps that met their deadline (None if nothing finished)."""
        finished = self.met + self.breached
        return self.met / finished if finished else None


def department_figures(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> list[DepartmentFigures]:
    """Step clocks per owning department, for clocks started in ``[since, until)``."""
    late = select(Breach.clock_id, Breach.late_minutes).where(Breach.kind == "step").subquery()
    query = (
        select(
            SlaClock.department,
            func.count(SlaClock.id),
            func.sum(case((SlaClock.status == "met", 1), else_=0)),
            func.sum(case((SlaClock.status == "breached", 1), else_=0)),
            func.sum(case((SlaClock.stopped_at.is_(None), 1), else_=0)),
            func.coalesce(func.sum(late.c.late_minutes), 0.0),
        )
        .outerjoin(late, late.c.clock_id == SlaClock.id)
        .where(SlaClock.kind == "step", SlaClock.target_minutes.is_not(None))
        .group_by(SlaClock.department)
        .order_by(SlaClock.department)
    )
    if since is not None:
        query = query.where(SlaClock.started_at >= since)
    if until is not None:
        query = query.where(SlaClock.started_at < until)
    return [
        DepartmentFigures(
            department=row[0],
            steps=row[1],
            met=row[2] or 0,
            breached=row[3] or 0,
            running=row[4] or 0,
            late_minutes=float(row[5] or 0.0),
        )
        for row in session.execute(query)
    ]

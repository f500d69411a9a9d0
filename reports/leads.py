"""The lead funnel for marketing and sales: leads received per ISO week and calendar month (in
the report's time zone) and how far each got — taken into work, qualified, reservation paid,
non-target — with both SLAs (first response, qualification) met or breached; and the same
counts per product group and per channel. A lead belongs to the period it was *received* in (a
cohort), so a week's figures only grow as its leads move on. Aggregated by the database."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from reports.trend import iso_weeks
from storage.models import Case, Lead

LEAD_DISPUTE = "lead_dispute"
_leads = Lead.__table__
_cases = Case.__table__


@dataclass(frozen=True)
class FunnelRow:
    period: str
    """``2026-W47`` or ``2026-11``."""
    start: date
    received: int = 0
    taken: int = 0
    qualified: int = 0
    reservation_paid: int = 0
    non_target: int = 0
    disputed: int = 0
    """Leads a lead-quality dispute was opened about."""
    first_response_met: int = 0
    first_response_breached: int = 0
    qualification_met: int = 0
    qualification_breached: int = 0

    @property
    def processed(self) -> int:
        """Leads sales decided on: qualified or non-target."""
        return self.qualified + self.non_target

    @property
    def qualified_share(self) -> float | None:
        return self.qualified / self.received if self.received else None

    @property
    def first_response_compliance(self) -> float | None:
        finished = self.first_response_met + self.first_response_breached
        return self.first_response_met / finished if finished else None


@dataclass(frozen=True)
class GroupRow:
    dimension: str
    """``product_group`` or ``channel``."""
    value: str
    """The group or channel ('' when the lead has none)."""
    received: int
    qualified: int
    reservation_paid: int
    non_target: int


@dataclass(frozen=True)
class LeadFunnel:
    weeks: list[FunnelRow]
    months: list[FunnelRow]
    groups: list[GroupRow]

    def to_dict(self) -> dict[str, Any]:
        def row(item: FunnelRow) -> dict[str, Any]:
            data = dataclasses.asdict(item)
            data["start"] = item.start.isoformat()
            return {**data, "processed": item.processed, "qualified_share": item.qualified_share,
                    "first_response_compliance": item.first_response_compliance}

        return {
            "weeks": [row(w) for w in self.weeks],
            "months": [row(m) for m in self.months],
            "groups": [dataclasses.asdict(g) for g in self.groups],
        }


def months(since: datetime, until: datetime, tz: tzinfo) -> list[tuple[str, date, datetime]]:
    """The calendar months (in ``tz``) overlapping ``[since, until)``: label, first day, and the
    instant the month ends (clipped to ``until``)."""
    first = since.astimezone(tz).date().replace(day=1)
    found = []
    while True:
        start = datetime.combine(first, time(), tzinfo=tz)
        if start >= until:
            break
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        end = min(datetime.combine(following, time(), tzinfo=tz), until)
        found.append((f"{first.year}-{first.month:02d}", first, ensure_utc(end)))
        first = following
    return found


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _outcomes(c: Any, now: ColumnElement[datetime]) -> list[ColumnElement[Any]]:
    """The funnel figures over the lead columns ``c`` (a subquery's)."""
    answered = func.coalesce(c.taken_at, c.non_target_at)
    decided = func.coalesce(c.qualified_at, c.non_target_at)

    def met(done: ColumnElement[Any], due: ColumnElement[Any]) -> ColumnElement[bool]:
        return and_(done.is_not(None), due.is_not(None), done <= due)

    def breached(done: ColumnElement[Any], due: ColumnElement[Any]) -> ColumnElement[bool]:
        return and_(due.is_not(None), or_(done > due, and_(done.is_(None), due < now)))

    disputed = exists().where(
        _cases.c.case_type == LEAD_DISPUTE, _cases.c.data["lead_id"].as_string() == c.external_key
    )
    return [
        func.count(),
        _count(c.taken_at.is_not(None)),
        _count(c.qualified_at.is_not(None)),
        _count(c.reservation_paid_at.is_not(None)),
        _count(c.non_target_at.is_not(None)),
        _count(disputed),
        _count(met(answered, c.first_response_due_at)),
        _count(breached(answered, c.first_response_due_at)),
        _count(met(decided, c.qualification_due_at)),
        _count(breached(decided, c.qualification_due_at)),
    ]


def _instant(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=_leads.c.received_at.type)


@lru_cache(maxsize=64)
def _periods_statement(weeks: int, months: int) -> Select[Any]:
    """The figures per (week, month) of the leads received in ``[since, until)``: one statement
    for both tables (a week's figures are the sum over its months, and a month's over its
    weeks), built once per number of weeks and months with the instants as parameters
    (``since``, ``until``, ``now``, ``week0``.. and ``month0``..: where each bucket ends) —
    building the funnel's statements cost more than running them (bench/dashboard.py)."""
    received = _leads.c.received_at

    def bucket(prefix: str, n: int) -> ColumnElement[int]:
        return case(*((received < _instant(f"{prefix}{i}"), i) for i in range(n)), else_=n)

    # Grouped in an outer query (PostgreSQL cannot match a GROUP BY over bound parameters).
    inner = (
        select(bucket("week", weeks).label("week"), bucket("month", months).label("month"), *_leads.c)
        .where(received >= _instant("since"), received < _instant("until"))
        .subquery()
    )
    return select(inner.c.week, inner.c.month, *_outcomes(inner.c, _instant("now"))).group_by(
        inner.c.week, inner.c.month
    )


Buckets = list[tuple[str, date, datetime]]


def _by_period(
    session: Session, weeks: Buckets, months: Buckets, since: datetime, until: datetime, now: datetime
) -> tuple[list[FunnelRow], list[FunnelRow]]:
    """The funnel rows of ``weeks`` and of ``months`` (both cover ``[since, until)``)."""
    if not weeks or not months:
        return [], []
    params: dict[str, datetime] = {"since": since, "until": until, "now": now}
    params |= {f"week{i}": end for i, (_, _, end) in enumerate(weeks)}
    params |= {f"month{i}": end for i, (_, _, end) in enumerate(months)}
    week_counts: dict[int, list[int]] = {}
    month_counts: dict[int, list[int]] = {}
    for row in session.execute(_periods_statement(len(weeks), len(months)), params):
        counts = [int(value) for value in row[2:]]
        for found, key in ((week_counts, int(row[0])), (month_counts, int(row[1]))):
            found[key] = [a + b for a, b in zip(found.get(key, [0] * len(counts)), counts, strict=True)]

    def rows(buckets: Buckets, counts: dict[int, list[int]]) -> list[FunnelRow]:
        return [FunnelRow(label, start, *counts.get(i, [])) for i, (label, start, _) in enumerate(buckets)]

    return rows(weeks, week_counts), rows(months, month_counts)


def _groups(session: Session, since: datetime, until: datetime) -> list[GroupRow]:
    rows: list[GroupRow] = []
    for dimension in ("product_group", "channel"):
        column = func.coalesce(_leads.c[dimension], "")
        inner = select(column.label("value"), *_leads.c).where(
            _leads.c.received_at >= since, _leads.c.received_at < until
        ).subquery()
        query = (
            select(
                inner.c.value,
                func.count(),
                _count(inner.c.qualified_at.is_not(None)),
                _count(inner.c.reservation_paid_at.is_not(None)),
                _count(inner.c.non_target_at.is_not(None)),
            )
            .group_by(inner.c.value)
            .order_by(func.count().desc(), inner.c.value)
        )
        rows += [GroupRow(dimension, str(r[0]), *(int(v) for v in r[1:])) for r in session.execute(query)]
    return rows


def lead_funnel(
    session: Session, *, since: datetime, until: datetime, tz: tzinfo, now: datetime, groups: bool = True
) -> LeadFunnel:
    """The funnel for leads received in ``[since, until)``; open SLAs are judged at ``now``.
    ``groups=False`` leaves out the product groups and channels (the dashboard shows none)."""
    since, until, now = ensure_utc(since), ensure_utc(until), ensure_utc(now)
    weeks, months_ = _by_period(session, iso_weeks(since, until, tz), months(since, until, tz), since, until, now)
    return LeadFunnel(weeks=weeks, months=months_, groups=_groups(session, since, until) if groups else [])

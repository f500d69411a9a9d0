"""Report queries. Every figure is aggregated by the database (GROUP BY and window functions), in
SQL that runs unchanged on SQLite and PostgreSQL; Python only turns the few aggregate rows into
dataclasses (at most one row per department, department pair, week or listed case).

Which rows a period ``[since, until)`` covers:

- step figures, time in state and the weekly trend: *step* clocks with a target that *started* in
  the period (a clock belongs to exactly one period; its outcome is decided once it stops or
  breaches);
- the ledger, whole-case figures and breach causes: cases whose *whole-case* clock started (the
  case was opened) in the period;
- lead figures: lead disputes opened in the period;
- open cases: as of ``now``, whatever the period.

A department filter keeps the rows of that department (as step owner, as requester, or as the
owner of an open case's current step); a case-type filter keeps the clocks and cases of that type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from org.chart import Company
from sla import ledger as sla_ledger
from sla.compliance import Outcome, Tally, blame
from storage.models import Breach, Case, CaseEvent, SlaClock

STEP, WHOLE_CASE = "step", "case"
MET, BREACHED = "met", "breached"
EXEMPTED = "exempted"
"""The status a trend row reads for a clock whose breach was exempted (never stored)."""
LEAD_DISPUTE = "lead_dispute"

_clocks = SlaClock.__table__
_cases = Case.__table__
_breaches = Breach.__table__
_events = CaseEvent.__table__


# --------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True)
class Scope:
    """The period ``[since, until)`` and the optional filters every query shares."""

    since: datetime
    until: datetime
    department: str | None = None
    case_type: str | None = None
    now: datetime | None = None
    """The instant open clocks are judged at (default: ``until``): an open step past its deadline
    is breached, late by the business time it has used so far."""
    readable: Callable[[Any], ColumnElement[bool]] | None = field(default=None, compare=False)
    """The reader's scope: given a case-id column, the condition keeping readable cases
    (``org.scope.case_filter``); None reads every case (CLI reports)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", ensure_utc(self.since))
        object.__setattr__(self, "until", ensure_utc(self.until))
        object.__setattr__(self, "now", ensure_utc(self.now) if self.now is not None else self.until)

    @property
    def at(self) -> datetime:
        assert self.now is not None
        return self.now
        if self.until <= self.since:
            raise ValueError(
                f"empty period: until {self.until.isoformat()} is not after since {self.since.isoformat()}"
            )


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


@dataclass(frozen=True)
class CaseFigures:
    """Whole-case clocks of the cases a department requested."""

    department: str
    cases: int
    met: int
    breached: int
    running: int


@dataclass(frozen=True)
class LedgerCell:
    """Business minutes ``department`` used on steps of the cases ``requester`` opened."""

    requester: str
    department: str
    cases: int
    """Cases in which the department held at least one step."""
    minutes: float
    breach_share: float
    """The department's part of the requester's whole-case breaches: for each breached case,
    the department's share of the business minutes used in it, summed over those cases."""


@dataclass(frozen=True)
class DepartmentRow:
    """One line of the per-department report."""

    department: str
    steps: int = 0
    met: int = 0
    breached: int = 0
    running: int = 0
    late_minutes: float = 0.0
    exempted: int = 0
    """Steps whose breach the director exempted: shown, not in steps, met, breached or late."""
    median_minutes: float | None = None
    p90_minutes: float | None = None
    cases_requested: int = 0
    case_breaches: int = 0
    """Whole-case breaches of the cases this department requested (charged to it as requester)."""
    waiting_breaches: float = 0.0
    """The part of ``case_breaches`` other departments consumed (business minutes in their steps)."""
    ledger_cases: int = 0
    ledger_minutes: float = 0.0
    """Business minutes this department used on steps of the cases opened in the period."""

    @property
    def finished(self) -> int:
        """Steps whose outcome is decided: met, or breached (even while still running)."""
        return self.met + self.breached

    @property
    def compliance(self) -> float | None:
        return self.met / self.finished if self.finished else None

    @property
    def own_breaches(self) -> int:
        """Breaches caused by the department itself: its step breaches."""
        return self.breached


@dataclass(frozen=True)
class CaseLedger:
    """A late case and who used its time."""

    case_id: int
    case_type: str
    state: str
    requester: str
    late_minutes: float
    """Business minutes past the whole-case deadline (for an open case: so far)."""
    minutes: dict[str, float] = field(default_factory=dict)
    """Business minutes used per department (open steps up to now), largest first."""
    shares: dict[str, float] = field(default_factory=dict)
    """Each department's share of those minutes: what the breach is charged by."""


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


@dataclass(frozen=True)
class LeadFigures:
    """Lead-quality disputes: sales says a lead is non-target, marketing accepts or rejects, the
    commercial director arbitrates a rejection."""

    disputes: int = 0
    accepted: int = 0
    """Ended in ``accepted`` (the lead is non-target), directly or on arbitration."""
    accepted_by_marketing: int = 0
    """Accepted by marketing itself (trigger ``accept``)."""
    accepted_on_arbitration: int = 0
    """Accepted by the commercial director's ruling (trigger ``rule_for_sales``)."""
    kept: int = 0
    """Rejected: the lead stays qualified."""
    withdrawn: int = 0
    open: int = 0
    disputed_leads: int = 0
    """Distinct leads sales disputed."""
    non_target_leads: int = 0
    """Distinct leads confirmed non-target (a dispute about them ended in ``accepted``)."""

    @property
    def acceptance(self) -> float | None:
        """Share of decided disputes marketing lost (accepted / (accepted + kept))."""
        decided = self.accepted + self.kept
        return self.accepted / decided if decided else None


# --------------------------------------------------------------------------------------------
# Shared pieces


def _sum_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _of_type(case_id: ColumnElement[Any], case_type: str) -> ColumnElement[bool]:
    """``case_id IN (cases of the type)``: both databases run it as a semi-join on the indexed
    ``cases.case_type``, cheaper than joining every clock to its case."""
    return case_id.in_(select(_cases.c.id).where(_cases.c.case_type == case_type))


def _step_filter(scope: Scope) -> list[ColumnElement[bool]]:
    where = [
        _clocks.c.kind == STEP,
        _clocks.c.target_minutes.is_not(None),
        _clocks.c.started_at >= scope.since,
        _clocks.c.started_at < scope.until,
    ]
    if scope.department:
        where.append(_clocks.c.department == scope.department)
    if scope.case_type:
        where.append(_of_type(_clocks.c.case_id, scope.case_type))
    if scope.readable is not None:
        where.append(scope.readable(_clocks.c.case_id))
    return where


def _open_by_department(session: Session, where: list[ColumnElement[bool]]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for row in sla_ledger.open_clocks(session, where):
        found.setdefault(row.department, []).append(row)
    return found


# --------------------------------------------------------------------------------------------
# Queries


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
    where = _step_filter(scope)
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


def _step_rows(session: Session, scope: Scope) -> list[tuple[DepartmentFigures, TimeInState]]:
    open_by = _open_by_department(session, _step_filter(scope))
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
    return [figures for figures, _ in _step_rows(session, scope)]


def time_in_state(session: Session, scope: Scope) -> list[TimeInState]:
    """Median and 90th percentile of business minutes per finished step, per department (only
    departments with finished steps)."""
    return [times for _, times in _step_rows(session, scope) if times.finished]


def _case_clock_filter(clock: Any, scope: Scope) -> list[ColumnElement[bool]]:
    where = [clock.c.kind == WHOLE_CASE, clock.c.started_at >= scope.since, clock.c.started_at < scope.until]
    if scope.case_type:
        where.append(_of_type(clock.c.case_id, scope.case_type))
    if scope.readable is not None:
        where.append(scope.readable(clock.c.case_id))
    return where


def case_figures(session: Session, scope: Scope) -> list[CaseFigures]:
    """Whole-case clocks (cases opened in the period) per requesting department, by the same
    rules as steps (`sla.ledger.tallies`): an open case past its deadline is breached."""
    where = _case_clock_filter(_clocks, scope)
    if scope.department:
        where.append(_clocks.c.department == scope.department)
    return [
        CaseFigures(department=row.department, cases=row.steps, met=row.met, breached=row.breached,
                    running=row.running)
        for row in sla_ledger.tallies(session, where, scope.at)
    ]


def _open_steps_of_cases(session: Session, scope: Scope) -> list[tuple[str, Any]]:
    """(requester, open step clock) for the cases opened in the period."""
    whole = _clocks.alias("whole")
    query = (
        select(whole.c.department.label("requester"), *sla_ledger.OPEN_COLUMNS)
        .join_from(_clocks, whole, and_(whole.c.case_id == _clocks.c.case_id))
        .where(*_case_clock_filter(whole, scope), _clocks.c.kind == STEP, _clocks.c.stopped_at.is_(None))
    )
    return [(row.requester, row) for row in session.execute(query)]


def _open_breached_cases(session: Session, scope: Scope) -> list[tuple[Any, float]]:
    """Open whole-case clocks of the period that are breached at ``now``, with minutes late."""
    found = []
    for row in sla_ledger.open_clocks(session, _case_clock_filter(_clocks, scope)):
        result, _, late = sla_ledger.judge(session, row, scope.at)
        if result is Outcome.BREACHED and not row.exempted:  # an exempted breach is charged to nobody
            found.append((row, late))
    return found


def ledger(session: Session, scope: Scope) -> list[LedgerCell]:
    """Who used the time of the cases opened in the period: business minutes of step clocks per
    (requesting department, step department), open steps up to ``now``, and each department's
    share of the requester's whole-case breaches (open cases past their deadline included).
    Settled cases are aggregated by the database: the minutes group the case-step join directly;
    the shares need each case's total (a window over the case) and run over the breached cases
    only, a few percent of them. Open cases are few and are added from `sla.ledger`."""
    whole = _clocks.alias("whole")
    step = _clocks.alias("step")
    joined = and_(step.c.case_id == whole.c.case_id, step.c.kind == STEP)
    minutes = (
        select(
            whole.c.department,
            step.c.department,
            func.count(func.distinct(step.c.case_id)),
            func.coalesce(func.sum(step.c.used_minutes), 0.0),
        )
        .join_from(whole, step, joined)
        .where(*_case_clock_filter(whole, scope))
        .group_by(whole.c.department, step.c.department)
        .order_by(whole.c.department, step.c.department)
    )
    per_case = (
        select(
            whole.c.department.label("requester"),
            step.c.department.label("department"),
            func.sum(step.c.used_minutes).label("minutes"),
            func.sum(func.sum(step.c.used_minutes)).over(partition_by=whole.c.id).label("total"),
        )
        .join_from(whole, step, joined)
        .where(*_case_clock_filter(whole, scope), whole.c.status == BREACHED, whole.c.stopped_at.is_not(None),
               ~sla_ledger.exempted(whole.c.id))
        .group_by(whole.c.id, whole.c.department, step.c.department)
        .subquery()
    )
    shares = (
        select(per_case.c.requester, per_case.c.department, func.sum(per_case.c.minutes / per_case.c.total))
        .where(per_case.c.total > 0)
        .group_by(per_case.c.requester, per_case.c.department)
    )
    wanted = scope.department

    def kept(requester: str, department: str) -> bool:
        return wanted is None or wanted in (requester, department)

    share_of = {(row[0], row[1]): float(row[2] or 0.0) for row in session.execute(shares) if kept(row[0], row[1])}
    open_breached = _open_breached_cases(session, scope)
    spent = sla_ledger.case_minutes(session, [row.case_id for row, _ in open_breached], scope.at)
    for row, _ in open_breached:
        for share in blame(spent[row.case_id]):
            if kept(row.department, share.department):
                key = (row.department, share.department)
                share_of[key] = share_of.get(key, 0.0) + share.share
    extra: dict[tuple[str, str], float] = {}
    for requester, clock in _open_steps_of_cases(session, scope):
        _, used, _ = sla_ledger.judge(session, clock, scope.at)
        key = (requester, clock.department)
        extra[key] = extra.get(key, 0.0) + used - clock.used_minutes
    return [
        LedgerCell(
            requester=row[0],
            department=row[1],
            cases=int(row[2]),
            minutes=float(row[3]) + extra.get((row[0], row[1]), 0.0),
            breach_share=share_of.get((row[0], row[1]), 0.0),
        )
        for row in session.execute(minutes)
        if kept(row[0], row[1])
    ]


def case_ledger(session: Session, case_id: int, now: datetime) -> dict[str, float]:
    """Business minutes one case's steps used by ``now``, per department, largest first."""
    spent = sla_ledger.case_minutes(session, [case_id], now)[case_id]
    return {share.department: share.minutes for share in blame(spent)}


def late_cases(session: Session, scope: Scope, *, limit: int = 10) -> list[CaseLedger]:
    """The whole-case breaches of the period (open cases past their deadline included, late by
    the time used so far), latest first, each with who used its time."""
    whole = _clocks.alias("whole")
    over = whole.c.used_minutes - func.coalesce(whole.c.target_minutes, 0.0)
    query = (
        select(whole.c.case_id, whole.c.department, over.label("late"))
        .where(*_case_clock_filter(whole, scope), whole.c.status == BREACHED, whole.c.stopped_at.is_not(None),
               ~sla_ledger.exempted(whole.c.id))
        .order_by(over.desc(), whole.c.case_id)
        .limit(limit)
    )
    open_rows = _open_breached_cases(session, scope)
    if scope.department:
        took_part = select(_clocks.c.case_id).where(_clocks.c.department == scope.department)
        query = query.where(or_(whole.c.department == scope.department, whole.c.case_id.in_(took_part)))
        involved = set(session.scalars(took_part.where(_clocks.c.case_id.in_([r.case_id for r, _ in open_rows]))))
        open_rows = [(r, late) for r, late in open_rows if r.department == scope.department or r.case_id in involved]
    found = [(int(row.case_id), row.department, max(float(row.late), 0.0)) for row in session.execute(query)]
    found += [(int(row.case_id), row.department, late) for row, late in open_rows]
    found = sorted(found, key=lambda item: (-item[2], item[0]))[:limit]
    if not found:
        return []
    spent = sla_ledger.case_minutes(session, [case_id for case_id, _, _ in found], scope.at)
    about = {
        row.id: row
        for row in session.execute(
            select(_cases.c.id, _cases.c.case_type, _cases.c.state).where(
                _cases.c.id.in_([case_id for case_id, _, _ in found])
            )
        )
    }
    result = []
    for case_id, requester, late in found:
        shares = blame(spent[case_id])
        result.append(
            CaseLedger(
                case_id=case_id,
                case_type=about[case_id].case_type,
                state=about[case_id].state,
                requester=requester,
                late_minutes=late,
                minutes={share.department: share.minutes for share in shares},
                shares={share.department: share.share for share in shares},
            )
        )
    return result


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
    ``closed_at``). With ``company``, each gets its remaining business minutes in the owner's
    calendar (negative when late): arithmetic on the ``limit`` rows listed, not an aggregate."""
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
    found = []
    for row in session.execute(query):
        remaining = None
        if company is not None and row.owner_department in company.config.departments:
            calendar = company.calendar_of(row.owner_department)
            if row.due_at >= now:
                remaining = calendar.business_minutes_between(now, row.due_at)
            else:
                remaining = -calendar.business_minutes_between(row.due_at, now)
        found.append(
            OpenCase(
                case_id=row.id,
                case_type=row.case_type,
                state=row.state,
                department=row.owner_department,
                person=row.owner_person,
                due_at=row.due_at,
                opened_at=row.opened_at,
                remaining_minutes=remaining,
            )
        )
    return found


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
        .where(*_step_filter(scope))
        .subquery()
    )
    settled = inner.c.stopped_at.is_not(None)
    query = select(
        inner.c.week,
        _sum_if(inner.c.status != EXEMPTED),  # an exempted step is no step of the figures (sla.compliance)
        _sum_if(and_(settled, inner.c.status == MET)),
        _sum_if(and_(settled, inner.c.status == BREACHED)),
    ).group_by(inner.c.week)
    counts = {int(row[0]): [int(row[1]), int(row[2]), int(row[3])] for row in session.execute(query)}
    open_rows = sla_ledger.open_clocks(session, _step_filter(scope))
    for row in open_rows:  # an open step past its deadline is breached, in the week it started
        if not row.exempted and sla_ledger.judge(session, row, scope.at)[0] is Outcome.BREACHED:
            index = next((i for i, (_, _, end) in enumerate(weeks) if row.started_at < end), len(weeks))
            counts.setdefault(index, [0, 0, 0])[2] += 1
    return [WeekTrend(label, monday, *counts.get(index, (0, 0, 0))) for index, (label, monday, _) in enumerate(weeks)]


def lead_figures(session: Session, scope: Scope, *, case_type: str = LEAD_DISPUTE) -> LeadFigures:
    """Lead disputes opened in the period, by outcome, in one aggregate over the cases (the path
    to ``accepted`` comes from the event log)."""
    state = _cases.c.state
    lead = _cases.c.data["lead_id"].as_string()

    def reached_by(trigger: str) -> ColumnElement[bool]:
        return exists().where(_events.c.case_id == _cases.c.id, _events.c.trigger == trigger)

    accepted = state == "accepted"
    query = select(
        func.count(),
        _sum_if(accepted),
        _sum_if(and_(accepted, reached_by("accept"))),
        _sum_if(and_(accepted, reached_by("rule_for_sales"))),
        _sum_if(state == "kept"),
        _sum_if(state == "withdrawn"),
        _sum_if(_cases.c.closed_at.is_(None)),
        func.count(func.distinct(lead)),
        func.count(func.distinct(case((accepted, lead)))),
    ).where(_cases.c.case_type == case_type, _cases.c.opened_at >= scope.since, _cases.c.opened_at < scope.until)
    row = session.execute(query).one()
    return LeadFigures(*(int(value or 0) for value in row))


def department_rows(
    session: Session, scope: Scope, *, ledger_cells: list[LedgerCell] | None = None
) -> list[DepartmentRow]:
    """The per-department report: step figures with time in state, whole-case figures and the
    ledger merged by department (each from its own aggregate query; merging joins a few rows per
    department). Pass ``ledger_cells`` when the caller already has `ledger` for the scope."""
    rows: dict[str, dict[str, Any]] = {}

    def row(department: str) -> dict[str, Any]:
        return rows.setdefault(department, {"department": department})

    for fig, times in _step_rows(session, scope):
        row(fig.department).update(
            steps=fig.steps,
            met=fig.met,
            breached=fig.breached,
            running=fig.running,
            late_minutes=fig.late_minutes,
            exempted=fig.exempted,
            median_minutes=times.median_minutes,
            p90_minutes=times.p90_minutes,
        )
    for whole in case_figures(session, scope):
        row(whole.department).update(cases_requested=whole.cases, case_breaches=whole.breached)
    for cell in ledger(session, scope) if ledger_cells is None else ledger_cells:
        if scope.department in (None, cell.department):
            consumer = row(cell.department)
            consumer["ledger_cases"] = consumer.get("ledger_cases", 0) + cell.cases
            consumer["ledger_minutes"] = consumer.get("ledger_minutes", 0.0) + cell.minutes
        if cell.department != cell.requester and scope.department in (None, cell.requester):
            requester = row(cell.requester)
            requester["waiting_breaches"] = requester.get("waiting_breaches", 0.0) + cell.breach_share
    return [DepartmentRow(**rows[name]) for name in sorted(rows)]


def report_zone(company: Company) -> tzinfo:
    """The time zone of report weeks and dates: the calendar of the department the company's
    director heads (the head office), else of the first department."""
    return company.zone  # one definition of the head office's zone (runtime.company)

"""The ledger: who used the time of the cases opened in the period (business minutes per
requesting and working department, and each department's share of the whole-case breaches),
and the late cases with who used their time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from reports.scope import Scope, case_clock_filter, clock_departments, of_type
from sla import ledger as sla_ledger
from sla.compliance import Outcome, blame
from sla.model import ClockKind, ClockStatus
from storage.models import Case, SlaClock

_clocks = SlaClock.__table__
_cases = Case.__table__


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


def _open_steps_of_cases(session: Session, scope: Scope) -> list[tuple[str, Any]]:
    """(requester, open step clock) for the cases opened in the period: from the open step
    clocks (the partial index of open clocks, a few per case in progress) to their case's
    whole-case clock, never from the period's cases to their steps."""
    whole = _clocks.alias("whole")
    query = (
        select(whole.c.department.label("requester"), *sla_ledger.OPEN_COLUMNS)
        .join_from(_clocks, whole, and_(whole.c.case_id == _clocks.c.case_id))
        .where(*case_clock_filter(whole, scope), _clocks.c.kind == ClockKind.STEP, _clocks.c.stopped_at.is_(None))
    )
    return [(row.requester, row) for row in session.execute(query)]


def _open_breached_cases(session: Session, scope: Scope) -> list[tuple[Any, float]]:
    """Open whole-case clocks of the period that are breached at ``now``, with minutes late."""
    found = []
    for row in sla_ledger.open_clocks(session, case_clock_filter(_clocks, scope)):
        result, _, late = sla_ledger.judge(session, row, scope.at)
        if result is Outcome.BREACHED and not row.exempted:  # an exempted breach is charged to nobody
            found.append((row, late))
    return found


def ledger(session: Session, scope: Scope) -> list[LedgerCell]:
    """Who used the time of the cases opened in the period: business minutes of step clocks per
    (requesting department, step department), open steps up to ``now``, and each department's
    share of the requester's whole-case breaches (open cases past their deadline included).
    Settled cases are aggregated by the database (`_settled_minutes`); the shares need each
    case's total (a window over the case) and run over the breached cases only, a few percent of
    them. Open cases are few and are added from `sla.ledger`, found from the open clocks
    (`_open_steps_of_cases`)."""
    whole = _clocks.alias("whole")
    step = _clocks.alias("step")
    joined = and_(step.c.case_id == whole.c.case_id, step.c.kind == ClockKind.STEP)
    per_case = (
        select(
            whole.c.department.label("requester"),
            step.c.department.label("department"),
            func.sum(step.c.used_minutes).label("minutes"),
            func.sum(func.sum(step.c.used_minutes)).over(partition_by=whole.c.id).label("total"),
        )
        .join_from(whole, step, joined)
        .where(
            *case_clock_filter(whole, scope),
            whole.c.status == ClockStatus.BREACHED,
            whole.c.stopped_at.is_not(None),
            ~sla_ledger.exempted(whole.c.id),
        )
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
    grouped = _settled_minutes(session, scope)
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
        for row in grouped
        if kept(row[0], row[1])
    ]


def _settled_minutes(session: Session, scope: Scope) -> list[tuple[str, str, int, float]]:
    """(requester, department, cases, business minutes) of the steps of the cases opened in the
    period, open steps as stored, by requester and department. Each step clock carries its case's
    requester and opening instant (`sla.clock_store.start`), so one (requester, department) pair
    is one range of ``ix_sla_clocks_ledger``, aggregated without a join to the whole-case clocks
    or a sort (SQLite sorted every step of the period's cases by department: 1M cases, 0.69 s CPU
    against 0.25 s; counting the cases by a GROUP BY along the index cost 0.35 s)."""
    wanted = scope.department
    found: list[tuple[str, str, int, float]] = []
    figures = (func.count(func.distinct(_clocks.c.case_id)), func.coalesce(func.sum(_clocks.c.used_minutes), 0.0))
    departments = clock_departments(session, ClockKind.STEP)
    for requester in clock_departments(session, ClockKind.WHOLE_CASE):
        for department in departments:
            if wanted not in (None, requester, department):
                continue
            pair = [_clocks.c.requester == requester, _clocks.c.department == department]
            cases, minutes = session.execute(select(*figures).where(*_steps_of_cases(scope), *pair)).one()
            if cases:
                found.append((requester, department, int(cases), float(minutes)))
    return found


def _steps_of_cases(scope: Scope) -> list[ColumnElement[bool]]:
    """Step clocks of the cases opened in the period (by the opening instant they carry), within
    the scope's case-type and reader filters."""
    where = [
        _clocks.c.kind == ClockKind.STEP,
        _clocks.c.case_opened_at >= scope.since,
        _clocks.c.case_opened_at < scope.until,
    ]
    if scope.case_type:
        where.append(of_type(_clocks.c.case_id, scope.case_type))
    if scope.readable is not None:
        where.append(scope.readable(_clocks.c.case_id))
    return where


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
        .where(
            *case_clock_filter(whole, scope),
            whole.c.status == ClockStatus.BREACHED,
            whole.c.stopped_at.is_not(None),
            ~sla_ledger.exempted(whole.c.id),
        )
        .order_by(over.desc(), whole.c.case_id)
        .limit(limit)
    )
    open_rows = _open_breached_cases(session, scope)
    if scope.department:
        # Every kind named: a range of ix_sla_clocks_by_department per kind (it leads with the kind).
        took_part = select(_clocks.c.case_id).where(_clocks.c.kind.in_(list(ClockKind)),
                                                    _clocks.c.department == scope.department)
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

"""The whole report as data: every section for one period and filter, built by the report
queries (`reports.scope` lists them). Renderers (`reports.render`) only format it; JSON is its ``to_dict()``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from core.errors import InvalidData
from org.chart import Company
from reports.cases import OpenCase, open_cases
from reports.departments import DepartmentRow, department_rows
from reports.leads import LeadFunnel, lead_funnel
from reports.ledger import CaseLedger, LedgerCell, late_cases, ledger
from reports.outcomes import LEAD_DISPUTE, LeadFigures, lead_figures
from reports.scope import Scope, report_zone
from reports.trend import WeekTrend, weekly_trend

DEFAULT_LIMIT = 10
"""Rows in the lists of late and open cases."""


@dataclass(frozen=True)
class Report:
    scope: Scope
    now: datetime
    """The instant open cases are measured against."""
    tz: str
    """Time zone of the weeks and of the dates shown."""
    departments: list[DepartmentRow]
    ledger: list[LedgerCell]
    late_cases: list[CaseLedger]
    open_cases: list[OpenCase]
    trend: list[WeekTrend]
    leads: LeadFigures | None
    """None when a case-type filter excludes lead disputes."""
    funnel: LeadFunnel | None = None
    """The lead funnel (reports.leads); None when the company keeps no leads (no lead departments
    given) or a filter excludes them."""

    @property
    def totals(self) -> DepartmentRow:
        """The company line: counts added up over the department rows (percentiles do not add up,
        so they are left out)."""
        rows = self.departments
        return DepartmentRow(
            department="*",
            steps=sum(r.steps for r in rows),
            met=sum(r.met for r in rows),
            breached=sum(r.breached for r in rows),
            running=sum(r.running for r in rows),
            late_minutes=sum(r.late_minutes for r in rows),
            exempted=sum(r.exempted for r in rows),
            cases_requested=sum(r.cases_requested for r in rows),
            case_breaches=sum(r.case_breaches for r in rows),
            waiting_breaches=sum(r.waiting_breaches for r in rows),
            ledger_cases=sum(r.ledger_cases for r in rows),
            ledger_minutes=sum(r.ledger_minutes for r in rows),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: instants in ISO 8601 UTC, computed shares included."""
        return {
            "period": {"since": self.scope.since.isoformat(), "until": self.scope.until.isoformat()},
            "filters": {"department": self.scope.department, "case_type": self.scope.case_type},
            "now": self.now.isoformat(),
            "tz": self.tz,
            "departments": [_plain(row, compliance=row.compliance, finished=row.finished) for row in self.departments],
            "totals": _plain(self.totals, compliance=self.totals.compliance, finished=self.totals.finished),
            "ledger": [_plain(cell) for cell in self.ledger],
            "late_cases": [_plain(case) for case in self.late_cases],
            "open_cases": [_plain(case) for case in self.open_cases],
            "trend": [_plain(week, compliance=week.compliance) for week in self.trend],
            "leads": None if self.leads is None else _plain(self.leads, acceptance=self.leads.acceptance),
            "funnel": None if self.funnel is None else self.funnel.to_dict(),
        }


def _plain(item: Any, **extra: Any) -> dict[str, Any]:
    data = {**dataclasses.asdict(item), **extra}
    return {key: _json_value(value) for key, value in data.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def check_filters(company: Company, *, department: str | None, case_type: str | None) -> None:
    """Refuse unknown codes up front: a typo would otherwise give an empty report."""
    if department is not None and department not in company.config.departments:
        raise InvalidData(f"unknown department {department!r}; known: {', '.join(company.config.departments)}")
    if case_type is not None:
        company.case_type(case_type)


def build_report(
    session: Session,
    company: Company,
    *,
    since: datetime,
    until: datetime,
    department: str | None = None,
    case_type: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    limit: int = DEFAULT_LIMIT,
    lead_departments: tuple[str, str] | None = None,
) -> Report:
    """Run every report query for ``[since, until)``. ``now`` (default: ``until``) is when open
    cases' remaining time is measured and open steps are judged (`sla.compliance`); ``tz``
    (default: the head office's) cuts the weeks. ``lead_departments`` are the departments that
    exchange leads (sales, marketing: `leads.report.lead_departments`), for the lead funnel; None:
    the company keeps no leads."""
    check_filters(company, department=department, case_type=case_type)
    scope = Scope(since=since, until=until, department=department, case_type=case_type, now=now)
    moment = scope.at
    zone = tz or report_zone(company)
    with_leads = case_type in (None, LEAD_DISPUTE)
    cells = ledger(session, scope)
    return Report(
        scope=scope,
        now=moment,
        tz=str(zone),
        departments=department_rows(session, scope, ledger_cells=cells),
        ledger=cells,
        late_cases=late_cases(session, scope, limit=limit),
        open_cases=open_cases(session, company, now=moment, department=department, case_type=case_type, limit=limit),
        trend=weekly_trend(session, scope, zone),
        leads=lead_figures(session, company, scope) if with_leads else None,
        funnel=_funnel(session, lead_departments, scope, zone, moment) if with_leads else None,
    )


def _funnel(
    session: Session, lead_departments: tuple[str, str] | None, scope: Scope, zone: tzinfo, now: datetime
) -> LeadFunnel | None:
    """The lead funnel, for the whole company or the departments that exchange leads."""
    if lead_departments is None or scope.department not in (None, *lead_departments):
        return None
    return lead_funnel(session, since=scope.since, until=scope.until, tz=zone, now=now)

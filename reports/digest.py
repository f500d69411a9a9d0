"""Scheduled messages that summarise cases: the daily digest and the weekly lead-quality report.

Like `notifications.events`, these only read the database and write outbox rows, inside the
caller's transaction; a scheduler (a Prefect flow) calls them. Dedupe keys carry the local day
or ISO week, so running a schedule twice sends once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.clock import ensure_utc
from notifications import context as ctx
from notifications.enqueue import enqueue, message_rows
from org import audience as recipients
from reports.outcomes import lead_figures
from reports.scope import Scope
from sla.ledger import breached_by_deadline
from sla.model import ClockKind
from state_machines.values import label_text
from storage.models import Case, SlaClock

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from org.chart import Company

DIGEST_LIMIT = 50
"""Items per list in a digest; the totals are always exact."""


def enqueue_daily_digests(session: Session, company: Company, *, now: datetime, skip_empty: bool = True) -> int:
    """One digest per department head (for the departments they head and those below them):
    open cases by remaining business time, and the breaches of yesterday in the head's calendar.
    Returns the number of rows written."""
    now = ensure_utc(now)
    written = 0
    for head, departments in _headed(company).items():
        locale = recipients.locale_of(company, head)
        tz = recipients.calendar_of_person(company, head).config.tz
        zone = ZoneInfo(tz)
        today = now.astimezone(zone).date()
        day_end = datetime(today.year, today.month, today.day, tzinfo=zone)
        yesterday = today - timedelta(days=1)
        day_start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=zone)
        open_cases = _open_cases(session, company, departments, now, locale)
        breaches = _breaches(session, company, departments, day_start, day_end, now, locale)
        if skip_empty and not open_cases and not breaches:
            continue
        context = {
            **ctx.base(company, head, locale, tz),
            "date": today.isoformat(),
            "departments": [ctx.department_name(company, d, locale) for d in departments],
            "open_total": len(open_cases),
            "open_cases": open_cases[:DIGEST_LIMIT],
            "breaches_total": len(breaches),
            "breaches_yesterday": breaches[:DIGEST_LIMIT],
        }
        written += len(
            enqueue(session, message_rows(
                session,
                company,
                kind="digest",
                recipient=head,
                context=context,
                scope=f"digest={today.isoformat()}",
                now=now,
                department=departments[0],
            ))
        )
    return written


def _headed(company: Company) -> dict[str, list[str]]:
    """Head -> the departments they head and every department below those."""
    departments = company.config.departments
    result: dict[str, list[str]] = {}
    for code in departments:
        cursor: str | None = code
        while cursor is not None:
            codes = result.setdefault(departments[cursor].head, [])
            if code not in codes:
                codes.append(code)
            cursor = departments[cursor].parent
    return result


def _open_cases(
    session: Session, company: Company, departments: list[str], now: datetime, locale: str
) -> list[dict[str, Any]]:
    rows = []
    for case in session.scalars(
        select(Case).where(Case.closed_at.is_(None), Case.owner_department.in_(departments)).order_by(Case.id)
    ):
        clock = session.scalars(
            select(SlaClock)
            .where(SlaClock.case_id == case.id, SlaClock.kind == ClockKind.STEP, SlaClock.stopped_at.is_(None))
            .order_by(SlaClock.id.desc())
            .limit(1)
        ).first()
        remaining = None
        if clock is not None:
            remaining = ctx.clock_context(session, company, case, clock, now, locale)["remaining_minutes"]
        item = ctx.case_context(company, case, locale)
        rows.append(
            {
                key: item[key]
                for key in ("id", "type_label", "state_label", "owner_department_name", "owner_person_name", "due_at")
            }
            | {"remaining_minutes": remaining}
        )
    return sorted(rows, key=lambda r: (r["remaining_minutes"] is None, r["remaining_minutes"] or 0.0, r["id"]))


def _breaches(
    session: Session, company: Company, departments: list[str], start: datetime, end: datetime, now: datetime,
    locale: str,
) -> list[dict[str, Any]]:
    """Steps whose deadline fell in the day and that are breached (`sla.ledger`: also one past its
    deadline that no sweep has recorded yet)."""
    found = breached_by_deadline(session, departments=departments, start=start, end=end, now=now)
    by_id = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_({c.case_id for c in found})))}
    return [
        {
            "case_id": clock.case_id,
            "type_label": ctx.case_context(company, by_id[clock.case_id], locale)["type_label"],
            "state_label": ctx.state_label(company, by_id[clock.case_id].case_type, clock.state, locale),
            "department_name": ctx.department_name(company, clock.department, locale),
            "person_name": ctx.person_name(company, clock.person, locale),
            "deadline_at": ctx.iso(clock.deadline_at),
        }
        for clock in found
    ]


@dataclass(frozen=True)
class LeadReport:
    """What only sales knows: the CRM's lead count and what it asks marketing for."""

    total_leads: int
    asks: str
    expected_result: str
    lead_url: str | None = None
    """Link pattern to a lead in the CRM, e.g. ``https://crm.example/leads/{lead_id}``."""


def enqueue_lead_report(
    session: Session, company: Company, report: LeadReport, *, now: datetime, case_type: str = "lead_dispute"
) -> int:
    """The weekly lead-quality report from the requesting department's head (sales) to the
    performing department's head (marketing): the leads disputed this ISO week (Monday to Sunday
    in the reader's calendar), each with its dispute's outcome, and how many were decided
    non-target."""
    now = ensure_utc(now)
    definition = company.case_type(case_type)
    sender, reader = company.head_of(definition.requester), company.head_of(definition.performer)
    locale = recipients.locale_of(company, reader)
    tz = recipients.calendar_of_person(company, reader, definition.performer).config.tz
    today = now.astimezone(ZoneInfo(tz)).date()
    monday = today - timedelta(days=today.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(tz))
    disputes = session.scalars(
        select(Case)
        .where(Case.case_type == case_type, Case.opened_at >= start, Case.opened_at < start + timedelta(days=7))
        .order_by(Case.id)
    ).all()
    non_target = [
        {
            "lead_id": str(case.data.get("lead_id", "")),
            "reason": str(case.data.get("reason", "")),
            "case_id": case.id,
            "status_label": ctx.state_label(company, case.case_type, case.state, locale),
            "url": report.lead_url.format(lead_id=case.data.get("lead_id", "")) if report.lead_url else None,
        }
        for case in disputes
    ]
    # Counted by the report's own query: a lead is non-target once a dispute about it was decided
    # so (the type's declared non-target outcome), not while a dispute is open or after marketing kept it.
    figures = lead_figures(session, company, Scope(since=start, until=start + timedelta(days=7)), case_type=case_type)
    year, week, _ = monday.isocalendar()
    context = {
        **ctx.base(company, reader, locale, tz),
        "from_name": company.person_name(sender, locale),
        "from_department_name": company.department_name(definition.requester, locale),
        "week_start": monday.isoformat(),
        "week_end": (monday + timedelta(days=6)).isoformat(),
        "total_leads": report.total_leads,
        "non_target_count": figures.non_target_leads,
        "disputed_count": figures.disputed_leads,
        "non_target": non_target,
        "asks": report.asks,
        "expected_result": report.expected_result,
    }
    return len(
        enqueue(session, message_rows(
            session,
            company,
            kind="lead_report",
            recipient=reader,
            context=context,
            scope=f"lead_report={year}-W{week:02d}",
            now=now,
            department=definition.performer,
        ))
    )


def enqueue_sla_report(
    session: Session,
    company: Company,
    *,
    recipient: str,
    rows: list[dict[str, Any]],
    since: datetime,
    until: datetime,
    department: str | None,
    now: datetime,
    link: str | None = None,
) -> int:
    """The weekly SLA figures for one department's head (``department``) or for the director
    (``None``: every department). ``rows`` are the report's per-department figures; the dedupe
    key carries the period, so a schedule that runs twice sends once."""
    now = ensure_utc(now)
    locale = recipients.locale_of(company, recipient)
    tz = recipients.calendar_of_person(company, recipient, department).config.tz
    zone = ZoneInfo(tz)
    context = {
        **ctx.base(company, recipient, locale, tz),
        "scope_name": company.department_name(department, locale)
        if department
        else label_text(company.config.company.name, locale),
        "period_start": since.astimezone(zone).date().isoformat(),
        "period_end": (until.astimezone(zone) - timedelta(seconds=1)).date().isoformat(),
        "rows": [{**row, "department_name": company.department_name(row["department"], locale)} for row in rows],
        "link": link,
    }
    scope = f"sla_report={department or 'company'}:{since.isoformat()}"
    return len(
        enqueue(session, message_rows(
            session,
            company,
            kind="sla_report",
            recipient=recipient,
            context=context,
            scope=scope,
            now=now,
            department=department,
        ))
    )

"""The weekly lead feedback letter between the heads of sales and marketing.

Each head gets one letter from the other: the leads received this ISO week and today (from the
lead records, not typed in), the non-target leads of the day and of the week with a link to
each and the disputes about them, and the request and expected result the *sending* head keeps
(``slaflow leads request`` or ``PUT /api/leads/feedback/{department}``). Like the other
scheduled messages it only reads and writes outbox rows in the caller's transaction; the dedupe
key carries the ISO week and the sender, so a schedule that fires twice sends once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select

from core.clock import ensure_utc
from leads.service import feedback_request, lead_disputes, lead_link, leads_config
from notifications import context as ctx
from notifications.enqueue import enqueue, message_rows
from org import audience as recipients
from storage.models import Lead

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from org.chart import Company

KIND = "lead_feedback"
LIST_LIMIT = 100
"""Non-target leads listed per letter; the counts are always exact."""


def enqueue_lead_letters(session: Session, company: Company, *, now: datetime, again: bool = False) -> int:
    """Queue this week's letter from the head of sales to the head of marketing and back.
    ``again`` sends even if this week's letter went out already (on demand). Returns rows written."""
    config = leads_config(company)
    now = ensure_utc(now)
    written = 0
    for sender_department, reader_department in ((config.sales, config.marketing), (config.marketing, config.sales)):
        context = letter_context(session, company, sender_department, reader_department, now)
        reader = context["recipient"]["id"]
        scope = f"{KIND}={context['week']}:{sender_department}" + (f"@{now.isoformat()}" if again else "")
        rows = message_rows(session, company, kind=KIND, recipient=reader, context=context, scope=scope, now=now,
                            department=reader_department)
        written += len(enqueue(session, rows))
    return written


def letter_context(
    session: Session, company: Company, sender_department: str, reader_department: str, now: datetime
) -> dict[str, Any]:
    """Everything one letter says, as template variables (plain JSON: it is stored in the outbox)."""
    sender, reader = company.head_of(sender_department), company.head_of(reader_department)
    locale = recipients.locale_of(company, reader)
    tz = recipients.calendar_of_person(company, reader, reader_department).config.tz
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    day_start = datetime(today.year, today.month, today.day, tzinfo=zone)
    week_start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    year, week, _ = monday.isocalendar()
    request = feedback_request(session, sender_department)
    non_target_week = _non_target(session, company, week_start, now, locale)
    non_target_today = [item for at, item in non_target_week if at >= day_start]
    return {
        **ctx.base(company, reader, locale, tz),
        "week": f"{year}-W{week:02d}",
        "week_start": monday.isoformat(),
        "week_end": (monday + timedelta(days=6)).isoformat(),
        "today": today.isoformat(),
        "from_name": company.person_name(sender, locale),
        "from_department_name": company.department_name(sender_department, locale),
        "leads_week": _received(session, week_start, now),
        "leads_today": _received(session, day_start, now),
        "qualified_week": _count(session, Lead.qualified_at, week_start, now),
        "taken_week": _count(session, Lead.taken_at, week_start, now),
        "answered_late_week": _answered_late(session, week_start, now),
        "non_target_week_count": len(non_target_week),
        "non_target_week": [item for _, item in non_target_week[:LIST_LIMIT]],
        "non_target_today_count": len(non_target_today),
        "non_target_today": non_target_today[:LIST_LIMIT],
        "request": request.request if request else None,
        "expected_result": request.expected_result if request else None,
    }


def _received(session: Session, since: datetime, until: datetime) -> int:
    return _count(session, Lead.received_at, since, until)


def _count(session: Session, column: Any, since: datetime, until: datetime) -> int:
    query = select(func.count()).select_from(Lead).where(column >= ensure_utc(since), column <= ensure_utc(until))
    return int(session.scalar(query) or 0)


def _answered_late(session: Session, since: datetime, now: datetime) -> int:
    """Leads received since ``since`` whose first response missed its deadline (as of ``now``)."""
    answered = func.coalesce(Lead.taken_at, Lead.non_target_at)
    late = or_(answered > Lead.first_response_due_at, and_(answered.is_(None), Lead.first_response_due_at < now))
    query = select(func.count()).select_from(Lead).where(
        Lead.received_at >= ensure_utc(since), Lead.received_at <= ensure_utc(now), late
    )
    return int(session.scalar(query) or 0)


def _non_target(
    session: Session, company: Company, since: datetime, until: datetime, locale: str
) -> list[tuple[datetime, dict[str, Any]]]:
    """Leads marked non-target in ``[since, until]`` (up to the letter's instant), oldest first."""
    query = (
        select(Lead)
        .where(Lead.non_target_at >= ensure_utc(since), Lead.non_target_at <= ensure_utc(until))
        .order_by(Lead.non_target_at, Lead.id)
    )
    return [
        (lead.non_target_at, {
            "key": lead.external_key,
            "at": ctx.iso(lead.non_target_at),
            "reason": lead.non_target_reason or "",
            "customer": lead.customer,
            "channel": lead.channel,
            "url": lead_link(company, lead),
            "disputes": [
                {"case_id": case.id, "state_label": ctx.state_label(company, case.case_type, case.state, locale)}
                for case in lead_disputes(session, lead)
            ],
        })
        for lead in session.scalars(query)
        if lead.non_target_at is not None
    ]

"""The lead funnel on the dashboard: the last four ISO weeks (this one included) and their
months, for people who may see leads (sales, marketing, their heads' managers, the director)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy.orm import Session

from core.errors import NotPermitted
from leads.config import leads_section
from leads.service import check_lead_access
from org.chart import Actor, Company
from reports.leads import LeadFunnel, lead_funnel

WEEKS = 4


def board_funnel(session: Session, company: Company, actor: Actor, now: datetime, tz: tzinfo) -> LeadFunnel | None:
    """None when the company keeps no leads or the viewer may not see them."""
    if leads_section(company) is None:
        return None
    try:
        check_lead_access(company, actor)
    except NotPermitted:
        return None
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=WEEKS - 1)
    since = datetime.combine(monday, time(), tzinfo=tz)
    return lead_funnel(session, since=since, until=now + timedelta(microseconds=1), tz=tz, now=now, groups=False)

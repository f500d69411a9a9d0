"""How old each duty's latest information is now (issue 19, point 6): the ``as_of`` of its latest
delivery with figures, aged in the owing department's business minutes up to ``now``, and stale
past the duty's ``figures.max_age``. Shown by ``slaflow duties``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from duties.config import SOURCE, DutyConfig, duties_of
from org.chart import Company
from state_machines import duty as duty_type
from storage.models import Case, CaseEvent


@dataclass(frozen=True)
class InformationAge:
    duty: str
    department: str
    delivered_at: datetime | None
    as_of: datetime | None
    """When the latest delivered figures were taken (None: no delivery with figures yet)."""
    age_minutes: float | None
    """Business minutes of the owing department from ``as_of`` to now."""
    stale: bool
    """Older than ``figures.max_age``, or never delivered for a duty with a figures schema."""


def information_age(session: Session, company: Company, duty: DutyConfig, now: datetime) -> InformationAge:
    now = ensure_utc(now)
    row = session.execute(
        select(CaseEvent.at, CaseEvent.payload)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.case_type == duty_type.NAME, Case.external_source == SOURCE,
               Case.external_key.startswith(f"{duty.name}:", autoescape=True), CaseEvent.trigger == duty_type.DELIVER)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
    ).first()
    as_of_text = row.payload.get("as_of") if row is not None and isinstance(row.payload, dict) else None
    as_of = ensure_utc(datetime.fromisoformat(as_of_text)) if isinstance(as_of_text, str) else None
    if as_of is None:
        return InformationAge(duty.name, duty.department, row.at if row else None, None, None,
                              stale=duty.figures is not None)
    age = company.calendar_of(duty.department).business_minutes_between(as_of, now) if as_of < now else 0.0
    limit = duty.figures.max_age if duty.figures is not None else None
    return InformationAge(duty.name, duty.department, row.at if row else None, as_of, round(age, 1),
                          stale=limit is not None and age > limit)


def information_ages(session: Session, company: Company, now: datetime) -> list[InformationAge]:
    return [information_age(session, company, duty, now) for duty in duties_of(company)]

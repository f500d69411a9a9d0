"""When a duty falls due and by when each occurrence must be met (pure: no database), and the
``duty`` case type specialised for one occurrence (see `state_machines.duty`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronsim import CronSim

from core.clock import ensure_utc
from core.errors import SlaflowError
from duties.config import CronSchedule, DutyConfig, local_minutes
from org.chart import Company
from sla.calendar import NO_WORK_HORIZON_YEARS, BusinessCalendar
from state_machines import duty as duty_type
from state_machines.schema import CaseTypeDef


def occurrences(duty: DutyConfig, company: Company, start: datetime, end: datetime) -> list[datetime]:
    """The instants (UTC) in ``(start, end]`` at which the duty falls due."""
    start, end = ensure_utc(start), ensure_utc(end)
    if end <= start:
        return []
    schedule = duty.schedule
    if isinstance(schedule, CronSchedule):
        found = []
        days_of = company.calendars[schedule.calendar] if schedule.calendar is not None else None
        for moment in CronSim(schedule.cron, start.astimezone(ZoneInfo(schedule.tz))):
            instant = moment.astimezone(UTC)
            if instant > end:
                break
            if days_of is None or days_of.day_hours(instant.astimezone(days_of.tz).date()):
                found.append(instant)
        return found
    calendar = company.calendars[schedule.working_days]
    day, last = start.astimezone(calendar.tz).date(), end.astimezone(calendar.tz).date()
    found = []
    while day <= last:
        hours = calendar.day_hours(day)
        if hours:
            minute = local_minutes(schedule.at) if schedule.at is not None else hours[0][0]
            instant = _local(calendar, day, minute)
            if start < instant <= end:
                found.append(instant)
        day += timedelta(days=1)
    return found


def deadline_minutes(duty: DutyConfig, company: Company, occurrence: datetime) -> float:
    """The occurrence's target in the owing department's business minutes."""
    if duty.deadline.business is not None:
        return duty.deadline.business
    assert duty.deadline.at is not None
    calendar = company.calendar_of(duty.department)
    minute = local_minutes(duty.deadline.at)
    day = occurrence.astimezone(calendar.tz).date()
    for _ in range(366 * NO_WORK_HORIZON_YEARS):
        if calendar.day_hours(day):
            candidate = _local(calendar, day, minute)
            if candidate > occurrence:
                return round(calendar.business_minutes_between(occurrence, candidate), 3)
        day += timedelta(days=1)
    raise SlaflowError(f"duty {duty.name!r}: no working day with {duty.deadline.at} ahead of {occurrence:%Y-%m-%d}")


def occurrence_definition(duty: DutyConfig, target: float) -> CaseTypeDef:
    """The ``duty`` case type specialised for this duty and one occurrence's target. Cached, so
    each duty and target builds (and fingerprints) its definition once."""
    return _occurrence_definition(duty.model_dump_json(), target)


@lru_cache(maxsize=256)
def _occurrence_definition(duty_json: str, target: float) -> CaseTypeDef:
    duty = DutyConfig.model_validate_json(duty_json)
    return duty_type.duty_definition(
        requester=duty.requester,
        performer=duty.department,
        role=duty.role,
        target=target,
        warn_at=duty.warn_at,
        requires=duty.requires,
        label=duty.label,
    )


def external_key(duty: DutyConfig, occurrence: datetime) -> str:
    return f"{duty.name}:{ensure_utc(occurrence).isoformat()}"


def _local(calendar: BusinessCalendar, day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=calendar.tz).astimezone(UTC)

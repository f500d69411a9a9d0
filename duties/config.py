"""The ``duties:`` section of the company file: what each recurring duty is, who owes it to whom,
on which schedule and by when, checked against the rest of the configuration.

A duty says that one department owes another a piece of information on a schedule (accounting
tells sales the customer payments every working day by 10:00). ``runtime.company`` composes this
section into the company file; the rest of ``duties`` reads it through `duties_of`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from duties.figures import FiguresConfig
from org.audience import SPEC_HELP, AudienceSpec, Named, is_audience
from state_machines.values import BusinessMinutes, Identifier, Label

if TYPE_CHECKING:
    from org.chart import Company, OrgConfig


SOURCE = "duty"
"""``external_source`` of duty cases; the key is ``<duty name>:<occurrence ISO>``."""

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _local_time(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'got the number {value}, not a time: quote times in YAML, e.g. "10:00"')
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"{value!r} is not a local time in HH:MM format (00:00 to 23:59)")
    return value


LocalTime = Annotated[str, BeforeValidator(_local_time)]


def local_minutes(hhmm: str) -> int:
    """Minutes after midnight of an ``HH:MM`` local time."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CronSchedule(_Strict):
    """A five-field cron expression read in an explicit time zone (``0 9 * * 1`` = Mondays 09:00)."""

    cron: str
    tz: str
    calendar: str | None = None
    """Optional calendar name: occurrences on its days off (its local date) are skipped."""

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r}: write a five-field cron expression (minute hour day month weekday)")
        try:
            CronSim(value, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a cron expression: {exc}") from None
        return value

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as 'Europe/Moscow'") from None
        return value


class WorkingDaysSchedule(_Strict):
    """Every working day of a calendar (holidays and transfers included), at a local time or,
    without ``at``, when work starts that day."""

    working_days: str
    """A calendar name from ``calendars:``."""
    at: LocalTime | None = None


class DeadlineConfig(_Strict):
    """When an occurrence must be met: business time after it falls due, in the owing
    department's calendar, or a fixed local time there (on the first working day that has it
    still ahead)."""

    business: BusinessMinutes | None = None
    at: LocalTime | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DeadlineConfig:
        if (self.business is None) == (self.at is None):
            raise ValueError("give exactly one of 'business' (e.g. '2h') or 'at' (e.g. '10:00')")
        if self.business is not None and self.business <= 0:
            raise ValueError("a business-time deadline must be more than zero")
        return self


class DutyConfig(_Strict):
    """One recurring duty of the ``duties:`` list."""

    name: Identifier
    label: Label
    department: str
    """The department that owes the information (it owns the ``due`` step)."""
    role: str | None = None
    """Role inside that department that holds the step (default: anyone in it)."""
    requester: str
    """The department that depends on the information (its head may waive an occurrence)."""
    schedule: CronSchedule | WorkingDaysSchedule
    deadline: DeadlineConfig
    warn_at: float = Field(0.75, gt=0, lt=1)
    notify: list[str] = []
    """Who is told, as notification audiences: ``requester``, ``head:sales``, ``person:ivanov``..."""
    requires: list[Identifier] = []
    """Payload fields ``deliver`` needs, e.g. ``link`` (an attachment) or ``figures``."""
    figures: FiguresConfig | None = None
    """Structured figures a delivery must carry, checked against this schema (duties.figures)."""

    @field_validator("notify")
    @classmethod
    def _check_notify(cls, value: list[str]) -> list[str]:
        for spec in value:
            if not is_audience(spec):
                raise ValueError(f"{spec!r} is not an audience; use {SPEC_HELP}")
        return value


def duty_problems(config: OrgConfig, duties: Sequence[DutyConfig]) -> list[str]:
    """Cross-references of the ``duties:`` list against the rest of the config (for
    ``runtime.company.CompanyConfig``), each as ``duties[i].field: problem``."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, duty in enumerate(duties):
        where = f"duties[{index}]"
        if duty.name in seen:
            problems.append(f"{where}.name: {duty.name!r} is used by an earlier duty")
        seen.add(duty.name)
        for attr in ("department", "requester"):
            if getattr(duty, attr) not in config.departments:
                problems.append(f"{where}.{attr}: {getattr(duty, attr)!r} is not in departments")
        schedule = duty.schedule
        calendar, field = (
            (schedule.working_days, "working_days")
            if isinstance(schedule, WorkingDaysSchedule)
            else (schedule.calendar, "calendar")
        )
        if calendar is not None and calendar not in config.calendars:
            problems.append(f"{where}.schedule.{field}: {calendar!r} is not in calendars")
        dept = config.departments.get(duty.department)
        if dept is not None and duty.role not in (None, "head") and not any(duty.role in m.roles for m in dept.members):
            problems.append(f"{where}.role: nobody in {duty.department!r} has the role {duty.role!r}")
        for spec in duty.notify:
            parsed = AudienceSpec.read(spec) or AudienceSpec()
            known = config.people if parsed.named == Named.PERSON else config.departments
            if parsed.named is not None and parsed.name not in known:
                problems.append(f"{where}.notify: {spec!r} names nobody in the company config")
    return problems


def duties_of(company: Company) -> list[DutyConfig]:
    """The company's ``duties:`` section (empty when the composed config has none)."""
    return list(company.part("duties", list) or [])

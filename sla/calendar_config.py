"""The configuration of a business calendar (``calendars:`` in the company file): weekly working
hours, a country's public holidays and transfers, and the company's own holidays, extra working
days and shortened days, validated. `sla.calendar.BusinessCalendar` computes working time from it;
semantics are documented in ``docs/calendar.md``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_pkg
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)

DAY_MINUTES = 24 * 60
_TIME_RE = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")


def _time_str(value: object) -> object:
    """Before-validator for "HH:MM" strings with a hint for the classic YAML 1.1 trap."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f'got the number {value}, not a time: quote times in YAML, e.g. "14:00" '
            "(unquoted 14:00 is read as a base-60 number)"
        )
    return value


TimeStr = Annotated[str, BeforeValidator(_time_str)]
Hours = list[tuple[TimeStr, TimeStr]]


def _minute_of_day(label: str, value: str) -> int:
    m = _TIME_RE.match(value)
    if m is None:
        raise ValueError(f"{label}: {value!r} is not a time in HH:MM format between 00:00 and 24:00")
    if value == "24:00":
        return DAY_MINUTES
    return int(m.group(1)) * 60 + int(m.group(2))


def parse_hours(label: str, intervals: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    """Validate one day's intervals and return them as (start, end) minutes of the day, merged."""
    parsed: list[tuple[int, int]] = []
    previous: tuple[str, str] | None = None
    for start_s, end_s in intervals:
        start, end = _minute_of_day(label, start_s), _minute_of_day(label, end_s)
        if start == DAY_MINUTES:
            raise ValueError(f"{label}: interval {start_s}-{end_s} starts at 24:00 (only an end may be 24:00)")
        if end < start:
            raise ValueError(f"{label}: interval {start_s}-{end_s} ends before it starts")
        if end == start:
            raise ValueError(f"{label}: interval {start_s}-{end_s} is empty")
        if parsed and previous is not None:
            if start < parsed[-1][0]:
                raise ValueError(
                    f"{label}: interval {start_s}-{end_s} is listed after {previous[0]}-{previous[1]}; "
                    "list the intervals of a day in order"
                )
            if start < parsed[-1][1]:
                raise ValueError(f"{label}: intervals {previous[0]}-{previous[1]} and {start_s}-{end_s} overlap")
        parsed.append((start, end))
        previous = (start_s, end_s)
    merged: list[tuple[int, int]] = []
    for start, end in parsed:  # touching intervals ([09:00,13:00] + [13:00,18:00]) are one
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _fmt_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class ExtraWorkingDay(BaseModel):
    """A date that is worked with its own hours, whatever the weekday or holidays say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: _dt.date
    hours: Hours = Field(min_length=1)

    @model_validator(mode="after")
    def _check_hours(self) -> ExtraWorkingDay:
        parse_hours(f"extra working day {self.date.isoformat()}", self.hours)
        return self


class ShortenedDay(BaseModel):
    """A date whose last ``minutes`` of work are cut (e.g. a pre-holiday day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: _dt.date
    minutes: int = Field(gt=0, le=DAY_MINUTES)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _country_codes() -> set[str]:
    """Country codes the holidays package knows, read from its registry (``list_supported_countries``
    imports all ~250 country modules: a quarter of a second on every command)."""
    from holidays.registry import EntityLoader

    return set(EntityLoader.get_country_codes(True))


class CalendarConfig(BaseModel):
    """One calendar of the company configuration (validated, immutable)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tz: str
    weekly_hours: dict[Weekday, Hours]
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    holidays: list[_dt.date] = []
    extra_working_days: list[ExtraWorkingDay] = []
    shortened_days: list[ShortenedDay] = []

    @field_validator("tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        hint = "use an IANA time zone name such as 'Europe/Moscow'"
        if value == "localtime" or value not in _known_zones():
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}: {hint}") from None
            if value == "localtime":
                raise ValueError(f"time zone {value!r} depends on the machine: {hint}")
        return value

    @field_validator("weekly_hours")
    @classmethod
    def _check_weekly(cls, value: dict[Weekday, Hours]) -> dict[Weekday, Hours]:
        for day, intervals in value.items():
            parse_hours(day, intervals)
        return value

    @field_validator("holidays_country")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in _country_codes():
            raise ValueError(
                f"holidays_country {value!r} is not a country known to the holidays package "
                f"{getattr(holidays_pkg, '__version__', '')} (use an ISO 3166-1 code such as 'RU' or 'PL')"
            )
        return code

    @model_validator(mode="after")
    def _check_dates(self) -> CalendarConfig:
        if self.holidays_subdiv is not None:
            if self.holidays_country is None:
                raise ValueError("holidays_subdiv is set but holidays_country is not")
            known = holidays_pkg.list_supported_countries().get(self.holidays_country, [])
            if self.holidays_subdiv not in known:
                raise ValueError(
                    f"holidays_subdiv {self.holidays_subdiv!r} is not a subdivision of {self.holidays_country} "
                    f"(known: {', '.join(known) or 'none'})"
                )
        extra_dates = [e.date for e in self.extra_working_days]
        for what, dates in (
            ("extra_working_days", extra_dates),
            ("shortened_days", [s.date for s in self.shortened_days]),
        ):
            seen: set[_dt.date] = set()
            for d in dates:
                if d in seen:
                    raise ValueError(f"{what}: {d.isoformat()} is listed twice")
                seen.add(d)
        both = sorted(set(self.holidays) & set(extra_dates))
        if both:
            raise ValueError(
                f"{both[0].isoformat()} is both in holidays and in extra_working_days; keep it in one of them"
            )
        return self

    def normalised(self) -> dict[str, Any]:
        """A canonical JSON-able form: equal for configs that describe the same calendar."""
        weekly = {}
        for day in WEEKDAYS:
            parsed = parse_hours(day, self.weekly_hours.get(day, []))
            if parsed:
                weekly[day] = [[_fmt_minute(a), _fmt_minute(b)] for a, b in parsed]
        return {
            "format": 1,
            "tz": self.tz,
            "weekly_hours": weekly,
            "holidays_country": self.holidays_country,
            "holidays_subdiv": self.holidays_subdiv,
            "holidays": sorted({d.isoformat() for d in self.holidays}),
            "extra_working_days": [
                {"date": e.date.isoformat(), "hours": [[_fmt_minute(a), _fmt_minute(b)] for a, b in hrs]}
                for e in sorted(self.extra_working_days, key=lambda e: e.date)
                for hrs in [parse_hours("extra", e.hours)]
            ],
            "shortened_days": [
                {"date": s.date.isoformat(), "minutes": s.minutes}
                for s in sorted(self.shortened_days, key=lambda s: s.date)
            ],
        }

"""Business calendars: working hours, holidays and SLA time arithmetic.

Pure: no I/O (apart from importing shipped data and the ``holidays`` package's tables), no
database, never reads the current time. Semantics are documented in ``docs/calendar.md``.

Performance: the working intervals of each local calendar year are computed once (lazily) as UTC
epoch-second floats in sorted lists, with a cumulative sum of working seconds; every query is a
couple of ``bisect`` look-ups, so its cost does not grow with the length of the budget.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_pkg
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from sla.ru_shortened_days import ru_shortened_minutes

__all__ = [
    "BusinessCalendar",
    "CalendarConfig",
    "ExtraWorkingDay",
    "NO_WORK_HORIZON_YEARS",
    "ShortenedDay",
    "Weekday",
    "transfer_substitutions",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)

#: A query that finds no working time in this many consecutive years raises ``ValueError``.
NO_WORK_HORIZON_YEARS = 5

_MIN_YEAR = 2  # keep local midnights of neighbouring years representable
_MAX_YEAR = 9998
_DAY_MINUTES = 24 * 60
_TIME_RE = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|24:00)$")
_INF = math.inf


# --------------------------------------------------------------------------- configuration


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
        return _DAY_MINUTES
    return int(m.group(1)) * 60 + int(m.group(2))


def _parse_hours(label: str, intervals: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    """Validate one day's intervals and return them as (start, end) minutes of the day, merged."""
    parsed: list[tuple[int, int]] = []
    previous: tuple[str, str] | None = None
    for start_s, end_s in intervals:
        start, end = _minute_of_day(label, start_s), _minute_of_day(label, end_s)
        if start == _DAY_MINUTES:
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
        _parse_hours(f"extra working day {self.date.isoformat()}", self.hours)
        return self


class ShortenedDay(BaseModel):
    """A date whose last ``minutes`` of work are cut (e.g. a pre-holiday day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: _dt.date
    minutes: int = Field(gt=0, le=_DAY_MINUTES)


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
            _parse_hours(day, intervals)
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
            seen: set[date] = set()
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
            parsed = _parse_hours(day, self.weekly_hours.get(day, []))
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
                for hrs in [_parse_hours("extra", e.hours)]
            ],
            "shortened_days": [
                {"date": s.date.isoformat(), "minutes": s.minutes}
                for s in sorted(self.shortened_days, key=lambda s: s.date)
            ],
        }


# --------------------------------------------------------------------------- computation


@dataclass(frozen=True, slots=True)
class _Table:
    """Working intervals of the loaded local years [lo_year, hi_year], as UTC epoch seconds."""

    lo_year: int
    hi_year: int
    lo_ts: float  # local 1 January lo_year, 00:00
    hi_ts: float  # local 1 January hi_year + 1, 00:00
    starts: list[float]
    ends: list[float]
    cum: list[float]  # cum[k] = working seconds in intervals before k; len(cum) == len(starts) + 1


_EMPTY = _Table(0, -1, _INF, -_INF, [], [], [0.0])


def _epoch(moment: datetime, what: str) -> float:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.timestamp()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _trim(hours: tuple[tuple[int, int], ...], minutes: int) -> tuple[tuple[int, int], ...]:
    """Drop the last ``minutes`` of work of a day (across as many intervals as needed)."""
    out = list(hours)
    while out and minutes > 0:
        start, end = out[-1]
        if end - start <= minutes:
            minutes -= end - start
            out.pop()
        else:
            out[-1] = (start, end - minutes)
            minutes = 0
    return tuple(out)


class BusinessCalendar:
    """Working time of one calendar and SLA arithmetic on it. Safe to share between threads."""

    name: str
    config: CalendarConfig
    tz: ZoneInfo
    fingerprint: str

    def __init__(self, config: CalendarConfig, name: str = "") -> None:
        self.name = name
        self.config = config
        self.tz = ZoneInfo(config.tz)
        normalised = json.dumps(config.normalised(), sort_keys=True, separators=(",", ":"))
        self.fingerprint = hashlib.sha256(normalised.encode()).hexdigest()[:16]

        weekly = {day: _parse_hours(day, config.weekly_hours.get(day, [])) for day in WEEKDAYS}
        self._weekly: tuple[tuple[tuple[int, int], ...], ...] = tuple(weekly[day] for day in WEEKDAYS)
        # Hours used for a country's working weekend day when the weekday it replaces is unknown.
        self._default_hours = next((h for h in self._weekly[:5] if h), ())
        self._extra = {
            e.date: _parse_hours(f"extra working day {e.date.isoformat()}", e.hours) for e in config.extra_working_days
        }
        self._holidays = frozenset(config.holidays)
        self._shortened = {s.date: s.minutes for s in config.shortened_days}
        self._country = config.holidays_country
        self._country_holidays: Any = None
        self._replaced: dict[date, date] = {}
        if self._country is not None:
            self._country_holidays = holidays_pkg.country_holidays(self._country, subdiv=config.holidays_subdiv)
            self._replaced = transfer_substitutions(self._country_holidays)

        self._years: dict[int, list[tuple[float, float]]] = {}
        self._table: _Table = _EMPTY
        self._lock = threading.Lock()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], name: str = "") -> BusinessCalendar:
        """Validate a mapping (e.g. parsed YAML) with :class:`CalendarConfig` and build the calendar."""
        return cls(CalendarConfig.model_validate(dict(data)), name=name)

    def __repr__(self) -> str:
        return f"BusinessCalendar(name={self.name!r}, tz={self.config.tz!r}, fingerprint={self.fingerprint!r})"

    # ----------------------------------------------------------------- public queries

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The earliest instant at which ``minutes`` of working time after ``start`` are used up."""
        s = _epoch(start, "start")
        if not 0 <= minutes < _INF:
            raise ValueError(f"minutes must be a finite number >= 0, got {minutes!r}")
        if minutes == 0:
            return start.astimezone(UTC)
        t = self._table
        if not t.lo_ts <= s <= t.hi_ts:
            t = self._cover(s, s)
        budget = minutes * 60.0
        while True:
            starts, cum = t.starts, t.cum
            i = bisect_right(starts, s)
            if i and s < t.ends[i - 1]:  # inside interval i - 1
                target = cum[i - 1] + (s - starts[i - 1]) + budget
                j = bisect_left(cum, target, i)
            else:  # before interval i
                target = cum[i] + budget
                j = bisect_left(cum, target, i + 1)
            if j < len(cum):
                k = j - 1
                return _utc(min(starts[k] + (target - cum[k]), t.ends[k]))
            t = self._extend_forward(t, s)

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes in ``[start, end)``; 0.0 if ``end <= start``."""
        s = _epoch(start, "start")
        e = _epoch(end, "end")
        if e <= s:
            return 0.0
        t = self._table
        if not (t.lo_ts <= s and e <= t.hi_ts):
            t = self._cover(s, e)
        return (self._position(t, e) - self._position(t, s)) / 60.0

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` lies inside a working interval (intervals are half-open)."""
        s = _epoch(at, "at")
        t = self._table
        if not t.lo_ts <= s < t.hi_ts:
            t = self._cover(s, s)
        i = bisect_right(t.starts, s)
        return bool(i) and s < t.ends[i - 1]

    def next_working_instant(self, at: datetime) -> datetime:
        """``at`` itself (in UTC) if it is working time, else the start of the next working interval."""
        s = _epoch(at, "at")
        t = self._table
        if not t.lo_ts <= s < t.hi_ts:
            t = self._cover(s, s)
        while True:
            i = bisect_right(t.starts, s)
            if i and s < t.ends[i - 1]:
                return at.astimezone(UTC)
            if i < len(t.starts):
                return _utc(t.starts[i])
            t = self._extend_forward(t, s)

    def working_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working intervals overlapping ``[start, end)``, clipped to it, as UTC datetimes."""
        s = _epoch(start, "start")
        e = _epoch(end, "end")
        if e <= s:
            return iter(())
        t = self._table
        if not (t.lo_ts <= s and e <= t.hi_ts):
            t = self._cover(s, e)
        return self._iter_intervals(t, start.astimezone(UTC), end.astimezone(UTC), s, e)

    # ----------------------------------------------------------------- internals

    @staticmethod
    def _iter_intervals(
        t: _Table, start: datetime, end: datetime, s: float, e: float
    ) -> Iterator[tuple[datetime, datetime]]:
        starts, ends = t.starts, t.ends
        i = bisect_right(starts, s) - 1
        if i < 0 or ends[i] <= s:
            i += 1
        while i < len(starts) and starts[i] < e:
            a = start if starts[i] <= s else _utc(starts[i])
            b = end if ends[i] >= e else _utc(ends[i])
            yield a, b
            i += 1

    @staticmethod
    def _position(t: _Table, x: float) -> float:
        """Working seconds between the start of the table and ``x`` (``x`` must be covered)."""
        i = bisect_right(t.starts, x)
        if i and x < t.ends[i - 1]:
            return t.cum[i - 1] + (x - t.starts[i - 1])
        return t.cum[i]

    def _local_year(self, ts: float) -> int:
        try:
            return datetime.fromtimestamp(ts, tz=self.tz).year
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"calendar {self.name!r}: instant {ts!r} is outside the supported range") from None

    def _cover(self, lo: float, hi: float) -> _Table:
        """Make sure the local years of ``lo`` and ``hi`` (and all between) are loaded."""
        lo_year, hi_year = self._local_year(lo), self._local_year(hi)
        with self._lock:
            t = self._table
            if t.hi_year >= t.lo_year:
                lo_year, hi_year = min(lo_year, t.lo_year), max(hi_year, t.hi_year)
            return self._load(lo_year, hi_year)

    def _extend_forward(self, t: _Table, after: float) -> _Table:
        """Load the next year, or raise if there has been no working time for too long."""
        last_work = max(after, t.ends[-1]) if t.ends else after
        if t.hi_year - self._local_year(last_work) >= NO_WORK_HORIZON_YEARS:
            raise ValueError(
                f"calendar {self.name!r} has no working time within {NO_WORK_HORIZON_YEARS} years "
                f"after {_utc(last_work).isoformat()}"
            )
        with self._lock:
            current = self._table
            return self._load(min(current.lo_year, t.lo_year), max(current.hi_year, t.hi_year + 1))

    def _load(self, lo_year: int, hi_year: int) -> _Table:
        """(Under the lock.) Compute missing years and publish a new table for [lo_year, hi_year]."""
        t = self._table
        if t.lo_year == lo_year and t.hi_year == hi_year:
            return t
        if lo_year < _MIN_YEAR or hi_year > _MAX_YEAR:
            raise ValueError(
                f"calendar {self.name!r}: working time is only computed for years {_MIN_YEAR}..{_MAX_YEAR}"
            )
        starts: list[float] = []
        ends: list[float] = []
        for year in range(lo_year, hi_year + 1):
            intervals = self._years.get(year)
            if intervals is None:
                intervals = self._years[year] = self._compute_year(year)
            for a, b in intervals:
                if ends and a <= ends[-1]:  # touching across midnight / the new year
                    ends[-1] = max(ends[-1], b)
                else:
                    starts.append(a)
                    ends.append(b)
        cum = [0.0] * (len(starts) + 1)
        total = 0.0
        for k in range(len(starts)):
            total += ends[k] - starts[k]
            cum[k + 1] = total
        table = _Table(
            lo_year, hi_year, self._midnight(date(lo_year, 1, 1)), self._midnight(date(hi_year + 1, 1, 1)),
            starts, ends, cum,
        )  # fmt: skip
        self._table = table
        return table

    def _midnight(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp()

    def _instant(self, day: date, minute: int) -> float:
        """Local wall-clock ``day`` + ``minute`` as epoch seconds (fold=0 in gaps and folds)."""
        if minute == _DAY_MINUTES:
            return self._midnight(day + timedelta(days=1))
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz).timestamp()

    def _compute_year(self, year: int) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        day = date(year, 1, 1)
        one = timedelta(days=1)
        while day.year == year:
            for a, b in self._day_hours(day):
                start, end = self._instant(day, a), self._instant(day, b)
                if end > start:  # a boundary inside a DST gap can empty an interval
                    out.append((start, end))
            day += one
        out.sort()
        merged: list[tuple[float, float]] = []
        for lo, hi in out:  # a boundary inside a DST gap can make neighbours overlap
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return merged

    def day_hours(self, day: date) -> tuple[tuple[int, int], ...]:
        """The local working intervals of ``day`` as (start, end) minutes of the day, after holidays,
        transfers, extra working days and shortening (for inspection and tests)."""
        with self._lock:  # the holidays object fills its years lazily
            return self._day_hours(day)

    def _day_hours(self, day: date) -> tuple[tuple[int, int], ...]:
        hours = self._extra.get(day)
        if hours is None:
            if day in self._holidays:
                hours = ()
            elif self._country_holidays is not None:
                hours = self._country_day(day)
            else:
                hours = self._weekly[day.weekday()]
        minutes = self._shortened.get(day)
        if minutes is None and self._country == "RU":
            minutes = ru_shortened_minutes(day)
        if minutes:
            hours = _trim(hours, minutes)
        return hours

    def _country_day(self, day: date) -> tuple[tuple[int, int], ...]:
        hol = self._country_holidays
        if hol.is_weekend(day) and hol.is_working_day(day):
            replaced = self._replaced.get(day)
            if replaced is not None and self._weekly[replaced.weekday()]:
                return self._weekly[replaced.weekday()]
            return self._weekly[day.weekday()] or self._default_hours
        if day in hol:
            return ()
        return self._weekly[day.weekday()]


def transfer_substitutions(country_holidays: Any) -> dict[date, date]:
    """Working weekend day -> the weekday whose day off it took, from a ``holidays`` object.

    Reads the package's transfer table (``special_public_holidays``: (to_month, to_day, from_month,
    from_day[, from_year]) per year); returns {} if that table is missing or has an unexpected shape.
    """
    out: dict[date, date] = {}
    try:
        mapping = getattr(country_holidays, "special_public_holidays", None) or {}
        for year, entries in mapping.items():
            items = entries if entries and isinstance(entries[0], tuple) else (entries,)
            for item in items:
                if len(item) == 4:
                    to_m, to_d, from_m, from_d = item
                    out[date(year, from_m, from_d)] = date(year, to_m, to_d)
                elif len(item) == 5:
                    to_m, to_d, from_m, from_d, from_y = item
                    out[date(from_y, from_m, from_d)] = date(year, to_m, to_d)
    except (TypeError, ValueError, AttributeError):
        return {}
    return out

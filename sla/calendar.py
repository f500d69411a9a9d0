"""Business calendars: working hours, holidays and SLA time arithmetic.

Pure: no I/O (apart from importing shipped data and the ``holidays`` package's tables), no
database, never reads the current time. Semantics are documented in ``docs/calendar.md``.

Performance: the working intervals of each local calendar year are computed once (lazily) as UTC
epoch-second floats in sorted lists, with a cumulative sum of working seconds; every query is a
couple of ``bisect`` look-ups, so its cost does not grow with the length of the budget.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_pkg

from sla.calendar_config import DAY_MINUTES, WEEKDAYS, CalendarConfig, parse_hours
from sla.holiday_transfers import transfer_substitutions
from sla.ru_shortened_days import ru_shortened_minutes

#: A query that finds no working time in this many consecutive years raises ``ValueError``.
NO_WORK_HORIZON_YEARS = 5

_MIN_YEAR = 2  # keep local midnights of neighbouring years representable
_MAX_YEAR = 9998
_INF = math.inf


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

        weekly = {day: parse_hours(day, config.weekly_hours.get(day, [])) for day in WEEKDAYS}
        self._weekly: tuple[tuple[tuple[int, int], ...], ...] = tuple(weekly[day] for day in WEEKDAYS)
        # Hours used for a country's working weekend day when the weekday it replaces is unknown.
        self._default_hours = next((h for h in self._weekly[:5] if h), ())
        self._extra = {
            e.date: parse_hours(f"extra working day {e.date.isoformat()}", e.hours) for e in config.extra_working_days
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
        if minute == DAY_MINUTES:
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

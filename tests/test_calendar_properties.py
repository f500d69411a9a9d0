"""Property tests of sla.calendar against an independent brute-force reference.

The reference knows nothing of the implementation: it steps through time one UTC minute at a
time and asks, for each minute, whether its local wall-clock time falls in that local day's working
minutes, computed from the raw config with the simplest possible logic (extra working day, else
holiday, else weekday; then drop the day's last N working minutes).

Generated interval boundaries never fall strictly inside the DST transition hour (02:00-03:00 in
Europe/Warsaw): such a wall-clock time does not exist (spring) or exists twice (autumn), and the
calendar resolves it by a rule (zoneinfo fold=0) that minute-by-minute wall-clock membership cannot
express. That rule is pinned by the example tests in test_calendar.py instead.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.calendar import BusinessCalendar
from sla.ru_shortened_days import RU_SHORTENED_DAYS

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW_DAYS = 21
# Windows around the 2026 Warsaw DST changes (29.03 and 25.10) and across the new year.
WINDOWS = (date(2026, 3, 18), date(2026, 10, 14), date(2026, 12, 21))
DST_DATES = {date(2026, 3, 29), date(2026, 10, 25)}
ZONES = ("Europe/Warsaw", "Asia/Tokyo", "Europe/Moscow")
# Boundaries strictly inside the transition hour are never generated (see the module docstring).
BOUNDARIES = [m for m in range(0, 24 * 60 + 1, 5) if not 120 < m < 180] + [7, 61, 183, 1439]

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# --------------------------------------------------------------------------- the reference


def ref_parse(hours: list[list[str]]) -> list[int]:
    minutes: list[int] = []
    for start, end in hours:
        a = int(start[:2]) * 60 + int(start[3:])
        b = int(end[:2]) * 60 + int(end[3:])
        minutes.extend(range(a, b))
    return sorted(minutes)


def ref_day_minutes(cfg: dict[str, Any], day: date) -> frozenset[int]:
    """The working minutes-of-day of a local date, straight from the raw config."""
    extra = {e["date"]: e["hours"] for e in cfg.get("extra_working_days", [])}
    shortened = {s["date"]: s["minutes"] for s in cfg.get("shortened_days", [])}
    key = day.isoformat()
    if key in extra:
        minutes = ref_parse(extra[key])
    elif key in cfg.get("holidays", []):
        minutes = []
    else:
        minutes = ref_parse(cfg["weekly_hours"].get(WEEKDAYS[day.weekday()], []))
    cut = shortened.get(key, 0)
    return frozenset(minutes[: max(0, len(minutes) - cut)])


@lru_cache(maxsize=4)
def ru_holidays() -> Any:
    return holidays.country_holidays("RU", years=range(2025, 2028))


def ref_ru_day_minutes(cfg: dict[str, Any], day: date) -> frozenset[int]:
    """RU reference for calendars with the same hours Monday to Friday and none at weekends."""
    if not ru_holidays().is_working_day(day):
        return frozenset()
    minutes = ref_parse(cfg["weekly_hours"].get("mon", []))
    cut = 60 if day in RU_SHORTENED_DAYS.get(day.year, ()) else 0
    return frozenset(minutes[: max(0, len(minutes) - cut)])


def offset_minutes(tz: ZoneInfo, minute: int) -> int:
    """The zone's UTC offset in minutes at the UTC minute ``minute`` since the epoch."""
    found = datetime.fromtimestamp(minute * 60, tz).utcoffset()
    assert found is not None
    return int(found // timedelta(minutes=1))


class Reference:
    """Minute-by-minute working flags over a window of local days."""

    def __init__(self, cfg: dict[str, Any], first_day: date, days: int, ru: bool = False) -> None:
        tz = ZoneInfo(cfg["tz"])
        self.lo = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=tz).timestamp()) // 60
        last = first_day + timedelta(days=days)
        self.hi = int(datetime(last.year, last.month, last.day, tzinfo=tz).timestamp()) // 60
        day_cache: dict[int, frozenset[int]] = {}
        self.working: list[bool] = []
        epoch_ordinal = date(1970, 1, 1).toordinal()
        offset = 0
        for k in range(self.lo, self.hi):
            if k == self.lo or k % 60 == 0:
                # The zone's offset, read once per UTC hour: the zones here change it on the hour
                # (checked against the hour's last minute), so every minute's wall-clock time is exact.
                offset = offset_minutes(tz, k)
                assert offset_minutes(tz, k - k % 60 + 59) == offset
            local = k + offset  # minutes since the epoch on the local wall clock
            day = local // 1440
            if day not in day_cache:
                d = date.fromordinal(epoch_ordinal + day)
                day_cache[day] = ref_ru_day_minutes(cfg, d) if ru else ref_day_minutes(cfg, d)
            self.working.append(local % 1440 in day_cache[day])
        # prefix[i] = working minutes in [lo, lo + i)
        self.prefix = [0]
        for w in self.working:
            self.prefix.append(self.prefix[-1] + w)

    @property
    def start_ts(self) -> float:
        return self.lo * 60.0

    @property
    def end_ts(self) -> float:
        return self.hi * 60.0

    def worked_before(self, ts: float) -> float:
        """Working seconds in [window start, ts)."""
        i = math.floor(ts / 60) - self.lo
        if i >= len(self.working):
            return self.prefix[-1] * 60.0
        partial = ts - (self.lo + i) * 60.0 if self.working[i] else 0.0
        return self.prefix[i] * 60.0 + partial

    def between(self, s: float, e: float) -> float:
        return max(0.0, self.worked_before(e) - self.worked_before(s)) / 60.0

    def add(self, s: float, minutes: float) -> float:
        """Step minute by minute from s until the budget is used up."""
        if minutes == 0:
            return s
        remaining = minutes * 60.0
        t = s
        k = math.floor(t / 60)
        while k - self.lo < len(self.working):
            seg_end = (k + 1) * 60.0
            if self.working[k - self.lo]:
                if remaining <= seg_end - t:
                    return t + remaining
                remaining -= seg_end - t
            t = seg_end
            k += 1
        return t  # the budget was all the work left in the window (up to float rounding)


# --------------------------------------------------------------------------- strategies


@st.composite
def day_hours(draw: st.DrawFn, min_intervals: int = 0) -> list[list[str]]:
    n = draw(st.integers(min_intervals, 3))
    points = sorted(draw(st.lists(st.sampled_from(BOUNDARIES), min_size=2 * n, max_size=2 * n, unique=True)))
    return [[fmt(points[2 * i]), fmt(points[2 * i + 1])] for i in range(n)]


@st.composite
def calendars(draw: st.DrawFn) -> tuple[dict[str, Any], date]:
    tz = draw(st.sampled_from(ZONES))
    first = draw(st.sampled_from(WINDOWS))
    window = [first + timedelta(days=i) for i in range(WINDOW_DAYS)]
    weekly = {d: draw(day_hours()) for d in draw(st.lists(st.sampled_from(WEEKDAYS), unique=True))}
    hol = draw(st.lists(st.sampled_from(window), max_size=4, unique=True))
    extra_dates = draw(st.lists(st.sampled_from([d for d in window if d not in hol]), max_size=3, unique=True))
    short_dates = draw(st.lists(st.sampled_from([d for d in window if d not in DST_DATES]), max_size=3, unique=True))
    cfg = {
        "tz": tz,
        "weekly_hours": weekly,
        "holidays": [d.isoformat() for d in hol],
        "extra_working_days": [{"date": d.isoformat(), "hours": draw(day_hours(1))} for d in extra_dates],
        "shortened_days": [{"date": d.isoformat(), "minutes": draw(st.integers(1, 600))} for d in short_dates],
    }
    return cfg, first


@st.composite
def instants(draw: st.DrawFn, ref: Reference) -> float:
    """A start inside the window: minute-aligned or not."""
    if draw(st.booleans()):
        return float(draw(st.integers(ref.lo, ref.hi - 1)) * 60)
    micros = draw(st.integers(0, (ref.hi - ref.lo) * 60 * 10**6 - 1))
    return ref.lo * 60.0 + micros / 10**6


def aware(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def budget_within(data: st.DataObject, ref: Reference, s: float) -> float:
    """A budget (whole or fractional minutes) that the window's work after ``s`` can cover."""
    available = ref.between(s, ref.end_ts)
    if available == 0:
        return 0.0
    if data.draw(st.booleans()):
        return float(data.draw(st.integers(0, math.floor(available))))
    return data.draw(st.floats(0, available, allow_nan=False))


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(data=st.data(), generated=calendars())
def test_add_business_minutes_matches_the_brute_force_reference(
    data: st.DataObject, generated: tuple[dict[str, Any], date]
) -> None:
    cfg, first = generated
    cal = BusinessCalendar.from_mapping(cfg)
    ref = Reference(cfg, first, WINDOW_DAYS)
    for _ in range(4):
        s = data.draw(instants(ref))
        minutes = budget_within(data, ref, s)
        expected = ref.add(s, minutes)
        got = cal.add_business_minutes(aware(s), minutes).timestamp()
        assert abs(got - expected) <= 2e-6, (cfg, aware(s), minutes, aware(expected), aware(got))


@SETTINGS
@given(data=st.data(), generated=calendars())
def test_business_minutes_between_matches_the_brute_force_reference(
    data: st.DataObject, generated: tuple[dict[str, Any], date]
) -> None:
    cfg, first = generated
    cal = BusinessCalendar.from_mapping(cfg)
    ref = Reference(cfg, first, WINDOW_DAYS)
    for _ in range(4):
        s, e = data.draw(instants(ref)), data.draw(instants(ref))
        expected = ref.between(s, e)
        got = cal.business_minutes_between(aware(s), aware(e))
        assert abs(got - expected) <= 1e-6, (cfg, aware(s), aware(e), expected, got)


@SETTINGS
@given(data=st.data(), generated=calendars())
def test_is_working_and_next_working_instant_match_the_reference(
    data: st.DataObject, generated: tuple[dict[str, Any], date]
) -> None:
    cfg, first = generated
    cal = BusinessCalendar.from_mapping(cfg)
    ref = Reference(cfg, first, WINDOW_DAYS)
    for _ in range(4):
        s = data.draw(instants(ref))
        k = math.floor(s / 60) - ref.lo
        assert cal.is_working(aware(s)) == ref.working[k]
        later = [i for i in range(k + 1, len(ref.working)) if ref.working[i] and not ref.working[i - 1]]
        if ref.working[k]:
            assert cal.next_working_instant(aware(s)).timestamp() == s
        elif later:
            assert cal.next_working_instant(aware(s)).timestamp() == (ref.lo + later[0]) * 60.0


@SETTINGS
@given(data=st.data(), generated=calendars())
def test_working_intervals_cover_exactly_the_working_minutes(
    data: st.DataObject, generated: tuple[dict[str, Any], date]
) -> None:
    cfg, first = generated
    cal = BusinessCalendar.from_mapping(cfg)
    ref = Reference(cfg, first, WINDOW_DAYS)
    s, e = sorted((data.draw(instants(ref)), data.draw(instants(ref))))
    intervals = [(a.timestamp(), b.timestamp()) for a, b in cal.working_intervals(aware(s), aware(e))]
    assert all(a < b for a, b in intervals)
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(intervals, intervals[1:], strict=False))  # disjoint, merged
    assert all(s <= a and b <= e for a, b in intervals)
    assert abs(sum(b - a for a, b in intervals) / 60 - ref.between(s, e)) <= 1e-6
    starts = [a for a, _ in intervals]
    for _ in range(5):  # every sampled instant is inside an interval iff the reference says it works
        x = data.draw(st.floats(s, e, exclude_max=True)) if e > s else s
        i = bisect_right(starts, x)
        inside = bool(i) and x < intervals[i - 1][1]
        assert inside == (ref.working[math.floor(x / 60) - ref.lo] and s <= x < e)


@SETTINGS
@given(data=st.data(), generated=calendars())
def test_round_trip_and_monotonicity(data: st.DataObject, generated: tuple[dict[str, Any], date]) -> None:
    cfg, first = generated
    cal = BusinessCalendar.from_mapping(cfg)
    ref = Reference(cfg, first, WINDOW_DAYS)
    s1, s2 = sorted((data.draw(instants(ref)), data.draw(instants(ref))))
    m1 = budget_within(data, ref, s2)
    m2 = data.draw(st.floats(m1, max(m1, ref.between(s2, ref.end_ts)), allow_nan=False))
    a, b = aware(s1), aware(s2)
    d_a1, d_b1, d_b2 = (
        cal.add_business_minutes(a, m1),
        cal.add_business_minutes(b, m1),
        cal.add_business_minutes(b, m2),
    )
    # The budget is used up exactly: business time from start to deadline equals the budget.
    assert abs(cal.business_minutes_between(b, d_b1) - m1) <= 1e-6
    assert abs(cal.business_minutes_between(b, d_b2) - m2) <= 1e-6
    # Deadlines never move backwards with a later start or a bigger budget, nor precede the start.
    assert d_a1 <= d_b1 <= d_b2
    assert d_b1 >= b
    # Business time grows with the end of the window.
    assert cal.business_minutes_between(a, b) <= cal.business_minutes_between(a, d_b2)
    # Additivity: [a, b) + [b, c) == [a, c).
    total = cal.business_minutes_between(a, d_b2)
    assert abs(cal.business_minutes_between(a, b) + cal.business_minutes_between(b, d_b2) - total) <= 1e-6


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    hours=day_hours(1),
    first=st.sampled_from((date(2025, 10, 20), date(2025, 12, 22), date(2026, 4, 20), date(2026, 12, 21))),
)
def test_ru_calendar_matches_a_reference_built_on_the_holidays_package(
    data: st.DataObject, hours: list[list[str]], first: date
) -> None:
    cfg = {"tz": "Europe/Moscow", "weekly_hours": {d: hours for d in WEEKDAYS[:5]}, "holidays_country": "RU"}
    cal = BusinessCalendar.from_mapping(cfg)
    ref = Reference(cfg, first, WINDOW_DAYS, ru=True)
    for _ in range(4):
        s = data.draw(instants(ref))
        minutes = budget_within(data, ref, s)
        assert abs(cal.add_business_minutes(aware(s), minutes).timestamp() - ref.add(s, minutes)) <= 2e-6
        e = data.draw(instants(ref))
        assert abs(cal.business_minutes_between(aware(s), aware(e)) - ref.between(s, e)) <= 1e-6

"""Example-based tests of sla.calendar (semantics in docs/calendar.md)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sla.calendar import NO_WORK_HORIZON_YEARS, BusinessCalendar
from sla.calendar_config import CalendarConfig
from sla.ru_shortened_days import (
    RU_SHORTENED_DAYS,
    RU_SHORTENED_DAYS_DERIVED_YEARS,
    derive_ru_shortened_days,
    ru_covered_years,
)

MSK = ZoneInfo("Europe/Moscow")
WAW = ZoneInfo("Europe/Warsaw")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = [["09:00", "13:00"], ["14:00", "18:00"]]


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=MSK)


def waw(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WAW)


def make(**overrides: Any) -> BusinessCalendar:
    data: dict[str, Any] = {"tz": "Europe/Moscow", "weekly_hours": {d: OFFICE for d in WORKDAYS}}
    data.update(overrides)
    return BusinessCalendar.from_mapping(data, name="test")


@pytest.fixture(scope="module")
def office() -> BusinessCalendar:
    """Moscow office, lunch 13-14, no country holidays."""
    return make()


@pytest.fixture(scope="module")
def ru_office() -> BusinessCalendar:
    return make(holidays_country="RU")


def day_minutes(cal: BusinessCalendar, day: date, tz: ZoneInfo = MSK) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return cal.business_minutes_between(start, start + timedelta(days=1))


def hours_between(cal: BusinessCalendar, start: datetime, end: datetime) -> float:
    return cal.business_minutes_between(start, end) / 60


# --------------------------------------------------------------------------- basic arithmetic


def test_it_does_not_count_the_lunch_break(office: BusinessCalendar) -> None:
    assert office.add_business_minutes(msk(2026, 2, 16, 12, 0), 120) == msk(2026, 2, 16, 15, 0)
    assert office.business_minutes_between(msk(2026, 2, 16, 12, 30), msk(2026, 2, 16, 14, 30)) == 60.0


def test_it_returns_18_00_when_budget_ends_exactly_at_close(office: BusinessCalendar) -> None:
    assert office.add_business_minutes(msk(2026, 2, 16, 17, 0), 60) == msk(2026, 2, 16, 18, 0)
    assert office.add_business_minutes(msk(2026, 2, 16, 9, 0), 480) == msk(2026, 2, 16, 18, 0)


def test_it_returns_13_00_not_14_00_when_budget_ends_at_lunch(office: BusinessCalendar) -> None:
    assert office.add_business_minutes(msk(2026, 2, 16, 12, 0), 60) == msk(2026, 2, 16, 13, 0)


def test_it_continues_next_morning_when_budget_exceeds_the_day(office: BusinessCalendar) -> None:
    assert office.add_business_minutes(msk(2026, 2, 16, 17, 0), 61) == msk(2026, 2, 17, 9, 1)


def test_a_zero_budget_gives_start_itself_even_outside_working_hours(office: BusinessCalendar) -> None:
    sunday_night = msk(2026, 2, 15, 3, 17, 42)
    result = office.add_business_minutes(sunday_night, 0)
    assert result == sunday_night
    assert result.tzinfo is UTC


def test_a_budget_starting_outside_hours_starts_counting_at_opening(office: BusinessCalendar) -> None:
    assert office.add_business_minutes(msk(2026, 2, 14, 12, 0), 30) == msk(2026, 2, 16, 9, 30)


def test_fractional_minutes_are_honoured(office: BusinessCalendar) -> None:
    assert office.add_business_minutes(msk(2026, 2, 16, 9, 0), 0.5) == msk(2026, 2, 16, 9, 0, 30)
    assert office.business_minutes_between(msk(2026, 2, 16, 9, 0), msk(2026, 2, 16, 9, 0, 15)) == 0.25


def test_results_are_utc_aware(office: BusinessCalendar) -> None:
    result = office.add_business_minutes(msk(2026, 2, 16, 9, 0), 10)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 2, 16, 6, 10, tzinfo=UTC)
    assert office.next_working_instant(msk(2026, 2, 14, 9)).tzinfo is UTC


def test_inputs_in_any_zone_mean_the_same_instant(office: BusinessCalendar) -> None:
    in_tokyo = msk(2026, 2, 16, 12, 0).astimezone(ZoneInfo("Asia/Tokyo"))
    assert office.add_business_minutes(in_tokyo, 120) == msk(2026, 2, 16, 15, 0)


def test_business_minutes_between_is_zero_when_end_is_not_after_start(office: BusinessCalendar) -> None:
    assert office.business_minutes_between(msk(2026, 2, 16, 12), msk(2026, 2, 16, 12)) == 0.0
    assert office.business_minutes_between(msk(2026, 2, 16, 12), msk(2026, 2, 16, 10)) == 0.0


def test_a_working_week_holds_40_hours(office: BusinessCalendar) -> None:
    assert hours_between(office, msk(2026, 2, 16), msk(2026, 2, 23)) == 40.0


def test_negative_or_non_finite_minutes_are_rejected(office: BusinessCalendar) -> None:
    for bad in (-1, -0.001, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="minutes must be a finite number >= 0"):
            office.add_business_minutes(msk(2026, 2, 16, 9), bad)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, n: c.add_business_minutes(n, 10),
        lambda c, n: c.business_minutes_between(n, msk(2026, 3, 1)),
        lambda c, n: c.business_minutes_between(msk(2026, 1, 1), n),
        lambda c, n: c.is_working(n),
        lambda c, n: c.next_working_instant(n),
        lambda c, n: list(c.working_intervals(n, msk(2026, 3, 1))),
    ],
)
def test_a_naive_datetime_is_rejected(office: BusinessCalendar, call: Any) -> None:
    naive = datetime(2026, 2, 16, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        call(office, naive)


def test_working_intervals_is_validated_eagerly(office: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        office.working_intervals(datetime(2026, 2, 16), msk(2026, 3, 1))  # noqa: DTZ001


# --------------------------------------------------------------------------- is_working / next / intervals


def test_intervals_are_half_open(office: BusinessCalendar) -> None:
    assert office.is_working(msk(2026, 2, 16, 9, 0))
    assert office.is_working(msk(2026, 2, 16, 12, 59, 59))
    assert not office.is_working(msk(2026, 2, 16, 13, 0))
    assert office.is_working(msk(2026, 2, 16, 14, 0))
    assert not office.is_working(msk(2026, 2, 16, 18, 0))
    assert not office.is_working(msk(2026, 2, 16, 8, 59, 59))


def test_next_working_instant_is_the_instant_itself_when_working(office: BusinessCalendar) -> None:
    assert office.next_working_instant(msk(2026, 2, 16, 10, 15, 7)) == msk(2026, 2, 16, 10, 15, 7)
    assert office.next_working_instant(msk(2026, 2, 16, 9, 0)) == msk(2026, 2, 16, 9, 0)


def test_next_working_instant_skips_lunch_evening_and_weekend(office: BusinessCalendar) -> None:
    assert office.next_working_instant(msk(2026, 2, 16, 13, 30)) == msk(2026, 2, 16, 14, 0)
    assert office.next_working_instant(msk(2026, 2, 16, 18, 0)) == msk(2026, 2, 17, 9, 0)
    assert office.next_working_instant(msk(2026, 2, 14, 11, 0)) == msk(2026, 2, 16, 9, 0)


def test_working_intervals_are_clipped_to_the_window(office: BusinessCalendar) -> None:
    got = list(office.working_intervals(msk(2026, 2, 16, 10, 30), msk(2026, 2, 17, 9, 30)))
    assert got == [
        (msk(2026, 2, 16, 10, 30), msk(2026, 2, 16, 13, 0)),
        (msk(2026, 2, 16, 14, 0), msk(2026, 2, 16, 18, 0)),
        (msk(2026, 2, 17, 9, 0), msk(2026, 2, 17, 9, 30)),
    ]
    assert all(a.tzinfo is UTC and b.tzinfo is UTC for a, b in got)
    assert list(office.working_intervals(msk(2026, 2, 14), msk(2026, 2, 15))) == []
    assert list(office.working_intervals(msk(2026, 2, 17), msk(2026, 2, 16))) == []


def test_working_intervals_sum_to_business_minutes_between(office: BusinessCalendar) -> None:
    start, end = msk(2026, 2, 10, 11, 11), msk(2026, 3, 3, 15, 5)
    total = sum((b - a).total_seconds() for a, b in office.working_intervals(start, end)) / 60
    assert total == office.business_minutes_between(start, end)


# --------------------------------------------------------------------------- holidays, extra days, shortening


def test_local_holidays_have_no_work() -> None:
    cal = make(holidays=["2026-02-17"])
    assert cal.add_business_minutes(msk(2026, 2, 16, 17, 0), 120) == msk(2026, 2, 18, 10, 0)
    assert day_minutes(cal, date(2026, 2, 17)) == 0


def test_ru_new_year_holidays_and_the_transferred_9_january_are_skipped(ru_office: BusinessCalendar) -> None:
    # 31.12.2025 is a transferred day off, 1-8.01 holidays, 9.01.2026 transferred from 3.01, 10-11 weekend.
    for d in range(1, 12):
        assert day_minutes(ru_office, date(2026, 1, d)) == 0, d
    assert day_minutes(ru_office, date(2025, 12, 31)) == 0
    assert ru_office.add_business_minutes(msk(2025, 12, 30, 17, 0), 120) == msk(2026, 1, 12, 10, 0)


def test_ru_23_february_and_observed_9_march_2026_are_skipped(ru_office: BusinessCalendar) -> None:
    assert ru_office.add_business_minutes(msk(2026, 2, 20, 17, 0), 120) == msk(2026, 2, 24, 10, 0)
    assert ru_office.add_business_minutes(msk(2026, 3, 6, 17, 0), 120) == msk(2026, 3, 10, 10, 0)
    assert day_minutes(ru_office, date(2026, 3, 9)) == 0  # 8 March is a Sunday


def test_ru_working_saturday_counts(ru_office: BusinessCalendar) -> None:
    # 1.11.2025 (Saturday) is a working day by the 2025 transfer decree (day off moved to 3.11);
    # it is also a pre-holiday day, so it ends at 17:00.
    assert ru_office.is_working(msk(2025, 11, 1, 10, 0))
    assert day_minutes(ru_office, date(2025, 11, 1)) == 420
    assert ru_office.add_business_minutes(msk(2025, 10, 31, 17, 0), 120) == msk(2025, 11, 1, 10, 0)
    assert day_minutes(ru_office, date(2025, 11, 3)) == 0


def test_ru_working_saturday_works_the_hours_of_the_weekday_it_replaces() -> None:
    # A typical Russian schedule: Friday is shorter. 1.11.2025 replaces Monday 3.11, so it works Monday's
    # 09:00-18:00 minus the pre-holiday hour.
    cal = make(
        weekly_hours={**{d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu")}, "fri": [["09:00", "16:45"]]},
        holidays_country="RU",
    )
    assert day_minutes(cal, date(2025, 11, 1)) == 8 * 60
    assert not cal.is_working(msk(2025, 11, 1, 17, 0))


def test_ru_working_saturday_replacing_a_tuesday_works_tuesday_hours() -> None:
    # 2.11.2024 (Saturday) replaces Tuesday 30.04.2024 (the eve of 1 May), so it is also shortened.
    cal = make(
        weekly_hours={**{d: [["09:00", "18:00"]] for d in WORKDAYS}, "tue": [["10:00", "15:00"]]},
        holidays_country="RU",
    )
    assert day_minutes(cal, date(2024, 11, 2)) == 4 * 60
    assert cal.next_working_instant(msk(2024, 11, 2, 7, 0)) == msk(2024, 11, 2, 10, 0)
    assert day_minutes(cal, date(2024, 12, 28)) == 9 * 60  # replaces Monday 30.12, not shortened


def test_ru_pre_holiday_day_loses_its_last_60_minutes(ru_office: BusinessCalendar) -> None:
    # 30.04.2026 (Thursday) precedes 1 May: 09:00-13:00, 14:00-17:00.
    assert day_minutes(ru_office, date(2026, 4, 30)) == 420
    assert ru_office.add_business_minutes(msk(2026, 4, 30, 16, 0), 60) == msk(2026, 4, 30, 17, 0)
    assert ru_office.add_business_minutes(msk(2026, 4, 30, 16, 0), 61) == msk(2026, 5, 4, 9, 1)
    assert not ru_office.is_working(msk(2026, 4, 30, 17, 30))


def test_day_hours_shows_a_days_final_intervals(ru_office: BusinessCalendar) -> None:
    assert ru_office.day_hours(date(2026, 4, 30)) == ((9 * 60, 13 * 60), (14 * 60, 17 * 60))
    assert ru_office.day_hours(date(2026, 5, 1)) == ()


def test_ru_friday_before_a_monday_holiday_is_a_full_day(ru_office: BusinessCalendar) -> None:
    # 20.02.2026 is followed by a weekend, not by the holiday itself: not shortened (4 shortened days in 2026).
    assert day_minutes(ru_office, date(2026, 2, 20)) == 480
    assert day_minutes(ru_office, date(2025, 12, 30)) == 480  # eve of a transferred day off


def test_own_shortened_day_replaces_the_automatic_ru_one_on_the_same_date() -> None:
    cal = make(holidays_country="RU", shortened_days=[{"date": "2026-04-30", "minutes": 120}])
    assert day_minutes(cal, date(2026, 4, 30)) == 360


def test_own_shortened_days_apply_without_a_country() -> None:
    cal = make(shortened_days=[{"date": "2026-02-18", "minutes": 30}])
    assert day_minutes(cal, date(2026, 2, 18)) == 450
    assert cal.add_business_minutes(msk(2026, 2, 18, 17, 0), 30) == msk(2026, 2, 18, 17, 30)


def test_shortening_trims_across_several_intervals() -> None:
    # 300 minutes off a 09-13 + 14-18 day: the afternoon (240) and the last 60 minutes of the morning.
    cal = make(shortened_days=[{"date": "2026-02-18", "minutes": 300}])
    assert day_minutes(cal, date(2026, 2, 18)) == 180
    assert cal.is_working(msk(2026, 2, 18, 11, 59))
    assert not cal.is_working(msk(2026, 2, 18, 12, 0))
    assert not cal.is_working(msk(2026, 2, 18, 15, 0))
    assert cal.add_business_minutes(msk(2026, 2, 18, 9, 0), 180) == msk(2026, 2, 18, 12, 0)


def test_shortening_more_than_the_day_leaves_no_work() -> None:
    cal = make(shortened_days=[{"date": "2026-02-18", "minutes": 600}])
    assert day_minutes(cal, date(2026, 2, 18)) == 0


def test_extra_working_day_on_a_weekend_uses_its_own_hours() -> None:
    cal = make(extra_working_days=[{"date": "2026-02-21", "hours": [["10:00", "14:00"]]}])
    assert cal.add_business_minutes(msk(2026, 2, 20, 17, 30), 60) == msk(2026, 2, 21, 10, 30)
    assert day_minutes(cal, date(2026, 2, 21)) == 240
    assert cal.next_working_instant(msk(2026, 2, 21, 8, 0)) == msk(2026, 2, 21, 10, 0)


def test_extra_working_day_overrides_a_country_holiday() -> None:
    cal = make(holidays_country="RU", extra_working_days=[{"date": "2026-01-05", "hours": [["10:00", "12:00"]]}])
    assert day_minutes(cal, date(2026, 1, 5)) == 120


def test_extra_working_day_can_be_shortened_too() -> None:
    # The shape of the example config: a working Saturday listed with full hours and a shortening.
    cal = make(
        extra_working_days=[{"date": "2025-11-01", "hours": OFFICE}],
        shortened_days=[{"date": "2025-11-01", "minutes": 60}],
    )
    assert day_minutes(cal, date(2025, 11, 1)) == 420


def test_a_local_holiday_beats_a_ru_working_saturday() -> None:
    cal = make(holidays_country="RU", holidays=["2025-11-01"])
    assert day_minutes(cal, date(2025, 11, 1)) == 0


def test_ru_holiday_on_a_saturday_stops_a_six_day_warehouse() -> None:
    shift = [["08:00", "20:00"]]
    cal = make(weekly_hours={d: shift for d in (*WORKDAYS, "sat")}, holidays_country="RU")
    assert day_minutes(cal, date(2026, 5, 9)) == 0  # Victory Day, a Saturday
    assert day_minutes(cal, date(2026, 5, 16)) == 12 * 60


def test_poland_public_holidays_come_from_the_package_and_saturday_compensation_is_listed_locally() -> None:
    lab = {d: [["08:00", "16:00"]] for d in WORKDAYS}
    cal = BusinessCalendar.from_mapping({"tz": "Europe/Warsaw", "weekly_hours": lab, "holidays_country": "PL"})
    assert day_minutes(cal, date(2026, 1, 6), WAW) == 0  # Epiphany
    assert day_minutes(cal, date(2026, 6, 4), WAW) == 0  # Corpus Christi
    assert day_minutes(cal, date(2026, 12, 24), WAW) == 0  # Christmas Eve (a holiday since 2025)
    assert day_minutes(cal, date(2026, 8, 14), WAW) == 480  # 15.08 is a Saturday: no automatic day off
    chosen = BusinessCalendar.from_mapping(
        {"tz": "Europe/Warsaw", "weekly_hours": lab, "holidays_country": "PL", "holidays": ["2026-08-14"]}
    )
    assert day_minutes(chosen, date(2026, 8, 14), WAW) == 0


# --------------------------------------------------------------------------- 24:00, DST


def test_24_00_is_the_end_of_the_day_and_joins_the_next_morning() -> None:
    cal = BusinessCalendar.from_mapping(
        {"tz": "Europe/Moscow", "weekly_hours": {"mon": [["20:00", "24:00"]], "tue": [["00:00", "04:00"]]}}
    )
    assert cal.add_business_minutes(msk(2026, 2, 16, 23, 0), 120) == msk(2026, 2, 17, 1, 0)
    assert cal.add_business_minutes(msk(2026, 2, 16, 20, 0), 240) == msk(2026, 2, 17, 0, 0)
    assert list(cal.working_intervals(msk(2026, 2, 16), msk(2026, 2, 18))) == [
        (msk(2026, 2, 16, 20, 0), msk(2026, 2, 17, 4, 0))
    ]


def test_a_24_7_calendar_holds_23_and_25_hours_on_warsaw_dst_days() -> None:
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    cal = BusinessCalendar.from_mapping({"tz": "Europe/Warsaw", "weekly_hours": always})
    assert hours_between(cal, waw(2026, 3, 29), waw(2026, 3, 30)) == 23
    assert hours_between(cal, waw(2026, 10, 25), waw(2026, 10, 26)) == 25
    assert hours_between(cal, waw(2026, 3, 28), waw(2026, 3, 29)) == 24
    assert cal.add_business_minutes(waw(2026, 3, 29), 24 * 60) == waw(2026, 3, 30, 1, 0)
    assert cal.add_business_minutes(waw(2026, 10, 25), 24 * 60) == waw(2026, 10, 25, 23, 0)
    assert list(cal.working_intervals(waw(2026, 3, 1), waw(2026, 4, 1))) == [(waw(2026, 3, 1), waw(2026, 4, 1))]
    across_new_year = (waw(2026, 12, 31, 12), waw(2027, 1, 1, 12))
    assert list(cal.working_intervals(*across_new_year)) == [across_new_year]


def test_an_office_day_across_the_dst_change_holds_real_elapsed_time() -> None:
    # Saturday-night shift 22:00-06:00 across the spring change (02:00 -> 03:00) lasts 7 real hours.
    cal = BusinessCalendar.from_mapping(
        {"tz": "Europe/Warsaw", "weekly_hours": {"sat": [["22:00", "24:00"]], "sun": [["00:00", "06:00"]]}}
    )
    assert hours_between(cal, waw(2026, 3, 28), waw(2026, 3, 30)) == 7
    assert hours_between(cal, waw(2026, 10, 24), waw(2026, 10, 26)) == 9


def test_a_boundary_in_the_spring_gap_is_read_with_the_offset_before_the_change() -> None:
    # 02:30 does not exist on 29.03.2026 in Warsaw; fold=0 reads it as 02:30 CET = 03:30 CEST.
    cal = BusinessCalendar.from_mapping({"tz": "Europe/Warsaw", "weekly_hours": {"sun": [["02:30", "05:00"]]}})
    assert cal.next_working_instant(waw(2026, 3, 29, 0, 0)) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert hours_between(cal, waw(2026, 3, 29), waw(2026, 3, 30)) == 1.5
    assert hours_between(cal, waw(2026, 3, 22), waw(2026, 3, 23)) == 2.5


def test_an_interval_emptied_by_the_spring_gap_holds_no_work() -> None:
    # 02:30 (gap, read as 03:30 CEST) to 03:10 CEST: nothing left.
    cal = BusinessCalendar.from_mapping({"tz": "Europe/Warsaw", "weekly_hours": {"sun": [["02:30", "03:10"]]}})
    assert hours_between(cal, waw(2026, 3, 29), waw(2026, 3, 30)) == 0
    assert cal.business_minutes_between(waw(2026, 3, 22), waw(2026, 3, 23)) == 40


def test_a_boundary_in_the_autumn_fold_is_its_first_occurrence() -> None:
    # 02:30 happens twice on 25.10.2026 in Warsaw; fold=0 takes the first one (CEST, 00:30 UTC).
    cal = BusinessCalendar.from_mapping({"tz": "Europe/Warsaw", "weekly_hours": {"sun": [["02:30", "04:00"]]}})
    assert cal.next_working_instant(waw(2026, 10, 25, 0, 0)) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert hours_between(cal, waw(2026, 10, 25), waw(2026, 10, 26)) == 2.5


# --------------------------------------------------------------------------- ranges and degenerate calendars


def test_budgets_spanning_into_next_years_extend_the_computed_range(ru_office: BusinessCalendar) -> None:
    start = msk(2026, 12, 30, 12, 0)
    minutes = 2500 * 60.0  # about 15 months of office time
    deadline = ru_office.add_business_minutes(start, minutes)
    assert deadline.year == 2028
    assert ru_office.business_minutes_between(start, deadline) == pytest.approx(minutes, abs=1e-6)


def test_queries_before_the_computed_range_extend_it_backwards() -> None:
    cal = make(holidays_country="RU")
    assert hours_between(cal, msk(2026, 1, 1), msk(2027, 1, 1)) == 1972  # load 2026 first
    assert hours_between(cal, msk(2020, 1, 1), msk(2021, 1, 1)) == 1979  # then go back
    assert cal.add_business_minutes(msk(2021, 12, 30, 17, 0), 60) == msk(2021, 12, 30, 18, 0)


def test_a_calendar_without_working_time_raises_instead_of_looping() -> None:
    cal = BusinessCalendar.from_mapping({"tz": "Asia/Tokyo", "weekly_hours": {}}, name="empty")
    with pytest.raises(ValueError, match=rf"calendar 'empty' has no working time within {NO_WORK_HORIZON_YEARS} years"):
        cal.add_business_minutes(msk(2026, 2, 16), 1)
    with pytest.raises(ValueError, match="has no working time"):
        cal.next_working_instant(msk(2026, 2, 16))
    assert cal.business_minutes_between(msk(2026, 1, 1), msk(2027, 1, 1)) == 0.0
    assert not cal.is_working(msk(2026, 2, 16, 10))


def test_a_budget_larger_than_all_remaining_work_raises() -> None:
    cal = BusinessCalendar.from_mapping(
        {"tz": "Asia/Tokyo", "weekly_hours": {}, "extra_working_days": [{"date": "2026-03-02", "hours": OFFICE}]},
        name="once",
    )
    tokyo = ZoneInfo("Asia/Tokyo")
    assert cal.add_business_minutes(datetime(2026, 1, 1, tzinfo=tokyo), 480) == datetime(2026, 3, 2, 18, tzinfo=tokyo)
    with pytest.raises(ValueError, match="has no working time within .* years after 2026-03-02T09:00:00"):
        cal.add_business_minutes(datetime(2026, 1, 1, tzinfo=tokyo), 481)


def test_far_future_beyond_the_supported_years_is_a_clear_error(office: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="only computed for years"):
        office.is_working(datetime(9999, 6, 1, tzinfo=UTC))


def test_concurrent_queries_from_threads_agree_with_sequential_ones() -> None:
    starts = [msk(2020 + i % 8, 1 + i % 12, 1 + i % 28, 9 + i % 9, i % 60) for i in range(200)]
    expected = [make(holidays_country="RU").add_business_minutes(s, 600) for s in starts]
    shared = make(holidays_country="RU")
    results: list[list[datetime]] = [[] for _ in range(4)]

    def run(k: int) -> None:
        results[k] = [shared.add_business_minutes(s, 600) for s in (starts if k % 2 else starts[::-1])]

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert results[k] == (expected if k % 2 else expected[::-1])


# --------------------------------------------------------------------------- RU data


def test_ru_shortened_days_data_matches_the_rule_for_every_shipped_year() -> None:
    assert list(RU_SHORTENED_DAYS) == list(ru_covered_years())
    assert {2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027} <= set(RU_SHORTENED_DAYS)
    for year, days in RU_SHORTENED_DAYS.items():
        assert derive_ru_shortened_days(year) == days, year
        assert all(d.year == year for d in days)
    assert RU_SHORTENED_DAYS_DERIVED_YEARS.issubset(RU_SHORTENED_DAYS)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        # Published 40-hour-week norms (8 h x working days - shortened hours).
        ((2020, 1, 1), (2021, 1, 1), 1979),
        ((2020, 4, 1), (2020, 5, 1), 175),
        ((2020, 5, 1), (2020, 6, 1), 135),
        ((2020, 6, 1), (2020, 7, 1), 167),
        ((2021, 1, 1), (2021, 4, 1), 447),
        ((2021, 4, 1), (2021, 7, 1), 494),
        ((2023, 2, 1), (2023, 3, 1), 143),
        ((2023, 3, 1), (2023, 4, 1), 175),
        ((2026, 1, 1), (2026, 4, 1), 440),
        ((2026, 4, 1), (2026, 7, 1), 493),
        ((2026, 7, 1), (2026, 10, 1), 528),
        ((2026, 10, 1), (2027, 1, 1), 511),
        ((2026, 1, 1), (2027, 1, 1), 1972),
    ],
)
def test_ru_calendar_reproduces_published_working_time_norms(
    start: tuple[int, int, int], end: tuple[int, int, int], hours: int
) -> None:
    cal = make(weekly_hours={d: [["09:00", "17:00"]] for d in WORKDAYS}, holidays_country="RU")
    assert hours_between(cal, msk(*start), msk(*end)) == hours


# --------------------------------------------------------------------------- validation


def config(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"tz": "Europe/Moscow", "weekly_hours": {"mon": OFFICE}}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"weekly_hours": {"mon": [["14:00", "13:00"]]}}, "mon: interval 14:00-13:00 ends before it starts"),
        ({"weekly_hours": {"tue": [["09:00", "09:00"]]}}, "tue: interval 09:00-09:00 is empty"),
        (
            {"weekly_hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}},
            "mon: intervals 09:00-13:00 and 12:00-18:00 overlap",
        ),
        (
            {"weekly_hours": {"mon": [["14:00", "18:00"], ["09:00", "13:00"]]}},
            "mon: interval 09:00-13:00 is listed after 14:00-18:00",
        ),
        ({"weekly_hours": {"wed": [["9:00", "13:00"]]}}, "wed: '9:00' is not a time in HH:MM format"),
        ({"weekly_hours": {"wed": [["09:00", "24:30"]]}}, "wed: '24:30' is not a time in HH:MM format"),
        ({"weekly_hours": {"wed": [["09:00", "13:60"]]}}, "'13:60' is not a time"),
        ({"weekly_hours": {"fri": [["24:00", "24:00"]]}}, "fri: interval 24:00-24:00 starts at 24:00"),
        ({"weekly_hours": {"mon": [["09:00", 840]]}}, "got the number 840, not a time: quote times in YAML"),
        ({"weekly_hours": {"monday": OFFICE}}, "monday"),
        ({"tz": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"tz": "europe/moscow"}, "unknown time zone 'europe/moscow'"),
        ({"tz": "localtime"}, "depends on the machine"),
        ({"holidays_country": "XX"}, "holidays_country 'XX' is not a country known to the holidays package"),
        ({"holidays_subdiv": "77"}, "holidays_subdiv is set but holidays_country is not"),
        ({"holidays_country": "PL", "holidays_subdiv": "99"}, "holidays_subdiv '99' is not a subdivision of PL"),
        ({"holidays": ["2026-02-30"]}, "holidays"),
        ({"shortened_days": [{"date": "2026-02-18", "minutes": 0}]}, "greater than 0"),
        (
            {"shortened_days": [{"date": "2026-02-18", "minutes": 30}, {"date": "2026-02-18", "minutes": 60}]},
            "shortened_days: 2026-02-18 is listed twice",
        ),
        ({"extra_working_days": [{"date": "2026-02-21"}]}, "hours"),
        ({"extra_working_days": [{"date": "2026-02-21", "hours": []}]}, "at least 1 item"),
        (
            {"extra_working_days": [{"date": "2026-02-21", "hours": [["18:00", "10:00"]]}]},
            "extra working day 2026-02-21: interval 18:00-10:00 ends before it starts",
        ),
        (
            {"holidays": ["2026-02-21"], "extra_working_days": [{"date": "2026-02-21", "hours": OFFICE}]},
            "2026-02-21 is both in holidays and in extra_working_days",
        ),
        ({"timezone": "Europe/Moscow"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_configs_are_rejected_with_a_specific_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        BusinessCalendar.from_mapping(config(**overrides))
    assert message in str(excinfo.value)


def test_country_codes_are_normalised_to_upper_case() -> None:
    assert CalendarConfig.model_validate(config(holidays_country="ru")).holidays_country == "RU"


def test_the_config_is_frozen() -> None:
    cfg = CalendarConfig.model_validate(config())
    with pytest.raises(ValidationError):
        cfg.tz = "Asia/Tokyo"  # type: ignore[misc]


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_across_runs_and_versions() -> None:
    cal = make(holidays_country="RU")
    # A golden value: if this changes, recorded calendar versions of open cases stop matching.
    assert cal.fingerprint == "fda8cdf771f84a24"
    assert len(cal.fingerprint) == 16


def test_fingerprint_ignores_presentation_but_not_meaning() -> None:
    base = make(holidays=["2026-03-02", "2026-03-01"])
    same = make(
        weekly_hours={**{d: OFFICE for d in WORKDAYS}, "sat": [], "sun": []},
        holidays=["2026-03-01", "2026-03-02", "2026-03-01"],
    )
    assert base.fingerprint == same.fingerprint
    touching = make(weekly_hours={d: [["09:00", "12:00"], ["12:00", "18:00"]] for d in WORKDAYS})
    assert touching.fingerprint == make(weekly_hours={d: [["09:00", "18:00"]] for d in WORKDAYS}).fingerprint
    assert base.fingerprint != make(holidays=["2026-03-02"]).fingerprint
    assert make().fingerprint != make(tz="Europe/Samara").fingerprint
    assert make().fingerprint != make(holidays_country="RU").fingerprint
    assert make().fingerprint != make(shortened_days=[{"date": "2026-02-18", "minutes": 30}]).fingerprint
    assert make().fingerprint == make().fingerprint

"""The SLA clock policy (`sla.policy`) as pure functions: no database, no engine, no company.

An office calendar (Mon-Fri 09:00-18:00 Moscow, UTC+3, no holidays) and clock records built
in the test; what is checked is what the engine then persists (`sla.clock_store`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla import policy
from sla.calendar import BusinessCalendar
from sla.model import ClockKind, ClockRecord, ClockStatus

OFFICE = BusinessCalendar.from_mapping(
    {"tz": "Europe/Moscow", "weekly_hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}},
    name="office",
)
MOSCOW = ZoneInfo("Europe/Moscow")


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of the week of Monday 2026-11-16, given in Moscow time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def started(at: datetime, target: float | None, warn_fraction: float = 0.75) -> ClockRecord:
    """A step clock as the engine stores it when it starts at ``at``."""
    plan = policy.start(OFFICE, at, target, warn_fraction)
    return ClockRecord(
        id=1, case_id=1, kind=ClockKind.STEP, state="inspection", department="warehouse", person=None,
        calendar="office", calendar_fingerprint=OFFICE.fingerprint, target_minutes=target,
        warn_fraction=warn_fraction, used_minutes=0.0, running_since=at, paused_since=None, stopped_at=None,
        deadline_at=plan.deadline, status=ClockStatus.RUNNING,
    )


def held(clock: ClockRecord, at: datetime) -> ClockRecord:
    """The clock as stored after `policy.hold` at ``at``."""
    result = policy.hold(clock, OFFICE, at)
    return dataclasses.replace(clock, used_minutes=result.used_minutes, paused_since=at, status=result.status)


def test_a_clock_starts_with_its_deadline_warning_and_escalation_levels_in_business_time() -> None:
    plan = policy.start(OFFICE, moscow(16, 10), 240, 0.75, escalation_afters=[60, 540])
    assert plan.deadline == moscow(16, 14)
    assert plan.warn_at == moscow(16, 13)
    # Level 2 is 540 business minutes past the deadline: the rest of Monday (4 h) and 5 h of Tuesday.
    assert plan.escalations == [moscow(16, 15), moscow(17, 14)]


def test_a_clock_without_a_target_has_no_deadline_and_no_timers() -> None:
    plan = policy.start(OFFICE, moscow(16, 10), None, 0.75, escalation_afters=[60])
    assert (plan.deadline, plan.warn_at, plan.escalations) == (None, None, [])


def test_a_clock_started_out_of_hours_counts_from_the_next_opening() -> None:
    assert policy.start(OFFICE, moscow(20, 20), 60, 0.5).deadline == moscow(23, 10)  # Fri evening -> Mon 10:00


def test_holding_a_clock_before_its_deadline_pauses_it_with_the_time_used() -> None:
    clock = started(moscow(16, 10), 240)
    result = policy.hold(clock, OFFICE, moscow(16, 11))
    assert result == policy.Held(used_minutes=60.0, status=ClockStatus.PAUSED, late=False)


def test_holding_a_clock_past_its_deadline_breaches_it_whether_or_not_a_sweep_came_first() -> None:
    clock = started(moscow(16, 10), 60)
    assert policy.hold(clock, OFFICE, moscow(16, 12)) == policy.Held(120.0, ClockStatus.BREACHED, late=True)
    swept = dataclasses.replace(clock, status=ClockStatus.BREACHED)
    assert policy.hold(swept, OFFICE, moscow(16, 12)).status is ClockStatus.BREACHED


def test_resuming_gives_a_new_deadline_for_the_time_left_and_its_warning_if_still_ahead() -> None:
    paused = held(started(moscow(16, 10), 240), moscow(16, 11))  # 60 of 240 used
    resumed = policy.resume(paused, OFFICE, moscow(17, 10), escalation_afters=[60])
    assert resumed.status is ClockStatus.RUNNING
    assert resumed.deadline == resumed.breach_due == moscow(17, 13)  # the 180 minutes left
    assert resumed.warn_at == resumed.warning_due == moscow(17, 12)  # 180 - 60 = 120 to the 75 % mark
    assert resumed.escalations == [moscow(17, 14)]  # 60 past the new deadline: the pause shifted it too


def test_a_warning_instant_passed_before_the_pause_is_not_set_again() -> None:
    paused = held(started(moscow(16, 10), 240), moscow(16, 13, 30))  # 210 used: past the 180 mark
    resumed = policy.resume(paused, OFFICE, moscow(17, 10))
    assert resumed.deadline == moscow(17, 10, 30)
    assert resumed.warning_due is None


def test_a_clock_breached_before_its_pause_keeps_its_deadline_and_gets_no_new_breach() -> None:
    paused = held(started(moscow(16, 10), 60), moscow(16, 12))
    assert paused.status is ClockStatus.BREACHED
    resumed = policy.resume(paused, OFFICE, moscow(17, 10), escalation_afters=[30, 120])
    assert resumed.status is ClockStatus.BREACHED
    assert (resumed.deadline, resumed.breach_due, resumed.warning_due) == (moscow(16, 11), None, None)
    # 60 minutes over already: level 1 (30 past) is due at once, level 2 after the 60 more it needs.
    assert resumed.escalations == [moscow(17, 10), moscow(17, 11)]


def test_stopping_in_time_is_met_and_late_is_breached_by_the_minutes_over_target() -> None:
    clock = started(moscow(16, 10), 240)
    assert policy.stop(clock, OFFICE, moscow(16, 14)) == policy.Stopped(240.0, ClockStatus.MET, None)
    assert policy.stop(clock, OFFICE, moscow(17, 10)) == policy.Stopped(540.0, ClockStatus.BREACHED, 300.0)


def test_a_suspended_clock_stops_without_counting_the_time_it_waited() -> None:
    suspended = held(started(moscow(16, 10), 240), moscow(16, 11))
    assert policy.stop(suspended, OFFICE, moscow(18, 10)) == policy.Stopped(60.0, ClockStatus.MET, None)


def test_a_clock_breached_then_suspended_stops_breached_with_its_lateness() -> None:
    suspended = held(started(moscow(16, 10), 60), moscow(16, 12))
    assert policy.stop(suspended, OFFICE, moscow(18, 10)) == policy.Stopped(120.0, ClockStatus.BREACHED, 60.0)


def test_used_by_counts_on_only_while_running() -> None:
    def used(paused_since: datetime | None, stopped_at: datetime | None) -> float:
        return policy.used_by(OFFICE, used_minutes=30.0, running_since=moscow(16, 10), paused_since=paused_since,
                              stopped_at=stopped_at, now=moscow(16, 12))

    assert used(None, None) == 150.0
    assert used(moscow(16, 11), None) == 30.0
    assert used(None, moscow(16, 11)) == 30.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 19, 21, tzinfo=UTC)),  # a day is its midnight in the zone
        ("2026-11-20T15:00", datetime(2026, 11, 20, 12, tzinfo=UTC)),
        (" 2026-11-20T15:00+00:00 ", datetime(2026, 11, 20, 15, tzinfo=UTC)),
        ("next friday", None),
        (20261120, None),
        (None, None),
    ],
)
def test_the_promised_instant_is_read_in_the_requesters_zone(value: object, expected: datetime | None) -> None:
    assert policy.promised_instant(value, MOSCOW) == expected


def test_a_promise_warns_when_it_leaves_less_than_the_target_or_nothing() -> None:
    promised = moscow(16, 12)
    assert policy.minutes_before(OFFICE, moscow(16, 10), promised) == 120.0
    assert policy.minutes_before(OFFICE, moscow(16, 13), promised) == 0.0
    assert policy.promise_warning("deliver_by", promised, 120.0, 120.0) is None
    assert "leaves 120 business minutes, less than the 480" in str(
        policy.promise_warning("deliver_by", promised, 120.0, 480.0))
    assert "cannot be met" in str(policy.promise_warning("deliver_by", promised, 0.0, None))


# --------------------------------------------------------------------------- invariants

STARTS = st.integers(min_value=0, max_value=14 * 24 * 60).map(lambda m: moscow(16, 0) + timedelta(minutes=m))
TARGETS = st.integers(min_value=1, max_value=3000).map(float)
SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(start=STARTS, target=TARGETS, share=st.floats(min_value=0.0, max_value=1.0))
def test_a_clock_stopped_at_or_before_its_deadline_is_met(start: datetime, target: float, share: float) -> None:
    clock = started(start, target)
    assert clock.deadline_at is not None
    at = OFFICE.add_business_minutes(start, round(target * share))
    assert at <= clock.deadline_at
    result = policy.stop(clock, OFFICE, max(at, start))
    assert result.status is ClockStatus.MET and result.late_minutes is None
    assert result.used_minutes <= target + 1e-6


@SETTINGS
@given(start=STARTS, target=TARGETS, after=st.integers(min_value=1, max_value=7 * 24 * 60))
def test_a_clock_stopped_after_its_deadline_is_breached_by_its_business_minutes_over(
    start: datetime, target: float, after: int
) -> None:
    clock = started(start, target)
    assert clock.deadline_at is not None
    at = clock.deadline_at + timedelta(minutes=after)
    result = policy.stop(clock, OFFICE, at)
    assert result.status is ClockStatus.BREACHED
    over = OFFICE.business_minutes_between(clock.deadline_at, at)
    assert result.late_minutes == pytest.approx(over, abs=1e-6)


@SETTINGS
@given(
    start=STARTS,
    target=TARGETS,
    share=st.floats(min_value=0.0, max_value=0.99),
    gap=st.integers(min_value=0, max_value=10 * 24 * 60),
)
def test_a_pause_shifts_the_deadline_by_the_paused_business_time(
    start: datetime, target: float, share: float, gap: int
) -> None:
    clock = started(start, target)
    assert clock.deadline_at is not None
    pause_at = max(OFFICE.add_business_minutes(start, round(target * share)), start)
    if pause_at >= clock.deadline_at:
        return  # (rounding reached the deadline: nothing left to shift)
    resume_at = pause_at + timedelta(minutes=gap)
    resumed = policy.resume(held(clock, pause_at), OFFICE, resume_at)
    assert resumed.status is ClockStatus.RUNNING and resumed.deadline is not None
    paused = OFFICE.business_minutes_between(pause_at, resume_at)
    assert OFFICE.business_minutes_between(clock.deadline_at, resumed.deadline) == pytest.approx(paused, abs=1e-6)
    # and the owner gets exactly their target of their own time
    before, after = (OFFICE.business_minutes_between(start, pause_at),
                     OFFICE.business_minutes_between(resume_at, resumed.deadline))
    assert before + after == pytest.approx(target, abs=1e-6)

"""Time in state (median and 90th percentile per department) against a plain Python reference on
random data, on SQLite and PostgreSQL: the report's percentiles are ``percentile_cont`` of the
finished steps' business minutes (position ``p * (n - 1)`` in the sorted minutes, interpolated
between its two neighbours), whatever the database does to find the neighbours."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from engine import cases
from org.chart import Company
from reports.scope import Scope, step_filter
from reports.steps import time_in_state
from sla.model import ClockKind, ClockStatus
from storage.models import SlaClock

SINCE = datetime(2030, 1, 7, tzinfo=UTC)
"""The random clocks start in a week of their own, after the case that owns them was opened."""
SCOPE = Scope(SINCE, SINCE + timedelta(days=7))
DEPARTMENTS = ("warehouse", "logistics", "accounting")

minutes = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=20).map(lambda m: m * 30.0),  # ties
    st.integers(min_value=0, max_value=10_000).map(lambda m: m / 10),  # rounded, as business minutes are
)
steps = st.dictionaries(
    st.sampled_from(DEPARTMENTS),
    st.lists(st.tuples(minutes, st.booleans()), min_size=1, max_size=40),  # (minutes, finished)
    min_size=1,
)


def reference(values: list[float], k: int, d: int) -> float:
    """``percentile_cont(k/d)`` as the definition says, on a sorted list."""
    ordered = sorted(values)
    position = Fraction(k, d) * (len(ordered) - 1)
    lower = int(position)
    fraction = float(position - lower)
    if lower + 1 == len(ordered):
        return ordered[lower] * (1.0 - fraction)
    return ordered[lower] * (1.0 - fraction) + ordered[lower + 1] * fraction


@pytest.fixture
def case_id(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> int:
    with sessions.begin() as session:
        opened = cases.open_case(session, company, case_type="return", actor=company.actor("ivanov"),
                                 data={"customer": "c", "order": "o", "reason": "r"}, now=clock.now())
        return opened.id


def _store(session: Session, case_id: int, drawn: dict[str, list[tuple[float, bool]]]) -> None:
    model = session.scalars(select(SlaClock).where(SlaClock.case_id == case_id)).first()
    assert model is not None  # the case's own clock lends its calendar
    session.execute(delete(SlaClock).where(SlaClock.started_at >= SINCE))
    seq = 100
    for department, clocks in drawn.items():
        for used, finished in clocks:
            seq += 1
            start = SINCE + timedelta(minutes=seq)
            session.add(SlaClock(
                case_id=case_id, kind=ClockKind.STEP, state="inspection", event_seq=seq, department=department,
                calendar=model.calendar, calendar_fingerprint=model.calendar_fingerprint, target_minutes=1e9,
                warn_fraction=0.75, started_at=start, running_since=start, deadline_at=start + timedelta(days=999),
                used_minutes=used, stopped_at=start + timedelta(minutes=1) if finished else None,
                status=ClockStatus.MET if finished else ClockStatus.RUNNING,
            ))  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=steps)
def test_median_and_p90_equal_percentile_cont_of_the_finished_steps(
    sessions: sessionmaker[Session], case_id: int, drawn: dict[str, list[tuple[float, bool]]]
) -> None:
    with sessions.begin() as session:
        _store(session, case_id, drawn)
    with sessions() as session:
        times = {row.department: row for row in time_in_state(session, SCOPE)}
        native = {}
        if session.get_bind().dialect.name == "postgresql":
            native = {
                row[0]: (row[1], row[2])
                for row in session.execute(
                    select(SlaClock.department, func.percentile_cont(0.5).within_group(SlaClock.used_minutes),
                           func.percentile_cont(0.9).within_group(SlaClock.used_minutes))
                    .where(*step_filter(SCOPE), SlaClock.stopped_at.is_not(None))
                    .group_by(SlaClock.department)
                )
            }  # fmt: skip
    finished = {d: [used for used, done in clocks if done] for d, clocks in drawn.items()}
    assert set(times) == {d for d, values in finished.items() if values}
    for department, row in times.items():
        values = finished[department]
        assert row.finished == len(values)
        # Exactly the definition's value, bit for bit (the report's numbers never change).
        assert (row.median_minutes, row.p90_minutes) == (reference(values, 1, 2), reference(values, 9, 10))
        if len(values) > 1:  # the standard library's own implementation of the same definition
            deciles = statistics.quantiles(values, n=10, method="inclusive")
            assert row.median_minutes == pytest.approx(deciles[4], rel=1e-9, abs=1e-9)
            assert row.p90_minutes == pytest.approx(deciles[8], rel=1e-9, abs=1e-9)
        if native:
            assert (row.median_minutes, row.p90_minutes) == pytest.approx(native[department], rel=1e-9, abs=1e-9)

"""`reports.steps.step_figures` against `sla.ledger.tallies` (every open step read and judged in
Python) on random step clocks, on SQLite and PostgreSQL: the report reads only the open steps
that are breached at ``now`` and lets the database count the running ones (`breached_if_open`),
so both must agree for every kind of step — open and running before or past its deadline,
suspended past it, recorded as breached (running or suspended), without a deadline, exempted;
stopped; untimed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.vocabulary import ExemptionStatus
from org.chart import Company
from reports.scope import Scope
from reports.steps import step_figures, step_rows
from sla import ledger as sla_ledger
from sla.model import ClockKind, ClockStatus
from storage.models import Breach, BreachReview, CalendarVersion, SlaClock
from tests.test_sweeper_logic import open_returns

SINCE = datetime(2030, 1, 7, tzinfo=UTC)
NOW = SINCE + timedelta(days=4, hours=3)
SCOPE = Scope(SINCE, SINCE + timedelta(days=7), now=NOW)
CASES = 3

KINDS = ("met", "stopped_breached", "running", "running_late", "paused_late", "recorded_breached", "no_deadline",
         "untimed", "due_now", "breached_then_paused")  # fmt: skip
one_clock = st.tuples(
    st.sampled_from(("warehouse", "logistics", "sales")),
    st.sampled_from(KINDS),
    st.sampled_from((-2, 0, 2, 4, 8)),  # days from SINCE it started: before, inside, after the period
    st.integers(min_value=0, max_value=3_000).map(lambda m: m / 10),  # business minutes used when stored
    st.booleans(),  # an approved exemption of its breach
)
drawn_clocks = st.lists(one_clock, max_size=12)


@pytest.fixture
def case_ids(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> list[int]:
    return open_returns(sessions, company, clock.now(), CASES)


def _store(session: Session, ids: list[int], drawn: list[tuple[Any, ...]]) -> None:
    model = session.scalars(select(CalendarVersion).order_by(CalendarVersion.name)).first()
    assert model is not None  # stored when the engine opened the cases
    session.execute(delete(SlaClock).where(SlaClock.case_id.in_(ids)))
    for index, (department, kind, day, used, exempt) in enumerate(drawn):
        start = SINCE + timedelta(days=day, hours=1, minutes=index)
        deadline = {"running": NOW + timedelta(hours=5), "no_deadline": None, "untimed": None,
                    "due_now": NOW}.get(kind, NOW - timedelta(hours=2))  # fmt: skip
        stopped = NOW - timedelta(minutes=30) if kind in ("met", "stopped_breached") else None
        status = {"met": ClockStatus.MET, "stopped_breached": ClockStatus.BREACHED,
                  "recorded_breached": ClockStatus.BREACHED, "paused_late": ClockStatus.PAUSED,
                  "breached_then_paused": ClockStatus.BREACHED}.get(
            kind, ClockStatus.RUNNING)  # fmt: skip
        clock = SlaClock(
            case_id=ids[index % len(ids)], kind=ClockKind.STEP, state="inspection", event_seq=index + 2,
            department=department, calendar=model.name, calendar_fingerprint=model.fingerprint,
            target_minutes=None if kind == "untimed" else 60.0, warn_fraction=0.75, started_at=start,
            running_since=start, deadline_at=deadline, used_minutes=used, stopped_at=stopped, status=status,
            paused_since=NOW - timedelta(hours=1) if kind in ("paused_late", "breached_then_paused") else None,
        )
        session.add(clock)
        if exempt:
            session.flush()
            breach = Breach(case_id=clock.case_id, clock_id=clock.id, kind=ClockKind.STEP, department=department,
                            deadline_at=deadline or start, breached_at=deadline or start, detected_at=start)
            session.add(breach)
            session.flush()
            session.add(BreachReview(breach_id=breach.id, clock_id=clock.id, exemption=ExemptionStatus.APPROVED))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=drawn_clocks)
def test_step_figures_equal_every_open_step_judged_in_python(
    sessions: sessionmaker[Session], case_ids: list[int], drawn: list[tuple[Any, ...]]
) -> None:
    with sessions.begin() as session:
        session.execute(delete(BreachReview))
        session.execute(delete(Breach))
        _store(session, case_ids, drawn)
    readable = case_ids[:2]  # a reader's scope: the counts then count the running steps in their own pass
    reader = dataclasses.replace(SCOPE, readable=lambda case_id: case_id.in_(readable))
    with sessions() as session:
        figures = step_figures(session, SCOPE)
        with_times = [row for row, _ in step_rows(session, SCOPE)]
        where = sla_ledger.step_where(since=SCOPE.since, until=SCOPE.until)
        judged = sla_ledger.tallies(session, where, NOW)
        read = step_figures(session, reader)
        judged_read = sla_ledger.tallies(session, [*where, SlaClock.__table__.c.case_id.in_(readable)], NOW)
    assert figures == judged == with_times
    assert read == judged_read
    counted = sum(f.steps + f.exempted for f in figures)
    assert counted == sum(1 for _, kind, day, _, _ in drawn if kind != "untimed" and 0 <= day < 7)

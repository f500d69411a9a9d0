"""The ledger (`reports.ledger.ledger`) against its previous definition on random clocks, on SQLite
and PostgreSQL: one GROUP BY of the case-step join that also counted the open steps (read only when
it found some), and a plain Python reference of what a cell means (cases in which the department
held a step, business minutes it used, open steps up to ``now``). Random clocks: several
requesters, cases opened inside and outside the period, a department holding several steps of one
case, open steps and open cases, breached cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from org.chart import Company
from reports.ledger import _open_steps_of_cases, ledger
from reports.scope import Scope, case_clock_filter
from sla import ledger as sla_ledger
from sla.model import ClockKind, ClockStatus
from storage.models import SlaClock
from tests.test_sweeper_logic import open_returns

SINCE = datetime(2030, 1, 7, tzinfo=UTC)
SCOPE = Scope(SINCE, SINCE + timedelta(days=7), now=SINCE + timedelta(days=9))
CASES = 5
_clocks = SlaClock.__table__

step = st.tuples(
    st.sampled_from(("warehouse", "logistics", "sales")),
    st.integers(min_value=0, max_value=5_000).map(lambda m: m / 10),  # business minutes, rounded as stored
    st.booleans(),  # finished
)
one_case = st.fixed_dictionaries({
    "requester": st.sampled_from(("sales", "marketing")),
    "opened": st.sampled_from((-2, 0, 3, 6, 8)),  # days from SINCE: before, inside, after the period
    "finished": st.booleans(),
    "breached": st.booleans(),
    "steps": st.lists(step, max_size=5),
})  # fmt: skip
drawn_cases = st.lists(one_case, min_size=CASES, max_size=CASES)


def previous_ledger(session: Session, scope: Scope) -> dict[tuple[str, str], tuple[int, float]]:
    """The ledger's cells as they were defined before the open steps left the big GROUP BY
    (reports/ledger.py up to the fifth session): (cases, minutes) per (requester, department).
    The breach shares were not changed (tests/test_reports.py pins them)."""
    whole = _clocks.alias("whole")
    step_ = _clocks.alias("step")
    joined = and_(step_.c.case_id == whole.c.case_id, step_.c.kind == ClockKind.STEP)
    minutes = (
        select(
            whole.c.department,
            step_.c.department,
            func.count(func.distinct(step_.c.case_id)),
            func.coalesce(func.sum(step_.c.used_minutes), 0.0),
            func.coalesce(func.sum(case((step_.c.stopped_at.is_(None), 1), else_=0)), 0),
        )
        .join_from(whole, step_, joined)
        .where(*case_clock_filter(whole, scope))
        .group_by(whole.c.department, step_.c.department)
    )
    grouped = list(session.execute(minutes))
    extra: dict[tuple[str, str], float] = {}
    for requester, clock in _open_steps_of_cases(session, scope) if any(row[4] for row in grouped) else []:
        _, used, _ = sla_ledger.judge(session, clock, scope.at)
        extra[(requester, clock.department)] = extra.get((requester, clock.department), 0.0) + used - clock.used_minutes
    return {(row[0], row[1]): (int(row[2]), float(row[3]) + extra.get((row[0], row[1]), 0.0)) for row in grouped}


def reference(session: Session, scope: Scope, ids: list[int], drawn: list[dict[str, Any]]) -> dict[Any, Any]:
    """What a cell means, from the drawn clocks: the cases opened in the period, the minutes each
    step used (an open one: judged at ``now`` in its calendar), distinct cases per cell."""
    held: dict[tuple[str, str], set[int]] = {}
    used: dict[tuple[str, str], float] = {}
    opened_in = {
        row.case_id for row in session.execute(select(_clocks.c.case_id).where(*case_clock_filter(_clocks, scope)))
    }
    rows = {
        row.id: row for row in session.execute(select(*sla_ledger.OPEN_COLUMNS).where(_clocks.c.kind == ClockKind.STEP))
    }
    for row in rows.values():
        if row.case_id not in opened_in:
            continue
        requester = drawn[ids.index(row.case_id)]["requester"]
        key = (requester, row.department)
        held.setdefault(key, set()).add(row.case_id)
        minutes = row.used_minutes if row.stopped_at is not None else sla_ledger.judge(session, row, scope.at)[1]
        used[key] = used.get(key, 0.0) + minutes
    return {key: (len(held[key]), used[key]) for key in held}


@pytest.fixture
def case_ids(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> list[int]:
    return open_returns(sessions, company, clock.now(), CASES)


def _store(session: Session, ids: list[int], drawn: list[dict[str, Any]]) -> None:
    model = session.scalars(select(SlaClock).where(SlaClock.case_id == ids[0])).first()
    assert model is not None  # the engine's clock lends its calendar
    session.execute(delete(SlaClock).where(SlaClock.case_id.in_(ids)))
    for case_id, drawn_case in zip(ids, drawn, strict=True):
        opened = SINCE + timedelta(days=drawn_case["opened"], hours=1)
        status = ClockStatus.BREACHED if drawn_case["breached"] else ClockStatus.MET
        clocks = [(ClockKind.WHOLE_CASE, drawn_case["requester"], 0.0, drawn_case["finished"], status, 1)]
        clocks += [(ClockKind.STEP, dep, used, done, ClockStatus.MET, 2 + i) for i, (dep, used, done) in
                   enumerate(drawn_case["steps"])]  # fmt: skip
        for kind, department, used, finished, status, seq in clocks:
            start = opened + timedelta(minutes=seq)
            # Each carries its case's requester and opening (its whole-case clock's), as the engine writes them.
            session.add(SlaClock(
                case_id=case_id, kind=kind, state=None if kind == ClockKind.WHOLE_CASE else "inspection", event_seq=seq,
                requester=drawn_case["requester"], case_opened_at=opened + timedelta(minutes=1),
                department=department, calendar=model.calendar, calendar_fingerprint=model.calendar_fingerprint,
                target_minutes=60.0, warn_fraction=0.75, started_at=start, running_since=start,
                deadline_at=start + timedelta(hours=2), used_minutes=used if kind == ClockKind.STEP else 100.0,
                stopped_at=start + timedelta(minutes=30) if finished else None,
                status=status if finished else ClockStatus.RUNNING,
            ))  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=drawn_cases)
def test_the_ledger_equals_its_previous_definition_and_what_a_cell_means(
    sessions: sessionmaker[Session], case_ids: list[int], drawn: list[dict[str, Any]]
) -> None:
    with sessions.begin() as session:
        _store(session, case_ids, drawn)
    with sessions() as session:
        cells = {(c.requester, c.department): (c.cases, c.minutes) for c in ledger(session, SCOPE)}
        before = previous_ledger(session, SCOPE)
        meant = reference(session, SCOPE, case_ids, drawn)
    assert set(cells) == set(before) == set(meant)
    for key, (count, minutes) in cells.items():
        assert count == before[key][0] == meant[key][0]
        assert minutes == pytest.approx(before[key][1], rel=1e-12, abs=1e-9)
        assert minutes == pytest.approx(meant[key][1], rel=1e-12, abs=1e-9)

"""The sweeper's guarantees, on SQLite and PostgreSQL, with an injected clock (no Prefect):
each due timer fires once, a dead sweep's claims come back when their lease runs out, the guard
stops a timer whose case moved on, and a timer fires within one sweep interval of its due time."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from core.clock import SimulatedClock
from engine import cases
from engine.timers import DEFAULT_LEASE, claim_due, fire_timer, sweep
from flows.reconciler import find_stuck
from org.chart import Company
from storage.models import Breach, SlaClock, Timer

RETURN_DATA = {"customer": "ООО Ромашка", "order": "SO-1", "reason": "broken"}


def open_returns(
    sessions: sessionmaker[Session], company: Company, at: datetime, count: int, step: timedelta = timedelta(0)
) -> list[int]:
    ids = []
    for i in range(count):
        with sessions.begin() as session:
            ids.append(
                cases.open_case(
                    session, company, case_type="return", data=RETURN_DATA, actor=company.actor("ivanov"),
                    now=at + i * step,
                ).id
            )
    return ids


def timer_statuses(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(select(Timer.status, func.count()).group_by(Timer.status)).all()
    return {status: count for status, count in rows}


def test_it_fires_each_due_timer_once_across_two_sweeps(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    open_returns(sessions, company, clock.now(), 3)
    later = clock.advance(timedelta(days=30))
    first = sweep(sessions, company, now=later, owner="a")
    second = sweep(sessions, company, now=later, owner="b")
    assert first.fired_total > 0 and first.failed == 0
    assert (second.claimed, second.fired_total) == (0, 0)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Breach)) == session.scalar(
            select(func.count()).select_from(SlaClock)
        )
        fired = session.scalar(select(func.count()).where(Timer.status == "fired"))
        assert fired == first.fired_total
        assert session.scalar(select(func.count()).where(Timer.status == "pending", Timer.due_at <= later)) == 0


def test_it_gives_a_dead_sweepers_claims_to_another_owner_when_the_lease_runs_out(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    open_returns(sessions, company, clock.now(), 2)
    now = clock.advance(timedelta(days=30))
    with sessions.begin() as session:  # sweeper "a" claims, then dies before firing anything
        claimed = claim_due(session, now=now, owner="a", limit=100)
    assert claimed
    assert sweep(sessions, company, now=now + DEFAULT_LEASE / 2, owner="b").claimed == 0  # still leased
    later = now + DEFAULT_LEASE + timedelta(seconds=1)
    result = sweep(sessions, company, now=later, owner="b")
    assert result.claimed == len(claimed) and result.failed == 0
    with sessions.begin() as session:  # "a" wakes up: its lease is gone, the guard refuses
        assert all(fire_timer(session, company, timer_id=i, owner="a", now=later) is None for i in claimed)
    with sessions() as session:
        owners = set(session.scalars(select(Timer.lease_owner).where(Timer.id.in_(claimed))))
        assert owners == {None}
        assert set(session.scalars(select(Timer.status).where(Timer.id.in_(claimed)))) <= {"fired", "cancelled"}
        assert session.scalar(select(func.count()).select_from(Breach)) == 4


def test_the_guard_stops_a_claimed_timer_whose_case_moved_on(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    [case_id] = open_returns(sessions, company, clock.now(), 1)
    now = clock.advance(timedelta(hours=7))  # the step's warning (at 75 % of 8 h) is due, its breach is not
    with sessions.begin() as session:
        claimed = claim_due(session, now=now, owner="a", limit=100)
    with sessions() as session:
        [warning_id] = session.scalars(
            select(Timer.id).where(Timer.id.in_(claimed), Timer.kind == "warning", Timer.state == "inspection")
        )
    with sessions.begin() as session:  # the warehouse finishes before the sweeper gets to fire
        cases.fire(
            session, company, case_id=case_id, trigger="approve", actor=company.actor("popov"),
            payload={"inspection_notes": "ok"}, now=now,
        )
    with sessions.begin() as session:
        assert fire_timer(session, company, timer_id=warning_id, owner="a", now=now) is None
    with sessions() as session:
        assert session.get(Timer, warning_id).status == "cancelled"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(Breach)) == 0


def test_the_guard_cancels_a_pending_timer_of_a_state_the_case_left(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    open_returns(sessions, company, clock.now(), 1)
    with sessions.begin() as session:  # timers the engine failed to cancel (stale rows)
        session.execute(update(Timer).where(Timer.state == "inspection").values(state="collection"))
        stale = session.scalar(select(func.count()).where(Timer.state == "collection")) or 0
    assert stale >= 2  # the step's warning and breach (and its escalations, if any)
    result = sweep(sessions, company, now=clock.advance(timedelta(days=30)), owner="a")
    # ...and the whole case's warning, whose stage passed with its deadline (its breach fires).
    assert result.skipped == stale + 1 and result.failed == 0
    with sessions() as session:
        statuses = session.scalars(select(Timer.status).where(Timer.state == "collection")).all()
        assert set(statuses) == {"cancelled"}
        assert session.scalar(select(func.count()).select_from(Breach)) == 1  # only the whole-case clock


def test_a_timer_fires_within_one_sweep_interval_of_its_due_time(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """A sweep loop every ``interval`` (simulated): each timer fires at the first tick at or after
    its due time (a breach one tick later when the tick lands exactly on the deadline)."""
    interval = timedelta(seconds=30)
    start = clock.now()
    open_returns(sessions, company, start, 24, step=timedelta(seconds=97))  # due times between ticks
    tick, sweeps = start, 0
    while True:
        with sessions() as session:
            next_due = session.scalar(select(func.min(Timer.due_at)).where(Timer.status == "pending"))
        if next_due is None:
            break
        if next_due > tick:  # ticks with nothing due do nothing: jump to the first one that has work
            tick = start + -((start - next_due) // interval) * interval
        sweep(sessions, company, now=tick, owner="loop", batch=7)
        tick += interval
        sweeps += 1
        assert sweeps < 1000
    with sessions() as session:
        fired = session.execute(select(Timer.due_at, Timer.fired_at).where(Timer.status == "fired")).all()
    lateness = [(fired_at - due_at).total_seconds() for due_at, fired_at in fired]
    assert len(lateness) >= 24 * 4  # at least the warning and breach of both clocks of each case
    assert min(lateness) >= 0, "a timer fired before it was due"
    assert max(lateness) < interval.total_seconds() + 5


def test_the_reconciler_reports_failed_timers_and_leases_nobody_took_back(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    open_returns(sessions, company, clock.now(), 2)
    now = clock.advance(timedelta(days=30))
    with sessions.begin() as session:
        claimed = claim_due(session, now=now, owner="dead", limit=3)
        session.execute(update(Timer).where(Timer.id == claimed[0]).values(status="failed", last_error="boom"))
        session.execute(update(Timer).where(Timer.id == claimed[1]).values(attempts=10))
    grace = timedelta(minutes=10)
    with sessions() as session:
        unclaimed = session.scalar(select(func.count()).where(Timer.lease_owner.is_(None))) or 0
        found = find_stuck(session, now=now, grace=grace)
        assert (found.failed, found.expired_leases, found.overdue, found.poison) == (1, 0, unclaimed, 1)
        found = find_stuck(session, now=now + timedelta(hours=1), grace=grace)  # nobody took the leases back
    assert (found.failed, found.expired_leases, found.overdue, found.poison) == (1, 2, unclaimed, 1)
    assert {s["problem"] for s in found.samples} == {"failed", "expired_leases", "overdue", "poison"}

"""A surviving sweeper takes a dead one's claims the moment their lease runs out, not at its next
tick: the query for the earliest foreign lease (`engine.timer_leases`) and the sweeper loop's wait
(`flows.sweeper._Loop.rest`), on SQLite and PostgreSQL, with an injected clock (no sleeps)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from core.clock import SimulatedClock
from engine.timer_leases import next_foreign_expiry, pause_before_next_sweep
from engine.timers import DEFAULT_LEASE, claim_due
from flows._support import open_runtime
from flows.handover import Handover, Watch
from flows.sweeper import _Loop
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from storage.models import Timer
from tests.test_sweeper_logic import open_returns

INTERVAL = 10.0


def test_the_earliest_lease_of_another_owner_on_a_due_timer_is_when_to_wake(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    open_returns(sessions, company, clock.now(), 3)
    due = clock.advance(timedelta(days=30))
    with sessions.begin() as session:
        assert claim_due(session, now=due, owner="dead", limit=2)
        assert claim_due(session, now=due + timedelta(seconds=30), owner="other", limit=2)
        assert claim_due(session, now=due + timedelta(seconds=40), owner="me", limit=2)
    with sessions() as session:
        at = due + timedelta(seconds=45)
        others = due + timedelta(seconds=30) + DEFAULT_LEASE
        assert next_foreign_expiry(session, now=at, owners=["me"]) == due + DEFAULT_LEASE
        assert next_foreign_expiry(session, now=at, owners=["me", "dead"]) == others
        # Our own claims never count, and a lease that ran out is the sweep's to claim, not a wake-up.
        assert next_foreign_expiry(session, now=at, owners=["me", "dead", "other"]) is None
        after_dead = due + DEFAULT_LEASE + timedelta(seconds=1)
        assert next_foreign_expiry(session, now=after_dead, owners=["me"]) == others


def test_the_wait_is_the_tick_unless_a_foreign_lease_runs_out_first() -> None:
    now = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
    assert pause_before_next_sweep(until_tick=7.5, now=now, expiry=None) == 7.5
    assert pause_before_next_sweep(until_tick=7.5, now=now, expiry=now + timedelta(seconds=60)) == 7.5
    assert pause_before_next_sweep(until_tick=7.5, now=now, expiry=now + timedelta(seconds=3)) == pytest.approx(3.2)
    assert pause_before_next_sweep(until_tick=7.5, now=now, expiry=now - timedelta(seconds=3)) == 0.0
    assert pause_before_next_sweep(until_tick=-1.0, now=now, expiry=None) == 0.0


class _Time:
    """Wall and monotonic time from one simulated clock; a stop flag whose wait moves it on."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock, self.start = clock, clock.now()
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return (self.clock.now() - self.start).total_seconds()

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=max(0.0, seconds)))
        return False


@pytest.mark.parametrize("phase", [3.0, 9.5])
def test_a_surviving_sweeper_takes_a_dead_ones_claims_as_their_lease_runs_out_not_a_tick_later(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock,
    monkeypatch: pytest.MonkeyPatch, phase: float,
) -> None:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))
    open_returns(sessions, company, clock.now(), 3)
    clock.advance(timedelta(days=30))  # every timer of the three cases is due
    with sessions.begin() as session:  # another sweeper claims some of them, then dies
        held = claim_due(session, now=clock.now(), owner="dead", limit=4)
    expiry = clock.now() + DEFAULT_LEASE
    clock.advance(timedelta(seconds=phase))  # the survivor sweeps every 10 s from here
    time = _Time(clock)
    loop = _Loop(owner="survivor", run_id=None, fixed=None, batch=500, max_batches=4, log=logging.getLogger("test"),
                 lease=DEFAULT_LEASE, threads=1)
    loop.clock, loop.monotonic = clock, time.monotonic
    never = Watch(Handover(None), clock=clock)
    taken_at: datetime | None = None
    with open_runtime() as runtime:
        while time.monotonic() < 300:
            tick = loop.monotonic()
            loop.once(runtime)
            with sessions() as session:
                if "pending" not in set(session.scalars(select(Timer.status).where(Timer.id.in_(held)))):
                    taken_at = clock.now()
                    break
            assert not loop.rest(runtime, time, never, next_tick=tick + INTERVAL)  # type: ignore[arg-type]
    assert held and taken_at is not None
    # The survivor's ticks fall `phase` seconds after each 10 s of the lease: a sweep only at
    # ticks would take the dead one's timers `phase` seconds after the lease ran out.
    assert expiry < taken_at <= expiry + timedelta(seconds=0.5), (expiry, taken_at)
    assert max(time.waits) <= INTERVAL and min(time.waits) < INTERVAL - 1  # it woke early once

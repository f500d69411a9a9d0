"""A sweeper delivers the outbox in time-boxed slices (`flows.dispatcher.deliver_slice`,
`flows.sweeper._Loop.rest`): a big batch of messages never delays a sweep, nor the wake for a dead
sweeper's leases, by more than one slice, and what a slice leaves stays pending until the next.
Injected clocks and counted batches, no sleeping; the slice on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from core.clock import SimulatedClock
from engine.timers import DEFAULT_LEASE, claim_due
from flows._support import open_runtime
from flows.dispatcher import deliver_slice
from flows.handover import Handover, Watch
from flows.sweeper import SLICE_S, _Loop
from notifications import events
from notifications.settings import NotificationSettings
from org.chart import Company
from runtime.assembly import Runtime
from runtime.settings import EXAMPLE_COMPANY
from storage.models import OutboxMessage
from tests.conftest import MONDAY_0900_MSK
from tests.test_sweeper_logic import open_returns
from tests.test_timer_leases import _Time

MESSAGES = 120


def _queue(sessions: sessionmaker[Session], company: Company, count: int) -> None:
    with sessions.begin() as session:
        for i in range(count):  # a test message is unique per instant: one a second
            at = MONDAY_0900_MSK + timedelta(seconds=i)
            events.test_message(session, company, person="sidorov", channel="email", now=at)


def _pending(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).where(OutboxMessage.status == "pending")) or 0)


class _Ticks:
    """A monotonic clock that moves on by ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.reads = 0.0, step, 0

    def __call__(self) -> float:
        value = self.now
        self.now += self.step
        self.reads += 1
        return value


@pytest.fixture
def runtime(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))
    with open_runtime() as runtime:
        yield runtime


def test_a_slice_stops_after_the_batch_that_uses_up_its_budget_and_leaves_the_rest_pending(
    sessions: sessionmaker[Session], company: Company, tmp_path: Path, runtime: Runtime
) -> None:
    _queue(sessions, company, MESSAGES)
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    clock = SimulatedClock(MONDAY_0900_MSK + timedelta(hours=1))  # working hours: nothing is held
    # Each batch of 50 "takes" 1.5 s: the first leaves 0.5 s of the 2 s budget, the second ends the slice.
    ticks = _Ticks(1.5)
    first = deliver_slice(runtime, "s", settings, limit=50, max_batches=10, budget_s=2.0, clock=clock,
                          monotonic=ticks)
    assert (first.result.claimed, first.result.sent, first.more) == (100, 100, True)
    assert _pending(sessions) == MESSAGES - 100  # nothing lost: the rest simply waits
    # The batch count bounds a slice however fast its batches go.
    fast = deliver_slice(runtime, "s", settings, limit=5, max_batches=2, budget_s=2.0, clock=clock,
                         monotonic=_Ticks(0.0))
    assert (fast.result.sent, fast.more) == (10, True)
    last = deliver_slice(runtime, "s", settings, limit=50, max_batches=10, budget_s=2.0, clock=clock,
                         monotonic=_Ticks(1.5))
    assert (last.result.sent, last.more) == (MESSAGES - 110, False)
    assert _pending(sessions) == 0
    assert len(list(tmp_path.rglob("*"))) > 0


class _SlowOutbox:
    """Stands for `_Loop.deliver`: each slice takes `SLICE_S` of simulated time; ``slices`` of
    them are due before the outbox is empty."""

    def __init__(self, loop: _Loop, clock: SimulatedClock, slices: int) -> None:
        self.loop, self.clock, self.left, self.at = loop, clock, slices, list[float]()

    def __call__(self, _runtime: Runtime) -> None:
        self.at.append(self.loop.monotonic())
        self.clock.advance(timedelta(seconds=SLICE_S))
        self.left -= 1
        self.loop.outbox_more = self.left > 0


@pytest.mark.parametrize(("slices", "expiry_in", "delivered", "late_at_most"), [
    (100, 5.0, 3, SLICE_S),  # a big outbox: slices until the wake, which is late by less than one slice
    (2, 5.0, 2, 0.0),  # the outbox empties first: then a plain wait, to the wake exactly
    (100, None, 5, 0.0),  # no foreign lease: slices fill the interval up to the tick
])
def test_between_sweeps_the_outbox_goes_in_slices_and_a_wake_is_never_late_by_more_than_one(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock,
    runtime: Runtime, slices: int, expiry_in: float | None, delivered: int, late_at_most: float,
) -> None:
    if expiry_in is not None:  # a dead sweeper's claim runs out `expiry_in` seconds from the start
        open_returns(sessions, company, clock.now(), 1)
        clock.advance(timedelta(days=30))
        with sessions.begin() as session:
            assert claim_due(session, now=clock.now() - DEFAULT_LEASE + timedelta(seconds=expiry_in), owner="dead",
                             limit=1)
    time = _Time(clock)
    loop = _Loop(owner="me", run_id=None, fixed=None, batch=500, max_batches=4, log=logging.getLogger("test"),
                 lease=DEFAULT_LEASE, threads=1)
    loop.clock, loop.monotonic = clock, time.monotonic
    outbox = _SlowOutbox(loop, clock, slices)
    loop.deliver = outbox  # type: ignore[method-assign,assignment]
    loop.outbox_more = True  # the sweep's own slice left messages
    wake = 10.0 if expiry_in is None else expiry_in + 0.2
    assert not loop.rest(runtime, time, Watch(Handover(None), clock=clock), next_tick=10.0)  # type: ignore[arg-type]
    assert len(outbox.at) == delivered
    assert all(at < wake for at in outbox.at)  # no slice starts once the wake is due
    assert wake - 1e-3 <= time.monotonic() <= wake + late_at_most + 1e-3
    assert late_at_most == 0.0 or time.monotonic() > wake  # the big outbox case does run past it: the bound is real


def test_a_sweeper_run_without_dispatch_delivers_nothing(runtime: Runtime) -> None:
    loop = _Loop(owner="me", run_id=None, fixed=None, batch=500, max_batches=4, log=logging.getLogger("test"),
                 lease=DEFAULT_LEASE, threads=1)
    loop.deliver(runtime)
    assert (loop.sent, loop.outbox_more) == (0, False)


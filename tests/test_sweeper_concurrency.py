"""Sweepers in separate processes, as on several machines: two racing over the same due
timers fire each one once, and a sweep SIGKILLed mid-batch loses and doubles nothing (the next
sweep after its lease runs out finishes its work). On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from engine import cases
from engine.timers import DEFAULT_LEASE, sweep
from org.chart import Company
from storage.models import Breach, CaseEvent, SlaClock, Timer
from tests.test_sweeper_logic import open_returns

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from datetime import datetime
import engine.timers as timers
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, session_factory

url, owner, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
batch, delay, group = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
if delay:  # test-only slowness: say which timer is being fired, then dawdle inside its transaction
    fire = timers.fire_timer
    def slow_fire(*args, **kwargs):
        kind = fire(*args, **kwargs)
        print("firing", kwargs["timer_id"], flush=True)
        time.sleep(delay)
        return kind
    timers.fire_timer = slow_fire
company = load_company(EXAMPLE_COMPANY)
engine = make_engine(url)
factory = session_factory(engine)
print("ready", flush=True)
sys.stdin.readline()
result = timers.sweep(factory, company, now=now, owner=owner, batch=batch, group=group)
print(json.dumps({"claimed": result.claimed, "fired": dict(result.fired), "skipped": result.skipped,
                  "failed": result.failed}), flush=True)
engine.dispose()
"""


@contextmanager
def sweeper_process(
    url: str, owner: str, now: datetime, *, batch: int = 25, delay: float = 0.0, group: int = 5
) -> Iterator[subprocess.Popen[str]]:
    """A sweeper in its own process, loaded and connected, waiting for "go" on its stdin."""
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, url, owner, now.isoformat(), str(batch), str(delay), str(group)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as process:
        try:
            assert read_line(process.stdout) == "ready"
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def read_line(stream: IO[str] | None, timeout: float = 60) -> str:
    """One line of a child's output (the child is killed by the test's timeout if it hangs)."""
    assert stream is not None
    started = time.monotonic()
    line = stream.readline()
    assert line, f"the sweeper process ended without output after {time.monotonic() - started:.1f} s"
    return line.strip()


def populate(sessions: sessionmaker[Session], company: Company, start: datetime, returns: int, held: int) -> datetime:
    """``returns`` return cases at ``start`` and ``held`` reservations parked in ``held`` a week
    earlier; return an instant at which each return's step warning and breach are due (Monday
    18:00 Moscow, the warehouse step was due at 17:00) and each reservation's automatic release."""
    open_returns(sessions, company, start, returns)
    earlier = start - timedelta(days=7)
    for _ in range(held):
        with sessions.begin() as session:
            case = cases.open_case(
                session, company, case_type="reservation", data={"customer": "c", "deal": "D-1", "items": "x"},
                actor=company.actor("ivanov"), now=earlier,
            )
            cases.fire(session, company, case_id=case.id, trigger="approve", actor=company.actor("kuznetsova"),
                       now=earlier)
            cases.fire(session, company, case_id=case.id, trigger="reserved", actor=company.actor("popov"),
                       payload={"reservation_doc": "R-1"}, now=earlier)
    return start + timedelta(hours=9)


def due_timers(sessions: sessionmaker[Session], now: datetime) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(
            select(Timer.kind, func.count()).where(Timer.status == "pending", Timer.due_at <= now).group_by(Timer.kind)
        ).all()
    return {kind: count for kind, count in rows}


def firing(due: dict[str, int]) -> Counter[str]:
    """What of ``due`` fires: the warnings were due before the deadline the sweep comes after, so
    their stage has passed and the guard cancels them (once each, like any settling)."""
    return Counter({kind: count for kind, count in due.items() if kind != "warning"})


def assert_fired_once(sessions: sessionmaker[Session], now: datetime, due: dict[str, int], held: int) -> None:
    with sessions() as session:
        assert session.scalar(select(func.count()).where(Timer.due_at <= now, Timer.status == "pending")) == 0
        by_kind = select(Timer.kind, func.count()).where(Timer.status == "fired").group_by(Timer.kind)
        fired: Counter[str] = Counter({kind: count for kind, count in session.execute(by_kind).all()})
        assert fired == firing(due)
        cancelled = select(func.count()).where(
            Timer.status == "cancelled", Timer.kind == "warning", Timer.state == "inspection"
        )
        assert session.scalar(cancelled) == due.get("warning", 0)
        step_clocks = session.scalar(
            select(func.count()).select_from(SlaClock).where(SlaClock.kind == "step", SlaClock.state == "inspection")
        )
        breaches = session.scalar(select(func.count(func.distinct(Breach.clock_id))))
        assert session.scalar(select(func.count()).select_from(Breach)) == breaches == step_clocks
        released = select(func.count()).where(CaseEvent.source == "timer", CaseEvent.trigger == "expire")
        assert session.scalar(released) == held


def test_two_sweeper_processes_racing_fire_each_timer_once(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    now = populate(sessions, company, clock.now(), returns=300, held=10)
    due = due_timers(sessions, now)
    assert due == {"warning": 300, "breach": 300, "auto": 10}
    with ExitStack() as stack:
        racers = [stack.enter_context(sweeper_process(db_url, owner, now)) for owner in ("racer-a", "racer-b")]
        for process in racers:  # both are loaded and connected: let them go at once
            go(process)
        results = [json.loads(read_line(p.stdout)) for p in racers]
        assert [p.wait(timeout=60) for p in racers] == [0, 0]
    assert all(r["failed"] == 0 for r in results) and sum(r["skipped"] for r in results) == due["warning"]
    assert sum(r["claimed"] for r in results) == sum(due.values())  # no timer was claimed twice
    assert sum((Counter(r["fired"]) for r in results), Counter()) == firing(due)
    if db_url.startswith("postgresql"):  # SQLite's lock is not fair (a sleeping waiter may lose every round)
        assert all(sum(r["fired"].values()) > 0 for r in results), f"the sweepers did not overlap: {results}"
    assert_fired_once(sessions, now, due, held=10)


def test_a_sweep_killed_mid_batch_loses_and_doubles_nothing(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    now = populate(sessions, company, clock.now(), returns=30, held=4)
    due = due_timers(sessions, now)
    total = sum(due.values())
    # One timer per transaction, so the kill lands inside the fifth timer's own transaction.
    with sweeper_process(db_url, "victim", now, batch=total, delay=0.05, group=1) as victim:
        go(victim)
        seen = [read_line(victim.stdout) for _ in range(5)]
        assert all(line.startswith("firing") for line in seen)
        victim.send_signal(signal.SIGKILL)  # mid-batch, inside the fifth timer's transaction
        assert victim.wait(timeout=30) == -signal.SIGKILL
    with sessions() as session:
        by_victim = session.scalar(
            select(func.count()).where(Timer.status.in_(["fired", "cancelled"]), Timer.attempts > 0)
        )
        leased = session.scalar(select(func.count()).where(Timer.lease_owner == "victim"))
    assert by_victim in (4, 5) and by_victim + (leased or 0) == total  # the rest still carry its lease
    assert sweep(sessions, company, now=now + DEFAULT_LEASE / 2, owner="next").claimed == 0
    result = sweep(sessions, company, now=now + DEFAULT_LEASE + timedelta(seconds=1), owner="next")
    assert (result.claimed, result.fired_total + result.skipped, result.failed) == (total - by_victim,) * 2 + (0,)
    assert_fired_once(sessions, now, due, held=4)

"""The sweeper flow: fire every due timer (warning, breach, escalation, auto, hook).

One flow run fires thousands of timers: it runs `engine.timers.sweep`, which claims due rows in
batches with a lease and fires each in its own transaction. A flow run per timer would cost ~1 s
and 150-200 MB each (measured).

Deployed (`flows.deploy`), one run is long-lived: it sweeps every ``interval_s`` seconds for
``lifetime_s`` seconds, then ends, and its schedule starts the next one a little before (the
deployment's concurrency limit drops a tick that finds the slots taken). So a Python process is
started every few minutes, not every tick, and the run's heartbeats let Prefect crash it when its
machine dies. SIGTERM or SIGINT ends the loop after the batch in hand: the run completes and its
claims are released at once, instead of waiting for their lease. The old run ends as soon as its
successor's process starts, handing its claims back (`flows.handover`), and between sweeps a
run sleeps until its next tick or, if sooner, until a lease another owner holds on a due timer
runs out (`engine.timer_leases`): a dead sweeper's claims are taken the moment they expire. The
outbox is delivered between sweeps in slices of about two seconds (`SLICE_S`), so neither a sweep
nor such a wake waits for a big batch of messages: each waits for one slice at most; in a
backlog, one slice per interval between sweeps (a burst's timers first, their messages close
behind).

Several sweeps may overlap (the hand-over between runs, or a zombie's leases): claims skip each
other's rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) and firing
re-checks the lease and status, so each timer fires once.

Each fired timer is a Prefect event, ``slaflow.timer.fired``, whose resource is the case (with
kind, level and department), and the run's table artifact lists them: from the UI an operator
finds which run escalated case 123, and the timer row keeps the run's id (``timers.flow_run_id``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from prefect import flow
from sqlalchemy.engine import make_url

from core.clock import Clock, SystemClock, ensure_utc
from core.vocabulary import TimerStatus
from engine.timer_leases import next_foreign_expiry, pause_before_next_sweep
from engine.timers import DEFAULT_LEASE, SweepResult, sweep
from flows._support import flow_run_id, give_back_memory, open_runtime, publish_table, run_logger, worker_id
from flows.handover import Handover, Watch
from flows.hooks import start_state_hook
from flows.visibility import fired_timers, publish_fired
from notifications.settings import NotificationSettings
from runtime.assembly import Runtime
from storage import lease as lease_rows
from storage.models import Timer, table

ARTIFACT_ROWS = 1000
"""At most this many fired timers listed in one run's artifact (the events list them all)."""
SLICE_S = 2.0
"""A sweeper delivers the outbox in slices of about this many seconds between its sweeps."""
SLICE_LIMIT = 50
"""Messages claimed at once in a slice (a slice ends after the batch that reaches `SLICE_S`)."""
SLICE_BATCHES = 10
"""At most this many batches in one slice, however fast they go."""
SUCCESSOR_WAIT_RESTARTS = 2
"""A deployed run whose lifetime is over sweeps on until its successor starts, at most this many
schedule restarts (its tick comes within one, a worker takes it within another): ending at the
lifetime could leave no sweeper for a whole restart and more (with no run holding ticks off, a
third sweeper started in such a gap)."""


def summarise(result: SweepResult, *, owner: str, now: str, capacity: int) -> dict[str, Any]:
    """The flow run's result: counts per kind, plus whether the sweep left a backlog behind."""
    return {
        "flow_run": _flow_run_name(),
        "owner": owner,
        "now": now,
        "claimed": result.claimed,
        "fired": dict(sorted(result.fired.items())),
        "fired_total": result.fired_total,
        "skipped": result.skipped,
        "failed": result.failed,
        "backlog_left": result.claimed >= capacity,
    }


def _start_hook(deployment: str, case_id: int, event_seq: int) -> None:
    start_state_hook(deployment, case_id, event_seq)


def _flow_run_name() -> str | None:
    from prefect.runtime import flow_run

    return str(flow_run.get_name()) if flow_run.get_id() else None


class StopFlag:
    """Set by SIGTERM/SIGINT while a looping run is in its loop; ``nudge`` also wakes a resting
    loop without stopping it (the hand-over watch, once the successor starts)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._wake = threading.Event()

    def set(self) -> None:
        self.event.set()
        self._wake.set()

    def nudge(self) -> None:
        self._wake.set()

    def wait(self, seconds: float) -> bool:
        """Rest up to ``seconds``, less if stopped or nudged; True when a stop was asked for."""
        self._wake.wait(max(0.0, seconds))
        return self.event.is_set()


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """SIGTERM and SIGINT end the loop after the batch in hand (main thread only: a flow called
    from a worker thread keeps the process's handlers)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        flag.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _refuse_secret(database_url: str | None) -> None:
    """Parameters are stored and shown by Prefect: a password there would leak. Deployed runs
    read the database from the worker's settings (SLAFLOW_DATABASE_URL)."""
    if database_url and make_url(database_url).password:
        raise ValueError("database_url must not carry a password; set SLAFLOW_DATABASE_URL on the worker instead")


@flow(name="sweep-timers", retries=0, log_prints=False)
def sweep_timers(
    batch: int = 500,
    max_batches: int = 100,
    at: datetime | None = None,
    database_url: str | None = None,
    interval_s: float = 10.0,
    lifetime_s: float = 0.0,
    dispatch: bool = False,
    lease_s: float = DEFAULT_LEASE.total_seconds(),
    threads: int = 1,
    restart_s: float = 0.0,
) -> dict[str, Any]:
    """Fire the timers due now (or at ``at``: a simulated week in the demo, a backfill); with
    ``lifetime_s`` > 0, keep sweeping every ``interval_s`` seconds for that long, and with
    ``dispatch`` deliver the outbox between sweeps (in slices of `SLICE_S`). A claim is kept
    ``lease_s`` seconds: what a dead run held fires that long after its claim. On PostgreSQL
    ``threads`` sweeps run side by side (a burst fires about 1.8x faster with two: one waits on
    the database while the other works). ``restart_s`` is the deployment's schedule: a run whose
    lifetime is longer than one restart holds off the ticks due before its successor is needed
    (`flows.handover`). Return (and log, and show as an artifact and as events) what fired."""
    _refuse_secret(database_url)
    log = run_logger(__name__)
    owner = worker_id()
    fixed = ensure_utc(at) if at is not None else None
    started = (fixed or SystemClock().now()).isoformat()
    loop = _Loop(owner=owner, run_id=flow_run_id(), fixed=fixed, batch=batch, max_batches=max_batches, log=log,
                 lease=timedelta(seconds=lease_s), threads=threads)
    with open_runtime(database_url) as runtime, stop_on_signals() as stop:
        loop.settings = _delivery_settings(log) if dispatch else None
        deadline = time.monotonic() + lifetime_s
        handover = _handover(loop, lifetime_s=lifetime_s, interval_s=interval_s, restart_s=restart_s)
        with Watch(handover, clock=loop.clock, on_successor=stop.nudge) as watch:
            while True:
                tick = time.monotonic()
                backlog = loop.once(runtime)
                if not backlog or tick - loop.delivered_at >= interval_s:  # in a backlog, a slice per interval
                    loop.deliver(runtime)
                if fixed is not None or stop.event.is_set() or lifetime_over(
                    tick + interval_s, deadline=deadline, restart_s=restart_s, deployed=handover.run_id is not None
                ):
                    break
                if backlog and watch.taken_over:  # a backlog is handed over between its sweeps
                    break
                if not backlog and loop.rest(runtime, stop, watch, next_tick=tick + interval_s):
                    break
        if watch.taken_over or stop.event.is_set():  # the claims not fired go back at once
            _release(runtime, loop.owners(runtime))
        if watch.taken_over:
            log.info("the next sweeper run is starting: this one ends and hands its claims over")
        if stop.event.is_set():
            log.info("stop requested: left the loop after the batch in hand; unfired claims released")
    return loop.finish(started)


class _Loop:
    """What one run's sweeps add up to, and what they report."""

    def __init__(
        self,
        *,
        owner: str,
        run_id: str | None,
        fixed: datetime | None,
        batch: int,
        max_batches: int,
        log: Any,
        lease: timedelta,
        threads: int,
    ) -> None:
        self.owner, self.run_id, self.fixed, self.log, self.lease = owner, run_id, fixed, log, lease
        self.threads = max(1, threads)
        self.batch, self.max_batches = batch, max_batches
        self.total = SweepResult()
        self.listed: list[dict[str, Any]] = []
        self.sent = 0
        self.busy = False  # a sweep claimed something since the last rest
        self.settings: NotificationSettings | None = None  # deliver the outbox between sweeps
        self.outbox_more = False  # the last slice stopped with messages possibly still due
        self.delivered_at = float("-inf")  # monotonic time of the last slice
        self.clock: Clock = SystemClock()  # wall time, for leases (tests inject theirs)
        self.monotonic: Callable[[], float] = time.monotonic  # for the loop's own timing

    def rest(self, runtime: Runtime, stop: StopFlag, watch: Watch, *, next_tick: float) -> bool:
        """Wait until the next sweep: the tick, or sooner the end of a lease another owner holds
        on a due timer (a dead sweeper's claims are taken the moment they run out, not up to an
        interval later). True when the loop must end: a stop was asked for, or the successor
        took over (the watch nudges the wait)."""
        if self.busy:  # after a burst, idle at the idle size (a hand-over adds a second run's memory)
            give_back_memory()
            self.busy = False
        with runtime.reads() as session:
            expiry = next_foreign_expiry(session, now=self.clock.now(), owners=self.owners(runtime))
        wake = self.monotonic() + pause_before_next_sweep(
            until_tick=next_tick - self.monotonic(), now=self.clock.now(), expiry=expiry
        )
        while True:
            if watch.taken_over:
                return True
            step = wake - self.monotonic()
            if step <= 0:
                return False
            if self.outbox_more:  # the rest of the outbox, a slice at a time, until the wake
                self.deliver(runtime)
                continue
            if stop.wait(step):
                return True

    def owners(self, runtime: Runtime) -> list[str]:
        """One lease owner per thread (one on SQLite: its write lock serialises them anyway)."""
        lanes = self.threads if runtime.engine.dialect.name == "postgresql" else 1
        return [self.owner] + [worker_id(lane) for lane in range(1, lanes)]

    def once(self, runtime: Runtime) -> bool:
        """One sweep (by each thread); True when it stopped with timers still due."""
        owners = self.owners(runtime)
        if len(owners) == 1:
            results = [self._sweep(runtime, owners[0])]
        else:
            with ThreadPoolExecutor(len(owners), thread_name_prefix="sweep") as pool:
                results = list(pool.map(lambda owner: self._sweep(runtime, owner), owners))
        result = SweepResult()
        for each in results:
            _add(result, each)
            result.fired_ids += each.fired_ids
        _add(self.total, result)
        if result.fired_ids:
            self.listed += _report(runtime, result, self.log)
        self.busy = self.busy or result.claimed > 0
        return any(each.claimed >= self.batch * self.max_batches for each in results)

    def _sweep(self, runtime: Runtime, owner: str) -> SweepResult:
        return sweep(
            runtime.sessions,
            runtime.company,
            now=self.fixed,
            clock=None if self.fixed else self.clock,
            owner=owner,
            batch=self.batch,
            max_batches=self.max_batches,
            lease=self.lease,
            hooks=_start_hook,
            run_id=self.run_id,
        )

    def deliver(self, runtime: Runtime) -> None:
        """One slice of the outbox (at most `SLICE_S` seconds, give or take a batch of
        `SLICE_LIMIT`): a sweep, or a wake for a dead sweeper's leases, is never late by more
        than that. What is left stays pending; `rest` goes on with it until the next sweep."""
        from flows.dispatcher import deliver_slice

        self.outbox_more = False
        self.delivered_at = self.monotonic()
        if self.settings is None:
            return
        try:
            done = deliver_slice(
                runtime, self.owner, self.settings, limit=SLICE_LIMIT, max_batches=SLICE_BATCHES, budget_s=SLICE_S,
                clock=self.clock, monotonic=self.monotonic,
            )
        except Exception:  # the sweeper goes on; the dispatch-outbox deployment is the safety net
            self.log.exception("delivering the outbox failed; sweeping goes on")
            return
        self.sent += done.result.sent
        self.outbox_more = done.more

    def finish(self, started: str) -> dict[str, Any]:
        total = self.total
        summary = summarise(total, owner=self.owner, now=started, capacity=self.batch * self.max_batches)
        summary["sent"] = self.sent
        self.log.info(
            "sweep from %s by %s: claimed %d, fired %s, skipped %d, failed %d, messages sent %d",
            started, self.owner, total.claimed, summary["fired"] or "{}", total.skipped, total.failed, self.sent,
        )
        if total.failed:
            self.log.warning("%d timers raised; their errors are on the rows (timers.last_error)", total.failed)
        if summary["backlog_left"] and self.fixed is not None:
            self.log.warning(
                "stopped after %d batches of %d with timers still due; the next sweep goes on",
                self.max_batches, self.batch,
            )
        if self.listed:
            title = _artifact_title(self.owner, summary, len(self.listed))
            publish_table("sweep-timers", self.listed[:ARTIFACT_ROWS], title)
        return summary


def lifetime_over(next_tick: float, *, deadline: float, restart_s: float, deployed: bool) -> bool:
    """True when a loop whose next sweep is at ``next_tick`` must end (unless its successor took
    over first: the watch ends it then). A deployed run's successor may be slow to start (a busy
    machine): the run sweeps on past its lifetime, at most `SUCCESSOR_WAIT_RESTARTS` restarts."""
    return next_tick >= deadline + (SUCCESSOR_WAIT_RESTARTS * restart_s if deployed else 0.0)


def _handover(loop: _Loop, *, lifetime_s: float, interval_s: float, restart_s: float) -> Handover:
    """A deployed run's hand-over: with a schedule (``restart_s``) the ticks due before the one
    that starts the successor (about two sweeps before the end) are held off."""
    hold = lifetime_s - 2 * interval_s - restart_s
    hold_until = loop.clock.now() + timedelta(seconds=hold) if restart_s > 0 and hold > 0 else None
    return Handover(loop.run_id if lifetime_s > 0 else None, hold_until=hold_until, restart_s=restart_s)


def _delivery_settings(log: Any) -> NotificationSettings | None:
    from notifications.settings import load_notification_settings

    try:
        return load_notification_settings()
    except Exception as exc:  # a bad notification setting must not stop the timers
        log.error("not delivering the outbox from the sweeper: %s", exc)
        return None


def _add(total: SweepResult, result: SweepResult) -> None:
    total.claimed += result.claimed
    total.fired.update(result.fired)
    total.skipped += result.skipped
    total.failed += result.failed


def _report(runtime: Runtime, result: SweepResult, log: Any) -> list[dict[str, Any]]:
    """Events for the timers one sweep fired, and their rows for the artifact."""
    with runtime.reads() as session:
        fired = fired_timers(session, result.fired_ids)
    publish_fired(fired)
    log.info("fired %s (%d timers)", dict(sorted(result.fired.items())), result.fired_total)
    return [row.artifact_row() for row in fired]


def _artifact_title(owner: str, summary: dict[str, Any], listed: int) -> str:
    shown = f" (first {ARTIFACT_ROWS} of {listed})" if listed > ARTIFACT_ROWS else ""
    return f"Timers fired by {owner} from {summary['now']}: {summary['fired']}{shown}"


def _release(runtime: Runtime, owners: list[str]) -> None:
    """Hand our unfired claims back at once (a clean stop), instead of after their lease."""
    timers = table(Timer)
    with runtime.sessions.begin() as session:
        lease_rows.release(session, timers, owners=owners, where=[timers.c.status == TimerStatus.PENDING])



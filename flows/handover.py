"""The hand-over between two sweeper runs: a run lives its whole lifetime, then its successor
takes over, and the old run ends as soon as the successor's process starts.

The sweeper's schedule ticks every ``restart_s`` (60 s by default): if the running sweeper dies
with its machine, the next tick starts another within one restart, whatever worker is left. But
every tick that starts is a new Python process (about 3 CPU-seconds and 130-150 MB), so a living
run *holds off* the ticks due before its successor is needed: it cancels them while they are
still Scheduled (``HOLD_OFF_AHEAD_S`` ahead, before a worker's 10 s prefetch picks them up), and
lets through the tick that starts its successor about two sweeps before its lifetime ends. A dead
run holds off nothing, so the next tick starts a sweeper as before.

Two sweeper processes side by side cost a second process's memory (130-170 MB) for as long as
they overlap, so the old run asks Prefect whether a newer run of its deployment is starting
(PENDING: a worker took its tick and starts its process) or RUNNING, and ends once one is. The
successor's boot is then a short gap with no sweep (about 8 s on a quiet 2-core machine, longer
on a busy one): measured in `bench/live.py`, waiting until it ran kept two sweepers for 10-16 s
at every hand-over, the set-up's memory peak (869 MB against 700 without). A timer due in that
gap fires at the successor's first sweep. The old run's last question holds off the ticks due
within a restart (``restart_s``), so no third sweeper starts while the successor boots. If the
API does not answer, or no successor comes, the run goes on sweeping.

The questions are asked by a thread of the run's own (`Watch`), every ``ASK_EVERY_S``, whatever
the sweeps are doing: a sweep never waits for Prefect, and a server slow to answer (a burst's
events) never lets a tick through because a sweep was busy. How far ahead ticks are held off
bounds how late a dead run's replacement comes: the held-off ticks (at most ``HOLD_OFF_AHEAD_S``
after the death), then one restart, then the replacement's start; with the defaults well inside
the 120 s lease (measured in `bench/live.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING
from uuid import UUID

from core.clock import Clock

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

ASK_EVERY_S = 5.0
"""The watch asks Prefect this often (a read of the deployment's runs: cheap for the server)."""
HOLD_OFF_AHEAD_S = 20.0
"""Ticks due within this many seconds are held off: a worker takes a run up to 10 s before it is
due (its prefetch), the watch asks every 5 s, and 5 s are left for the answer."""
API_TIMEOUT_S = 30.0
"""A question waits at most this long (its own thread: no sweep waits for it); unanswered, the
run sweeps on and the watch asks again."""
HOLD_OFF_MESSAGE = "Held off: the running sweeper {run} sweeps on until {until:%H:%M:%S} UTC (flows/handover.py)."
COMING_MESSAGE = "Held off: the next sweeper run is starting and {run} hands over to it (flows/handover.py)."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Look:
    """What one question to Prefect found."""

    successor_running: bool = False
    successor_starting: bool = False
    """A newer run of the deployment is PENDING: its process is starting."""
    held_off: int = 0

    @property
    def taken_over(self) -> bool:
        """The successor starts or runs: this run ends."""
        return self.successor_running or self.successor_starting


class Handover:
    """Asks whether this run's successor starts or runs; holds off the deployment's ticks due before
    ``hold_until`` (wall time, UTC). ``run_id`` None: not a deployed run, nobody takes over."""

    def __init__(self, run_id: str | None, *, hold_until: datetime | None = None, restart_s: float = 0.0) -> None:
        self.run_id = run_id
        self.hold_until = hold_until
        self.restart_s = restart_s
        """The schedule's period: while the successor starts, ticks due within it are held off."""
        self.active = True
        """False once the run's loop ended: a question still in flight holds nothing off."""
        self._mine: tuple[UUID, datetime] | None = None  # our deployment and start time, read once

    def successor_running(self, *, now: datetime | None = None) -> bool:
        """True when a run of this run's deployment that started after this one is RUNNING (and,
        given ``now``, hold off the ticks due soon). An API error is logged and answers False:
        the run then keeps sweeping."""
        return self.look(now=now).successor_running

    def look(self, *, now: datetime | None = None, client: SyncPrefectClient | None = None) -> Look:
        """Ask Prefect once (see `successor_running`), on ``client`` (the watch keeps one open: a
        new client per question cost the sweeper ~37 ms of CPU, the server's answer ~25 ms)."""
        if self.run_id is None:
            return Look()
        try:
            if client is not None:
                return self._ask(now, client)
            with new_client() as fresh:
                return self._ask(now, fresh)
        except Exception as exc:  # the API may be restarting: keep sweeping, ask again later
            log.warning("could not ask Prefect for the next sweeper run: %s", exc)
            return Look()

    def _ask(self, now: datetime | None, client: SyncPrefectClient) -> Look:
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterId,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.client.schemas.sorting import FlowRunSort
        from prefect.states import Cancelled

        assert self.run_id is not None
        me_id = UUID(self.run_id)
        if self._mine is None:
            me = client.read_flow_run(me_id)
            if me.deployment_id is None or me.start_time is None:
                self.run_id = None  # not a deployed run: nobody takes over
                return Look()
            self._mine = (me.deployment_id, me.start_time)
        deployment_id, started = self._mine
        others = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(not_any_=[me_id]),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED])
                ),
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=20,
        )
        successor = any(
            run.state_type == StateType.RUNNING and run.start_time is not None and run.start_time > started
            for run in others
        )
        # A successor on its way (a worker took its tick and starts its process) is let
        # start: every other tick due before it can run is held off, past ``hold_until`` too.
        # Only a tick due after this run started counts: a run left Pending by a worker that
        # died must not end every sweeper that starts after it.
        coming = any(
            run.state_type == StateType.PENDING
            and run.expected_start_time is not None
            and run.expected_start_time > started
            for run in others
        )
        held = 0
        if not successor and now is not None and (soon := self._hold_before(now, coming=coming)) is not None:
            template = COMING_MESSAGE if coming else HOLD_OFF_MESSAGE
            message = template.format(run=self.run_id, until=self.hold_until)
            for run in others:
                due = run.expected_start_time
                if not self.active:  # the run ended while we asked
                    break
                if run.state_type == StateType.SCHEDULED and due is not None and due < soon:
                    client.set_flow_run_state(run.id, Cancelled(message=message))
                    held += 1
        if held:
            log.info("held off %d tick(s) of the sweeper schedule: this run sweeps on", held)
        return Look(successor_running=successor, successor_starting=coming, held_off=held)

    def _hold_before(self, now: datetime, *, coming: bool) -> datetime | None:
        """Scheduled ticks due before this are held off (None: none). A run holds ticks off only
        while it lives: before ``hold_until``, or while its successor is starting."""
        if not self.active:
            return None
        ahead = now + timedelta(seconds=HOLD_OFF_AHEAD_S)
        if coming:  # this run ends now: the successor holds its own ticks off once it runs
            return ahead + timedelta(seconds=self.restart_s)
        if self.hold_until is not None and now < self.hold_until:
            return min(self.hold_until, ahead)
        return None


def new_client() -> SyncPrefectClient:
    """A synchronous Prefect client whose requests wait at most `API_TIMEOUT_S`."""
    from prefect.client.orchestration import get_client

    return get_client(httpx_settings={"timeout": API_TIMEOUT_S}, sync_client=True)


class Watch:
    """`Handover.look` asked from a thread of its own every ``every`` seconds while the run
    sweeps (no thread for a run nobody takes over). ``taken_over`` turns True once the successor
    starts or runs; ``on_successor`` is called then (the loop's wake-up)."""

    def __init__(
        self, handover: Handover, *, clock: Clock, every: float = ASK_EVERY_S,
        on_successor: Callable[[], None] = lambda: None,
    ) -> None:
        self.handover, self.clock, self.every, self.on_successor = handover, clock, every, on_successor
        self._taken_over = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def taken_over(self) -> bool:
        return self._taken_over.is_set()

    def __enter__(self) -> Watch:
        if self.handover.run_id is not None:
            self._thread = threading.Thread(target=self._run, name="sweeper-handover", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self.handover.active = False
        if self._thread is not None:
            self._thread.join(timeout=1.0)  # a question in flight ends with its timeout (daemon)

    def _run(self) -> None:
        try:
            with new_client() as client:
                self._ask_until_stopped(client)
        except Exception as exc:  # no client at all (bad settings): the run sweeps to its lifetime's end
            log.warning("not asking Prefect for the next sweeper run: %s", exc)

    def _ask_until_stopped(self, client: SyncPrefectClient) -> None:
        while not self._stop.is_set():
            if self.handover.look(now=self.clock.now(), client=client).taken_over:
                self._taken_over.set()
                self.on_successor()
                return
            if self.handover.run_id is None:  # not a deployed run after all
                return
            self._stop.wait(self.every)

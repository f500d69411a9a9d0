"""The hand-over between two sweeper runs: a run lives its whole lifetime, then its successor
takes over without a gap, and the old run ends as soon as the successor runs.

The sweeper's schedule ticks every ``restart_s`` (100 s by default): if the running sweeper dies
with its machine, the next tick starts another within one restart, whatever worker is left. But
every tick that starts is a new Python process (about 3 CPU-seconds and 130-150 MB), so a living
run *holds off* the ticks due before its successor is needed: it cancels them while they are
still Scheduled (``HOLD_OFF_AHEAD_S`` ahead, before a worker's prefetch picks them up), and lets
through the tick that starts its successor about two sweeps before its lifetime ends. A dead run
holds off nothing, so the next tick starts a sweeper as before.

Two sweeper processes side by side cost a second process's memory for as long as they overlap,
so the old run asks Prefect, between its sweeps (a backlog's too), whether a newer run of its
deployment is RUNNING, and ends once one is: a run is RUNNING right before its first sweep, so no
sweep is missed. If the API does not answer, or no successor comes, the run goes on to the end
of its lifetime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

POLL_S = 2.0
"""In its last intervals (and in a backlog), a run asks this often whether its successor runs."""
HOLD_OFF_AHEAD_S = 45.0
"""Ticks due within this many seconds are held off: a worker polls every 10 s and takes a run up
to 10 s before it is due, and a resting run looks every sweep interval (10 s)."""
API_TIMEOUT_S = 5.0
"""A question to Prefect waits at most this long: a busy server (a burst's events) never holds a
sweep up for longer; unanswered, the run sweeps on and asks again."""
HOLD_OFF_MESSAGE = "Held off: the running sweeper {run} sweeps on until {until:%H:%M:%S} UTC (flows/handover.py)."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Look:
    """What one question to Prefect found."""

    successor_running: bool = False
    held_off: int = 0


class Handover:
    """Asks, from ``opens_at`` (a ``time.monotonic()`` reading) on, whether this run's successor
    runs; holds off the deployment's ticks due before ``hold_until`` (wall time, UTC)."""

    def __init__(self, run_id: str | None, *, opens_at: float, hold_until: datetime | None = None) -> None:
        self.run_id = run_id
        self.opens_at = opens_at
        self.hold_until = hold_until
        self.last_asked = float("-inf")
        self._mine: tuple[UUID, datetime] | None = None  # our deployment and start time, read once

    def open(self, monotonic_now: float) -> bool:
        """True in the last intervals of a deployed run, when the successor is due: ask often."""
        return self.run_id is not None and monotonic_now >= self.opens_at

    def successor_running(self, *, now: datetime | None = None) -> bool:
        """True when a run of this run's deployment that started after this one is RUNNING (and,
        given ``now``, hold off the ticks due soon). An API error is logged and answers False:
        the run then keeps sweeping."""
        return self.look(now=now).successor_running

    def look(self, *, now: datetime | None = None, monotonic_now: float | None = None) -> Look:
        """Ask Prefect once (see `successor_running`); remember when (`due`)."""
        if monotonic_now is not None:
            self.last_asked = monotonic_now
        if self.run_id is None:
            return Look()
        try:
            return self._ask(now)
        except Exception as exc:  # the API may be restarting: keep sweeping, ask again later
            log.warning("could not ask Prefect for the next sweeper run: %s", exc)
            return Look()

    def due(self, monotonic_now: float) -> bool:
        """True when the last question is ``POLL_S`` old (between the sweeps of a backlog)."""
        return self.run_id is not None and monotonic_now - self.last_asked >= POLL_S

    def _ask(self, now: datetime | None) -> Look:
        from prefect.client.orchestration import get_client
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
        with get_client(httpx_settings={"timeout": API_TIMEOUT_S}, sync_client=True) as client:
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
                        type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.SCHEDULED])
                    ),
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=20,
            )
            successor = any(
                run.state_type == StateType.RUNNING and run.start_time is not None and run.start_time > started
                for run in others
            )
            held = 0
            if not successor and now is not None and self.hold_until is not None and now < self.hold_until:
                soon = min(self.hold_until, now + timedelta(seconds=HOLD_OFF_AHEAD_S))
                message = HOLD_OFF_MESSAGE.format(run=self.run_id, until=self.hold_until)
                for run in others:
                    due = run.expected_start_time
                    if run.state_type == StateType.SCHEDULED and due is not None and due < soon:
                        client.set_flow_run_state(run.id, Cancelled(message=message))
                        held += 1
        if held:
            log.info("held off %d tick(s) of the sweeper schedule: this run sweeps on", held)
        return Look(successor_running=successor, held_off=held)

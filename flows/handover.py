"""The hand-over between two sweeper runs: the old run ends as soon as its successor runs.

A deployed sweeper run lives ``lifetime_s`` (the restart interval plus two sweeps) so that its
successor, started by the schedule, can take over without a gap. Two sweeper processes side by
side cost a second process's memory (about 120-150 MB) for as long as they overlap, so the old
run asks Prefect whether a newer run of its deployment is RUNNING after each sweep, and every
``POLL_S`` seconds between sweeps in its last intervals, and ends once one is: a run is RUNNING
right before its first sweep, so no sweep is missed. (The run `slaflow deploy` starts meets the
schedule's first run at any point of its life.) If the API does not answer, or no successor
comes, the run goes on to the end of its lifetime as before.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

POLL_S = 2.0
"""Between two sweeps in its last intervals, a run asks this often whether its successor runs."""

log = logging.getLogger(__name__)


class Handover:
    """Asks, from ``opens_at`` (a ``time.monotonic()`` reading) on, whether this run's successor runs."""

    def __init__(self, run_id: str | None, *, opens_at: float) -> None:
        self.run_id = run_id
        self.opens_at = opens_at
        self._mine: tuple[UUID, datetime] | None = None  # our deployment and start time, read once

    def open(self, monotonic_now: float) -> bool:
        """True in the last intervals of a deployed run, when the successor is due: ask often."""
        return self.run_id is not None and monotonic_now >= self.opens_at

    def successor_running(self) -> bool:
        """True when a run of this run's deployment that started after this one is RUNNING. An
        API error is logged and answers False: the run then keeps sweeping."""
        try:
            return self._ask()
        except Exception as exc:  # the API may be restarting: keep sweeping, ask again later
            log.warning("could not ask Prefect for the next sweeper run: %s", exc)
            return False

    def _ask(self) -> bool:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            DeploymentFilter,
            DeploymentFilterId,
            FlowRunFilter,
            FlowRunFilterId,
            FlowRunFilterStartTime,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        assert self.run_id is not None
        with get_client(sync_client=True) as client:
            if self._mine is None:
                me = client.read_flow_run(UUID(self.run_id))
                if me.deployment_id is None or me.start_time is None:
                    self.run_id = None  # not a deployed run: nobody takes over
                    return False
                self._mine = (me.deployment_id, me.start_time)
            deployment_id, started = self._mine
            newer = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(not_any_=[UUID(self.run_id)]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])),
                    start_time=FlowRunFilterStartTime(after_=started),
                ),
                limit=1,
            )
        return bool(newer)

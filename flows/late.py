"""Cancel the pool's flow runs that are Late by more than two intervals of their deployment.

Prefect's automation for this (`flows.deploy.late_automation`) fires at once for runs created
through the API, but the scheduler creates its runs without a ``Scheduled`` event, and the
triggers service holds the ``Late`` event that ``follows`` it for up to 15 minutes waiting for
it (``PRECEDING_EVENT_LOOKBACK``). So every `slaflow worker` also sweeps the pool's Late runs
every 30 s: while any worker lives, no Late run stays more than two intervals plus 30 s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

LATE_FACTOR = 2
MESSAGE = "Late by more than two intervals: cancelled, the next run does its work."


async def cancel_late_runs(client: Any, pool: str, *, now: datetime) -> list[UUID]:
    """Cancel the Late runs of ``pool`` whose deployment runs on an interval and which are late
    by more than two of its intervals; return their ids."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.states import Cancelled

    late = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Late"]))),
        work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])),
        limit=200,
    )
    intervals: dict[UUID, timedelta | None] = {}
    cancelled: list[UUID] = []
    for run in late:
        if run.deployment_id is None or run.expected_start_time is None:
            continue
        if run.deployment_id not in intervals:
            intervals[run.deployment_id] = await _interval(client, run.deployment_id)
        interval = intervals[run.deployment_id]
        if interval is not None and now - run.expected_start_time > LATE_FACTOR * interval:
            await client.set_flow_run_state(run.id, Cancelled(message=MESSAGE), force=True)
            cancelled.append(run.id)
    return cancelled


async def _interval(client: Any, deployment_id: UUID) -> timedelta | None:
    """The deployment's shortest interval schedule (None for cron-only deployments)."""
    deployment = await client.read_deployment(deployment_id)
    found = [s.schedule.interval for s in deployment.schedules or [] if hasattr(s.schedule, "interval")]
    return min(found) if found else None

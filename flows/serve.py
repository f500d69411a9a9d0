"""Serve the flows as Prefect deployments on interval schedules (needs a Prefect server: an
ephemeral API cannot schedule).

Each worker serves its own deployments, named after the worker (``sweep-timers/<instance>``,
default: the host name). Several workers therefore sweep in parallel and share the due timers
through leases, and a worker that stops pauses only its own schedules (``prefect.serve``
pauses what it served on shutdown), so runs do not pile up for a host that is gone. ``limit``
caps the flow runs one worker runs at once: each run is a process of 150-200 MB, and after an
outage the late runs of a schedule all become due together.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment


def default_instance() -> str:
    """The worker's name in deployment names: the short host name."""
    return socket.gethostname().split(".")[0] or "slaflow"


def build_deployments(
    sweep_interval: float = 30,
    dispatch_interval: float = 30,
    inbox_interval: float = 10,
    reconcile_interval: float = 900,
    duties_interval: float = 300,
    *,
    instance: str | None = None,
    with_reports: bool = True,
) -> list[RunnerDeployment]:
    """The deployments one worker serves (built, not yet registered)."""
    from prefect.types.entrypoint import EntrypointType

    from flows.dispatcher import dispatch_outbox
    from flows.duties import open_duties
    from flows.inbox import process_inbox
    from flows.reconciler import reconcile_timers
    from flows.sweeper import sweep_timers

    name = instance or default_instance()
    plan: list[tuple[Flow[..., Any], float, str]] = [
        (sweep_timers, sweep_interval, "Fire due timers: warnings, breaches, escalations, automatic transitions."),
        (dispatch_outbox, dispatch_interval, "Deliver queued notifications."),
        (process_inbox, inbox_interval, "Process stored CRM webhooks the HTTP app left unprocessed."),
        (reconcile_timers, reconcile_interval, "Report timers the sweeper cannot fire by itself."),
        (open_duties, duties_interval, "Open the recurring information duties that fell due."),
    ]
    deployments: list[RunnerDeployment] = []
    for flow, interval, description in plan:
        if interval <= 0:
            raise ValueError(f"{flow.name}: the interval must be positive, got {interval}")
        deployment = flow.to_deployment(  # sync call: a deployment, not a coroutine
            name=name,
            interval=timedelta(seconds=interval),
            description=description,
            tags=["slaflow"],
            # Import by module path: the run's process need not start in the repository.
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        deployments.append(cast("RunnerDeployment", deployment))
    if with_reports:
        deployments += scheduled_reports()
    return deployments


def scheduled_reports() -> list[RunnerDeployment]:
    """Company-wide scheduled work: one run per tick for the whole company, so it has a FIXED
    deployment name (not the worker's) and is served by one worker only (``--no-reports`` on the
    others): a worker that stops pauses what it served. The weekly SLA reports go out on Monday
    at 09:00 in the head office's time zone (the director's department's calendar)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows.reports import weekly_reports
    from slaflow.runtime import Runtime

    company = Runtime.from_env().company
    director = company.config.company.director
    head_office = next((code for code, dept in company.config.departments.items() if dept.head == director), None)
    tz = company.calendar_of(head_office).config.tz if head_office else "UTC"
    deployment = weekly_reports.to_deployment(
        name="company",
        schedules=[Cron("0 9 * * 1", timezone=tz)],
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="E-mail each department head their weekly SLA report and the director the summary.",
    )  # sync call: a deployment
    from flows.lead_letter import lead_deployments  # the lead letter and the daily digest (slaflow.leads)

    return [cast("RunnerDeployment", deployment), *lead_deployments(company, tz)]


def serve_all(
    sweep_interval: float = 30,
    dispatch_interval: float = 30,
    inbox_interval: float = 10,
    reconcile_interval: float = 900,
    duties_interval: float = 300,
    *,
    instance: str | None = None,
    with_reports: bool = True,
    limit: int = 4,
) -> None:
    """Register the deployments and run their scheduled flow runs until interrupted."""
    from prefect import serve

    deployments = build_deployments(
        sweep_interval,
        dispatch_interval,
        inbox_interval,
        reconcile_interval,
        duties_interval,
        instance=instance,
        with_reports=with_reports,
    )
    serve(*deployments, limit=limit, pause_on_shutdown=True)

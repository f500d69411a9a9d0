"""One shared set of deployments in one process work pool (``slaflow deploy``).

Prefect's documented production shape: the Prefect server owns the schedules, a work pool holds
the deployments, and any number of workers (``slaflow worker``, on any machines) poll the pool.
No schedule belongs to a worker, so stopping or losing one pauses nothing.

- Every deployment has a concurrency limit with the ``CANCEL_NEW`` collision strategy: a tick
  that finds the slots taken is cancelled, never queued, so a slow or missing worker never builds
  a backlog.
- The sweeper is one long-lived run (`flows.sweeper`) restarted by its schedule a little before
  it ends; its slots let the next run start while the last one finishes its final sweeps, and
  while a dead worker's runs wait to be crashed.
- The interval schedules share one anchor (the deploy), each shifted by its own offset
  (`flows.stagger`): with the default plan every safety net starts in the middle of a sweeper
  cycle, 50 s from any sweeper restart and from each other, so no two flow-run processes start
  together.
- Two automations: Prefect's documented zombie automation (no heartbeat for 3 beats: crashed),
  and per deployment, a run Late for more than two intervals is cancelled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from flows._support import FLOW_RUN_ENV, HEARTBEAT_S
from flows.stagger import stagger

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.automations import Automation
    from prefect.deployments.runner import RunnerDeployment

POOL = "slaflow"
"""The process work pool every slaflow worker polls."""
DEPLOYMENT = "slaflow"
"""The name of every interval deployment (``sweep-timers/slaflow`` ...)."""
SWEEPER = f"sweep-timers/{DEPLOYMENT}"
SWEEP_THREADS = 2
"""Sweeps side by side in a sweeper run on PostgreSQL (measured: a burst fires ~1.8x faster)."""
SWEEP_BATCHES = 4
"""Batches of 500 per sweep in a loop; a backlog is swept again at once, and a stop is heard
between sweeps (every ~2,000 timers) instead of after the whole backlog."""
SWEEPER_SLOTS = 3
"""Two for the hand-over (the next run starts before the last one ends), one spare so that a
dead machine's runs, until Prefect crashes them, never keep the next sweeper from starting."""
ZOMBIE_AFTER_S = 3 * HEARTBEAT_S
"""Prefect's guidance: crash a run after three missed heartbeats."""
ZOMBIE_AUTOMATION = "slaflow: crash zombie flow runs"
LATE_AUTOMATION = "slaflow: cancel {flow} runs late by more than two intervals"
LATE_EXPECT = {
    f"prefect.flow-run.{state}"
    for state in ("Pending", "Running", "Cancelling", "Cancelled", "Completed", "Failed", "Crashed", "Scheduled")
}
"""Any move out of Late (a worker took the run, or someone cancelled it) disarms the trigger."""


class Plan(BaseModel):
    """Intervals, in seconds, of the deployments; one place for their defaults."""

    sweep_interval: float = Field(10, gt=0, description="seconds between two sweeps of a sweeper run")
    sweeper_restart: float = Field(
        60, gt=0, description="the sweeper's schedule: a dead sweeper is replaced within this many seconds"
    )
    sweeper_life: float = Field(
        600, gt=0, description="a sweeper run sweeps about this long (held-off ticks cost nothing), then hands over"
    )
    lease: float = Field(120, ge=10, description="seconds a claim is kept: a dead sweeper's timers fire after it")
    # Each safety-net run is a new Python process (~3 CPU-s, 130-150 MB): rare, as their work is.
    dispatch_interval: float = Field(3600, gt=0, description="outbox safety net (the sweeper delivers as it goes)")
    inbox_interval: float = Field(1800, gt=0, description="inbox safety net (the HTTP app processes on receipt)")
    reconcile_interval: float = Field(3600, gt=0)
    duties_interval: float = Field(900, gt=0, description="duties open as of their occurrence (late moves no deadline)")
    with_reports: bool = True

    @model_validator(mode="after")
    def _restart_spans_sweeps(self) -> Plan:
        if self.sweeper_restart < 2 * self.sweep_interval:
            raise ValueError("the sweeper restart must be at least two sweep intervals")
        return self

    @property
    def sweeper_lifetime(self) -> float:
        """A run lives ``sweeper_life`` (at least one restart) and outlives its successor's start
        by two sweeps: no gap while that one boots. The ticks in between are held off
        (`flows.handover`)."""
        return max(self.sweeper_life, self.sweeper_restart) + 2 * self.sweep_interval


def _concurrency(limit: int) -> Any:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    return ConcurrencyLimitConfig(limit=limit, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


NETS_AFTER_TICKS = 2
"""The safety nets' first runs come this many sweeper ticks after the deploy, once the sweeper run
the deploy starts is running (two processes booting at once were the set-up's memory peak)."""


def anchor_offsets(plan: Plan) -> dict[str, float]:
    """Seconds after the common anchor at which each interval deployment starts (by flow name;
    the sweeper's ticks at 0 modulo its restart): `flows.stagger` of the plan's intervals, each
    net moved `NETS_AFTER_TICKS` sweeper ticks later (the same shift for all keeps every gap)."""
    nets = {
        "dispatch-outbox": plan.dispatch_interval, "process-inbox": plan.inbox_interval,
        "reconcile-timers": plan.reconcile_interval, "open-duties": plan.duties_interval,
    }
    shift = NETS_AFTER_TICKS * round(plan.sweeper_restart)
    placed = stagger(nets, restart=plan.sweeper_restart)
    return {"sweep-timers": 0.0, **{name: (offset + shift) % round(nets[name]) for name, offset in placed.items()}}


def build_deployments(plan: Plan | None = None, *, anchor: datetime | None = None) -> list[RunnerDeployment]:
    """The shared deployments (built, not yet registered); the interval schedules count from
    ``anchor`` (default: Prefect's, the time they are built), each shifted by its offset."""
    from prefect.schedules import Interval
    from prefect.types.entrypoint import EntrypointType

    from core.clock import SystemClock
    from flows.dispatcher import dispatch_outbox
    from flows.duties import open_duties
    from flows.inbox import process_inbox
    from flows.reconciler import reconcile_timers
    from flows.sweeper import sweep_timers

    plan = plan or Plan()
    sweeper = {
        "interval_s": plan.sweep_interval, "lifetime_s": plan.sweeper_lifetime, "dispatch": True, "lease_s": plan.lease,
        "threads": SWEEP_THREADS, "max_batches": SWEEP_BATCHES, "restart_s": plan.sweeper_restart,
    }
    rows: list[tuple[Flow[..., Any], float, int, dict[str, Any], str]] = [
        (sweep_timers, plan.sweeper_restart, SWEEPER_SLOTS, sweeper,
         "Fire due timers (warnings, breaches, escalations, automatic transitions, hooks) and deliver the outbox; "
         "one long-lived run, restarted by this schedule."),
        (dispatch_outbox, plan.dispatch_interval, 1, {}, "Deliver queued notifications (safety net)."),
        (process_inbox, plan.inbox_interval, 1, {}, "Process stored CRM webhooks the HTTP app left unprocessed."),
        (reconcile_timers, plan.reconcile_interval, 1, {}, "Report timers the sweeper cannot fire by itself."),
        (open_duties, plan.duties_interval, 1, {}, "Open the recurring information duties that fell due."),
    ]
    offsets = anchor_offsets(plan)
    base = (anchor or SystemClock().now()).replace(microsecond=0)
    deployments: list[RunnerDeployment] = []
    for flow, interval, limit, parameters, description in rows:
        every = timedelta(seconds=interval)
        # One interval back: the first start is ``offset`` after the anchor, whatever Prefect
        # does with an anchor in the future.
        first = base + timedelta(seconds=offsets[flow.name]) - every
        deployment = flow.to_deployment(  # sync call: a deployment, not a coroutine
            name=DEPLOYMENT,
            schedules=[Interval(every, anchor_date=first)],
            parameters=parameters,
            description=description,
            tags=["slaflow"],
            concurrency_limit=_concurrency(limit),
            job_variables={"env": dict(FLOW_RUN_ENV)},
            # Import by module path: the worker's process has slaflow installed, no code is pulled.
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        deployments.append(cast("RunnerDeployment", deployment))
    if plan.with_reports:
        deployments += scheduled_reports()
    return deployments


def scheduled_reports() -> list[RunnerDeployment]:
    """Company-wide scheduled work on a cron in the head office's time zone: the weekly SLA
    reports on Monday at 09:00 (the director's department's calendar), the report indexes
    rebuilt on Sunday at 03:00."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows.reports import weekly_reports
    from runtime.assembly import Runtime

    company = Runtime.from_env().company
    director = company.config.company.director
    head_office = next((code for code, dept in company.config.departments.items() if dept.head == director), None)
    tz = company.calendar_of(head_office).config.tz if head_office else "UTC"
    from flows.lead_letter import lead_deployments  # the lead letter and the daily digest (leads)

    options: dict[str, Any] = {
        "tags": ["slaflow"],
        "concurrency_limit": _concurrency(1),
        "job_variables": {"env": dict(FLOW_RUN_ENV)},
    }
    deployment = weekly_reports.to_deployment(
        name="company",
        schedules=[Cron("0 9 * * 1", timezone=tz)],
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="E-mail each department head their weekly SLA report and the director the summary.",
        **options,
    )  # sync call: a deployment
    from flows.maintenance import rebuild_report_indexes

    reindex = rebuild_report_indexes.to_deployment(
        name="company",
        schedules=[Cron("0 3 * * 0", timezone=tz)],
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Rebuild the report indexes on Sunday night (storage.maintenance).",
        **options,
    )
    return [cast("RunnerDeployment", deployment), cast("RunnerDeployment", reindex),
            *lead_deployments(company, tz, **options)]


def ensure_pool(name: str = POOL) -> bool:
    """Create the process work pool unless it exists; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type=ProcessWorker.type,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                    description="slaflow: sweeper, outbox, inbox, duties, reports",
                )
            )
        except ObjectAlreadyExists:
            return False
    return True


def deploy_all(plan: Plan | None = None, *, pool: str = POOL, anchor: datetime | None = None) -> dict[str, UUID]:
    """Create the pool, register (or update) the deployments in it, and the automations;
    return the deployments by full name. The schedules count from ``anchor`` (default: now)."""
    from prefect import deploy

    plan = plan or Plan()
    ensure_pool(pool)
    deployments = build_deployments(plan, anchor=anchor)
    ids = cast(  # called from sync code: the ids, not a coroutine
        "list[UUID]",
        deploy(
            *deployments, work_pool_name=pool, build=False, push=False, print_next_steps_message=False,
            ignore_warnings=True,
        ),
    )
    by_name = {f"{d.flow_name}/{d.name}": deployment_id for d, deployment_id in zip(deployments, ids, strict=True)}
    intervals = {
        name: timedelta(seconds=cast(Any, d.schedules[0].schedule).interval.total_seconds())
        for name, d in zip(by_name, deployments, strict=True)
        if d.schedules and hasattr(d.schedules[0].schedule, "interval")
    }
    replace_automations([zombie_automation(), *(late_automation(name, by_name[name], every) for name, every in
                                                intervals.items())])
    start_sweeper_now(by_name[SWEEPER])
    return by_name


def start_sweeper_now(deployment_id: UUID) -> bool:
    """An interval schedule's first run comes one interval after its anchor: start the sweeper
    now unless one runs, or is about to (True when started)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from core.clock import SystemClock

    with get_client(sync_client=True) as client:
        active = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED])
                ),
                expected_start_time=FlowRunFilterExpectedStartTime(
                    before_=SystemClock().now() + timedelta(seconds=10)
                ),
            ),
            limit=1,
        )
        if active:
            return False
        client.create_flow_run_from_deployment(deployment_id, tags=["slaflow", "started-by-deploy"])
    return True


def zombie_automation() -> Automation:
    """Prefect's documented automation: after a run's heartbeat, expect any event of that run
    within three beats, else mark it crashed (its slot and its leases are then free)."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return Automation(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            # Prefect's example arms on heartbeats only; Running arms it too, for a run killed
            # between its start and its first heartbeat reaching the server (seen in bench/live.py).
            after={"prefect.flow-run.heartbeat", "prefect.flow-run.Running"},
            expect={"prefect.flow-run.*"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_S),
        ),
        actions=[
            ChangeFlowRunState(state=StateType.CRASHED, message="Flow run marked as crashed due to missing heartbeats.")
        ],
    )


def late_automation(name: str, deployment_id: UUID, interval: timedelta) -> Automation:
    """A run of this deployment Late for more than two intervals is cancelled: the next tick
    does its work, so there is no backlog to drain when a worker comes back."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return Automation(
        name=LATE_AUTOMATION.format(flow=name),
        trigger=EventTrigger(
            after={"prefect.flow-run.Late"},
            expect=LATE_EXPECT,
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment_id}"}
            ),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=2 * interval,
        ),
        # Not CancelFlowRun: it proposes Cancelling, which a Scheduled run refuses ("no
        # infrastructure to terminate"); a Late run has none, so it goes straight to Cancelled.
        actions=[
            ChangeFlowRunState(
                state=StateType.CANCELLED, message="Late by more than two intervals: the next run does its work."
            )
        ],
    )


def replace_automations(automations: list[Automation]) -> None:
    """Create each automation, replacing any of the same name (``deploy`` may run again)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for automation in automations:
            for old in client.read_automations_by_name(automation.name):
                client.delete_automation(old.id)
    for automation in automations:
        automation.create()

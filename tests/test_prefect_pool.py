"""slaflow on Prefect the production way, under Prefect's test harness: ``slaflow deploy`` makes
one process work pool with CANCEL_NEW-limited deployments and the zombie / late-run automations;
a sweep emits one ``slaflow.timer.fired`` event per timer and keeps its run id on the timer; a
real ``slaflow worker`` process runs a looping sweeper and stops cleanly on SIGTERM; and it
says so in one line, fast, when the Prefect API is not there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from core.clock import SystemClock
from flows.deploy import LATE_AUTOMATION, POOL, ZOMBIE_AFTER_S, ZOMBIE_AUTOMATION, Plan, anchor_offsets, deploy_all
from flows.sweeper import sweep_timers
from flows.visibility import EVENT
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, session_factory
from storage.models import Timer
from tests.conftest_prefect import TIMEOUT, prefect_server  # noqa: F401  (the module's Prefect server)
from tests.test_sweeper_logic import open_returns

# the server's start-up counts against the first test (as in test_flows_prefect.py)
pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(TIMEOUT)]

PLAN = Plan(
    sweep_interval=1, sweeper_restart=30, sweeper_life=30, dispatch_interval=40, inbox_interval=50, with_reports=True
)


@pytest.fixture
def sqlite_sessions(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    deploy_all(PLAN)
    return deploy_all(PLAN)  # twice: `slaflow deploy` on every release updates, never duplicates


def test_deploy_makes_one_process_pool_with_cancel_new_limits_on_every_deployment(deployed: dict[str, Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    with get_client(sync_client=True) as client:
        pool = client.read_work_pool(POOL)
        found = {name: client.read_deployment_by_name(name) for name in deployed}
    assert pool.type == "process"
    assert set(found) == {
        "sweep-timers/slaflow", "dispatch-outbox/slaflow", "process-inbox/slaflow", "reconcile-timers/slaflow",
        "open-duties/slaflow", "weekly-reports/company", "rebuild-indexes/company", "weekly-lead-letter/company",
        "daily-digest/company",
    }
    for name, deployment in found.items():
        assert deployment.work_pool_name == POOL, name
        assert deployment.concurrency_options is not None, name
        assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW, name
        assert deployment.global_concurrency_limit is not None, name
        assert deployment.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30", name
        assert deployment.job_variables["env"]["MALLOC_ARENA_MAX"] == "2", name
        assert "database_url" not in deployment.parameters, name  # the worker's settings give it
    limits = {name: d.global_concurrency_limit.limit for name, d in found.items() if d.global_concurrency_limit}
    assert limits["sweep-timers/slaflow"] == 3 and limits["dispatch-outbox/slaflow"] == 1
    sweeper = found["sweep-timers/slaflow"]
    assert sweeper.parameters == {
        "interval_s": 1, "lifetime_s": 32, "dispatch": True, "lease_s": 120, "threads": 2, "max_batches": 4,
        "restart_s": 30,
    }
    assert sweeper.schedules[0].schedule.interval == timedelta(seconds=30)  # type: ignore[union-attr]
    # One schedule each (a second deploy replaced, not added), from one anchor, each at its offset.
    assert all(len(d.schedules) == 1 for d in found.values())
    offsets = anchor_offsets(PLAN)
    firsts = {
        name.split("/")[0]: d.schedules[0].schedule.anchor_date + d.schedules[0].schedule.interval  # type: ignore[union-attr]
        for name, d in found.items() if name.endswith("/slaflow")
    }
    base = firsts["sweep-timers"]
    assert {name: (first - base).total_seconds() for name, first in firsts.items()} == offsets
    assert len(set(offsets.values())) == len(offsets)  # the safety nets do not start with the sweeper


def test_deploy_adds_the_documented_zombie_automation_and_late_run_cancellation(deployed: dict[str, Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture

    with get_client(sync_client=True) as client:
        [zombie] = client.read_automations_by_name(ZOMBIE_AUTOMATION)
        late = {name: client.read_automations_by_name(LATE_AUTOMATION.format(flow=name)) for name in deployed}
    assert isinstance(zombie.trigger, EventTrigger) and zombie.trigger.posture == Posture.Proactive
    assert zombie.trigger.after == {"prefect.flow-run.heartbeat", "prefect.flow-run.Running"}
    assert zombie.trigger.expect == {"prefect.flow-run.*"}
    assert zombie.trigger.within == timedelta(seconds=ZOMBIE_AFTER_S)
    [crash] = zombie.actions
    assert isinstance(crash, ChangeFlowRunState) and crash.state.value == "CRASHED"
    for cron in ("weekly-reports/company", "rebuild-indexes/company", "weekly-lead-letter/company",
                 "daily-digest/company"):
        assert late.pop(cron) == []  # a cron: no interval to be late by
    for name, [automation] in late.items():
        trigger = automation.trigger
        assert isinstance(trigger, EventTrigger) and trigger.after == {"prefect.flow-run.Late"}, name
        assert "prefect.flow-run.Running" in trigger.expect, name
        [cancel] = automation.actions
        assert isinstance(cancel, ChangeFlowRunState) and cancel.state.value == "CANCELLED", name
        related = trigger.match_related
        assert related is not None and not isinstance(related, list | dict)
        assert related.root["prefect.resource.id"] == f"prefect.deployment.{deployed[name]}", name
    assert late["sweep-timers/slaflow"][0].trigger.within == timedelta(seconds=60)  # type: ignore[union-attr]
    assert late["process-inbox/slaflow"][0].trigger.within == timedelta(seconds=100)  # type: ignore[union-attr]


def test_each_fired_timer_is_an_event_on_its_case_and_the_row_keeps_the_run(
    sqlite_sessions: sessionmaker[Session], company: Company
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    open_returns(sqlite_sessions, company, SystemClock().now() - timedelta(days=30), 2)
    state = sweep_timers(batch=50, return_state=True)
    run_id = str(state.state_details.flow_run_id)
    summary = state.result()
    with sqlite_sessions() as session:
        fired = session.execute(
            select(Timer.case_id, Timer.kind, Timer.flow_run_id).where(Timer.status == "fired")
        ).all()
    assert len(fired) == summary["fired_total"] > 0 and {row.flow_run_id for row in fired} == {run_id}
    wanted = EventFilter(
        event=EventNameFilter(name=[EVENT]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{run_id}"]),
    )
    events: list[Any] = []
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while len(events) < len(fired) and time.monotonic() < deadline:  # events are stored asynchronously
            time.sleep(0.5)
            events = list(client.read_events(filter=wanted, limit=50).events)
    assert len(events) == len(fired)
    seen = {(e.resource.id, e.resource["slaflow.timer.kind"]) for e in events}
    assert seen == {(f"slaflow.case.{row.case_id}", row.kind) for row in fired}
    escalation = next(e for e in events if e.resource["slaflow.timer.kind"] == "escalation")
    assert escalation.resource["slaflow.department"] and int(escalation.resource["slaflow.timer.level"]) >= 1


def _api_url() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    assert url
    return url


def _worker(sqlite_url: str) -> subprocess.Popen[str]:
    """A real ``slaflow worker`` on the pool, polling every second, on ``sqlite_url``."""
    env = {**os.environ, "PREFECT_API_URL": _api_url(), "SLAFLOW_DATABASE_URL": sqlite_url,
           "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5",
           "SLAFLOW_CONFIG": str(EXAMPLE_COMPANY)}
    return subprocess.Popen(
        [sys.executable, "-m", "slaflow.commands.flows", "worker", "--grace", "30"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.timeout(600)  # real processes: a worker and its flow run start slowly on a saturated machine
def test_a_worker_runs_the_looping_sweeper_and_stops_it_cleanly_on_sigterm(
    deployed: dict[str, Any], sqlite_url: str, company: Company
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment

    run = run_deployment("sweep-timers/slaflow", timeout=0, parameters={"lifetime_s": 600, "interval_s": 1})
    worker = _worker(sqlite_url)
    try:
        with get_client(sync_client=True) as client:
            # a flow-run process starts in ~7 s, minutes on a saturated machine
            _wait_for_state(client, run.id, StateType.RUNNING, 300)  # type: ignore[union-attr]
            time.sleep(2)  # a sweep or two
            stopped_at = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=120)
            took = time.monotonic() - stopped_at
            final = client.read_flow_run(run.id).state  # type: ignore[union-attr]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, output
    assert took < 45 and final is not None and final.type == StateType.COMPLETED, (took, final, output)
    # COMPLETED (not CRASHED or CANCELLED) within the limit is the proof that the sweeper left its
    # loop by itself; its "left the loop" log line reaches the worker's output only when the run's
    # process flushes before it exits, which a loaded machine does not always allow.
    assert "Traceback" not in output


@pytest.mark.timeout(600)
def test_a_running_sweeper_ends_by_itself_once_its_successor_starts(deployed: dict[str, Any], sqlite_url: str) -> None:
    """One sweeper process at a time: the old run completes, by itself, once a newer run of its
    deployment is Pending (a worker starting its process), long before its lifetime's end."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.states import Completed, Pending, Scheduled

    run = run_deployment("sweep-timers/slaflow", timeout=0, parameters={"lifetime_s": 600, "interval_s": 1})
    worker = _worker(sqlite_url)
    try:
        with get_client(sync_client=True) as client:
            _wait_for_state(client, run.id, StateType.RUNNING, 300)  # type: ignore[union-attr]
            # Scheduled far ahead (no worker takes it), then Pending: as a worker starting it.
            later: Any = Scheduled(scheduled_time=SystemClock().now() + timedelta(hours=1))
            successor = client.create_flow_run_from_deployment(deployed["sweep-timers/slaflow"], state=later)
            client.set_flow_run_state(successor.id, Pending(), force=True)
            began = time.monotonic()
            _wait_for_state(client, run.id, StateType.COMPLETED, 120)  # type: ignore[union-attr]
            took = time.monotonic() - began
            client.set_flow_run_state(successor.id, Completed(), force=True)
    finally:
        worker.send_signal(signal.SIGTERM)  # a clean stop ends its runs too
        worker.communicate(timeout=120)
    assert took < 60, took  # asked every 5 s; the lifetime was 600 s


def _wait_for_state(client: Any, run_id: Any, wanted: Any, timeout: float) -> None:
    """Poll a flow run until its state is of type ``wanted``; fail with the last state seen."""
    state = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.read_flow_run(run_id).state
        if state is not None and state.type == wanted:
            return
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} is {state}, not {wanted}, after {timeout:.0f} s")


@pytest.mark.parametrize("command", ["worker", "deploy"])
def test_an_unreachable_prefect_api_is_one_error_line_and_exit_2_within_5_s(command: str) -> None:
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    started = time.monotonic()
    # The commands' own module (`slaflow worker` adds the import of the whole CLI, slaflow/cli.py).
    done = subprocess.run([sys.executable, "-m", "slaflow.commands.flows", command], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    refused = "error: cannot reach the Prefect API at http://127.0.0.1:9/api: connection refused"
    assert done.stderr.splitlines() == [refused]
    assert took < 5, took


def test_runs_late_by_more_than_two_intervals_are_cancelled_and_fresher_ones_kept(deployed: dict[str, Any]) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Late

    from flows.late import cancel_late_runs

    now = SystemClock().now()
    inbox = deployed["process-inbox/slaflow"]  # every 50 s in PLAN: late by > 100 s is cancelled
    with get_client(sync_client=True) as client:
        stale = client.create_flow_run_from_deployment(inbox, state=Late(scheduled_time=now - timedelta(seconds=130)))
        fresh = client.create_flow_run_from_deployment(inbox, state=Late(scheduled_time=now - timedelta(seconds=70)))

    async def sweep_late() -> list[Any]:
        async with get_client() as client:
            return await cancel_late_runs(client, POOL, now=now)

    assert asyncio.run(sweep_late()) == [stale.id]
    with get_client(sync_client=True) as client:
        states = {run_id: client.read_flow_run(run_id).state for run_id in (stale.id, fresh.id)}
    assert states[stale.id] is not None and states[stale.id].type == StateType.CANCELLED  # type: ignore[union-attr]
    assert states[fresh.id] is not None and states[fresh.id].name == "Late"  # type: ignore[union-attr]


def test_the_watch_asks_from_its_own_thread_and_wakes_the_loop_once_the_successor_starts(
    deployed: dict[str, Any],
) -> None:
    import threading

    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Pending, Running

    from flows.handover import Handover, Watch

    sweeper = deployed["sweep-timers/slaflow"]
    woken = threading.Event()
    with get_client(sync_client=True) as client:
        old = client.create_flow_run_from_deployment(sweeper)
        client.set_flow_run_state(old.id, Running(), force=True)
        new = client.create_flow_run_from_deployment(sweeper)
        try:
            with Watch(Handover(str(old.id)), clock=SystemClock(), every=0.1, on_successor=woken.set) as watch:
                assert watch.taken_over is False  # asked at once, alone: the run sweeps on
                assert not woken.wait(0.5)
                client.set_flow_run_state(new.id, Pending(), force=True)  # a worker starts its process
                assert woken.wait(TIMEOUT / 4)  # the loop's rest is nudged, no sweep asked anything
                assert watch.taken_over
            ended = Handover(None, hold_until=SystemClock().now() + timedelta(minutes=10))
            with Watch(ended, clock=SystemClock()) as nobody:  # not deployed: no thread, no question
                assert nobody._thread is None and not nobody.taken_over
            assert not ended.active  # a run that ended holds no tick off, even from a late answer
        finally:
            for run in (old, new):
                client.set_flow_run_state(run.id, Completed(), force=True)


def test_a_living_sweeper_holds_off_the_ticks_due_before_its_successor_is_needed(deployed: dict[str, Any]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Completed, Running, Scheduled

    from flows.handover import HOLD_OFF_AHEAD_S, Handover

    sweeper = deployed["sweep-timers/slaflow"]
    now = SystemClock().now()
    with get_client(sync_client=True) as client:
        old = client.create_flow_run_from_deployment(sweeper)
        client.set_flow_run_state(old.id, Running(), force=True)
        soon, later, last = (
            client.create_flow_run_from_deployment(sweeper, state=Scheduled(scheduled_time=now + timedelta(seconds=s)))
            for s in (HOLD_OFF_AHEAD_S - 15, HOLD_OFF_AHEAD_S + 30, HOLD_OFF_AHEAD_S - 5)
        )
        try:
            # Living, and its successor not needed for 10 s more: the tick due in 5 s is held off
            # (no process starts for it); the one beyond the look-ahead is left for a later look.
            look = Handover(str(old.id), hold_until=now + timedelta(seconds=HOLD_OFF_AHEAD_S - 10)).look(now=now)
            assert not look.successor_running
            states = {run.id: client.read_flow_run(run.id).state for run in (soon, later, last)}
            assert states[soon.id] is not None and states[soon.id].type == StateType.CANCELLED  # type: ignore[union-attr]
            assert "Held off" in (states[soon.id].message or "")  # type: ignore[union-attr]
            # The tick due after ``hold_until`` (15 s) starts the successor: it is let through.
            assert states[last.id] is not None and states[last.id].type == StateType.SCHEDULED  # type: ignore[union-attr]
            assert states[later.id] is not None and states[later.id].type == StateType.SCHEDULED  # type: ignore[union-attr]
            # Past its hold (or dead: a dead run asks nothing), every tick goes through.
            Handover(str(old.id), hold_until=now).look(now=now + timedelta(seconds=30))
            assert client.read_flow_run(last.id).state_type == StateType.SCHEDULED
        finally:
            for run in (old, soon, later, last):
                client.set_flow_run_state(run.id, Completed(), force=True)


def test_a_run_hands_over_once_its_successor_starts_and_holds_off_the_ticks_due_meanwhile(
    deployed: dict[str, Any],
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.states import Completed, Pending, Running, Scheduled

    from flows.handover import HOLD_OFF_AHEAD_S, Handover
    from flows.sweeper import SUCCESSOR_WAIT_RESTARTS, lifetime_over

    sweeper = deployed["sweep-timers/slaflow"]
    now = SystemClock().now()
    with get_client(sync_client=True) as client:
        old = client.create_flow_run_from_deployment(sweeper)
        client.set_flow_run_state(old.id, Running(), force=True)
        successor = client.create_flow_run_from_deployment(sweeper)
        client.set_flow_run_state(successor.id, Pending(), force=True)  # a worker took its tick: it boots
        restart_s = 60.0
        tick, later, fresh = (
            client.create_flow_run_from_deployment(sweeper, state=Scheduled(scheduled_time=now + timedelta(seconds=s)))
            for s in (HOLD_OFF_AHEAD_S + restart_s - 5, HOLD_OFF_AHEAD_S + restart_s + 30, 3600)
        )
        try:
            # Past its own hold (its lifetime is nearly over) and the successor is starting: this
            # run ends now (one sweeper process at a time), and the tick due within a restart
            # would start a third sweeper while the successor boots, so it is held off.
            look = Handover(str(old.id), hold_until=now - timedelta(seconds=1), restart_s=restart_s).look(now=now)
            assert look.successor_starting and look.taken_over and not look.successor_running
            assert look.held_off == 1
            state = client.read_flow_run(tick.id).state
            assert state is not None and state.type == StateType.CANCELLED and "is starting" in (state.message or "")
            assert client.read_flow_run(later.id).state_type == StateType.SCHEDULED  # the successor's to hold
            # A run left Pending from before this one started (its worker died) is no successor.
            client.set_flow_run_state(fresh.id, Running(), force=True)
            assert not Handover(str(fresh.id)).look().taken_over
            client.set_flow_run_state(successor.id, Running(), force=True)
            assert Handover(str(old.id)).successor_running()
        finally:
            for run in (old, successor, tick, later, fresh):
                client.set_flow_run_state(run.id, Completed(), force=True)
    # The loop's end: a deployed run outlives its lifetime by up to two restarts while it waits.
    assert not lifetime_over(99.0, deadline=100.0, restart_s=30.0, deployed=True)
    assert not lifetime_over(100.0 + SUCCESSOR_WAIT_RESTARTS * 30.0 - 1, deadline=100.0, restart_s=30.0, deployed=True)
    assert lifetime_over(100.0 + SUCCESSOR_WAIT_RESTARTS * 30.0, deadline=100.0, restart_s=30.0, deployed=True)
    assert lifetime_over(100.0, deadline=100.0, restart_s=30.0, deployed=False)

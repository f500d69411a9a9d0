"""The interval deployments start at their own offsets (`flows.stagger`): with the default plan no
safety net starts within 30 s (half a sweeper tick) of a sweeper tick or of another net (they shared one anchor, so
at 600 s four flow-run processes started together: a 1.3 GB peak in `bench/live.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from flows.deploy import Plan, anchor_offsets, build_deployments
from flows.stagger import smallest_gap, stagger, starts

NETS = {"dispatch-outbox": 600.0, "process-inbox": 600.0, "reconcile-timers": 900.0, "open-duties": 300.0}
HYPERPERIOD = 1800.0  # lcm(100, 300, 600, 900)


def _all_starts(offsets: dict[str, float], intervals: dict[str, float], horizon: float) -> list[float]:
    return [t for name, every in intervals.items() for t in starts(offsets[name], every, horizon)]


def test_the_default_plan_puts_every_safety_net_in_the_middle_of_its_own_sweeper_cycle() -> None:
    plan = Plan()
    offsets = anchor_offsets(plan)
    assert offsets == anchor_offsets(Plan())  # a pure function of the plan: every deploy agrees
    assert offsets["sweep-timers"] == 0.0
    nets = {"dispatch-outbox": plan.dispatch_interval, "process-inbox": plan.inbox_interval,
            "reconcile-timers": plan.reconcile_interval, "open-duties": plan.duties_interval}
    assert nets == {"dispatch-outbox": 3600, "process-inbox": 1800, "reconcile-timers": 3600, "open-duties": 900}
    intervals = {"sweep-timers": plan.sweeper_restart, **nets}
    assert all(0 <= offsets[name] < every for name, every in intervals.items())
    # The nets' first runs wait two sweeper ticks: the deploy's sweeper run boots alone.
    assert min(offsets[name] for name in nets) >= 2 * plan.sweeper_restart
    hour = 3600.0  # lcm(60, 900, 1800, 3600)
    times = _all_starts(offsets, intervals, hour)
    assert len(times) == 60 + 1 + 2 + 1 + 4
    assert smallest_gap(times, horizon=hour) == 30.0  # half a sweeper cycle: the most there is
    # Each net's start falls in a sweeper cycle of its own (never two processes but the sweepers').
    cycles = [int(t // plan.sweeper_restart) for t in _all_starts(offsets, nets, hour)]
    assert len(cycles) == len(set(cycles)) == 8


def test_one_shared_anchor_is_what_made_them_start_together() -> None:
    """The figure the offsets fix: the same schedules at offset 0 start four at once."""
    intervals = {"sweep-timers": 100.0, **NETS}
    together = _all_starts(dict.fromkeys(intervals, 0.0), intervals, HYPERPERIOD)
    assert smallest_gap(together, horizon=HYPERPERIOD) == 0.0
    assert together.count(600.0) == 4  # open-duties, dispatch-outbox, process-inbox and a sweeper


def test_other_plans_keep_at_least_twenty_seconds_between_starts() -> None:
    for restart, nets in [
        (120.0, {"a": 600.0, "b": 600.0, "c": 900.0, "d": 300.0}),
        (100.0, {"a": 300.0, "b": 450.0, "c": 1200.0, "d": 1800.0}),
        (60.0, {"a": 3600.0, "b": 600.0}),
    ]:
        offsets = stagger(nets, restart=restart)
        assert offsets == stagger(dict(reversed(list(nets.items()))), restart=restart)  # order does not matter
        horizon = 3600.0 * 2
        times = starts(0.0, restart, horizon) + _all_starts(offsets, nets, horizon)
        assert smallest_gap(times, horizon=horizon) >= 20.0, (restart, nets, offsets)


def test_the_deployments_schedules_carry_the_offsets_from_one_anchor() -> None:
    anchor = datetime(2026, 11, 30, 6, 0, 7, 123456, tzinfo=UTC)
    plan = Plan(with_reports=False)
    offsets = anchor_offsets(plan)
    by_flow = {str(d.flow_name): d for d in build_deployments(plan, anchor=anchor)}
    assert set(by_flow) == set(offsets)
    for name, deployment in by_flow.items():
        assert deployment.schedules
        schedule = deployment.schedules[0].schedule
        every: timedelta = schedule.interval  # type: ignore[union-attr]
        first: datetime = schedule.anchor_date  # type: ignore[union-attr]
        # The first start is `offset` after the anchor (whole seconds), one interval on from the stored anchor.
        assert first + every == anchor.replace(microsecond=0) + timedelta(seconds=offsets[name]), name


def test_a_plan_too_tight_for_five_seconds_apart_still_keeps_its_starts_apart() -> None:
    """Prefect's harness plan (tests/test_prefect_pool.py): a sweeper every 30 s and nets every 40
    and 50 s meet somewhere within 5 s whatever the offsets; each net then keeps as far as it can."""
    nets = {"dispatch-outbox": 40.0, "process-inbox": 50.0, "reconcile-timers": 900.0, "open-duties": 300.0}
    offsets = stagger(nets, restart=30.0)
    assert offsets == stagger(nets, restart=30.0)
    intervals = {"sweep-timers": 30.0, **nets}
    spread = _all_starts({"sweep-timers": 0.0, **offsets}, intervals, HYPERPERIOD)
    together = _all_starts(dict.fromkeys(intervals, 0.0), intervals, HYPERPERIOD)
    assert smallest_gap(together, horizon=HYPERPERIOD) == 0.0
    assert smallest_gap(spread, horizon=HYPERPERIOD) >= 1.0
    assert 0.0 not in offsets.values()  # no net starts with a sweeper

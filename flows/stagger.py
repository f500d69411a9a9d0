"""Where in its interval each interval deployment starts: far from the sweeper's restarts and
from each other (a pure function of the intervals: the same plan gives the same offsets).

Every flow run is a Python process of 130-150 MB for its first tens of seconds (measured in
`bench/live.py`). Interval schedules that share one anchor start together whenever their intervals
meet (at 600 s: ``open-duties``, ``dispatch-outbox``, ``process-inbox`` and a sweeper restart),
so the set-up's memory peaks at idle plus four processes. Each deployment gets its own anchor
offset instead: the largest gap (up to half a sweeper restart, the middle of the sweeper's cycle)
that keeps every start of every deployment that far from every other over the schedules' common
period (their least common multiple, at most `HORIZON_S`); intervals too short or too odd for
5 s apart are placed one by one, each as far as it can from those before it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence

HORIZON_S = 7 * 86400
"""Starts are compared over the intervals' least common multiple, or this long if that is longer."""
GAP_STEP_S = 5
"""The gap aimed at is lowered in these steps until every deployment finds a place."""
MAX_CHECKS = 200_000
"""Candidate offsets tried per gap before a smaller gap is tried (the search stays bounded)."""


def stagger(intervals: Mapping[str, float], *, restart: float) -> dict[str, float]:
    """Seconds after the common anchor at which each deployment's schedule starts, for the
    ``intervals`` (by name, in seconds); the sweeper restarts at offset 0 every ``restart``
    seconds. Deployments are placed shortest interval first (then by name); each offset is a
    whole second in ``[0, interval)``."""
    every = {name: max(1, round(seconds)) for name, seconds in intervals.items()}
    period = max(1, round(restart))
    horizon = _horizon([period, *every.values()])
    order = sorted(every, key=lambda name: (every[name], name))
    sweeper = list(range(0, horizon, period))
    lengths = [every[name] for name in order]
    for gap in range(period // 2, 0, -GAP_STEP_S):
        placed = _place(lengths, sweeper, horizon=horizon, gap=gap, budget=[MAX_CHECKS])
        if placed is not None:
            break
    else:  # intervals that cannot all keep 5 s apart: each as far as it can from those before it
        placed = _greedy(lengths, sweeper, horizon=horizon)
    return {name: float(offset) for name, offset in zip(order, placed, strict=True)}


def starts(offset: float, interval: float, horizon: float) -> list[float]:
    """The starts of one schedule in ``[0, horizon)``."""
    return [offset + k * interval for k in range(math.ceil((horizon - offset) / interval))]


def smallest_gap(times: Sequence[float], *, horizon: float) -> float:
    """The smallest distance between two of ``times`` on a circle of ``horizon`` seconds."""
    ordered = sorted(times)
    if len(ordered) < 2:
        return horizon
    pairs = zip(ordered, [*ordered[1:], ordered[0] + horizon], strict=True)
    return min(later - earlier for earlier, later in pairs)


def _horizon(intervals: Sequence[int]) -> int:
    common = 1
    for interval in intervals:
        common = common * interval // math.gcd(common, interval)
        if common > HORIZON_S:
            return HORIZON_S
    return common


def _place(
    intervals: Sequence[int], taken: list[int], *, horizon: int, gap: int, budget: list[int]
) -> list[int] | None:
    """Offsets for ``intervals`` whose starts all keep ``gap`` from ``taken`` (sorted) and from each
    other; the smallest offsets first (depth first), None when there are none within the budget."""
    if not intervals:
        return []
    interval, rest = intervals[0], intervals[1:]
    for offset in range(interval):
        budget[0] -= 1
        if budget[0] < 0:
            return None
        mine = list(range(offset, horizon, interval))
        if not all(_clear(t, taken, horizon=horizon, gap=gap) for t in mine):
            continue
        placed = _place(rest, sorted(taken + mine), horizon=horizon, gap=gap, budget=budget)
        if placed is not None:
            return [offset, *placed]
    return None


def _greedy(intervals: Sequence[int], taken: list[int], *, horizon: int) -> list[int]:
    """Each offset in turn: the one whose starts keep farthest from those placed (the smallest on a tie)."""
    offsets: list[int] = []
    for interval in intervals:
        best = max(range(interval), key=lambda o: (_distance(range(o, horizon, interval), taken, horizon), -o))
        offsets.append(best)
        taken = sorted(taken + list(range(best, horizon, interval)))
    return offsets


def _distance(times: Sequence[int], taken: list[int], horizon: int) -> int:
    return min((_nearest(t, taken, horizon) for t in times), default=horizon)


def _nearest(t: int, taken: list[int], horizon: int) -> int:
    """The distance from ``t`` to the nearest time in ``taken`` (sorted), around the circle."""
    if not taken:
        return horizon
    i = bisect_left(taken, t)
    after = taken[i] if i < len(taken) else taken[0] + horizon
    before = taken[i - 1] if i > 0 else taken[-1] - horizon
    return min(after - t, t - before)


def _clear(t: int, taken: list[int], *, horizon: int, gap: int) -> bool:
    """True when ``t`` is at least ``gap`` from every time in ``taken`` (sorted), around the circle."""
    return _nearest(t, taken, horizon) >= gap

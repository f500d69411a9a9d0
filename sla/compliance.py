"""The SLA rules that every figure obeys, as pure functions over typed clock records.

One definition, used by the demo summary, the report (terminal, HTML, CSV, JSON), the dashboard,
the REST API, the weekly messages and `sla what-if` (through `sla.ledger`, which aggregates in
SQL what it can and applies these functions to the few open clocks):

- a *step* is one visit of a state with a target (one step clock); a duty occurrence is a case
  like any other, its step a step;
- every step is exactly one of *met* (stopped at or before its deadline), *breached* (stopped
  late, or still open past its deadline: a clock that was running at any instant after it) or
  *running* (open and not late; a clock suspended while another department works is running);
- a breached step is late by the business minutes it used beyond its target; for an open step,
  by the time used so far;
- a step whose breach the director exempted (breaches) is *exempted*: shown beside the
  others, but not one of the counted steps, so ``met + breached + running == steps`` still holds
  and compliance (``met / (met + breached)``) leaves it out; its lateness is not counted either;
- a whole case's time is charged to the departments whose steps used it, open steps included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sla.calendar import BusinessCalendar
from sla.model import ClockRecord, ClockStatus
from sla.policy import late_minutes, used_by


class Outcome(StrEnum):
    MET = "met"
    BREACHED = "breached"
    RUNNING = "running"


def outcome(clock: ClockRecord, now: datetime) -> Outcome:
    """Met, breached or running at ``now``. A running clock past its deadline is breached whether
    or not a sweep has recorded it yet; a suspended clock keeps the verdict it had when it
    stopped running (its stored deadline no longer applies while it waits)."""
    if clock.status == ClockStatus.BREACHED:
        return Outcome.BREACHED
    if clock.stopped_at is not None:
        return Outcome.MET
    if clock.paused_since is None and clock.deadline_at is not None and now > clock.deadline_at:
        return Outcome.BREACHED
    return Outcome.RUNNING


def used_now(clock: ClockRecord, calendar: BusinessCalendar, now: datetime) -> float:
    """Business minutes the clock has used by ``now`` (an open running clock keeps counting)."""
    return used_by(
        calendar,
        used_minutes=clock.used_minutes,
        running_since=clock.running_since,
        paused_since=clock.paused_since,
        stopped_at=clock.stopped_at,
        now=now,
    )


@dataclass
class Tally:
    """Steps of one department: ``met + breached + running == steps`` always; ``exempted`` steps
    are counted beside them, never in them."""

    department: str
    steps: int = 0
    met: int = 0
    breached: int = 0
    running: int = 0
    paused: int = 0
    """Of the running steps, those suspended while another department works for them."""
    late_minutes: float = 0.0
    """Business minutes past the deadlines of the breached steps, open ones up to now."""
    exempted: int = 0
    """Steps whose breach the director exempted: shown, but left out of every figure above."""

    @property
    def compliance(self) -> float | None:
        """Share of decided steps (met or breached) that met their deadline."""
        decided = self.met + self.breached
        return self.met / decided if decided else None

    def count(self, result: Outcome, *, late: float = 0.0, paused: bool = False, exempted: bool = False) -> None:
        if exempted:
            self.exempted += 1
            return
        self.steps += 1
        if result is Outcome.MET:
            self.met += 1
        elif result is Outcome.BREACHED:
            self.breached += 1
            self.late_minutes += late
        else:
            self.running += 1
            self.paused += int(paused)


def tally(clocks: Iterable[tuple[ClockRecord, BusinessCalendar]], now: datetime) -> dict[str, Tally]:
    """Per-department figures of step clocks (the reference the SQL aggregation must equal)."""
    found: dict[str, Tally] = {}
    for clock, calendar in clocks:
        if clock.target_minutes is None:
            continue
        result = outcome(clock, now)
        late = late_minutes(used_now(clock, calendar, now), clock.target_minutes) if result is Outcome.BREACHED else 0
        found.setdefault(clock.department, Tally(clock.department)).count(
            result, late=late, paused=clock.paused_since is not None and clock.stopped_at is None,
            exempted=clock.exempted,
        )
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Share:
    department: str
    minutes: float
    share: float


def blame(minutes_by_department: Mapping[str, float]) -> list[Share]:
    """Who used a case's time: business minutes per department (open steps up to now) and each
    one's share of the total, largest first. A whole-case breach is charged by these shares."""
    total = sum(minutes_by_department.values())
    return [
        Share(department, minutes, minutes / total if total else 0.0)
        for department, minutes in sorted(minutes_by_department.items(), key=lambda item: (-item[1], item[0]))
    ]

"""What an operator sees in Prefect of the timers a sweep fired: one event per timer, with the
case as its resource, and the rows of the run's table artifact.

The event feed (``slaflow.timer.fired``, filter on ``slaflow.timer.kind`` = ``escalation``) shows
the escalations; the event's related resource is the flow run that fired it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.vocabulary import TimerStatus
from storage.models import Case, SlaClock, Timer, table

EVENT = "slaflow.timer.fired"
CHUNK = 500
"""Ids per ``IN (...)`` query (SQLite's parameter limit is far above)."""

_timers, _clocks, _cases = table(Timer), table(SlaClock), table(Case)


@dataclass(frozen=True)
class FiredTimer:
    timer_id: int
    case_id: int
    case_type: str
    kind: str
    level: int
    state: str
    department: str | None
    """The department that held the step (the clock's); for a clock-less timer, the case's owner."""
    flow_run_id: str | None

    def resource(self) -> dict[str, str]:
        return {
            "prefect.resource.id": f"slaflow.case.{self.case_id}",
            "prefect.resource.name": f"case {self.case_id} ({self.case_type})",
            "slaflow.case.type": self.case_type,
            "slaflow.timer.kind": self.kind,
            "slaflow.timer.level": str(self.level),
            "slaflow.department": self.department or "",
        }

    def artifact_row(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "type": self.case_type,
            "kind": self.kind,
            "level": self.level,
            "state": self.state,
            "department": self.department or "",
            "timer": self.timer_id,
        }


def fired_timers(session: Session, ids: list[int]) -> list[FiredTimer]:
    """The fired timers among ``ids``, with their case and department, in id order."""
    found: list[FiredTimer] = []
    for start in range(0, len(ids), CHUNK):
        query = (
            select(
                _timers.c.id, _timers.c.case_id, _cases.c.case_type, _timers.c.kind, _timers.c.level,
                _timers.c.state, _clocks.c.department, _cases.c.owner_department, _timers.c.flow_run_id,
            )
            .join(_cases, _cases.c.id == _timers.c.case_id)
            .outerjoin(_clocks, _clocks.c.id == _timers.c.clock_id)
            .where(_timers.c.id.in_(ids[start : start + CHUNK]), _timers.c.status == TimerStatus.FIRED)
            .order_by(_timers.c.id)
        )
        found += [
            FiredTimer(
                timer_id=row.id, case_id=row.case_id, case_type=row.case_type, kind=row.kind, level=row.level,
                state=row.state, department=row.department or row.owner_department, flow_run_id=row.flow_run_id,
            )
            for row in session.execute(query)
        ]
    return found


def publish_fired(fired: list[FiredTimer]) -> int:
    """Emit one ``slaflow.timer.fired`` event per timer; inside a flow run Prefect adds the run,
    its flow and deployment as related resources. Return how many were emitted."""
    from prefect.events import emit_event

    from flows._support import in_flow_run

    if not in_flow_run():  # a direct call (tests, `flow.fn`): no run to relate the events to
        return 0
    emitted = 0
    for timer in fired:
        event = emit_event(EVENT, resource=timer.resource(), payload={"timer_id": timer.timer_id, "state": timer.state})
        emitted += event is not None
    return emitted

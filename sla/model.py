"""The SLA clock as a typed record, and the clock vocabularies (declared once, here).

A clock runs for one visit of a state (kind ``step``, the owning department's OLA) or for the
whole case (kind ``case``, the requesting department's SLA), in its owner's business calendar.
`sla.policy` decides what happens to a clock; `sla.clock_store` persists what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ClockStatus(StrEnum):
    """Where a clock stands, as stored in ``sla_clocks.status``."""

    RUNNING = "running"
    PAUSED = "paused"
    """Not running, not over: the case waits on the customer or on another department."""
    MET = "met"
    """Stopped at or before its deadline."""
    BREACHED = "breached"
    """Known to have run past its deadline (set when the breach is recorded, kept when stopped)."""


class ClockKind(StrEnum):
    STEP = "step"
    """One visit of a state, in the owning department's calendar."""
    WHOLE_CASE = "case"
    """The whole case, in the requesting department's calendar; paused in paused states."""


@dataclass(frozen=True, slots=True)
class ClockRecord:
    """A stored clock (a row of ``sla_clocks``) as the SLA policy and the ledger's rules read it."""

    id: int
    case_id: int
    kind: ClockKind
    state: str | None
    department: str
    person: str | None
    calendar: str
    calendar_fingerprint: str
    target_minutes: float | None
    warn_fraction: float
    used_minutes: float
    """Business minutes used up to ``paused_since``/``stopped_at`` (running time is added on read)."""
    running_since: datetime
    paused_since: datetime | None
    stopped_at: datetime | None
    deadline_at: datetime | None
    status: ClockStatus
    exempted: bool = False
    """The director approved an exemption of its breach: left out of the counted steps (`sla.ledger`)."""

    @classmethod
    def of(cls, row: Any) -> ClockRecord:
        """The record of a row of ``sla_clocks`` (a Core row, as `sla.ledger` reads it with its
        ``exempted`` flag, or an ORM ``SlaClock``)."""
        return cls(
            id=row.id,
            case_id=row.case_id,
            kind=ClockKind(row.kind),
            state=row.state,
            department=row.department,
            person=row.person,
            calendar=row.calendar,
            calendar_fingerprint=row.calendar_fingerprint,
            target_minutes=row.target_minutes,
            warn_fraction=row.warn_fraction,
            used_minutes=row.used_minutes,
            running_since=row.running_since,
            paused_since=row.paused_since,
            stopped_at=row.stopped_at,
            deadline_at=row.deadline_at,
            status=ClockStatus(row.status),
            exempted=bool(getattr(row, "exempted", False)),
        )

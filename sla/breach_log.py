"""The per-department breach log: one ``breaches`` row per clock that ran past its deadline,
charged to the department (and person) holding the clock, always inside the caller's transaction.

The row keeps the deadline (``breached_at``) and the moment the breach was detected
(``detected_at``: the sweep that fired, or the stop or pause that found it late); it is closed with
the business minutes late when the clock stops. Statements are built once at import.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from sla.model import ClockRecord
from storage.models import Breach, table
from storage.prepared import Prepared, prepared_insert

_breaches = table(Breach)
_ROW = ("case_id", "clock_id", "kind", "department", "person", "state", "deadline_at", "breached_at", "detected_at",
        "closed_at", "late_minutes")
_INSERT = prepared_insert(_breaches, _ROW, unless_exists=("clock_id",))
_ASSIGN_OPEN = Prepared(
    update(_breaches)
    .where(_breaches.c.clock_id == bindparam("b_clock_id"), _breaches.c.closed_at.is_(None))
    .values(person=bindparam("b_person"))
)
_CLOSE = Prepared(
    update(_breaches)
    .where(_breaches.c.clock_id == bindparam("b_clock_id"))
    .values(closed_at=bindparam("b_closed_at"), late_minutes=bindparam("b_late"))
)


def log_breach(session: Session, clock: ClockRecord, *, now: datetime) -> None:
    """Write the breach of a clock past its deadline against the department holding it (once per
    clock: a second write is ignored)."""
    assert clock.deadline_at is not None
    _INSERT.execute(
        session,
        {
            "case_id": clock.case_id,
            "clock_id": clock.id,
            "kind": clock.kind,
            "department": clock.department,
            "person": clock.person,
            "state": clock.state,
            "deadline_at": clock.deadline_at,
            "breached_at": clock.deadline_at,
            "detected_at": now,
            "closed_at": None,
            "late_minutes": None,
        },
    )


def assign_open_breach(session: Session, clock_id: int, person: str) -> None:
    """The clock's breach, if recorded and still open, follows the person now holding the step."""
    _ASSIGN_OPEN.execute(session, {"b_clock_id": clock_id, "b_person": person})


def close_breach(session: Session, clock_id: int, *, now: datetime, late_minutes: float) -> None:
    _CLOSE.execute(session, {"b_clock_id": clock_id, "b_closed_at": now, "b_late": late_minutes})

"""The per-department breach log: one ``breaches`` row per clock that ran past its deadline,
charged to the department (and person) holding the clock, always inside the caller's transaction.

The row keeps the deadline (``breached_at``) and the moment the breach was detected
(``detected_at``: the sweep that fired, or the stop or pause that found it late); it is closed with
the business minutes late when the clock stops. Statements are built once at import.

A sweep group on PostgreSQL reads its clocks' breaches ahead (`read_ahead`) and reserves the ids
of the ones it may write, so a breach it writes need not be read back (`row_of`). The writes
here wait for the transaction's next statement (`storage.deferred`): on PostgreSQL a group's
breaches then cost no round trip of their own.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, column, select, text, update
from sqlalchemy.orm import Session

from sla.model import ClockRecord
from storage.models import Breach, table
from storage.prepared import Prepared, one_of, prepared_insert

_breaches = table(Breach)
_ROW = ("case_id", "clock_id", "kind", "department", "person", "state", "deadline_at", "breached_at", "detected_at",
        "closed_at", "late_minutes")
_INSERT = prepared_insert(_breaches, _ROW, unless_exists=("clock_id",))
_INSERT_WITH_ID = prepared_insert(_breaches, ("id", *_ROW), unless_exists=("clock_id",))
_RESERVE_IDS = Prepared({"postgresql": text(
    "SELECT nextval(pg_get_serial_sequence('breaches', 'id')) AS id FROM generate_series(1, :n)"
).bindparams(bindparam("n", type_=Integer)).columns(column("id", Integer))})
_OF_CLOCKS = Prepared({dialect: select(_breaches).where(listed)
                       for dialect, listed in one_of(_breaches.c.clock_id, "b_ids").items()})
BreachRow: Any = namedtuple("BreachRow", [column.key for column in _breaches.columns])  # type: ignore[misc]
"""A breach as read (`storage.prepared` rows carry the same names)."""
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


def log_breach(session: Session, clock: ClockRecord, *, now: datetime, reserved: int | None = None) -> None:
    """Write the breach of a clock past its deadline against the department holding it (once per
    clock: a second write is ignored); with the id ``reserved`` by `read_ahead`, if given."""
    assert clock.deadline_at is not None
    row = _row(clock, now)
    if reserved is None:
        _INSERT.later(session, row)
    else:
        _INSERT_WITH_ID.later(session, {"id": reserved, **row})


def _row(clock: ClockRecord, now: datetime) -> dict[str, Any]:
    return {
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
    }


def row_of(clock: ClockRecord, *, now: datetime, breach_id: int) -> Any:
    """The row `log_breach` wrote for ``clock`` with ``breach_id`` reserved (as reading it back
    would give it), when the clock had no breach before."""
    values = _row(clock, now)
    values["kind"] = str(clock.kind)
    return BreachRow(**{"id": breach_id, **values})


def read_ahead(session: Session, clock_ids: Sequence[int]) -> tuple[dict[int, Any], list[int]]:
    """The breaches of ``clock_ids`` (clock id -> row) and an id reserved for each clock without
    one (PostgreSQL's sequence: an id not used is a gap, as after a rollback). Read under the
    lock of the clocks' cases, so no other transaction writes their breaches meanwhile."""
    if not clock_ids:
        return {}, []
    rows = {row.clock_id: BreachRow(*row) for row in _OF_CLOCKS.all(session, {"b_ids": list(clock_ids)})}
    missing = len(set(clock_ids) - rows.keys())
    ids = [int(n) for (n,) in _RESERVE_IDS.all(session, {"n": missing})] if missing else []
    return rows, ids


def assign_open_breach(session: Session, clock_id: int, person: str) -> None:
    """The clock's breach, if recorded and still open, follows the person now holding the step."""
    _ASSIGN_OPEN.later(session, {"b_clock_id": clock_id, "b_person": person})


def close_breach(session: Session, clock_id: int, *, now: datetime, late_minutes: float) -> None:
    _CLOSE.later(session, {"b_clock_id": clock_id, "b_closed_at": now, "b_late": late_minutes})

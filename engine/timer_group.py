"""A sweep group's rows read together: its timers, their cases and their clocks in three
statements, instead of three statements for each timer (`engine.timers._fire_group`).

Why this is safe: a timer's guard and handler see exactly what they would have read alone. The
rows are read in the group's transaction, cases ``FOR UPDATE`` (in id order, as one sweeper
would lock them), and a case's rows are used only for its first timer in the group: firing
may change the case, its clocks and its other timers, so a second timer of the same case reads
them again (`take` returns None), after the finishes held back so far are written
(`write_finishes`). Finishing is held back for the same reason it is cheap: one UPDATE per
timer becomes one driver call per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from core.vocabulary import TimerKind
from engine import records
from engine.timer_kinds import FINISH_LATER, BreachesAhead, write_finishes
from sla import breach_log
from storage.models import Case, SlaClock, Timer, table
from storage.prepared import Prepared, one_of

_timers, _cases, _clocks = table(Timer), table(Case), table(SlaClock)


def _rows_of(rows: Table, *, lock: bool) -> Prepared:
    """The rows whose ids are listed (``b_ids``), in id order, locked with ``lock``: prepared, so
    a group's reads cost no statement building and no SQLAlchemy result (a row is the plain named
    tuple `storage.prepared` returns when a timer is read alone)."""
    by_dialect = {}
    for dialect, listed in one_of(rows.c.id, "b_ids").items():
        statement = select(rows).where(listed).order_by(rows.c.id)
        by_dialect[dialect] = statement.with_for_update() if lock else statement
    return Prepared(by_dialect)


_READ_TIMERS = _rows_of(_timers, lock=True)
_READ_CASES = _rows_of(_cases, lock=True)
_READ_CLOCKS = _rows_of(_clocks, lock=False)

__all__ = ["Group", "write_finishes"]


@dataclass
class Group:
    timers: dict[int, Any]
    cases: dict[int, records.CaseRecord]
    clocks: dict[int, Any]
    breaches: BreachesAhead | None = None
    """PostgreSQL: the breaches of the clocks of the group's breach timers, read ahead."""
    seen: set[int] = field(default_factory=set)
    """Cases one of this group's timers was handed over for: their rows may have changed."""

    @classmethod
    def read(cls, session: Session, ids: Sequence[int]) -> Group:
        """The group's timers (locked), their cases (locked) and clocks; finishing is held back
        until `write_finishes` (the sweep calls it before committing)."""
        session.info[FINISH_LATER] = []
        timers = {row.id: row for row in _READ_TIMERS.all(session, {"b_ids": sorted(ids)})}
        case_ids = sorted({row.case_id for row in timers.values()})
        cases = {row.id: records.CaseRecord.of(row) for row in _READ_CASES.all(session, {"b_ids": case_ids})}
        clock_ids = sorted({row.clock_id for row in timers.values() if row.clock_id is not None})
        clocks = {row.id: row for row in _READ_CLOCKS.all(session, {"b_ids": clock_ids})} if clock_ids else {}
        breaches = None
        if session.get_bind().dialect.name == "postgresql":  # (where a read-back is a round trip of its own)
            due = sorted({t.clock_id for t in timers.values() if t.kind == TimerKind.BREACH and t.clock_id is not None})
            breaches = BreachesAhead(set(due), *breach_log.read_ahead(session, due)) if due else None
        return cls(timers, cases, clocks, breaches)

    def take(self, timer_id: int) -> tuple[Any, records.CaseRecord, Any] | None:
        """(timer, case, clock) as read with the group, or None when they must be read again: the
        timer is not in the group, or its case was already handed over for another timer."""
        timer = self.timers.get(timer_id)
        if timer is None or timer.case_id in self.seen or timer.case_id not in self.cases:
            return None
        self.seen.add(timer.case_id)
        clock = self.clocks.get(timer.clock_id) if timer.clock_id is not None else None
        return timer, self.cases[timer.case_id], clock


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

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import records
from engine.timer_kinds import FINISH_LATER, write_finishes
from storage.models import Case, SlaClock, Timer, table

_timers, _cases, _clocks = table(Timer), table(Case), table(SlaClock)

__all__ = ["Group", "write_finishes"]


@dataclass
class Group:
    timers: dict[int, Any]
    cases: dict[int, records.CaseRecord]
    clocks: dict[int, Any]
    seen: set[int] = field(default_factory=set)
    """Cases one of this group's timers was handed over for: their rows may have changed."""

    @classmethod
    def read(cls, session: Session, ids: Sequence[int]) -> Group:
        """The group's timers (locked), their cases (locked) and clocks; finishing is held back
        until `write_finishes` (the sweep calls it before committing)."""
        session.info[FINISH_LATER] = []
        conn = session.connection()
        timers = {row.id: row for row in conn.execute(
            select(_timers).where(_timers.c.id.in_(list(ids))).order_by(_timers.c.id).with_for_update())}
        case_ids = sorted({row.case_id for row in timers.values()})
        cases = {row.id: records.CaseRecord.of(row) for row in conn.execute(
            select(_cases).where(_cases.c.id.in_(case_ids)).order_by(_cases.c.id).with_for_update())}
        clock_ids = sorted({row.clock_id for row in timers.values() if row.clock_id is not None})
        clocks = {row.id: row for row in conn.execute(select(_clocks).where(_clocks.c.id.in_(clock_ids)))}
        return cls(timers, cases, clocks)

    def take(self, timer_id: int) -> tuple[Any, records.CaseRecord, Any] | None:
        """(timer, case, clock) as read with the group, or None when they must be read again: the
        timer is not in the group, or its case was already handed over for another timer."""
        timer = self.timers.get(timer_id)
        if timer is None or timer.case_id in self.seen or timer.case_id not in self.cases:
            return None
        self.seen.add(timer.case_id)
        clock = self.clocks.get(timer.clock_id) if timer.clock_id is not None else None
        return timer, self.cases[timer.case_id], clock

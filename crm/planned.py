"""A batch of inbox rows worked out before SQLite's write lock and written under it (`storage.write_plan`).

The inbox processor (crm.processor) shares SQLite's one writer with the HTTP app's stores: while
it opens a batch's cases, each webhook waits to be stored. Planned, the batch is first worked out
on a read connection (rules, deadlines, timers, messages: about half of a case's opening, bench/
webhooks.py), and the lock is then held only while its writes run. Under the lock, before they
run, what the plan read is read again: the rows' statuses and the sources with parked rows (and,
by `storage.write_plan.replay`, that no case or clock was inserted meanwhile, which also keeps the
plan's "no case is linked to this record yet" true). If anything differs, or the batch does
something a plan does not hold (a trigger on an existing case, parking, a lead, the first clock of
a new calendar version), the batch is worked out again the usual way, under the lock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from storage.write_plan import WritePlan, planning, replay

log = logging.getLogger(__name__)

Seen = tuple[tuple[tuple[int, str], ...], frozenset[str]]
"""What a batch read that its outcome depends on: each row's (id, status), the parked sources."""


@dataclass(frozen=True)
class PlannedBatch:
    plan: WritePlan
    done: dict[int, Any]
    """Each row's outcome (`crm.processing.Processed`), true once the plan is replayed."""
    seen: Seen


def plan_batch(reads: sessionmaker[Session], settle: Callable[[Session, dict[int, Any]], Seen]) -> PlannedBatch | None:
    """``settle`` (the batch's usual work) recorded on a read session; None if it cannot be."""
    done: dict[int, Any] = {}
    try:
        with reads() as session, planning(session) as plan:
            seen = settle(session, done)
    except Exception as exc:  # a plan's limit, or the batch fails: the usual way does it or says why
        log.debug("inbox batch not planned (%s: %s)", type(exc).__name__, exc)
        return None
    return PlannedBatch(plan, done, seen)


def replayed(session: Session, batch: PlannedBatch, seen_now: Seen) -> bool:
    """Write ``batch`` in ``session``'s transaction if what it read still holds (``seen_now``, read
    under the lock); whether it was."""
    return seen_now == batch.seen and replay(session, batch.plan)

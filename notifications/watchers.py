"""Who follows a case: the person who opened it (the first event's actor, if a person) and anyone
who chose to follow it. They hear of each step change, the outcome, automatic releases and,
when ``notifications.hold_notice_minutes`` is set, a hold about to expire (notifications.events).
Following needs read access to the case (org.scope)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.errors import UnknownPerson
from org.actors import ReadScope
from org.chart import Company
from org.scope import require_readable
from storage.models import CaseEvent, CaseWatcher, table
from storage.prepared import Prepared

_watchers, _events = table(CaseWatcher), table(CaseEvent)
_OPENER_AND_WATCHERS = Prepared(union_all(
    select(literal(0).label("k"), _events.c.actor.label("person"), literal(True).label("following"),
           _events.c.at.label("since"))
    .where(_events.c.case_id == bindparam("b_case_id"), _events.c.seq == 1),
    select(literal(1).label("k"), _watchers.c.person, _watchers.c.following, _watchers.c.since)
    .where(_watchers.c.case_id == bindparam("b_case_id")),
).order_by("k", "since", "person"))
"""The first event's actor (k=0), then the watcher rows: one statement built once, since every
step change of a case reads it."""


def watchers(session: Session, company: Company, case_id: int) -> list[str]:
    """The people who follow the case, the opener first (unless they stopped), each once. The
    opener is the person who opened the case (none when a CRM, an integration or the system did)."""
    session.flush()  # (a no-op when clean) what the ORM query this replaced would have autoflushed
    first: str | None = None
    rows: dict[str, bool] = {}
    for row in _OPENER_AND_WATCHERS.all(session, {"b_case_id": case_id}):
        if row.k == 0:
            first = row.person if row.person in company.config.people else None
        else:
            rows[row.person] = bool(row.following)
    found = [first] if first is not None and rows.get(first, True) else []
    found += [person for person, following in rows.items()
              if following and person not in found and person in company.config.people]
    return found


def follow(session: Session, company: Company, scope: ReadScope, *, case_id: int, person: str, now: datetime,
           following: bool = True) -> list[str]:
    """Start (or with ``following=False`` stop) following a readable case; returns its watchers.
    Idempotent: following twice changes nothing."""
    if person not in company.config.people:
        raise UnknownPerson(person)
    require_readable(session, scope, case_id)
    row = session.get(CaseWatcher, (case_id, person))
    if row is None:
        session.add(CaseWatcher(case_id=case_id, person=person, following=following, since=ensure_utc(now)))
    elif row.following != following:
        row.following, row.since = following, ensure_utc(now)
    session.flush()
    return watchers(session, company, case_id)

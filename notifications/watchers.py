"""Who follows a case: the person who opened it (the first event's actor, if a person) and anyone
who chose to follow it. They hear of each step change, the outcome, automatic releases and,
when ``notifications.hold_notice_minutes`` is set, a hold about to expire (notifications.events).
Following needs read access to the case (org.scope)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.errors import UnknownPerson
from org.actors import ReadScope
from org.chart import Company
from org.scope import require_readable
from storage.models import CaseEvent, CaseWatcher, table

_watchers, _events = table(CaseWatcher), table(CaseEvent)
_WATCHERS = (
    select(_watchers.c.person, _watchers.c.following)
    .where(_watchers.c.case_id == bindparam("b_case_id"))
    .order_by(_watchers.c.since, _watchers.c.person)
)
_OPENER = select(_events.c.actor).where(_events.c.case_id == bindparam("b_case_id"), _events.c.seq == 1)
"""Built once, run on the session's connection: every step change of a case reads them."""


def opener(session: Session, company: Company, case_id: int) -> str | None:
    """The person who opened the case (None when a CRM, an integration or the system did)."""
    actor = session.connection().execute(_OPENER, {"b_case_id": case_id}).scalar()
    return actor if actor in company.config.people else None


def watchers(session: Session, company: Company, case_id: int) -> list[str]:
    """The people who follow the case, the opener first (unless they stopped), each once."""
    session.flush()  # (a no-op when clean) what the ORM query this replaced would have autoflushed
    rows = {row.person: row.following for row in session.connection().execute(_WATCHERS, {"b_case_id": case_id})}
    first = opener(session, company, case_id)
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

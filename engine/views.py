"""Read models of a case for people (CLI, API, dashboard): plain dicts, computed at ``now``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import versions
from org.chart import Company
from sla.compliance import blame
from sla.model import ClockKind, ClockStatus
from sla.policy import used_by
from storage.models import Case, SlaClock


def clock_used(session: Session, company: Company, clock: SlaClock, now: datetime) -> float:
    """Business minutes a clock has used by ``now`` (a running clock keeps counting)."""
    calendar = versions.calendar_for(session, company, clock.calendar, clock.calendar_fingerprint)
    return used_by(
        calendar,
        used_minutes=clock.used_minutes,
        running_since=clock.running_since,
        paused_since=clock.paused_since,
        stopped_at=clock.stopped_at,
        now=now,
    )


def remaining(session: Session, company: Company, clock: SlaClock | None, now: datetime) -> dict[str, float] | None:
    """Remaining time of a running clock in business minutes and in wall-clock minutes
    (negative once the deadline has passed)."""
    if clock is None or clock.deadline_at is None or clock.target_minutes is None or clock.stopped_at is not None:
        return None
    return {
        "business_minutes": clock.target_minutes - clock_used(session, company, clock, now),
        "wall_minutes": (clock.deadline_at - now).total_seconds() / 60,
    }


def describe_remaining(left: dict[str, float] | None) -> str | None:
    if left is None:
        return None
    business, wall = left["business_minutes"], left["wall_minutes"]
    if wall < 0:
        return f"overdue by {_span(-wall)} (wall clock)"
    return f"{_span(business)} business, {_span(wall)} wall clock"


def _span(minutes: float) -> str:
    minutes = max(minutes, 0.0)
    days, rest = divmod(int(round(minutes)), 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours}h{mins:02d}m"


def _step_clock(session: Session, case: Case) -> SlaClock | None:
    return session.scalars(
        select(SlaClock)
        .where(SlaClock.case_id == case.id, SlaClock.kind == ClockKind.STEP, SlaClock.stopped_at.is_(None))
        .order_by(SlaClock.id.desc())
    ).first()


def _owner(case: Case) -> str | None:
    if case.owner_department is None:
        return None
    owner = case.owner_department + (f"/{case.owner_role}" if case.owner_role else "")
    return owner + (f" ({case.owner_person})" if case.owner_person else "")


def case_row(company: Company, case: Case, now: datetime, session: Session | None = None) -> dict[str, Any]:
    from sqlalchemy.orm import object_session

    session = session or object_session(case)
    assert session is not None
    left = remaining(session, company, _step_clock(session, case), now)
    return {
        "id": case.id,
        "type": case.case_type,
        "state": case.state,
        "owner": _owner(case),
        "due_at": case.due_at,
        "remaining": describe_remaining(left),
        "remaining_minutes": left,
        "version": case.version,
        "opened_at": case.opened_at,
        "closed_at": case.closed_at,
    }


def ledger(used_by_department: dict[str, float]) -> list[dict[str, Any]]:
    """Business minutes each department used on a case, and its share (`sla.compliance.blame`):
    a whole-case breach is charged to the departments that used the time."""
    return [dataclasses.asdict(share) for share in blame(used_by_department)]


def case_detail(session: Session, company: Company, case: Case, now: datetime) -> dict[str, Any]:
    clocks = list(session.scalars(select(SlaClock).where(SlaClock.case_id == case.id).order_by(SlaClock.id)))
    detail = case_row(company, case, now, session)
    used: dict[str, float] = {}
    for clock in clocks:
        if clock.kind == ClockKind.STEP:
            used[clock.department] = used.get(clock.department, 0.0) + clock_used(session, company, clock, now)
    detail.update(
        data=case.data,
        participants=sorted(p.department for p in case.participants),
        ledger=ledger(used),
        external=(f"{case.external_source}:{case.external_key}" if case.external_key else None),
        clocks=[
            {
                "kind": c.kind,
                "state": c.state,
                "department": c.department,
                "person": c.person,
                "status": c.status,
                "started_at": c.started_at,
                "deadline_at": c.deadline_at,
                "stopped_at": c.stopped_at,
                "target_minutes": c.target_minutes,
                "used_minutes": clock_used(session, company, c, now),
                "running": c.status == ClockStatus.RUNNING and c.stopped_at is None,
            }
            for c in clocks
        ],
        events=[
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "trigger": e.trigger,
                "from": e.from_state,
                "to": e.to_state,
                "payload": e.payload,
                "source": e.source,
            }
            for e in case.events
        ],
    )
    return detail

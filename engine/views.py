"""The CLI's and the REST API's JSON of a case: plain dicts rendered from the one read model
(`engine.case_view`), computed at ``now``."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.case_view import CaseHead, CaseView, case_head, case_view
from engine.clock_view import Remaining
from org.chart import Company
from storage.models import Case


def describe_remaining(left: Remaining | None) -> str | None:
    if left is None:
        return None
    if left.wall_minutes < 0:
        return f"overdue by {_span(-left.wall_minutes)} (wall clock)"
    return f"{_span(left.business_minutes)} business, {_span(left.wall_minutes)} wall clock"


def _span(minutes: float) -> str:
    minutes = max(minutes, 0.0)
    days, rest = divmod(int(round(minutes)), 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours}h{mins:02d}m"


def row_of(head: CaseHead) -> dict[str, Any]:
    left = head.remaining
    return {
        "id": head.id,
        "type": head.case_type,
        "state": head.state,
        "owner": head.owner,
        "due_at": head.due_at,
        "remaining": describe_remaining(left),
        "remaining_minutes": None if left is None else dataclasses.asdict(left),
        "version": head.version,
        "opened_at": head.opened_at,
        "closed_at": head.closed_at,
    }


def detail_of(view: CaseView) -> dict[str, Any]:
    return {
        **row_of(view.head),
        "data": view.data,
        "participants": list(view.participants),
        "ledger": [dataclasses.asdict(share) for share in view.ledger],
        "external": view.external,
        "clocks": [
            {
                "kind": c.kind.value,
                "state": c.state,
                "department": c.department,
                "person": c.person,
                "status": c.stored_status.value,
                "started_at": c.started_at,
                "deadline_at": c.deadline_at,
                "stopped_at": c.stopped_at,
                "target_minutes": c.target_minutes,
                "used_minutes": c.used_minutes,
                "running": c.running,
            }
            for c in view.clocks
        ],
        "events": [
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
            for e in view.events
        ],
    }


def case_row(session: Session, company: Company, case: Case, now: datetime) -> dict[str, Any]:
    return row_of(case_head(session, company, case, now))


def case_detail(session: Session, company: Company, case: Case, now: datetime) -> dict[str, Any]:
    return detail_of(case_view(session, company, case, now))

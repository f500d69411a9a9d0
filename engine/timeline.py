"""A case's whole history in one list: its events, and what the SLA did to it (warnings,
breaches, escalations, automatic moves) and the messages that went out, in time order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Breach, Case, OutboxMessage, Timer


def case_timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """Rows ``{at, kind, who, what}``: ``kind`` is event, warning, breach, escalation, auto or message."""
    rows: list[dict[str, Any]] = [
        {
            "at": event.at,
            "kind": "event",
            "who": event.actor,
            "what": f"{event.trigger}: {event.from_state or '-'} -> {event.to_state}",
        }
        for event in case.events
    ]
    timers = session.scalars(
        select(Timer).where(Timer.case_id == case.id, Timer.status == "fired", Timer.kind != "breach")
    )
    for timer in timers:
        level = f" level {timer.level}" if timer.kind == "escalation" else ""
        rows.append(
            {
                "at": timer.fired_at,
                "kind": timer.kind,
                "who": "system",
                "what": f"{timer.kind}{level} in {timer.state}" + (f" ({timer.trigger})" if timer.trigger else ""),
            }
        )
    for breach in session.scalars(select(Breach).where(Breach.case_id == case.id)):
        late = f", {breach.late_minutes:.0f} business min late" if breach.late_minutes is not None else ""
        rows.append(
            {
                "at": breach.breached_at,
                "kind": "breach",
                "who": breach.department + (f" ({breach.person})" if breach.person else ""),
                "what": f"{breach.kind} deadline missed" + (f" in {breach.state}" if breach.state else "") + late,
            }
        )
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)):
        rows.append(
            {
                "at": message.sent_at or message.created_at,
                "kind": "message",
                "who": message.recipient,
                "what": f"{message.kind} via {message.channel}: {message.status}",
            }
        )
    order = {"event": 0, "auto": 1, "warning": 2, "breach": 3, "escalation": 4, "message": 5}
    return sorted(rows, key=lambda row: (_key(row["at"]), order.get(row["kind"], 9)))


def _key(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("inf")

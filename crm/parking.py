"""Out-of-order events: a trigger for a case that does not exist yet is parked, not dropped.

CRMs do not promise order (HubSpot does not; Salesforce retries out of order), so the event
that moves a case can arrive before the one that opens it. Such a trigger is kept on its inbox
row (status ``parked``, with what to fire and until when); when a CRM event opens the linked
case, every trigger parked for it is applied in arrival order, in the same transaction. A
trigger still parked when its time runs out (``park_seconds`` of the source) is ``expired``,
with the reason in ``last_error`` (``slaflow inbox list --status expired``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import SlaflowError
from core.vocabulary import InboxStatus
from storage.models import InboxEvent
from storage.prepared import Prepared

PARKED_OUTCOME = "parked"
Fire = Callable[[int, str, dict[str, Any]], dict[str, Any]]
"""(case id, trigger, payload) -> the outcome fields of firing it."""


def park(outcome: dict[str, Any], *, external_key: str, trigger: str, data: dict[str, Any], now: datetime,
         park_seconds: int) -> dict[str, Any]:
    """The outcome of a parked trigger: enough to fire it later without the request."""
    until = now + timedelta(seconds=park_seconds)
    return {**outcome, "trigger": trigger, "outcome": PARKED_OUTCOME, "external_key": external_key, "payload": data,
            "until": until.isoformat(), "reason": f"no case is linked to {outcome['entity']} yet"}


def parked_until(result: dict[str, Any]) -> datetime | None:
    """The latest expiry among a row's parked actions (None when none is parked)."""
    moments = [datetime.fromisoformat(a["until"]) for a in result.get("actions", [])
               if isinstance(a, dict) and a.get("outcome") == PARKED_OUTCOME]
    return max(moments) if moments else None


_PARKED = (InboxEvent.status == InboxStatus.PARKED, InboxEvent.source == bindparam("source"))
_ANY_PARKED = select(InboxEvent.id).where(*_PARKED, InboxEvent.id != bindparam("exclude")).limit(1)
"""Built once: composing these expressions costs more than running the query."""


def parked_sources(session: Session) -> set[str]:
    """The sources that have parked rows now (one index-only lookup): a batch that opens cases
    calls `apply_parked` only for these, and adds the sources of the rows it parks itself."""
    return {row.source for row in _PARKED_SOURCES.all(session, {})}


_PARKED_SOURCES = Prepared(select(InboxEvent.source).where(InboxEvent.status == InboxStatus.PARKED).distinct())


def apply_parked(session: Session, source: str, external_key: str, case_id: int, fire: Fire, *,
                 exclude: int | None = None) -> list[int]:
    """Fire the triggers parked for the case just opened (oldest row first); return the rows changed.

    Each trigger fires in a savepoint: one the engine refuses (a missing field, a state that no
    longer allows it) is recorded as failed on its own row and never undoes the opening."""
    if session.scalar(_ANY_PARKED, {"source": source, "exclude": exclude or 0}) is None:
        return []  # the usual case, nothing parked: one indexed lookup instead of loading rows
    query = select(InboxEvent).where(*_PARKED).order_by(InboxEvent.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    changed: list[int] = []
    for row in session.scalars(query, {"source": source}):
        if row.id == exclude or not row.result:
            continue
        actions = [dict(a) for a in row.result.get("actions", [])]
        touched, errors = False, []
        for index, action in enumerate(actions):
            if action.get("outcome") != PARKED_OUTCOME or action.get("external_key") != external_key:
                continue
            try:
                with session.begin_nested():
                    done = fire(case_id, str(action["trigger"]), dict(action.get("payload") or {}))
            except SlaflowError as exc:
                done = {"outcome": "failed", "case_id": case_id, "error": f"{type(exc).__name__}: {exc}"}
                errors.append(f"{action['trigger']} on case {case_id}: {done['error']}")
            actions[index] = {k: v for k, v in {**action, **done}.items() if k not in ("until", "reason", "payload")}
            actions[index]["applied_late"] = True
            touched = True
        if touched:
            result = {**row.result, "actions": actions}
            row.result = result
            until = parked_until(result)
            row.status, row.expires_at = (InboxStatus.PARKED, until) if until else (InboxStatus.PROCESSED, None)
            if errors:
                row.status, row.last_error = InboxStatus.FAILED, ("; ".join(errors))[:2000]
            changed.append(row.id)
    return changed


def expire_parked(session: Session, now: datetime) -> list[int]:
    """Rows whose parking time ran out become ``expired``, saying what never appeared."""
    rows = session.scalars(
        select(InboxEvent)
        .where(InboxEvent.status == InboxStatus.PARKED, InboxEvent.expires_at <= now)
        .order_by(InboxEvent.id)
    ).all()
    for row in rows:
        waiting = [a for a in (row.result or {}).get("actions", []) if a.get("outcome") == PARKED_OUTCOME]
        what = "; ".join(f"{a.get('trigger')} on {a.get('entity')} ({a.get('case_type')})" for a in waiting)
        row.status = InboxStatus.EXPIRED
        row.last_error = (f"expired at {row.expires_at:%Y-%m-%d %H:%M} UTC: no linked case appeared for "
                          f"{what or 'its triggers'}")[:2000]
    return [row.id for row in rows]

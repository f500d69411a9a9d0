"""Writing messages into the outbox, inside the caller's transaction: one row per recipient and
channel, idempotent on ``dedupe_key`` (``INSERT ... ON CONFLICT DO NOTHING``, so a repeat never
poisons that transaction). Delivery is `notifications.outbox`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from core.vocabulary import OutboxStatus
from notifications import recipients, telegram_actions
from notifications.config import notifications_config
from notifications.folding import held_for_digest
from org import audience
from storage.models import OutboxMessage, table
from storage.prepared import prepared_insert

if TYPE_CHECKING:
    from org.chart import Company
    from sla.calendar import BusinessCalendar


def dedupe_key(kind: str, scope: str, level: int, recipient: str, channel: str) -> str:
    """(cause, kind, level, recipient, channel): the identity of one message."""
    key = f"{kind}|{scope}|L{level}|{recipient}|{channel}"
    if len(key) <= 255:
        return key
    return f"{kind}|sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def enqueue(session: Session, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Write `message_rows` one by one unless they exist; return the channels written (a caller
    that does not need them writes many at once with `enqueue_rows`)."""
    return [row["channel"] for row in rows if _insert_once(session, row)]


def message_rows(
    session: Session,
    company: Company,
    *,
    kind: str,
    recipient: str,
    context: dict[str, Any],
    scope: str,
    now: datetime,
    case_id: int | None = None,
    level: int = 0,
    department: str | None = None,
    channels: Sequence[str] | None = None,
    calendar: BusinessCalendar | None = None,
) -> list[dict[str, Any]]:
    """One message row per channel of ``recipient``, for `enqueue` or `enqueue_rows`.

    ``scope`` identifies the cause (e.g. ``case=7|clock=12``); ``department`` is the one the
    message is about, whose calendar is used for a recipient outside the org chart. Non-urgent
    kinds wait for the recipient's next working instant (``calendar``: the recipient's, when the
    caller looked it up already, `org.audience.calendar_of_person`).
    """
    config = notifications_config(company)
    urgent = config.urgent(kind)
    if channels is None:
        channels = recipients.channels_for(company, recipient, all_channels=kind in config.all_channels_for,
                                           linked=telegram_actions.linked_channels(session, company, recipient))
    not_before = now
    if not urgent:
        if calendar is None:
            calendar = audience.calendar_of_person(company, recipient, department)
        not_before = calendar.next_working_instant(held_for_digest(config, kind, context, calendar.tz, now))
    locale = str(context.get("locale") or audience.locale_of(company, recipient))
    return [
        {
            "dedupe_key": dedupe_key(kind, scope, level, recipient, channel),
            "case_id": case_id, "kind": kind, "level": level, "recipient": recipient, "channel": channel,
            "locale": locale, "context": context, "urgent": urgent, "status": OutboxStatus.PENDING, "created_at": now,
            "next_attempt_at": not_before, "attempts": 0,
        }
        for channel in channels
    ]


def enqueue_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write `message_rows` unless they exist, in one driver call: every case change that notifies
    anyone writes its messages this way (on PostgreSQL one round trip instead of one a row)."""
    _INSERT_ONCE.later_many(session, [{**_UNSENT, **row} for row in rows])


def enqueue_direct(
    session: Session, *, kind: str, recipient: str, channel: str, context: dict[str, Any], scope: str, now: datetime,
    case_id: int | None = None, level: int = 0,
) -> bool:
    """One row for a recipient outside the org chart (a CRM record, see crm/writeback.py): due
    now, no quiet hours, the same dedupe and delivery guarantees. True if it was written."""
    return _insert_once(session, {
        "dedupe_key": dedupe_key(kind, scope, level, recipient, channel), "case_id": case_id, "kind": kind,
        "level": level, "recipient": recipient, "channel": channel, "locale": "", "context": context, "urgent": False,
        "status": OutboxStatus.PENDING, "created_at": now, "next_attempt_at": now, "attempts": 0,
    })


_outbox = table(OutboxMessage)
_ROW = ("dedupe_key", "case_id", "kind", "level", "recipient", "channel", "locale", "context", "urgent", "status",
        "created_at", "next_attempt_at", "attempts", "last_error", "sent_at", "lease_owner", "lease_until")
_INSERT_ONCE = prepared_insert(_outbox, _ROW, unless_exists=("dedupe_key",))
"""Compiled once: this runs inside every case change that notifies anyone."""
_UNSENT = {"last_error": None, "sent_at": None, "lease_owner": None, "lease_until": None}


def _insert_once(session: Session, row: dict[str, Any]) -> bool:
    return bool(_INSERT_ONCE.execute(session, {**_UNSENT, **row}))

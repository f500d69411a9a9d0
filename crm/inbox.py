"""The webhook inbox: every authenticated request is a row, committed before we answer 2xx.

``(source, idempotency_key)`` is unique, so a redelivery finds the first row and changes nothing.
Rows move received -> processed | unmatched | failed (failed rows are retried) | parked (an
event for a case that does not exist yet: applied when the case opens, else ``expired`` with the
reason); a request whose body could not be read is kept as ``rejected`` for the record and never
processed. A body that text cannot hold (not UTF-8, or NUL) keeps its bytes in ``raw_body``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from core.vocabulary import InboxStatus
from crm.events import CrmEvent
from storage.models import InboxEvent
from storage.prepared import Prepared, prepared_insert

DONE = (InboxStatus.PROCESSED, InboxStatus.UNMATCHED, InboxStatus.PARKED, InboxStatus.EXPIRED)
RETRYABLE = (InboxStatus.RECEIVED, InboxStatus.FAILED)


@dataclass(frozen=True)
class InboxRecord:
    """A request about to be stored."""

    source: str
    idempotency_key: str
    received_at: datetime
    content_type: str | None
    headers: dict[str, str]
    body: str
    status: str = InboxStatus.RECEIVED
    last_error: str | None = None
    account: str | None = None
    raw_body: bytes | None = None
    events: list[CrmEvent] | None = field(default=None, compare=False)
    """The events the request's body gave when it was read (not stored): processing in the same
    process uses them instead of reading the stored body again. Only set when the stored body is
    the body as it came (no redaction), so both readings are the same."""


def body_text(body: bytes) -> tuple[str, bytes | None]:
    """The body as text for the ``body`` column and, when that text would not give the same bytes
    back (not UTF-8, or a NUL that PostgreSQL text cannot hold), the bytes themselves."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"), body
    if "\x00" in decoded:
        return decoded.replace("\x00", "\ufffd"), body
    return decoded, None


@dataclass(frozen=True)
class StoredEvent:
    """What the caller of a webhook is told: the row (the first one, for a redelivery) and its state."""

    id: int
    status: str
    duplicate: bool
    result: dict[str, Any] | None
    last_error: str | None


_INBOX = cast(Table, InboxEvent.__table__)
_STORE_ONE = prepared_insert(
    _INBOX,
    ("source", "idempotency_key", "received_at", "content_type", "headers", "body", "status", "attempts", "last_error",
     "account", "raw_body"),
    returning="id",
    unless_exists=("source", "idempotency_key"),
)
"""Compiled once: every request is stored with this."""
_FIRST_STORED = Prepared(
    select(_INBOX.c.id, _INBOX.c.status, _INBOX.c.result, _INBOX.c.last_error)
    .where(_INBOX.c.source == bindparam("source"), _INBOX.c.idempotency_key == bindparam("key"))
)
"""The row a redelivery's key names."""


def store(session: Session, record: InboxRecord) -> StoredEvent:
    """Insert the request unless its idempotency key is known; then report the (first) row."""
    return store_many(session, [record])[0]


def store_many(session: Session, records: list[InboxRecord]) -> list[StoredEvent]:
    """`store` for a batch in one transaction: the group commit of the webhook path. Each row is
    one prepared ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (~20 µs on SQLite, where the ORM's
    duplicate lookup and multi-row insert cost ~1 ms for a batch of four: bench/webhooks.py), and
    only a key already known (a redelivery, or the same delivery twice in the batch) is looked up."""
    answers: list[StoredEvent] = []
    for record in records:
        new_id = _STORE_ONE.scalar(session, _values(record))
        if new_id is not None:
            answers.append(StoredEvent(id=new_id, status=record.status, duplicate=False, result=None,
                                       last_error=record.last_error))
            continue
        first = _FIRST_STORED.first(session, {"source": record.source, "key": record.idempotency_key})
        answers.append(StoredEvent(id=first.id, status=first.status, duplicate=True, result=first.result,
                                   last_error=first.last_error))
    return answers


def _values(record: InboxRecord) -> dict[str, Any]:
    return {"source": record.source, "idempotency_key": record.idempotency_key, "received_at": record.received_at,
            "content_type": record.content_type, "headers": record.headers, "body": record.body,
            "status": record.status, "attempts": 0, "last_error": record.last_error, "account": record.account,
            "raw_body": record.raw_body}


def pending_inbox_ids(
    session: Session,
    limit: int,
    *,
    statuses: tuple[str, ...] = RETRYABLE,
    max_attempts: int | None = None,
    after_id: int = 0,
) -> list[int]:
    """Rows still to (re)process, oldest first: ``received`` ones and ``failed`` ones to retry."""
    query = (
        select(InboxEvent.id)
        .where(InboxEvent.status.in_(statuses), InboxEvent.id > after_id)
        .order_by(InboxEvent.id)
        .limit(limit)
    )
    if max_attempts is not None:
        query = query.where(InboxEvent.attempts < max_attempts)
    return list(session.scalars(query))


def list_inbox(session: Session, *, status: str | None = None, source: str | None = None,
               limit: int = 50) -> list[InboxEvent]:
    query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
    if status:
        query = query.where(InboxEvent.status == status)
    if source:
        query = query.where(InboxEvent.source == source)
    return list(session.scalars(query))

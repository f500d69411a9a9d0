"""Operating the outbox by hand (``slaflow outbox``): list messages, put failed ones back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.vocabulary import OutboxStatus
from storage.models import OutboxMessage


def list_messages(session: Session, *, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def retry(session: Session, *, now: datetime, ids: Sequence[int] = (), all_failed: bool = False) -> list[int]:
    """Put failed (or pending) messages back in the queue with a fresh attempt budget.
    Sent messages are never re-sent."""
    which = OutboxMessage.status == OutboxStatus.FAILED if all_failed else OutboxMessage.id.in_(list(ids))
    query = update(OutboxMessage).where(OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.PENDING]), which)
    retried = session.scalars(
        query.values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(retried)

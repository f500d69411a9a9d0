"""Messages in and out: the notification outbox and its delivery attempts, the webhook inbox,
and the OAuth tokens a CRM rotates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.vocabulary import InboxStatus, OutboxStatus
from storage.models.base import Base, JsonDoc, one_of


class OutboxMessage(Base):
    """A message to one person through one channel, written in the same transaction as its cause
    and delivered later by the dispatcher. ``dedupe_key`` makes it go out once."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"), one_of("status", OutboxStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    """case_opened, assigned, warning, breach, escalation, resolved, digest, lead_report, test."""
    level: Mapped[int] = mapped_column(Integer, default=0)
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    """Person id from the company config."""
    channel: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8))
    context: Mapped[dict[str, Any]]
    """Template variables (rendered at delivery)."""
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16))
    """core.vocabulary.OutboxStatus."""
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    """Not before this instant (working hours of the recipient, or backoff after an error)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class DeliveryAttempt(Base):
    """Every try to deliver a message, with its outcome (never log-and-forget)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    ok: Mapped[bool]
    permanent: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class InboxEvent(Base):
    """A webhook request that passed authentication, stored before we answer 2xx."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key", name="uq_inbox_idempotency"),
        Index("ix_inbox_status", "status", "id"),  # batches of received rows in id order (migration 0016)
        Index("ix_inbox_parked", "status", "source", "expires_at"),
        one_of("status", InboxStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]
    content_type: Mapped[str | None] = mapped_column(String(128))
    headers: Mapped[dict[str, Any]]
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """core.vocabulary.InboxStatus."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, nullable=True)
    """What processing did: the normalised events and the cases opened or moved."""
    account: Mapped[str | None] = mapped_column(String(32))
    """The source's account (credential) the request authenticated with (crm.sources)."""
    raw_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The body's bytes when ``body`` (text) cannot hold them losslessly (not UTF-8, or NUL)."""
    expires_at: Mapped[datetime | None]
    """For a ``parked`` row: when it stops waiting for its case (then ``expired``)."""


class CrmApiToken(Base):
    """OAuth tokens a CRM rotates (a Bitrix24 app's refresh token is replaced at every refresh), kept
    so that every process and every restart uses the newest one."""

    __tablename__ = "crm_api_tokens"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]

"""Leads between marketing and sales (leads): the lead, its append-only status log, the heads' feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.vocabulary import LeadStatus
from storage.models.base import Base, one_of


class Lead(Base):
    """A lead between marketing and sales (leads): its status, the time it reached each
    status, and its SLA deadlines in the sales department's business time (precomputed)."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_key", name="uq_leads_external"),
        Index("ix_leads_received", "received_at"),
        one_of("status", LeadStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    """Where it came from: a CRM source (amocrm, bitrix24 ...) or ``api``."""
    external_key: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(64))
    """The marketing channel (ads, website, phone, partner ...)."""
    product_group: Mapped[str | None] = mapped_column(String(64))
    customer: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    owner_person: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24), index=True)
    """core.vocabulary.LeadStatus (its order: leads.status)."""
    received_at: Mapped[datetime]
    taken_at: Mapped[datetime | None]
    qualified_at: Mapped[datetime | None]
    reservation_paid_at: Mapped[datetime | None]
    non_target_at: Mapped[datetime | None]
    non_target_reason: Mapped[str | None] = mapped_column(Text)
    first_response_due_at: Mapped[datetime]
    qualification_due_at: Mapped[datetime | None]
    """Set when the lead is taken into work."""
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer)


class LeadEvent(Base):
    """Append-only: every status a lead was given, by whom and from where."""

    __tablename__ = "lead_events"
    __table_args__ = (one_of("from_status", LeadStatus), one_of("to_status", LeadStatus))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]


class LeadFeedback(Base):
    """What a head asks of the other department in the weekly lead letter, and the result they
    expect; kept (and edited) by the sending head, one row per sending department."""

    __tablename__ = "lead_feedback"

    department: Mapped[str] = mapped_column(String(64), primary_key=True)
    request: Mapped[str] = mapped_column(Text)
    expected_result: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(128))

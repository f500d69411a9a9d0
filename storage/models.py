"""The tables. Cases hold current state; the event log is append-only and is the history from
which state can be replayed; clocks, breaches and timers are derived records the sweeper and
reports read. All timestamps are timezone-aware and stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def table(model: type[Base]) -> Table:
    """A model's table, typed for Core statements (``Model.__table__`` is typed as FromClause)."""
    return cast(Table, model.__table__)


class Base(DeclarativeBase):
    # Named constraints, so migrations can drop and alter them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonDoc}


class CaseTypeVersion(Base):
    """Every case-type definition a case was opened under, so old cases keep their rules."""

    __tablename__ = "case_type_versions"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class CalendarVersion(Base):
    """Every business calendar a clock ran on, so its arithmetic can be repeated exactly."""

    __tablename__ = "calendar_versions"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    config: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("external_source", "external_key", name="uq_cases_external"),
        Index("ix_cases_open_due", "closed_at", "due_at"),
        # Open cases in id order: a scoped page of open cases (/api/cases?open=true) stops at its
        # rows instead of checking every open case's scope first (bench/scope.py).
        Index("ix_cases_open_id", "closed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_type: Mapped[str] = mapped_column(String(64), index=True)
    definition_fingerprint: Mapped[str] = mapped_column(ForeignKey("case_type_versions.fingerprint"))
    external_source: Mapped[str | None] = mapped_column(String(64))
    external_key: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    requester: Mapped[str] = mapped_column(String(64), index=True)
    performer: Mapped[str] = mapped_column(String(64), index=True)
    owner_department: Mapped[str | None] = mapped_column(String(64), index=True)
    owner_role: Mapped[str | None] = mapped_column(String(64))
    owner_person: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    """Deadline of the current step (None if the step is untimed or paused)."""
    version: Mapped[int] = mapped_column(Integer)
    """Number of events applied; equals the last event's seq."""
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.seq", cascade="all, delete-orphan"
    )
    participants: Mapped[list[CaseParticipant]] = relationship(cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class CaseParticipant(Base):
    """Departments involved in a case: requester and performer from the start, then each owner."""

    __tablename__ = "case_participants"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    """requester, performer or owner (how the department joined)."""
    since: Mapped[datetime]


class CaseEvent(Base):
    """Append-only: one row per change of a case. Never updated or deleted."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(64))

    case: Mapped[Case] = relationship(back_populates="events")


class SlaClock(Base):
    """One clock per state visit (kind ``step``, the owning department's OLA) and one per case
    (kind ``case``), each in its owner's business calendar."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        Index("ix_sla_clocks_case_kind", "case_id", "kind"),
        # Covers the per-department report for a period (bench/reports.py: 9.1 s -> 1.8 s on SQLite at 1M cases).
        Index("ix_sla_clocks_report", "kind", "started_at", "department", "status", "used_minutes", "target_minutes",
              "stopped_at", "case_id", postgresql_include=["id"]),
        # Read scope: the cases a person was ever assigned a step of (org/scope.py).
        Index("ix_sla_clocks_person", "person", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str | None] = mapped_column(String(64))
    event_seq: Mapped[int] = mapped_column(Integer)
    """The event that started this clock."""
    department: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(64))
    person: Mapped[str | None] = mapped_column(String(64))
    calendar: Mapped[str] = mapped_column(String(64))
    calendar_fingerprint: Mapped[str] = mapped_column(ForeignKey("calendar_versions.fingerprint"))
    """The calendar version the clock runs on (a changed calendar does not rewrite running clocks)."""
    target_minutes: Mapped[float | None] = mapped_column(Float)
    warn_fraction: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    running_since: Mapped[datetime]
    """When the clock last started running (its start, or the end of its last pause)."""
    deadline_at: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    used_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    """Business minutes used up to ``paused_since``/``stopped_at`` (running time is added on read)."""
    paused_since: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    """running, paused, met or breached."""


class ClockPause(Base):
    """An interval in which a clock did not run: its case sat in a paused state (waiting on the
    customer), or the owning department waited on another department's step (a dependency)."""

    __tablename__ = "clock_pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(16))
    """``paused_state`` or ``dependency``."""
    waiting_on: Mapped[str | None] = mapped_column(String(64))
    """For a dependency pause: the department whose step the clock waited for."""


class Timer(Base):
    """A moment at which the sweeper must act. ``due_at`` is precomputed and indexed."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_pending_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    clock_id: Mapped[int | None] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """warning, breach, escalation or auto (an automatic transition)."""
    level: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    """The case state the timer belongs to (the guard re-checks it)."""
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    """pending, fired or cancelled."""
    fired_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    """The Prefect flow run that fired (or cancelled) it: the operator's link from a case to its run."""


class Breach(Base):
    """A missed deadline, charged to the department (and person) that held the clock."""

    __tablename__ = "breaches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    department: Mapped[str] = mapped_column(String(64), index=True)
    person: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(64))
    deadline_at: Mapped[datetime]
    breached_at: Mapped[datetime] = mapped_column(index=True)
    """The deadline the clock ran past (the breach is from then on)."""
    detected_at: Mapped[datetime]
    """When the breach was recorded: the sweep that fired it, or the stop or pause that found it late."""
    closed_at: Mapped[datetime | None]
    late_minutes: Mapped[float | None] = mapped_column(Float)
    """Business minutes past the deadline when the clock stopped (None while still open)."""


class OutboxMessage(Base):
    """A message to one person through one channel, written in the same transaction as its cause
    and delivered later by the dispatcher. ``dedupe_key`` makes it go out once."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

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
    """pending, sent, failed (permanent error or attempts exhausted)."""
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
        Index("ix_inbox_status", "status", "received_at"),
        Index("ix_inbox_parked", "status", "source", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime]
    content_type: Mapped[str | None] = mapped_column(String(128))
    headers: Mapped[dict[str, Any]]
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """received, processed, unmatched or failed."""
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


# --------------------------------------------------------------------------------------------
# Who is who (org/): sign-in accounts, invitations, browser sessions, API tokens, failed attempts.


class Account(Base):
    """A person of the org chart who may sign in. The person's identity and departments come
    from the company config; this row holds only what the config must not: the password hash."""

    __tablename__ = "accounts"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2id (argon2-cffi); None until the person sets one (OIDC-only accounts)."""
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Invitation(Base):
    """A one-time, expiring link that lets a person set their password. Only its hash is kept."""

    __tablename__ = "invitations"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie carries a signed random id; only its hash is stored, so
    a copy of the database does not let anyone in."""

    __tablename__ = "web_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    """password or oidc."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class StoredToken(Base):
    """An API token of a person or an integration, stored as the SHA-256 of the token (a random
    256-bit secret, so a fast hash is enough)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    person: Mapped[str | None] = mapped_column(String(64))
    """Acts and reads as this person; None for an integration."""
    memberships: Mapped[list[str]] = mapped_column(JsonDoc)
    """An integration's ``department/role`` pairs: what it may do and which departments it reads."""
    admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuthFailure(Base):
    """A failed sign-in or bearer-token attempt, keyed by address and by account: the rate
    limiter counts these in a window (shared by every server process)."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]


class ServerKey(Base):
    """Secrets the server makes for itself (the session-cookie signing key) when none is configured."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class Lead(Base):
    """A lead between marketing and sales (leads): its status, the time it reached each
    status, and its SLA deadlines in the sales department's business time (precomputed)."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_key", name="uq_leads_external"),
        Index("ix_leads_received", "received_at"),
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
    """new, taken, qualified, reservation_paid or non_target (leads.status)."""
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


class BreachReview(Base):
    """What was said about one breach (breaches): the cause its owner recorded, and an
    exemption a head requested and the director decided. The current state; every change is also
    a ``BreachReviewEvent``. An approved exemption takes the breach's step out of compliance."""

    __tablename__ = "breach_reviews"

    breach_id: Mapped[int] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"), primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), unique=True)
    cause: Mapped[str | None] = mapped_column(String(32))
    """breaches.vocabulary.BreachCause."""
    cause_note: Mapped[str | None] = mapped_column(Text)
    cause_by: Mapped[str | None] = mapped_column(String(128))
    cause_at: Mapped[datetime | None]
    exemption: Mapped[str | None] = mapped_column(String(16), index=True)
    """requested, approved or rejected (breaches.vocabulary.ExemptionStatus)."""
    exemption_reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(128))
    requested_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class BreachReviewEvent(Base):
    """Append-only audit of breach reviews: who did what to which breach, and when."""

    __tablename__ = "breach_review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    """cause_recorded, exemption_requested, exemption_approved or exemption_rejected."""
    cause: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class CaseWatcher(Base):
    """A person who follows a case (notifications.watchers) and hears of its step changes, its
    outcome and a hold about to expire. The person who opened the case follows it without a row;
    a row with ``following`` false records that they stopped."""

    __tablename__ = "case_watchers"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    following: Mapped[bool]
    since: Mapped[datetime]


class TelegramLinkCode(Base):
    """A one-time, expiring code a person sends to the bot (``/start CODE``) to link their chat
    (org.telegram_links). Only its hash is kept."""

    __tablename__ = "telegram_link_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TelegramLink(Base):
    """The Telegram account a person linked with a code: messages go to ``chat_id``; a button
    pressed by ``user_id`` acts as ``person``."""

    __tablename__ = "telegram_links"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32), unique=True)
    linked_at: Mapped[datetime]

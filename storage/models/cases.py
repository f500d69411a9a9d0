"""The case tables: definitions and calendars a case ran under, cases, their append-only event
log and participants, SLA clocks and their pauses, timers, breaches and their reviews, watchers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.vocabulary import BreachCause, ExemptionStatus, ParticipantRole, ReviewAction, TimerKind, TimerStatus
from storage.models.base import Base, one_of


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
        # Cases of a type opened in a period (the board's duty figures, duties.freshness): without
        # the period in the index the planner walks every step clock instead (bench/dashboard.py).
        Index("ix_cases_case_type", "case_type", "opened_at"),
        # Open cases by nearest deadline (the board's and the queue's order): PostgreSQL cannot
        # read ix_cases_open_due in due_at order under "closed_at IS NULL", so it sorted every
        # open case before the limit (bench/dashboard.py).
        Index("ix_cases_open_by_due", "due_at", "id", sqlite_where=text("closed_at IS NULL"),
              postgresql_where=text("closed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_type: Mapped[str] = mapped_column(String(64))
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
    __table_args__ = (one_of("role", ParticipantRole),)

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


FINISHED_WHERE = "stopped_at IS NOT NULL AND target_minutes IS NOT NULL"
BREACHED_WHERE = "status = 'breached'"
"""``sla.model.ClockStatus.BREACHED`` (storage sits below ``sla``; tests/test_migrations.py holds
the two to the same word)."""


class SlaClock(Base):
    """One clock per state visit (kind ``step``, the owning department's OLA) and one per case
    (kind ``case``), each in its owner's business calendar."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        # A case's clocks; covers the ledger's join from a case to its steps (reports/ledger.py).
        Index("ix_sla_clocks_case_kind", "case_id", "kind", "department", "used_minutes", "stopped_at"),
        # Covers the per-department report for a period (bench/reports.py: 9.1 s -> 1.8 s on SQLite at 1M cases).
        Index("ix_sla_clocks_report", "kind", "started_at", "department", "status", "used_minutes", "target_minutes",
              "stopped_at", "case_id", postgresql_include=["id"]),
        # The same by department (one range per department: reports/steps.py, migration 0012).
        Index("ix_sla_clocks_by_department", "kind", "department", "started_at", "status", "used_minutes",
              "target_minutes", "stopped_at", "case_id", postgresql_include=["id"]),
        # Open clocks only (partial): a period's open clocks without reading its settled ones, and
        # without reading their rows to count the running ones or find the breached (migration 0014).
        Index("ix_sla_clocks_open", "kind", "started_at", "department", "status", "target_minutes", "deadline_at",
              "paused_since", "case_id", "stopped_at", sqlite_where=text("stopped_at IS NULL"),
              postgresql_where=text("stopped_at IS NULL"), postgresql_include=["id"]),
        # Read scope: the cases a person was ever assigned a step of (org/scope.py).
        Index("ix_sla_clocks_person", "person", "case_id"),
        # The ledger: a requester's steps in one department of the cases opened in a period, one
        # range per (requester, department), each case's steps together (reports/ledger.py, 0015).
        Index("ix_sla_clocks_ledger", "kind", "requester", "department", "case_opened_at", "case_id",
              "used_minutes"),
        # Finished steps only (partial): a department's step counts and percentiles for a period are
        # one range of an index half the size of the one by department (reports/steps.py, 0017).
        Index("ix_sla_clocks_finished", "kind", "department", "started_at", "status", "used_minutes",
              "target_minutes", "case_id", "stopped_at", sqlite_where=text(FINISHED_WHERE),
              postgresql_where=text(FINISHED_WHERE), postgresql_include=["id"]),
        # Breached clocks only (partial, a few percent): the ledger's breach shares and the late
        # cases of a period (reports/ledger.py, 0017).
        Index("ix_sla_clocks_breached", "kind", "started_at", "department", "case_id", "used_minutes",
              "target_minutes", "stopped_at", sqlite_where=text(BREACHED_WHERE), postgresql_where=text(BREACHED_WHERE),
              postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    state: Mapped[str | None] = mapped_column(String(64))
    event_seq: Mapped[int] = mapped_column(Integer)
    """The event that started this clock."""
    department: Mapped[str] = mapped_column(String(64))
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
    status: Mapped[str] = mapped_column(String(16))
    """running, paused, met or breached."""
    requester: Mapped[str | None] = mapped_column(String(64))
    """The case's requesting department (its whole-case clock's department), copied when the
    clock starts so the ledger groups a period's cases' steps without joining them to their case."""
    case_opened_at: Mapped[datetime | None]
    """When the case opened (its whole-case clock's start), copied with ``requester``."""


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
    __table_args__ = (
        Index("ix_timers_pending_due", "status", "due_at"),
        one_of("kind", TimerKind),
        one_of("status", TimerStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    clock_id: Mapped[int | None] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """core.vocabulary.TimerKind."""
    level: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    """The case state the timer belongs to (the guard re-checks it)."""
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    """core.vocabulary.TimerStatus."""
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


class BreachReview(Base):
    """What was said about one breach (breaches): the cause its owner recorded, and an
    exemption a head requested and the director decided. The current state; every change is also
    a ``BreachReviewEvent``. An approved exemption takes the breach's step out of compliance."""

    __tablename__ = "breach_reviews"
    __table_args__ = (one_of("cause", BreachCause), one_of("exemption", ExemptionStatus))

    breach_id: Mapped[int] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"), primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clocks.id", ondelete="CASCADE"), unique=True)
    cause: Mapped[str | None] = mapped_column(String(32))
    """core.vocabulary.BreachCause."""
    cause_note: Mapped[str | None] = mapped_column(Text)
    cause_by: Mapped[str | None] = mapped_column(String(128))
    cause_at: Mapped[datetime | None]
    exemption: Mapped[str | None] = mapped_column(String(16), index=True)
    """core.vocabulary.ExemptionStatus."""
    exemption_reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(128))
    requested_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class BreachReviewEvent(Base):
    """Append-only audit of breach reviews: who did what to which breach, and when."""

    __tablename__ = "breach_review_events"
    __table_args__ = (one_of("action", ReviewAction), one_of("cause", BreachCause))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    breach_id: Mapped[int] = mapped_column(ForeignKey("breaches.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    """core.vocabulary.ReviewAction."""
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

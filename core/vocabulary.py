"""The closed vocabularies stored in the database, declared once. Each is a `StrEnum`, so a member
compares and binds as its string; the tables refuse any other value (a CHECK constraint built
from the members, storage.models). SLA clock kinds and statuses are declared by the SLA module."""

from __future__ import annotations

from enum import StrEnum


class TimerKind(StrEnum):
    """What a timer does when it fires (engine.timers has a handler per kind)."""

    WARNING = "warning"
    """The step's deadline is near."""
    BREACH = "breach"
    """The step's (or the case's) deadline passed."""
    ESCALATION = "escalation"
    """A level of the escalation chain after the breach (``level`` says which)."""
    AUTO = "auto"
    """An automatic transition (``trigger``), e.g. a reservation's hold running out."""
    NOTICE = "notice"
    """Ahead of an automatic transition: its watchers hear that the step is about to release itself."""
    HOOK = "hook"
    """A state's hook: its deployment starts after the entering transaction committed."""


class TimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    FAILED = "failed"
    """Gave up after too many claims or errors (the reconciler lists it)."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    """A permanent error, or the attempts ran out."""


class InboxStatus(StrEnum):
    """Where a stored webhook request stands (crm.inbox)."""

    RECEIVED = "received"
    PROCESSED = "processed"
    UNMATCHED = "unmatched"
    FAILED = "failed"
    """Retried."""
    REJECTED = "rejected"
    """Its body could not be read: kept for the record, never processed."""
    PARKED = "parked"
    """For a case that does not exist yet: applied when the case opens."""
    EXPIRED = "expired"
    """Parked until ``expires_at`` and its case never came."""


class ParticipantRole(StrEnum):
    """How a department joined a case."""

    REQUESTER = "requester"
    PERFORMER = "performer"
    OWNER = "owner"


class SignInMethod(StrEnum):
    PASSWORD = "password"
    OIDC = "oidc"


class LeadStatus(StrEnum):
    NEW = "new"
    """Received, nobody has answered yet (the first-response clock runs)."""
    TAKEN = "taken"
    """Taken into work («Взят в работу»): a sales manager answered (the qualification clock runs)."""
    QUALIFIED = "qualified"
    """Qualified («Квалифицирован»): a target lead with its product group."""
    RESERVATION_PAID = "reservation_paid"
    """Reservation paid («Оплачена бронь»): the funnel's last step."""
    NON_TARGET = "non_target"
    """Non-target («Нецелевой лид»): cannot become a deal; sales gives the reason."""


class BreachCause(StrEnum):
    """Why a deadline was missed, as its owner records it."""

    WORKLOAD = "workload"
    """Too many cases at once for the people on duty."""
    WAITING_CUSTOMER = "waiting_customer"
    """The customer did not answer or supply what was needed."""
    WAITING_DEPARTMENT = "waiting_department"
    """Another department did not deliver its part in time."""
    SUPPLIER = "supplier"
    """A supplier or carrier was late."""
    SYSTEM_OUTAGE = "system_outage"
    """An IT system (CRM, ERP, warehouse system) was unavailable."""
    WRONG_DATA = "wrong_data"
    """The request came with wrong or missing data."""
    ABSENCE = "absence"
    """The responsible person was ill or away and nobody stood in."""
    FORCE_MAJEURE = "force_majeure"
    """Events beyond the company's control."""
    OTHER = "other"
    """Anything else: the note says what."""


class ExemptionStatus(StrEnum):
    REQUESTED = "requested"
    """A head asked the director to exempt the breach; it still counts until approved."""
    APPROVED = "approved"
    """The director exempted it: shown, but left out of compliance (sla.ledger)."""
    REJECTED = "rejected"
    """The director refused: it counts as a breach."""


class ReviewAction(StrEnum):
    """What a breach-review audit row records."""

    CAUSE_RECORDED = "cause_recorded"
    EXEMPTION_REQUESTED = "exemption_requested"
    EXEMPTION_APPROVED = "exemption_approved"
    EXEMPTION_REJECTED = "exemption_rejected"

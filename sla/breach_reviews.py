"""The closed vocabularies of breach reviews (breaches): why a deadline was missed, where
an exemption stands, and what the audit records. Declared here, below the ledger, because the
ledger's figures leave approved exemptions out (sla.ledger)."""

from __future__ import annotations

from enum import StrEnum


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

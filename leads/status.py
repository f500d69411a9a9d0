"""The order a lead moves through its statuses (core.vocabulary.LeadStatus), their times and labels (pure)."""

from __future__ import annotations

from core.vocabulary import LeadStatus

FORWARD: tuple[LeadStatus, ...] = (
    LeadStatus.NEW,
    LeadStatus.TAKEN,
    LeadStatus.QUALIFIED,
    LeadStatus.RESERVATION_PAID,
)
"""The funnel order; a lead may skip ahead (a CRM reporting only "qualified" implies "taken")."""

TIME_FIELD: dict[LeadStatus, str] = {
    LeadStatus.TAKEN: "taken_at",
    LeadStatus.QUALIFIED: "qualified_at",
    LeadStatus.RESERVATION_PAID: "reservation_paid_at",
    LeadStatus.NON_TARGET: "non_target_at",
}

LABELS: dict[LeadStatus, dict[str, str]] = {
    LeadStatus.NEW: {"ru": "Новый", "en": "New", "pl": "Nowy"},
    LeadStatus.TAKEN: {"ru": "Взят в работу", "en": "Taken into work", "pl": "Przyjęty do pracy"},
    LeadStatus.QUALIFIED: {"ru": "Квалифицирован", "en": "Qualified", "pl": "Zakwalifikowany"},
    LeadStatus.RESERVATION_PAID: {"ru": "Оплачена бронь", "en": "Reservation paid", "pl": "Rezerwacja opłacona"},
    LeadStatus.NON_TARGET: {"ru": "Нецелевой лид", "en": "Non-target lead", "pl": "Lead niecelowy"},
}


def move_allowed(current: LeadStatus, new: LeadStatus) -> bool:
    """Forward along the funnel (skipping is fine), or to non-target before a reservation is
    paid; never back, never out of non-target or reservation paid."""
    if current in (LeadStatus.NON_TARGET, LeadStatus.RESERVATION_PAID):
        return False
    if new is LeadStatus.NON_TARGET:
        return True
    return new in FORWARD and FORWARD.index(new) > FORWARD.index(current)


def implied(current: LeadStatus, new: LeadStatus) -> list[LeadStatus]:
    """The statuses a move passes through (their times are set to the move's time if unset)."""
    if new is LeadStatus.NON_TARGET:
        return [new]
    return list(FORWARD[FORWARD.index(current) + 1 : FORWARD.index(new) + 1])

"""The tables. Cases hold current state; the event log is append-only and is the history from
which state can be replayed; clocks, breaches and timers are derived records the sweeper and
reports read. All timestamps are timezone-aware and stored in UTC. Columns holding a closed
vocabulary (core.vocabulary) refuse any other value (CHECK constraints)."""

from storage.models.accounts import (
    Account,
    AuthFailure,
    Invitation,
    ServerKey,
    StoredToken,
    TelegramLink,
    TelegramLinkCode,
    WebSession,
)
from storage.models.base import Base, JsonDoc, UtcDateTime, one_of, table
from storage.models.cases import (
    Breach,
    BreachReview,
    BreachReviewEvent,
    CalendarVersion,
    Case,
    CaseEvent,
    CaseParticipant,
    CaseTypeVersion,
    CaseWatcher,
    ClockPause,
    SlaClock,
    Timer,
)
from storage.models.leads import Lead, LeadEvent, LeadFeedback
from storage.models.messaging import CrmApiToken, DeliveryAttempt, InboxEvent, OutboxMessage

__all__ = [
    "Account", "AuthFailure", "Base", "Breach", "BreachReview", "BreachReviewEvent", "CalendarVersion", "Case",
    "CaseEvent", "CaseParticipant", "CaseTypeVersion", "CaseWatcher", "ClockPause", "CrmApiToken", "DeliveryAttempt",
    "InboxEvent", "Invitation", "JsonDoc", "Lead", "LeadEvent", "LeadFeedback", "OutboxMessage", "ServerKey",
    "SlaClock", "StoredToken", "TelegramLink", "TelegramLinkCode", "Timer", "UtcDateTime", "WebSession", "one_of",
    "table",
]

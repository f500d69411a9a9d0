"""The CRM side of the lead records: each normalised CRM event that a ``leads.crm`` rule matches
gives its lead a status through ``leads.service.record_lead_event``, in the inbox row's
transaction. The one call into it is in ``crm.processing``; a refused move (the CRM moved a lead
backwards) is reported in the row's result, never retried forever."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.errors import InvalidData
from crm.events import CrmEvent
from crm.rules import lookup
from leads.config import LeadRule, leads_section
from leads.service import LeadFacts, LeadStatusRefused, record_lead_event

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from org.chart import Actor, Company


def lead_actions(
    session: Session, company: Company, events: list[CrmEvent], actor: Actor, now: datetime
) -> list[dict[str, Any]]:
    """Apply the lead rules to ``events``; one outcome per matching (event, rule)."""
    config = leads_section(company)
    if config is None or not config.crm:
        return []
    return [
        _apply(session, company, rule, event, actor, now)
        for event in events
        for rule in config.crm
        if _matches(rule, event)
    ]


def _matches(rule: LeadRule, event: CrmEvent) -> bool:
    return (
        rule.source == event.source
        and _is(rule.entity, event.entity_kind)
        and _is(rule.event, event.event_type)
        and _is(rule.stage, event.new_stage)
        and _is(rule.pipeline, event.pipeline)
        and all(_is(expected, lookup(event, field)) for field, expected in rule.when.items())
    )


def _is(expected: Any, actual: Any) -> bool:
    """Ids arrive as text or numbers: compare as text; a list means any of its values."""
    if expected is None:
        return True
    if actual is None or not isinstance(actual, str | int | float):
        return False
    options = expected if isinstance(expected, list) else [expected]
    return any(str(option) == str(actual) for option in options)


def _apply(
    session: Session, company: Company, rule: LeadRule, event: CrmEvent, actor: Actor, now: datetime
) -> dict[str, Any]:
    facts: dict[str, str] = dict(rule.values)
    for fact, field in rule.data.items():
        value = lookup(event, field)
        if isinstance(value, str | int | float) and str(value).strip():
            facts[fact] = str(value)
    at = event.occurred_at if event.occurred_at is not None and event.occurred_at <= now else now
    outcome: dict[str, Any] = {"rule": rule.name or f"lead:{rule.status.value}", "action": "lead",
                               "entity": event.entity_key, "status": rule.status.value}
    try:
        with session.begin_nested():
            lead = record_lead_event(session, company, source=event.source, external_key=event.entity_id,
                                     status=rule.status, at=at, actor=actor, facts=LeadFacts(**facts),
                                     payload={"event_id": event.event_id})
    except (LeadStatusRefused, InvalidData) as exc:
        return {**outcome, "outcome": "refused", "reason": str(exc)}
    return {**outcome, "outcome": "recorded", "lead_id": lead.id, "lead_status": lead.status}

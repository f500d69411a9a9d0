"""Enrichment: a webhook that names only ids (Bitrix24's ``data[FIELDS][ID]``, HubSpot's
``deal.creation``, amoCRM's short status form) is completed by reading the record through the
CRM's API before the rules match, so rules can match the stage, pipeline, amount, responsible
person and custom fields, and fill case fields from them.

The call happens before the processing transaction (no lock is held while a CRM is slow). A
rate limit or outage (after the client's bounded retries) fails the inbox row, which is retried
later; a record the CRM says does not exist leaves the event as it came, with the reason."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from crm.api.http import CrmApiError
from crm.api.registry import ApiRegistry
from crm.config import RuleConfig, crm_config
from crm.events import DELETED, CrmEvent

if TYPE_CHECKING:
    from org.chart import Company

def default_registry(company: Company, sessions: sessionmaker[Session] | None = None) -> ApiRegistry:
    """The process's API clients for a company (secrets from the environment), kept with it."""
    registry = getattr(company, "_crm_api_registry", None)
    if not isinstance(registry, ApiRegistry):
        registry = ApiRegistry(company, sessions=sessions)
        setattr(company, "_crm_api_registry", registry)  # noqa: B010 (a dataclass without the field)
    return registry


def asked_fields(rules: Iterable[RuleConfig], source: str) -> list[str]:
    """CRM field names the rules of a source match on or copy (APIs like HubSpot's return only the
    properties asked for)."""
    names: set[str] = set()
    for rule in rules:
        if rule.source == source:
            names.update(rule.when)
            names.update(field for field in rule.data.values() if not field.startswith("$"))
    return sorted(names)


def enrich(events: list[CrmEvent], company: Company, apis: ApiRegistry) -> tuple[list[CrmEvent], list[str]]:
    """The events with their records' fields (the webhook's own values win), and notes on records
    that could not be read for good (e.g. deleted meanwhile). Transient failures raise."""
    enriched: list[CrmEvent] = []
    notes: list[str] = []
    rules = crm_config(company).rules
    for event in events:
        api = apis.get(event.source, event.account) if event.event_type != DELETED else None
        if api is None or not api.http.access.enrich:
            enriched.append(event)
            continue
        try:
            record = api.fetch(event.entity_kind, event.entity_id, asked_fields(rules, event.source))
        except CrmApiError as exc:
            if not exc.permanent:
                raise
            notes.append(f"{event.entity_key}: not enriched: {exc}")
            enriched.append(event)
            continue
        enriched.append(event.model_copy(update={
            "new_stage": event.new_stage or record.stage,
            "pipeline": event.pipeline or record.pipeline,
            "fields": {**record.fields, **event.fields},
            "enriched": True,
        }))
    return enriched, notes

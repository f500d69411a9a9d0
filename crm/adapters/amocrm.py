"""amoCRM / Kommo webhooks (Settings -> Integrations -> Webhooks).

amoCRM POSTs a form with ``leads[status][0][id]``, ``[status_id]``, ``[old_status_id]``,
``[pipeline_id]``, ``[custom_fields][N][...]``; several entities and actions may share one request,
plus ``account[subdomain]``. amoCRM does not sign webhooks, so the configured URL carries a secret
``?token=...`` and the subdomain must match."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm.adapters.base import Adapter, WebhookRequest, body_hash, epoch, require, same_secret, text
from crm.errors import InvalidWebhook
from crm.events import CREATED, DELETED, STAGE_CHANGED, UPDATED, CrmEvent
from crm.forms import ordered, parse_form
from crm.sources import Account, AmoCrmAccount, SourceConfig

_KINDS = {"leads": "lead", "contacts": "contact", "companies": "company", "customers": "customer",
          "tasks": "task", "catalogs": "catalog"}
_ACTIONS = {"add": CREATED, "update": UPDATED, "delete": DELETED, "status": STAGE_CHANGED,
            "restore": "restored", "responsible": "responsible_changed", "note": "note_added"}


class AmoCrmAdapter(Adapter):
    name = "amocrm"
    stored_headers = ("content-type", "user-agent", "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        assert isinstance(account, AmoCrmAccount)
        config = account
        require("token" in request.query, "the ?token= query parameter is missing")
        require(same_secret(request.query.get("token"), secrets["token"]),
                "?token= does not match the configured token")
        if config.subdomain is not None:
            sent = parse_form(request.body).get("account")
            subdomain = sent.get("subdomain") if isinstance(sent, dict) else None
            require(subdomain == config.subdomain, f"account[subdomain] is not {config.subdomain}")

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        form = parse_form(body)
        events: list[CrmEvent] = []
        for plural, actions in form.items():
            if plural == "account" or not isinstance(actions, dict):
                continue
            kind = _KINDS.get(plural, plural.rstrip("s"))
            for action, items in actions.items():
                for index, item in enumerate(ordered(items)):
                    events.append(self._event(kind, plural, action, index, item))
        if not events:
            raise InvalidWebhook("no entity in the body (expected e.g. leads[status][0][id])")
        return events

    def _event(self, kind: str, plural: str, action: str, index: int, item: Any) -> CrmEvent:
        where = f"{plural}[{action}][{index}]"
        if not isinstance(item, dict) or not text(item.get("id")):
            raise InvalidWebhook(f"field '{where}[id]' is missing")
        fields: dict[str, Any] = {key: value for key, value in item.items() if isinstance(value, str)}
        for custom in ordered(item.get("custom_fields")):
            if isinstance(custom, dict):
                values = [v.get("value") for v in ordered(custom.get("values")) if isinstance(v, dict)]
                value: Any = values[0] if len(values) == 1 else values
                if custom.get("id"):
                    fields[f"cf_{custom['id']}"] = value
                if custom.get("name"):
                    fields[str(custom["name"])] = value
        changed = text(item.get("last_modified") or item.get("updated_at"))
        return CrmEvent(
            source=self.name, event_id=f"{plural}/{action}/{item['id']}/{changed or ''}", entity_kind=kind,
            entity_id=str(item["id"]), event_type=_ACTIONS.get(action, action), vendor_event=f"{plural}/{action}",
            old_stage=text(item.get("old_status_id")), new_stage=text(item.get("status_id")),
            pipeline=text(item.get("pipeline_id")), occurred_at=epoch(changed), fields=fields,
        )

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        # amoCRM has no event id: a redelivery repeats the body byte for byte.
        return "sha256:" + body_hash(request.body)

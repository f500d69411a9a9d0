"""Zoho CRM notifications (the Notification API's ``actions/watch`` channels).

Zoho POSTs JSON: ``server_time`` (ms), ``module`` (``Deals``), ``resource_uri``, ``ids`` (the
records changed), ``affected_fields``, ``operation`` (insert/update/delete), ``query_params``,
``channel_id`` and ``token`` -- the value given when the channel was enabled, sent back so the
receiver can tell the notification comes from Zoho. Both must match an account; the token is
blanked in the stored body. One notification may name several records: one event each; they
carry ids only, so rules usually need the record read back (``api`` on the account)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm.adapters.base import Adapter, WebhookRequest, body_hash, epoch, fit_key, load_json, require, same_secret, text
from crm.errors import InvalidWebhook
from crm.events import CREATED, DELETED, UPDATED, CrmEvent
from crm.sources import Account, SourceConfig, ZohoAccount

_OPERATIONS = {"insert": CREATED, "create": CREATED, "update": UPDATED, "edit": UPDATED, "delete": DELETED}
_TOKEN = re.compile(rb'("token"\s*:\s*)"(?:[^"\\]|\\.)*"')


def _singular(module: str) -> str:
    """``Deals`` -> ``deal``, ``Sales_Orders`` -> ``sales_order``."""
    name = module.lower()
    return name[:-1] if name.endswith("s") else name


class ZohoAdapter(Adapter):
    name = "zoho"
    stored_headers = ("content-type", "user-agent", "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        assert isinstance(account, ZohoAccount)
        try:
            payload = json.loads(request.body)
        except (ValueError, RecursionError):
            payload = None
        require(isinstance(payload, dict) and "token" in payload, "the body has no token")
        assert isinstance(payload, dict)
        require(same_secret(text(payload.get("token")), secrets["token"]), "token does not match the configured token")
        require(text(payload.get("channel_id")) in account.channel_ids,
                f"channel_id {text(payload.get('channel_id'))!r} is not one of this account's channels")

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise InvalidWebhook("the body must be a JSON object (a Zoho CRM notification)")
        for field in ("module", "operation", "channel_id"):
            if text(payload.get(field)) is None:
                raise InvalidWebhook(f"{field} is missing")
        ids = payload.get("ids")
        if not isinstance(ids, list) or not ids or not all(text(i) for i in ids):
            raise InvalidWebhook("ids must be a non-empty list of record ids")
        operation = str(payload["operation"])
        kind = _singular(str(payload["module"]))
        values = payload.get("affected_values")
        fields_by_id: dict[str, dict[str, Any]] = {}
        for item in values if isinstance(values, list) else []:
            if isinstance(item, dict) and isinstance(item.get("record_id"), str | int):
                data = item.get("values")
                fields_by_id[str(item["record_id"])] = dict(data) if isinstance(data, dict) else {}
        stamp = text(payload.get("server_time")) or ""
        return [
            CrmEvent(
                source=self.name, event_id=f"{payload['channel_id']}:{operation}:{record}:{stamp}",
                entity_kind=kind, entity_id=str(record), event_type=_OPERATIONS.get(operation, operation),
                vendor_event=f"{payload['module']}.{operation}", occurred_at=epoch(payload.get("server_time"), 1000),
                fields={"affected_fields": payload.get("affected_fields"), **fields_by_id.get(str(record), {})},
            )
            for record in ids
        ]

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        # channel + operation + records + server_time: what one notification and its retries share.
        if not events:
            return "sha256:" + body_hash(request.body)
        return fit_key("notification:" + ",".join(sorted(e.event_id for e in events)))

    def redact(self, body: bytes) -> bytes:
        return _TOKEN.sub(rb'\1"***"', body)

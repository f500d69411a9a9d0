"""Pipedrive webhooks, v2 and v1, both still offered when a webhook is created.

v2: ``{"meta": {...}, "data": {...}, "previous": {...}}``; ``meta`` carries the event id (``id``),
``action`` (create/change/delete), ``entity`` and ``entity_id``; ``previous`` holds the old values
of changed fields, so a change of ``stage_id`` is a stage change.

v1: ``{"v": 1, "meta": {...}, "current": {...}, "previous": {...}, "event": "updated.deal"}``;
``meta`` has ``action`` (added/updated/deleted/merged), ``object``, ``id`` (the record's id) and
``timestamp_micro``, but no event id, and a retry changes the body's ``retry`` counter; so its
key is webhook + object + id + action + ``timestamp_micro``, which a retry repeats.

Pipedrive authenticates with HTTP Basic credentials set on the webhook."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm.adapters.base import Adapter, WebhookRequest, epoch, fit_key, load_json, require, same_secret, text
from crm.errors import AuthFailed, InvalidWebhook
from crm.events import CREATED, DELETED, STAGE_CHANGED, UPDATED, CrmEvent
from crm.sources import Account, SourceConfig

_ACTIONS = {"create": CREATED, "change": UPDATED, "delete": DELETED}
_V1_ACTIONS = {"added": CREATED, "updated": UPDATED, "deleted": DELETED, "merged": "merged"}


class PipedriveAdapter(Adapter):
    name = "pipedrive"
    stored_headers = ("content-type", "user-agent", "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        require(scheme.lower() == "basic" and bool(encoded), "HTTP Basic credentials are missing")
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailed("the HTTP Basic credentials are not base64 user:password") from None
        ok_user = same_secret(user, secrets["username"])
        ok_password = same_secret(password, secrets["password"])
        require(bool(sep) and ok_user and ok_password, "HTTP Basic credentials do not match")

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        payload = load_json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
            raise InvalidWebhook("the body must be a JSON object with 'meta' and 'data' (v2) or 'current' (v1)")
        meta: dict[str, Any] = payload["meta"]
        if "current" in payload or str(meta.get("v", meta.get("version", "2"))).startswith("1"):
            return [self._v1(payload, meta)]
        for field in ("id", "action", "entity", "entity_id"):
            if text(meta.get(field)) is None:
                raise InvalidWebhook(f"meta.{field} is missing")
        data, previous = _object(payload, "data"), _object(payload, "previous")
        action = str(meta["action"])
        event_type = _ACTIONS.get(action, action)
        old_stage = text(previous.get("stage_id"))
        new_stage = text(data.get("stage_id"))
        if action == "change" and "stage_id" in previous and old_stage != new_stage:
            event_type = STAGE_CHANGED
        fields = _fields(data)
        for key in ("user_id", "company_id", "change_source", "host"):
            if key in meta:
                fields[f"meta.{key}"] = meta[key]
        return [
            CrmEvent(
                source=self.name, event_id=str(meta["id"]), entity_kind=str(meta["entity"]),
                entity_id=str(meta["entity_id"]), event_type=event_type, vendor_event=f"{action}.{meta['entity']}",
                old_stage=old_stage if "stage_id" in previous else None, new_stage=new_stage,
                pipeline=text(data.get("pipeline_id")), occurred_at=_when(meta.get("timestamp")), fields=fields,
            )
        ]

    def _v1(self, payload: dict[str, Any], meta: dict[str, Any]) -> CrmEvent:
        for field in ("action", "object", "id"):
            if text(meta.get(field)) is None:
                raise InvalidWebhook(f"meta.{field} is missing (webhooks v1)")
        current, previous = _object(payload, "current"), _object(payload, "previous")
        action, kind = str(meta["action"]), str(meta["object"])
        event_type = _V1_ACTIONS.get(action, action)
        old_stage, new_stage = text(previous.get("stage_id")), text(current.get("stage_id"))
        if action == "updated" and previous and old_stage != new_stage:
            event_type = STAGE_CHANGED
        fields = _fields(current)
        for key in ("user_id", "company_id", "change_source", "host"):
            if key in meta:
                fields[f"meta.{key}"] = meta[key]
        stamp = text(meta.get("timestamp_micro")) or text(meta.get("timestamp")) or ""
        return CrmEvent(
            source=self.name, event_id=f"v1:{meta.get('webhook_id', '')}:{kind}:{meta['id']}:{action}:{stamp}",
            entity_kind=kind, entity_id=str(meta["id"]), event_type=event_type, vendor_event=f"{action}.{kind}",
            old_stage=old_stage if previous else None, new_stage=new_stage, pipeline=text(current.get("pipeline_id")),
            occurred_at=epoch(meta.get("timestamp")), fields=fields,
        )

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        # meta.id is the event's id; retries (meta.attempt > 1) repeat it.
        return fit_key(events[0].event_id)


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    """Plain values and custom fields (v2 nests them under ``custom_fields``; v1 keeps them flat)."""
    fields: dict[str, Any] = {k: v for k, v in record.items() if isinstance(v, str | int | float | bool)}
    custom = record.get("custom_fields")
    for key, value in (custom.items() if isinstance(custom, dict) else ()):
        fields[key] = value.get("value") if isinstance(value, dict) and "value" in value else value
    return fields


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None

"""HubSpot webhooks: a JSON array of events (``deal.creation``, ``deal.propertyChange``, ...).

Authentication is signature v3: ``X-HubSpot-Signature-v3`` is the base64 HMAC-SHA256, keyed with
the app's client secret, of method + URI + body + ``X-HubSpot-Request-Timestamp`` (milliseconds);
requests older than five minutes are refused. v1/v2 (``X-HubSpot-Signature``, plain SHA-256 with
no timestamp) are accepted only where configured."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm.adapters.base import (
    Adapter,
    WebhookRequest,
    digits,
    epoch,
    fit_key,
    load_json,
    require,
    same_secret,
    text,
)
from crm.errors import AuthFailed, InvalidWebhook
from crm.events import CREATED, DELETED, STAGE_CHANGED, UPDATED, CrmEvent
from crm.sources import Account, HubSpotAccount, HubSpotSource, SourceConfig

MAX_AGE_MS = 5 * 60 * 1000
_OBJECT_TYPES = {"0-1": "contact", "0-2": "company", "0-3": "deal", "0-5": "ticket", "0-7": "product",
                 "0-8": "line_item", "0-136": "lead"}
_ACTIONS = {"creation": CREATED, "propertyChange": UPDATED, "deletion": DELETED}
# HubSpot decodes these in the URI before signing (per its validation guide).
_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
           "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def signed_uri(request: WebhookRequest, config: HubSpotAccount) -> str:
    """The URI HubSpot signed: the configured public URL (behind a proxy) or the one we saw."""
    uri = request.url
    if config.public_url:
        query = request.url.partition("?")[2]
        uri = config.public_url + (f"?{query}" if query else "")
    for encoded, char in _DECODE.items():
        uri = uri.replace(encoded, char).replace(encoded.lower(), char)
    return uri


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class HubSpotAdapter(Adapter):
    name = "hubspot"
    stored_headers = ("content-type", "user-agent", "x-hubspot-request-timestamp", "x-hubspot-signature-version",
                      "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        assert isinstance(account, HubSpotAccount)
        config = account
        secret = secrets["app_secret"]
        signature = request.headers.get("x-hubspot-signature-v3")
        if signature is not None:
            timestamp = request.headers.get("x-hubspot-request-timestamp", "")
            stamp = digits(timestamp)
            require(stamp is not None, "X-HubSpot-Request-Timestamp is missing or not milliseconds")
            assert stamp is not None
            age = now.timestamp() * 1000 - stamp
            require(abs(age) <= MAX_AGE_MS, f"X-HubSpot-Request-Timestamp is {age / 1000:.0f} s off (limit 300 s)")
            expected = signature_v3(secret, request.method, signed_uri(request, config), request.body, timestamp)
            require(same_secret(signature, expected), "X-HubSpot-Signature-v3 does not match")
        else:
            self._legacy(request, config, secret)
        if config.portal_id is not None:
            events = load_json(request.body)
            portals = {e.get("portalId") for e in events if isinstance(e, dict)} if isinstance(events, list) else set()
            require(portals <= {config.portal_id}, f"events come from a portal other than {config.portal_id}")

    def _legacy(self, request: WebhookRequest, config: HubSpotAccount, secret: str) -> None:
        version = request.headers.get("x-hubspot-signature-version", "")
        signature = request.headers.get("x-hubspot-signature")
        if signature is None:
            raise AuthFailed("X-HubSpot-Signature-v3 is missing")
        if version not in config.legacy_signatures:
            raise AuthFailed(f"signature version {version or '?'} is not accepted; send X-HubSpot-Signature-v3")
        source = secret.encode()
        if version == "v2":
            source += request.method.encode() + signed_uri(request, config).encode()
        expected = hashlib.sha256(source + request.body).hexdigest()
        require(same_secret(signature, expected), f"X-HubSpot-Signature ({version}) does not match")

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        assert isinstance(config, HubSpotSource)
        payload = load_json(body)
        if not isinstance(payload, list):
            raise InvalidWebhook("the body must be a JSON array of HubSpot events")
        return [self._event(index, item, config) for index, item in enumerate(payload)]

    def _event(self, index: int, item: Any, config: HubSpotSource) -> CrmEvent:
        if not isinstance(item, dict):
            raise InvalidWebhook(f"[{index}] must be an object")
        # HubSpot's batch names the type ``subscriptionType``; some of its documented samples (and
        # the newer webhook journal) name it ``eventType``: both are the same field.
        kind_field = "subscriptionType" if text(item.get("subscriptionType")) is not None else "eventType"
        for field in ("eventId", kind_field, "objectId"):
            if text(item.get(field)) is None:
                raise InvalidWebhook(f"[{index}].{field} is missing" if field != "eventType"
                                     else f"[{index}].subscriptionType (or eventType) is missing")
        vendor_event = str(item[kind_field])
        kind, _, action = vendor_event.partition(".")
        if kind == "object":
            kind = _OBJECT_TYPES.get(str(item.get("objectTypeId")), str(item.get("objectTypeId", "object")))
        event_type = _ACTIONS.get(action, action.lower())
        fields: dict[str, Any] = {k: v for k, v in item.items() if isinstance(v, str | int | float | bool)}
        new_stage = None
        if action == "propertyChange":
            name = item.get("propertyName")
            fields[str(name)] = item.get("propertyValue")
            if name == config.stage_properties.get(kind):
                event_type, new_stage = STAGE_CHANGED, text(item.get("propertyValue"))
        # eventId alone is not unique (HubSpot's docs): the occurrence is eventId + occurredAt +
        # object + what changed, which a retry of the same event repeats.
        event_id = ":".join(str(item.get(k, "")) for k in ("eventId", "occurredAt", "objectId", "subscriptionId"))
        if action == "propertyChange":
            event_id += f":{item.get('propertyName', '')}"
        return CrmEvent(
            source=self.name, event_id=event_id, entity_kind=kind, entity_id=str(item["objectId"]),
            event_type=event_type, vendor_event=vendor_event, new_stage=new_stage,
            occurred_at=epoch(item.get("occurredAt"), 1000),
            fields=fields,
        )

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        # A retried batch repeats its events; each is keyed on more than its eventId (see _event).
        return fit_key("events:" + ",".join(sorted(e.event_id for e in events)))

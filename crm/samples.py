"""Requests exactly as each CRM sends them, built from the vendors' documentation.

Tests, the benchmark and docs/crm.md use these to produce signed, byte-faithful webhooks; they
also serve anyone who wants to try ``slaflow serve`` with curl before wiring a real CRM."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from crm.adapters.generic import sign
from crm.adapters.hubspot import signature_v3

Request = tuple[bytes, dict[str, str]]
FORM = "application/x-www-form-urlencoded"

SAMPLE_ENV = {
    "SLAFLOW_BITRIX24_APP_TOKEN": "51856fefc120afa4b628cc82d3935cce",
    "SLAFLOW_AMOCRM_TOKEN": "amo-3b1f0c9d5e",
    "SLAFLOW_HUBSPOT_APP_SECRET": "hubspot-client-secret-7d2a",
    "SLAFLOW_PIPEDRIVE_USER": "pipedrive",
    "SLAFLOW_PIPEDRIVE_PASSWORD": "pd-pass-93c1",
    "SLAFLOW_GENERIC_SECRET": "erp-hmac-secret-5e8f",
}
"""Secrets for the example company's ``crm:`` section (tests and local trials only)."""


def bitrix24(event: str, entity_id: int | str, ts: int, *, token: str, domain: str = "sever.bitrix24.ru",
             fields: Mapping[str, str] | None = None, handler_id: int = 201) -> Request:
    """An outbound webhook: PHP ``http_build_query`` of event, data[FIELDS], ts and auth."""
    pairs = [("event", event), ("event_handler_id", str(handler_id)), ("data[FIELDS][ID]", str(entity_id))]
    pairs += [(f"data[FIELDS][{key}]", value) for key, value in (fields or {}).items()]
    pairs += [
        ("ts", str(ts)),
        ("auth[domain]", domain),
        ("auth[client_endpoint]", f"https://{domain}/rest/"),
        ("auth[server_endpoint]", "https://oauth.bitrix.info/rest/"),
        ("auth[member_id]", "a223c6b3710f85df22e9377d6c4f7553"),
        ("auth[application_token]", token),
    ]
    return urlencode(pairs).encode(), {"Content-Type": FORM, "User-Agent": "Bitrix24 Webhook Engine"}


def amocrm_lead(action: str, leads: Sequence[Mapping[str, Any]], *, subdomain: str = "sever",
                account_id: int = 29715442) -> Request:
    """A webhook about leads (``action``: add, update, status, delete, ...), several per request;
    custom fields as ``[custom_fields][N][id|name|values][M][value]``. The token goes in the URL."""
    pairs: list[tuple[str, str]] = []
    for index, lead in enumerate(leads):
        prefix = f"leads[{action}][{index}]"
        for key, value in lead.items():
            if key == "custom_fields":
                for n, (cf_id, name, cf_value) in enumerate(value):
                    pairs += [(f"{prefix}[custom_fields][{n}][id]", str(cf_id)),
                              (f"{prefix}[custom_fields][{n}][name]", name),
                              (f"{prefix}[custom_fields][{n}][values][0][value]", str(cf_value))]
            else:
                pairs.append((f"{prefix}[{key}]", str(value)))
    pairs += [("account[subdomain]", subdomain), ("account[id]", str(account_id)),
              ("account[_links][self]", f"https://{subdomain}.amocrm.ru")]
    return urlencode(pairs).encode(), {"Content-Type": FORM, "User-Agent": "amoCRM-Webhooks/3.0"}


def hubspot(events: Sequence[Mapping[str, Any]], *, secret: str, url: str, timestamp_ms: int) -> Request:
    """A batch of HubSpot events, signed with signature v3 (and the v1 header HubSpot also sends)."""
    body = json.dumps(list(events), separators=(",", ":")).encode()
    stamp = str(timestamp_ms)
    return body, {
        "Content-Type": "application/json",
        "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
        "X-HubSpot-Request-Timestamp": stamp,
        "X-HubSpot-Signature-v3": signature_v3(secret, "POST", url, body, stamp),
        "X-HubSpot-Signature-Version": "v1",
        "X-HubSpot-Signature": _sha256_hex(secret.encode() + body),
    }


def hubspot_property_change(event_id: int, object_id: int, prop: str, value: str, *, kind: str = "deal",
                            occurred_ms: int = 1_794_808_800_000, portal_id: int = 62515) -> dict[str, Any]:
    return {"eventId": event_id, "subscriptionId": 2881778, "portalId": portal_id, "appId": 1160452,
            "occurredAt": occurred_ms, "subscriptionType": f"{kind}.propertyChange", "attemptNumber": 0,
            "objectId": object_id, "propertyName": prop, "propertyValue": value, "changeSource": "CRM_UI"}


def pipedrive(action: str, entity: str, entity_id: int, data: Mapping[str, Any] | None,
              previous: Mapping[str, Any] | None, *, event_id: str, user: str, password: str,
              timestamp: str = "2026-11-16T06:00:00.000Z", attempt: int = 1) -> Request:
    """A webhooks v2 notification (meta/data/previous) with HTTP Basic credentials."""
    payload = {
        "data": dict(data) if data is not None else None,
        "previous": dict(previous) if previous is not None else None,
        "meta": {
            "action": action, "company_id": "12882925", "correlation_id": "2f5b7c1e-9a3d-4e61-8f0b-1c2d3e4f5a6b",
            "entity_id": str(entity_id), "entity": entity, "id": event_id, "is_bulk_edit": False,
            "timestamp": timestamp, "type": "general", "user_id": "18487521", "version": "2.0",
            "webhook_id": "991823", "webhook_owner_id": "18487521", "change_source": "app",
            "permitted_user_ids": ["18487521"], "attempt": attempt, "host": "sever.pipedrive.com",
        },
    }
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps(payload).encode(), {"Content-Type": "application/json", "Authorization": f"Basic {credentials}",
                                          "User-Agent": "Pipedrive Webhooks"}


def generic(event: Mapping[str, Any], *, secret: str, timestamp: int, idempotency_key: str | None = None) -> Request:
    body = json.dumps(dict(event), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Slaflow-Timestamp": str(timestamp),
               "X-Slaflow-Signature": sign(secret, str(timestamp), body, idempotency_key)}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return body, headers


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def salesforce(notifications: Sequence[tuple[str, str, Mapping[str, str | None]]], *,
               organization_id: str = "00D5g000004XyZaEAK", action_id: str = "04k5g000000Abc1AAC") -> Request:
    """An outbound message as Salesforce sends it: SOAP 1.1, one ``Notification`` per
    (notification id, sObject type, fields); a None field is sent ``xsi:nil``."""
    parts = []
    for notification_id, sobject, fields in notifications:
        values = "".join(
            f'<sf:{name} xsi:nil="true"/>' if value is None else f"<sf:{name}>{_xml(value)}</sf:{name}>"
            for name, value in fields.items()
        )
        parts.append(f'<Notification><Id>{notification_id}</Id><sObject xsi:type="sf:{sobject}" '
                     f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{values}</sObject></Notification>')
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{organization_id}</OrganizationId><ActionId>{action_id}</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://sever.my.salesforce.com/services/Soap/c/62.0/00D5g000004XyZa</EnterpriseUrl>"
        "<PartnerUrl>https://sever.my.salesforce.com/services/Soap/u/62.0/00D5g000004XyZa</PartnerUrl>"
        + "".join(parts) + "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()
    return body, {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""',
                  "User-Agent": "Salesforce/1.0"}


def zoho(module: str, operation: str, ids: Sequence[str], *, token: str, channel_id: str = "1000000068002",
         server_time: int = 1_794_808_800_373, affected_fields: Sequence[str] = ()) -> Request:
    """A Zoho CRM notification (Notification API ``actions/watch`` callback)."""
    payload = {"server_time": server_time, "query_params": {}, "module": module,
               "resource_uri": f"https://www.zohoapis.eu/crm/v2/{module}", "ids": list(ids),
               "affected_fields": list(affected_fields), "operation": operation, "channel_id": channel_id,
               "token": token}
    return json.dumps(payload).encode(), {"Content-Type": "application/json", "User-Agent": "ZohoCRM"}


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

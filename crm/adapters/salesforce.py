"""Salesforce outbound messages (Workflow / Flow "Outbound Message" actions).

Salesforce POSTs a SOAP 1.1 envelope (``text/xml``) whose body is ``notifications`` in the
namespace ``http://soap.sforce.com/2005/09/outbound``: ``OrganizationId``, ``ActionId``,
``SessionId``, ``EnterpriseUrl``, ``PartnerUrl`` and up to 100 ``Notification`` elements, each
with its ``Id`` and an ``sObject`` (``xsi:type="sf:Opportunity"``) holding the chosen fields as
``sf:<Field>`` elements. It expects the SOAP answer ``notificationsResponse`` with
``<Ack>true</Ack>``; anything else is retried for up to 24 hours, possibly out of order.

Messages are not signed: the endpoint URL carries ``?token=<secret>``, and every message's
``OrganizationId`` must be the configured org. The XML is read with defusedxml (no entities,
no external references)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from crm.adapters.base import Adapter, WebhookRequest, fit_key, require, same_secret
from crm.errors import InvalidWebhook, MalformedWebhook
from crm.events import UPDATED, CrmEvent
from crm.sources import Account, SalesforceAccount, SourceConfig

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()
_STAGE_FIELDS = ("StageName", "Status")
"""Opportunity stage, or the status of a Lead, Case, Order, ..."""


def _notifications(body: bytes) -> Element:
    if b"\x00" in body:
        raise MalformedWebhook("the body contains a NUL byte")
    try:
        root = safe_xml.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise MalformedWebhook(f"the XML uses a forbidden construct ({type(exc).__name__})") from None
    except safe_xml.ParseError as exc:
        raise MalformedWebhook(f"the body is not well-formed XML: {exc}") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise InvalidWebhook("the body is not a SOAP 1.1 envelope")
    found: Element | None = root.find(f"{{{SOAP}}}Body/{{{OUTBOUND}}}notifications")
    if found is None:
        raise InvalidWebhook("the SOAP body has no outbound-message notifications element")
    return found


def _text(parent: Element, tag: str) -> str | None:
    node = parent.find(f"{{{OUTBOUND}}}{tag}")
    return node.text.strip() if node is not None and node.text and node.text.strip() else None


def _same_org(given: str | None, configured: str) -> bool:
    """15- and 18-character ids name the same org when their first 15 characters agree."""
    return given is not None and len(given) in (15, 18) and given[:15] == configured[:15]


class SalesforceAdapter(Adapter):
    name = "salesforce"
    stored_headers = ("content-type", "user-agent", "soapaction", "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        assert isinstance(account, SalesforceAccount)
        require("token" in request.query, "the ?token= query parameter is missing")
        require(same_secret(request.query.get("token"), secrets["token"]),
                "?token= does not match the configured token")
        try:
            organization = _text(_notifications(request.body), "OrganizationId")
        except MalformedWebhook:
            return  # authenticated by the token; parse() reports what is wrong with the body
        require(_same_org(organization, account.organization_id),
                f"OrganizationId is not the configured org {account.organization_id[:15]}")

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        root = _notifications(body)
        events = [self._event(index, node) for index, node in enumerate(root.findall(f"{{{OUTBOUND}}}Notification"))]
        if not events:
            raise InvalidWebhook("no Notification in the message")
        return events

    def _event(self, index: int, node: Element) -> CrmEvent:
        notification_id = _text(node, "Id")
        record = node.find(f"{{{OUTBOUND}}}sObject")
        if notification_id is None or record is None:
            raise InvalidWebhook(f"Notification[{index}] has no Id or sObject")
        kind = (record.get(f"{{{XSI}}}type") or "sf:sObject").rpartition(":")[2].lower()
        fields: dict[str, Any] = {}
        for child in record:
            name = child.tag.rpartition("}")[2]
            nil = child.get(f"{{{XSI}}}nil") == "true"
            fields[name] = None if nil else (child.text or "")
        entity_id = fields.get("Id")
        if not entity_id:
            raise InvalidWebhook(f"Notification[{index}].sObject has no sf:Id")
        stage = next((fields[f] for f in _STAGE_FIELDS if fields.get(f)), None)
        return CrmEvent(
            source=self.name, event_id=notification_id, entity_kind=kind, entity_id=str(entity_id),
            event_type=UPDATED, vendor_event=f"outbound.{kind}", new_stage=stage,
            pipeline=fields.get("RecordTypeId"), fields=fields,
        )

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        # A notification keeps its Id across Salesforce's retries.
        return fit_key("notifications:" + ",".join(sorted(e.event_id for e in events)))

    def acknowledgement(self) -> tuple[bytes, str]:
        return ACK, "text/xml; charset=utf-8"

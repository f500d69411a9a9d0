"""Vendor adapters behind one interface, found by source name."""

from __future__ import annotations

from crm.adapters.amocrm import AmoCrmAdapter
from crm.adapters.base import Adapter, WebhookRequest
from crm.adapters.bitrix24 import Bitrix24Adapter
from crm.adapters.generic import GenericAdapter
from crm.adapters.hubspot import HubSpotAdapter
from crm.adapters.pipedrive import PipedriveAdapter
from crm.adapters.salesforce import SalesforceAdapter
from crm.adapters.zoho import ZohoAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (Bitrix24Adapter(), AmoCrmAdapter(), HubSpotAdapter(), PipedriveAdapter(), GenericAdapter(),
                    SalesforceAdapter(), ZohoAdapter())
}


def adapter_for(source: str) -> Adapter:
    return ADAPTERS[source]


__all__ = ["ADAPTERS", "Adapter", "WebhookRequest", "adapter_for"]

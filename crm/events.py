"""The one normalised CRM event every adapter produces, whatever the vendor's format."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

CREATED, UPDATED, DELETED, STAGE_CHANGED = "created", "updated", "deleted", "stage_changed"


class CrmEvent(BaseModel):
    """A change of one CRM entity. Rules match on it; the raw body stays in the inbox."""

    model_config = ConfigDict(frozen=True)

    source: str
    event_id: str
    """The vendor's id of the event, or one we derive (stable across redeliveries)."""
    entity_kind: str
    """deal, lead, contact, company, ticket, ... (the vendor's own word, singular, lower case)."""
    entity_id: str
    event_type: str
    """created, updated, deleted or stage_changed (else the vendor's action)."""
    vendor_event: str
    """The vendor's event name, e.g. ONCRMDEALUPDATE, deal.propertyChange, leads/status."""
    old_stage: str | None = None
    new_stage: str | None = None
    pipeline: str | None = None
    occurred_at: datetime | None = None
    fields: dict[str, Any] = {}
    account: str = "default"
    """The source's account the request authenticated with (`crm.sources`)."""
    enriched: bool = False
    """Whether ``fields`` (and stage, pipeline) were read back from the CRM's API."""

    @property
    def entity_key(self) -> str:
        """The CRM record; records of accounts other than the default one carry the account's name,
        so two Bitrix24 portals' deal 7 are two records."""
        key = f"{self.entity_kind}:{self.entity_id}"
        return key if self.account == "default" else f"{self.account}/{key}"

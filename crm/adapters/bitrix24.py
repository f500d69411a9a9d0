"""Bitrix24 outbound webhooks (``ONCRMDEALUPDATE`` and friends).

Bitrix24 POSTs a form: ``event``, ``event_handler_id``, ``data[FIELDS][ID]``, ``ts`` and
``auth[...]`` with ``application_token``, the handler's shared secret, which we compare with the
configured one. The notification names only the entity id (plus ``STAGE_ID``/``CATEGORY_ID`` for
events that carry them), so rules on Bitrix24 usually match the event type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm.adapters.base import Adapter, WebhookRequest, epoch, fit_key, require, same_secret, text
from crm.errors import InvalidWebhook
from crm.events import CREATED, DELETED, STAGE_CHANGED, UPDATED, CrmEvent
from crm.forms import parse_form
from crm.sources import Account, Bitrix24Account, SourceConfig

_EVENT = re.compile(r"^ONCRM([A-Z]+?)(ADD|UPDATE|DELETE|MOVETOCATEGORY)$")
_ACTIONS = {"ADD": CREATED, "UPDATE": UPDATED, "DELETE": DELETED, "MOVETOCATEGORY": STAGE_CHANGED}
_TOKENS = re.compile(rb"((?:auth(?:%5B|\[)(?:application_token|access_token|refresh_token)(?:%5D|\]))=)[^&]*",
                     re.IGNORECASE)


class Bitrix24Adapter(Adapter):
    name = "bitrix24"
    stored_headers = ("content-type", "user-agent", "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        assert isinstance(account, Bitrix24Account)
        config = account
        form = parse_form(request.body)
        auth = form.get("auth")
        require(isinstance(auth, dict) and "application_token" in auth, "auth[application_token] is missing")
        assert isinstance(auth, dict)
        require(same_secret(auth.get("application_token"), secrets["application_token"]),
                "auth[application_token] does not match the configured token")
        if config.domain is not None:
            require(auth.get("domain") == config.domain, f"auth[domain] is not {config.domain}")

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        form = parse_form(body)
        event = form.get("event")
        if not isinstance(event, str) or not event:
            raise InvalidWebhook("field 'event' is missing (e.g. event=ONCRMDEALUPDATE)")
        event = event.upper()
        match = _EVENT.match(event)
        if match is None:
            raise InvalidWebhook(f"event {event!r} is not a CRM event (ONCRM<ENTITY><ADD|UPDATE|DELETE>)")
        data = form.get("data")
        fields: Any = data.get("FIELDS") if isinstance(data, dict) else None
        if not isinstance(fields, dict) or not text(fields.get("ID")):
            raise InvalidWebhook("field 'data[FIELDS][ID]' is missing")
        entity_id = str(fields["ID"])
        ts = form.get("ts")
        event_type = _ACTIONS[match[2]]
        old, new = text(fields.get("OLD_STAGE_ID")), text(fields.get("STAGE_ID"))
        if event_type == UPDATED and old is not None and new is not None and old != new:
            event_type = STAGE_CHANGED
        auth = form.get("auth")
        plain = {key: value for key, value in fields.items() if isinstance(value, str)}
        if isinstance(auth, dict) and isinstance(auth.get("domain"), str):
            plain["domain"] = auth["domain"]
        return [
            CrmEvent(
                source=self.name, event_id=f"{event}:{entity_id}:{ts or ''}", entity_kind=match[1].lower(),
                entity_id=entity_id, event_type=event_type, vendor_event=event, old_stage=old, new_stage=new,
                pipeline=text(fields.get("CATEGORY_ID")), occurred_at=epoch(ts), fields=plain,
            )
        ]

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        # event + ID + ts: Bitrix24 gives no event id; the same notification repeats all three.
        # ``ts`` is not signed (only the application token authenticates), so a replay with a new
        # ts is a new key: harmless, because the record is read back (enrichment) and a rule's
        # trigger already applied to a case is reported as such, never fired twice.
        return fit_key(events[0].event_id)

    def redact(self, body: bytes) -> bytes:
        return _TOKENS.sub(rb"\1***", body)

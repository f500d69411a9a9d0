"""Generic JSON webhooks for systems we control (an ERP, a script, another CRM via a relay).

``X-Slaflow-Signature: sha256=<hex HMAC-SHA256>`` with the configured secret, over
``"<X-Slaflow-Timestamp>.<raw body>"``, or, when the request names its delivery with an
``Idempotency-Key``, over ``"<X-Slaflow-Timestamp>.<Idempotency-Key>.<raw body>"``: the key is
signed, so a captured request replayed under a new key is refused. The timestamp (Unix seconds)
must be within the tolerance (5 minutes). Without a key the body's hash names the delivery."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from crm.adapters.base import Adapter, WebhookRequest, body_hash, digits, fit_key, load_json, require, same_secret
from crm.errors import InvalidWebhook, MalformedWebhook
from crm.events import UPDATED, CrmEvent
from crm.sources import Account, GenericAccount, SourceConfig

Id = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
               Field(min_length=1, max_length=128)]


class GenericEventBody(BaseModel):
    """The body of a generic webhook: one change of one entity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id | None = None
    """Your event id (optional)."""
    entity: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    entity_id: Id
    event: str = Field(UPDATED, min_length=1, max_length=64)
    stage: str | None = Field(None, max_length=128)
    old_stage: str | None = Field(None, max_length=128)
    pipeline: str | None = Field(None, max_length=128)
    occurred_at: AwareDatetime | None = None
    fields: dict[str, Any] = {}


def sign(secret: str, timestamp: str, body: bytes, idempotency_key: str | None = None) -> str:
    """The ``X-Slaflow-Signature`` value for a body (senders and tests use this too)."""
    message = timestamp.encode() + b"." + (idempotency_key.encode() + b"." if idempotency_key else b"") + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class GenericAdapter(Adapter):
    name = "generic"
    stored_headers = ("content-type", "user-agent", "idempotency-key", "x-slaflow-timestamp", "x-forwarded-for")

    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        assert isinstance(account, GenericAccount)
        signature = request.headers.get("x-slaflow-signature")
        timestamp = request.headers.get("x-slaflow-timestamp", "")
        require(signature is not None, "X-Slaflow-Signature is missing")
        stamp = digits(timestamp, 12)
        require(stamp is not None, "X-Slaflow-Timestamp is missing or not Unix seconds")
        assert stamp is not None
        age = now.timestamp() - stamp
        require(abs(age) <= account.tolerance_seconds,
                f"X-Slaflow-Timestamp is {age:.0f} s off (limit {account.tolerance_seconds} s)")
        key = request.headers.get("idempotency-key")
        require(same_secret(signature, sign(secrets["secret"], timestamp, request.body, key)),
                "X-Slaflow-Signature does not match" + (" (with an Idempotency-Key it signs timestamp.key.body)"
                                                        if key else ""))

    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        load_json(body)  # NUL and depth checks before the model sees it
        try:
            event = GenericEventBody.model_validate_json(body)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
            ]
            if any(error["type"] == "json_invalid" for error in exc.errors()):
                raise MalformedWebhook("the body is not valid JSON: " + "; ".join(problems)) from None
            raise InvalidWebhook("; ".join(problems)) from None
        return [
            CrmEvent(
                source=self.name, event_id=event.id or "sha256:" + body_hash(body), entity_kind=event.entity,
                entity_id=event.entity_id, event_type=event.event, vendor_event=event.event,
                old_stage=event.old_stage, new_stage=event.stage, pipeline=event.pipeline,
                occurred_at=event.occurred_at, fields=event.fields,
            )
        ]

    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        key = request.headers.get("idempotency-key")
        return fit_key("key:" + key) if key else "sha256:" + body_hash(request.body)

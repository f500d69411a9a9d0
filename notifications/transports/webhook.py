"""Generic HTTP webhook: a signed JSON body for other systems (ticketing, a bot of your own).

Receivers verify ``X-Slaflow-Signature: sha256=<hex>``, an HMAC-SHA256 with the shared secret
over ``"<X-Slaflow-Timestamp>.<raw body>"``, reject stale timestamps (replay), and use
``X-Slaflow-Idempotency-Key`` to drop repeats: delivery is at-least-once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

from notifications.transports.base import Outgoing, Transport, TransportError, post

if TYPE_CHECKING:
    from org.chart import PersonConfig


class WebhookTransport(Transport):
    kind = "webhook"
    format = "json"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        """The global webhook, or the person's own URL in ``chat.webhook``."""
        return person.chat.get("webhook") or person_id

    def send(self, message: Outgoing) -> None:
        settings = self.settings
        url = message.address if message.address.startswith(("https://", "http://")) else settings.webhook_url
        if not url:
            raise TransportError("SLAFLOW_WEBHOOK_URL is not set", permanent=True)
        if settings.webhook_secret is None:
            raise TransportError("SLAFLOW_WEBHOOK_SECRET is not set (unsigned webhooks can be forged)", permanent=True)
        if message.now is None:
            raise TransportError("a webhook needs the send time to sign it", permanent=True)
        body = json.dumps(message.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(message.now.timestamp()))
        post(
            url,
            what="webhook",
            timeout=settings.http_timeout,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Slaflow-Timestamp": timestamp,
                "X-Slaflow-Signature": "sha256=" + sign(settings.webhook_secret.get_secret_value(), timestamp, body),
                "X-Slaflow-Event": message.kind,
                "X-Slaflow-Idempotency-Key": message.dedupe_key,
            },
        )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``timestamp.body`` (what receivers recompute)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()

"""Slack incoming webhook. ``chat.slack`` is either the person's own webhook URL (a direct
message webhook) or a handle such as ``@lebedev`` posted through the global webhook
(``SLAFLOW_SLACK_WEBHOOK_URL``) with a ``channel`` override, which only legacy webhooks honour."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from notifications.transports.base import Outgoing, Transport, TransportError, post

if TYPE_CHECKING:
    from org.chart import PersonConfig


class SlackTransport(Transport):
    kind = "slack"
    format = "chat"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        return person.chat.get("slack") or None

    def send(self, message: Outgoing) -> None:
        body: dict[str, str] = {"text": message.text}
        if message.address.startswith(("https://", "http://")):
            url = message.address
        else:
            if self.settings.slack_webhook_url is None:
                raise TransportError(
                    f"{message.address!r} is a Slack handle and SLAFLOW_SLACK_WEBHOOK_URL is not set", permanent=True
                )
            url = self.settings.slack_webhook_url.get_secret_value()
            body["channel"] = message.address
        post(url, what="slack webhook", timeout=self.settings.http_timeout,
             content=json.dumps(body, ensure_ascii=False).encode(), headers={"Content-Type": "application/json"})

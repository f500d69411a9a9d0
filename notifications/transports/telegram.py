"""Telegram bot: Bot API ``sendMessage`` to the person's chat id (``chat.telegram``).

The API base URL is a setting so a self-hosted Bot API server (or a test server) can stand in.
Telegram answers errors with JSON ``{"ok": false, "error_code": ..., "description": ...}`` and,
on 429, ``parameters.retry_after``; both are kept in the attempt's error.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from notifications.transports.base import (
    Outgoing,
    Transport,
    TransportError,
    bounded_seconds,
    post,
    status_error,
)

if TYPE_CHECKING:
    import httpx

    from org.chart import PersonConfig

MAX_TEXT = 4096
"""Telegram rejects longer messages (400), which would make a long digest fail for ever."""


class TelegramTransport(Transport):
    kind = "telegram"
    format = "chat"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        return person.chat.get("telegram") or None

    def send(self, message: Outgoing) -> None:
        token = self.settings.telegram_token
        if token is None:
            raise TransportError("SLAFLOW_TELEGRAM_TOKEN is not set", permanent=True)
        base = self.settings.telegram_api_base.rstrip("/")
        body: dict[str, Any] = {"chat_id": message.address, "text": message.text[:MAX_TEXT],
                                "disable_web_page_preview": True}
        if message.links:  # inline URL buttons under the message (Bot API InlineKeyboardMarkup)
            body["reply_markup"] = {"inline_keyboard": [[{"text": label, "url": url} for label, url in message.links]]}
        response = post(
            f"{base}/bot{token.get_secret_value()}/sendMessage",
            what="telegram sendMessage",
            timeout=self.settings.http_timeout,
            content=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            check=False,
        )
        if not response.is_success:
            error = status_error(response, "telegram sendMessage")
            error.retry_after = error.retry_after or _retry_after(response)
            raise error


def _retry_after(response: httpx.Response) -> float | None:
    """Telegram's 429 body carries ``parameters.retry_after`` (seconds)."""
    try:
        value = response.json().get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        return None
    return bounded_seconds(value)

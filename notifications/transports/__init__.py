"""Channel kind -> transport. Adding a channel: one module with a `Transport` subclass and one
line here (see docs/notifications.md)."""

from __future__ import annotations

from notifications.transports.base import Format, Outgoing, Transport, TransportError
from notifications.transports.file import FileTransport
from notifications.transports.slack import SlackTransport
from notifications.transports.smtp import EmailTransport
from notifications.transports.telegram import TelegramTransport
from notifications.transports.webhook import WebhookTransport

REGISTRY: dict[str, type[Transport]] = {
    "email": EmailTransport,
    "telegram": TelegramTransport,
    "slack": SlackTransport,
    "webhook": WebhookTransport,
    "file": FileTransport,
}

__all__ = ["REGISTRY", "Format", "Outgoing", "Transport", "TransportError"]

"""The adapter interface: authenticate a request, derive its idempotency key, normalise its body.

An adapter is stateless; configuration and secrets are passed in, so one instance serves every
request and the stored body can be re-parsed later (processing, replay) without the request."""

from __future__ import annotations

import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from crm.config import SourceConfig
from crm.errors import AuthFailed, MalformedWebhook
from crm.events import CrmEvent


@dataclass(frozen=True)
class WebhookRequest:
    """What an adapter may look at: the request as it arrived (headers with lower-case names)."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


class Adapter(ABC):
    name: ClassVar[str]
    stored_headers: ClassVar[tuple[str, ...]] = ()
    """Headers worth keeping with the stored request (never ones that carry a secret)."""

    @abstractmethod
    def authenticate(self, request: WebhookRequest, config: SourceConfig, secrets: Mapping[str, str],
                     now: datetime) -> None:
        """Raise `AuthFailed` unless the request provably comes from the configured CRM account."""

    @abstractmethod
    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        """Normalise a body; raise `MalformedWebhook` (or `InvalidWebhook`) naming what is wrong."""

    @abstractmethod
    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        """The same key for every redelivery of the same notification."""

    def redact(self, body: bytes) -> bytes:
        """The body as it is stored (adapters whose bodies carry tokens blank them)."""
        return body


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def fit_key(key: str) -> str:
    """Keys longer than the column hold are replaced by their hash (still stable)."""
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require(condition: bool, message: str) -> None:
    if not condition:
        raise AuthFailed(message)


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise MalformedWebhook("the body is not UTF-8") from None
    except ValueError as exc:
        raise MalformedWebhook(f"the body is not valid JSON: {exc}") from None


def text(value: Any) -> str | None:
    """CRM ids arrive as numbers or strings; we compare them as text."""
    if value is None or value == "":
        return None
    return str(value)


def epoch(value: Any, per_second: int = 1) -> datetime | None:
    """A Unix timestamp (seconds, or milliseconds with ``per_second=1000``) as UTC, None if absurd."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        return None

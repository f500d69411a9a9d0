"""The adapter interface: authenticate a request, derive its idempotency key, normalise its body.

An adapter is stateless; configuration and secrets are passed in, so one instance serves every
request and the stored body can be re-parsed later (processing, replay) without the request."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from crm.errors import AuthFailed, MalformedWebhook
from crm.events import CrmEvent
from crm.sources import Account, SourceConfig


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
    def authenticate(self, request: WebhookRequest, account: Account, secrets: Mapping[str, str],
                     now: datetime) -> None:
        """Raise `AuthFailed` unless the request provably comes from this configured CRM account."""

    @abstractmethod
    def parse(self, body: bytes, config: SourceConfig) -> list[CrmEvent]:
        """Normalise a body; raise `MalformedWebhook` (or `InvalidWebhook`) naming what is wrong."""

    @abstractmethod
    def idempotency_key(self, request: WebhookRequest, events: list[CrmEvent]) -> str:
        """The same key for every redelivery of the same notification."""

    def redact(self, body: bytes) -> bytes:
        """The body as it is stored (adapters whose bodies carry tokens blank them)."""
        return body

    def acknowledgement(self) -> tuple[bytes, str] | None:
        """The body and media type the CRM expects on success (None: our JSON answer)."""
        return None

    def authenticate_any(self, request: WebhookRequest, config: SourceConfig,
                         secrets: Mapping[str, Mapping[str, str]], now: datetime) -> str:
        """The name of the first account the request authenticates against; else `AuthFailed`
        naming why for each account (never a secret)."""
        reasons: list[str] = []
        for name, account in config.all_accounts().items():
            try:
                self.authenticate(request, account, secrets.get(name, {}), now)
            except AuthFailed as exc:
                reasons.append(f"{name}: {exc}")
                continue
            return name
        if len(reasons) == 1:
            raise AuthFailed(reasons[0].partition(": ")[2])
        raise AuthFailed("no account matches (" + "; ".join(reasons) + ")")


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
    """JSON as the CRMs send it; NUL (raw or ``\\u0000``) is refused here, at parse time, since no
    CRM sends it and PostgreSQL text and JSONB cannot hold it."""
    if b"\x00" in body:
        raise MalformedWebhook("the body contains a NUL byte")
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        raise MalformedWebhook("the body is not UTF-8") from None
    except RecursionError:
        raise MalformedWebhook("the body is nested too deeply") from None
    except ValueError as exc:
        raise MalformedWebhook(f"the body is not valid JSON: {exc}") from None
    if b"\\u0000" in body:  # the only way left for a NUL into the value: walk it (not for every body)
        refuse_nul(value)
    return value


def refuse_nul(value: Any, where: str = "body") -> None:
    """Refuse a NUL character anywhere in a parsed value (keys included)."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                raise MalformedWebhook(f"{path} contains a NUL character (\\u0000)")
        elif isinstance(node, dict):
            for key, item in node.items():
                if "\x00" in str(key):
                    raise MalformedWebhook(f"a key in {path} contains a NUL character (\\u0000)")
                stack.append((item, f"{path}.{key}"))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node))


_DIGITS = re.compile(r"[0-9]{1,15}")


def digits(value: str | None, max_len: int = 15) -> int | None:
    """An ASCII decimal of at most ``max_len`` digits, else None (``"²".isdigit()`` is true, and
    ``int`` of 5,000 digits raises: neither reaches ``int`` here)."""
    if value is None or len(value) > max_len or _DIGITS.fullmatch(value) is None:
        return None
    return int(value)


def text(value: Any) -> str | None:
    """CRM ids arrive as numbers or strings; we compare them as text."""
    if value is None or value == "":
        return None
    return str(value)


def epoch(value: Any, per_second: int = 1) -> datetime | None:
    """A Unix timestamp (seconds, or milliseconds with ``per_second=1000``) as UTC, None if absurd."""
    if isinstance(value, str):
        value = digits(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (OverflowError, OSError, ValueError):
        return None

"""The one interface every channel implements, and the HTTP error classification they share.

A transport delivers one already-rendered message and either returns (delivered) or raises
`TransportError`. ``permanent=True`` means retrying cannot help (bad address, rejected
payload, missing configuration): the outbox marks the message failed at once. Anything else is
retried with backoff.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    import httpx

    from notifications.config import NotificationsConfig
    from notifications.settings import NotificationSettings
    from org.chart import PersonConfig

Format = Literal["email", "chat", "json"]


class TransportError(Exception):
    """Delivery failed; ``permanent`` says whether another attempt could succeed."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        """Seconds the server asked us to wait (HTTP 429/503 ``Retry-After``), if it said."""


@dataclass(frozen=True)
class Outgoing:
    """A rendered message for one person on one channel."""

    message_id: int
    dedupe_key: str
    kind: str
    channel: str
    """The channel the message was produced for (the transport may differ when redirected)."""
    recipient: str
    address: str
    """Channel address: e-mail, Telegram chat id, Slack webhook URL or handle, person id."""
    subject: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    """Structured form (webhook body)."""
    now: datetime | None = None
    links: tuple[tuple[str, str], ...] = ()
    """(label, URL) buttons a chat may show under the text: open the case, acknowledge."""
    actions: tuple[tuple[str, str], ...] = ()
    """(label, callback data) buttons a chat bot acts on when pressed (Telegram, notifications.telegram_actions)."""


class Transport(ABC):
    """A channel. Subclasses set ``kind`` and ``format`` and are registered in
    ``notifications.transports.REGISTRY``."""

    kind: ClassVar[str]
    format: ClassVar[Format]
    """Which rendering the channel needs: e-mail (subject + body), short chat text, or JSON."""

    def __init__(self, settings: NotificationSettings, config: NotificationsConfig) -> None:
        self.settings = settings
        self.config = config

    @classmethod
    @abstractmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        """Where this channel reaches the person, or None if it cannot (checked when producing)."""

    @abstractmethod
    def send(self, message: Outgoing) -> None:
        """Deliver or raise `TransportError`."""


def post(
    url: str, *, what: str, timeout: float, content: bytes, headers: dict[str, str] | None = None, check: bool = True
) -> httpx.Response:
    """POST and classify failures: 4xx (but 408, 429) permanent; 5xx, timeouts and network
    errors transient (``check=False`` leaves the status to the caller). ``what`` names the call
    in errors so URLs with secrets never reach the log."""
    import httpx  # imported when a message goes out: the CLI must start fast

    try:
        response = httpx.post(url, content=content, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise TransportError(f"{what}: timed out ({type(exc).__name__})", permanent=False) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise TransportError(f"{what}: bad URL ({exc})", permanent=True) from None
    except httpx.HTTPError as exc:
        raise TransportError(f"{what}: {type(exc).__name__}: {exc}", permanent=False) from None
    if response.is_success or not check:
        return response
    raise status_error(response, what)


def status_error(response: httpx.Response, what: str) -> TransportError:
    status = response.status_code
    permanent = 400 <= status < 500 and status not in (408, 429)
    body = response.text[:300].strip()
    return TransportError(
        f"{what}: HTTP {status}" + (f": {body}" if body else ""),
        permanent=permanent,
        retry_after=retry_after(response),
    )


MAX_RETRY_AFTER = 366 * 24 * 3600.0
"""No server's wish is taken beyond a year (the outbox caps it further by ``backoff_max_seconds``)."""


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: delay-seconds, or an HTTP-date measured against the answer's own
    ``Date`` header (so no clock of ours is involved). None if absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    seconds = bounded_seconds(value)
    if seconds is not None:
        return seconds
    try:
        at = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if at.tzinfo is None or sent.tzinfo is None:
        return None
    return bounded_seconds((at - sent).total_seconds())


def bounded_seconds(value: object) -> float | None:
    """A number of seconds a server asked for, as a finite float in [0, MAX_RETRY_AFTER], or None
    for anything that is not a number (garbage, NaN, booleans); ``1e308`` becomes the cap."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        return MAX_RETRY_AFTER
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)

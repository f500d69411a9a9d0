"""The Telegram Bot API through python-telegram-bot: one `Bot` per call, talking to the configured
base URL (``SLAFLOW_TELEGRAM_API_BASE``: Telegram, a self-hosted Bot API server or a test server),
with a request class that posts JSON (one of the Bot API's documented encodings) over httpx, and
the library's errors mapped onto the outbox's `TransportError` (permanent or not, ``retry_after``).

slaflow's callers are synchronous (outbox worker threads, the app's thread pool): `call` runs
one library coroutine to completion on its own event loop."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from notifications.settings import NotificationSettings
from notifications.transports.base import TransportError, bounded_seconds, retry_after

T = TypeVar("T")
os.environ.setdefault("PTB_TIMEDELTA", "true")
"""python-telegram-bot 22's opt-in to its next major's durations (``RetryAfter`` builds one even
when nobody reads it, and warns without the opt-in); slaflow reads seconds from the answer itself."""


class BadUrl(TelegramError):
    """The API base URL cannot be used (retrying cannot help)."""


class JsonRequest(BaseRequest):
    """Posts each Bot API call as ``application/json``; keeps the last answer for error details."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.last: httpx.Response | None = None

    @property
    def read_timeout(self) -> float | None:
        return self.timeout

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        parameters = request_data.parameters if request_data is not None else {}
        body = json.dumps(parameters, ensure_ascii=False).encode()  # objects nested, not JSON in strings
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                self.last = await client.request(method, url, content=body,
                                                 headers={"Content-Type": "application/json"})
        except httpx.TimeoutException as exc:
            raise TimedOut(f"timed out ({type(exc).__name__})") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise BadUrl(f"bad URL ({exc})") from None
        except httpx.HTTPError as exc:
            raise TelegramError(f"{type(exc).__name__}: {exc}") from None
        return self.last.status_code, self.last.content


class TelegramBot:
    """A configured bot: ``run(lambda bot: bot.send_message(...), what="sendMessage")``."""

    def __init__(self, settings: NotificationSettings) -> None:
        token = settings.telegram_token
        if token is None:
            raise TransportError("SLAFLOW_TELEGRAM_TOKEN is not set", permanent=True)
        self.token = token.get_secret_value()
        self.base = settings.telegram_api_base.rstrip("/") + "/bot"
        self.timeout = settings.http_timeout

    def run(self, call: Any, *, what: str) -> Any:
        """Run ``call(bot)`` (a coroutine of the library's `Bot`); raise `TransportError` on failure."""
        request = JsonRequest(self.timeout)
        bot = Bot(self.token, base_url=self.base, request=request, get_updates_request=JsonRequest(self.timeout))
        try:
            return _run(call(bot))
        except TelegramError as exc:
            raise transport_error(exc, f"telegram {what}", request.last) from None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """On its own event loop; in a thread of its own if this one already runs a loop (a caller
    inside async code: Prefect, Playwright's sync API)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="telegram") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def transport_error(exc: TelegramError, what: str, response: httpx.Response | None) -> TransportError:
    """4xx but 408/429 permanent (as every channel), flood control waits as long as Telegram asks."""
    status = response.status_code if response is not None and not response.is_success else None
    text = f"{what}: " + (f"HTTP {status}: " if status is not None else "") + exc.message
    if isinstance(exc, RetryAfter):  # the seconds as Telegram wrote them (the library's type is changing)
        return TransportError(text, permanent=False, retry_after=_asked(response))
    if isinstance(exc, BadUrl | BadRequest | Forbidden | InvalidToken | Conflict | ChatMigrated):
        return TransportError(text, permanent=True)
    permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
    return TransportError(text, permanent=permanent,
                          retry_after=retry_after(response) if response is not None else None)


def _asked(response: httpx.Response | None) -> float | None:
    """Telegram's 429 body carries ``parameters.retry_after`` (seconds); else ``Retry-After``."""
    if response is None:
        return None
    try:
        value = response.json().get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        value = None
    return bounded_seconds(value) if value is not None else retry_after(response)

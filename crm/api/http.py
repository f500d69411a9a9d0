"""One HTTP call to a CRM with bounded retries: 429 and 503 (rate limits; Bitrix24 answers 503
``QUERY_LIMIT_EXCEEDED``), other 5xx, timeouts and network errors are retried, obeying
``Retry-After`` up to a cap; other 4xx are permanent. Errors never carry the URL's secret."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from crm.sources import ApiAccess

Sleep = Callable[[float], None]


class CrmApiError(Exception):
    """A call failed; ``permanent`` says whether another try could succeed."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.permanent, self.retry_after, self.status = permanent, retry_after, status


def retry_after_seconds(response: httpx.Response, cap: float) -> float | None:
    """``Retry-After`` (seconds) bounded to ``[0, cap]``; absurd values (``1e308``, ``nan``) are capped."""
    raw = response.headers.get("retry-after", "")
    try:
        value = float(raw)
    except ValueError:
        return None
    if value != value:  # nan
        return cap
    return min(max(value, 0.0), cap)


def _transient(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


@dataclass
class CrmHttp:
    """Calls one CRM account's API. ``sleep`` is injected (tests record the waits)."""

    access: ApiAccess
    token: str
    what: str
    sleep: Sleep = time.sleep
    transport: httpx.BaseTransport | None = None
    client_secret: str | None = None
    """For OAuth refresh (Zoho): the client secret; ``token`` is then the refresh token."""
    budget_seconds: float | None = None
    """The most one call may spend waiting between tries (the webhook pipeline must not stall)."""
    waits: list[float] = field(default_factory=list)
    _client: httpx.Client | None = None

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.access.timeout_seconds, transport=self.transport)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def call(self, method: str, url: str, *, what: str, headers: dict[str, str] | None = None,
             params: dict[str, Any] | None = None, json: Any = None,
             ok: Callable[[httpx.Response], str | None] | None = None) -> httpx.Response:
        """The response of a successful call; ``ok`` may inspect a 2xx body and return an error
        message (Bitrix24 answers some errors with 200). Retries are bounded by ``max_retries``."""
        label = f"{self.what} {what}"
        attempt, waited = 0, 0.0
        while True:
            try:
                response = self.client().request(method, url, headers=headers, params=params, json=json)
            except httpx.TimeoutException as exc:
                error = CrmApiError(f"{label}: timed out ({type(exc).__name__})", permanent=False)
            except httpx.HTTPError as exc:
                error = CrmApiError(f"{label}: {type(exc).__name__}", permanent=False)
            else:
                if response.is_success:
                    problem = ok(response) if ok else None
                    if problem is None:
                        return response
                    error = CrmApiError(f"{label}: {problem}", permanent=True, status=response.status_code)
                else:
                    wait = retry_after_seconds(response, self.access.max_wait_seconds)
                    error = CrmApiError(f"{label}: HTTP {response.status_code}: {response.text[:300].strip()}",
                                        permanent=not _transient(response.status_code), retry_after=wait,
                                        status=response.status_code)
            if error.permanent or attempt >= self.access.max_retries:
                raise error
            delay = error.retry_after if error.retry_after is not None else min(
                2.0 ** attempt, self.access.max_wait_seconds)
            if self.budget_seconds is not None and waited + delay > self.budget_seconds:
                raise error  # transient: the caller retries later (the inbox row is failed, then replayed)
            waited += delay
            self.waits.append(delay)
            self.sleep(delay)
            attempt += 1

"""Request bodies are limited while they are read, before any route, token or signature check.

A pure ASGI middleware (outermost but for Starlette's error handler): a declared
``Content-Length`` over the route's limit is refused at once, without reading a byte; a body
without a length (chunked) is read up to the limit and refused as soon as it passes it; a
declared body is counted as it streams. So a 100 MB body costs at most the limit in memory,
whoever sends it. Limits are per path prefix (settings ``body_limits``; the longest prefix wins)
with ``max_body_bytes`` for everything else."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BodyLimits:
    default: int
    by_prefix: Mapping[str, int] = field(default_factory=dict)

    def for_path(self, path: str) -> int:
        matching = [prefix for prefix in self.by_prefix if path.startswith(prefix)]
        return self.by_prefix[max(matching, key=len)] if matching else self.default


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a declared body streams past the limit (FastAPI passes an
    HTTPException from body reading through unchanged, so it becomes a 413 answer)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def too_large(limit: int) -> str:
    return f"the request body is larger than the limit of {limit} bytes for this route"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await _refuse(send, 413, too_large(limit), "BodyTooLarge", scope)
                return
            await self.app(scope, _counting(receive, limit), send)
            return
        if not _chunked(scope):
            await self.app(scope, receive, send)
            return
        # No length: read up to the limit here, then hand the app what was read.
        buffered, more = bytearray(), True
        disconnect: Message | None = None
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect = message
                break
            buffered += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(buffered) > limit:
                await _refuse(send, 413, too_large(limit), "BodyTooLarge", scope)
                return
        await self.app(scope, _replay(bytes(buffered), disconnect, receive), send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    if raw is None:
        return None
    text = raw.strip()
    # The HTTP server has already refused a malformed length; be strict anyway (digits only).
    return int(text) if text.isdigit() and text.isascii() and len(text) < 20 else 2**63


def _chunked(scope: Scope) -> bool:
    return b"chunked" in (_header(scope, b"transfer-encoding") or b"").lower()


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise BodyTooLarge(limit)
        return message

    return counted


def _replay(body: bytes, disconnect: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if disconnect is not None and not body:
                return disconnect
            return {"type": "http.request", "body": body, "more_body": False}
        return disconnect or await receive()

    return replayed


async def _refuse(send: Send, status: int, detail: str, error: str, scope: Scope) -> None:
    client = scope.get("client") or ("?", 0)
    log.warning("%s %s from %s refused (%s): %s", scope.get("method"), scope.get("path"), client[0], status, detail)
    body = json.dumps({"detail": detail, "error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

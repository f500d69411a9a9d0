"""Body limits are enforced while reading, on every route, before any token or signature check:
a declared length over the limit is refused unread, a streamed (chunked) body at the limit.
The memory figures (a 100 MB body, four at once) are in bench/body_limits.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.limits import BodyLimitMiddleware, BodyLimits, BodyTooLarge
from api.testing import TestClient, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from runtime.assembly import Runtime
from runtime.settings import Settings

LIMITS = {"/webhooks/": 4096, "/webhooks/generic": 8192}


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    served = Runtime(Settings(database_url=sqlite_url, config=write_config(tmp_path), max_body_bytes=2048,
                              body_limits=LIMITS))
    with TestClient(create_app(served, clock, environ=samples.SAMPLE_ENV)) as client:
        yield client
    served.engine.dispose()


def chunks(size: int, piece: int = 1000) -> Iterator[bytes]:
    for start in range(0, size, piece):
        yield b"x" * min(piece, size - start)


@pytest.mark.parametrize(("path", "limit"), [("/api/cases", 2048), ("/webhooks/hubspot", 4096),
                                             ("/webhooks/generic", 8192), ("/dashboard/login", 2048)])
def test_it_refuses_a_declared_length_over_the_routes_limit_before_authentication(
    client: TestClient, path: str, limit: int
) -> None:
    # No token, no signature: the answer is still 413, not 401 (the body was never read).
    answer = client.post(path, content=b"x" * (limit + 1), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"detail": f"the request body is larger than the limit of {limit} bytes for this route",
                             "error": "BodyTooLarge"}


@pytest.mark.parametrize(("path", "limit"), [("/api/cases", 2048), ("/webhooks/generic", 8192)])
def test_it_stops_a_streamed_body_at_the_limit(client: TestClient, path: str, limit: int) -> None:
    answer = client.post(path, content=chunks(limit + 1), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert str(limit) in answer.json()["detail"]


def test_a_streamed_body_within_the_limit_reaches_the_route(client: TestClient, clock: SimulatedClock) -> None:
    body, headers = samples.generic(
        {"id": "erp-7", "entity": "order", "entity_id": "A-7", "event": "stage_changed", "stage": "rush_requested",
         "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "x" * 6000}},
        secret=samples.SAMPLE_ENV["SLAFLOW_GENERIC_SECRET"], timestamp=int(clock.now().timestamp()))
    assert 4096 < len(body) <= 8192  # over the /webhooks/ limit, within /webhooks/generic's
    answer = client.post("/webhooks/generic", content=iter([body[:1000], body[1000:]]),
                         headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False


def test_a_body_within_the_limit_is_answered_by_the_route_as_before(client: TestClient) -> None:
    answer = client.post("/api/cases", json={"type": "reservation", "data": {}}, headers=token_header("ivanov"))
    assert answer.status_code == 422  # the engine names the missing fields: the body got through
    assert answer.json()["error"] == "MissingFields"
    assert client.post("/api/cases", json={"type": "reservation"}).status_code == 401


@given(pieces=st.lists(st.integers(min_value=0, max_value=700), max_size=12),
       declared=st.booleans(), limit=st.integers(min_value=1, max_value=2000))
@settings(max_examples=200, deadline=None)
def test_no_route_ever_receives_more_than_its_limit(pieces: list[int], declared: bool, limit: int) -> None:
    """Whatever the chunking and framing, the app behind the middleware either reads the whole
    body (when it is within the limit) or is refused with 413 having read at most the limit."""
    size = sum(pieces)
    read: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        read.append(len(body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": b"x" * n, "more_body": i < len(pieces) - 1}
                for i, n in enumerate(pieces)] or [{"type": "http.request", "body": b"", "more_body": False}]
    framing = (b"content-length", str(size).encode()) if declared else (b"transfer-encoding", b"chunked")
    scope = {"type": "http", "method": "POST", "path": "/api/cases", "headers": [framing]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def call() -> None:
        try:
            await BodyLimitMiddleware(app, BodyLimits(limit))(scope, receive, send)
        except BodyTooLarge:  # raised inside the app's read; FastAPI turns it into a 413 answer
            sent.append({"type": "http.response.start", "status": 413})

    asyncio.run(call())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    if size <= limit:
        assert (status, read) == (200, [size])
    else:
        assert status == 413 and read == []

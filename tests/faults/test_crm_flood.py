"""A CRM flooding a real uvicorn server: a burst of signed webhooks from 12 parallel connections,
with redeliveries mixed in, sent faster than cases are opened (so a processing backlog builds up).
Every answer is 200 (or an honest 503, retried), every accepted webhook opens exactly one case
once the backlog drains, and redeliveries open nothing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.testing import runtime, write_config
from core.clock import SimulatedClock
from crm import samples
from tests.faults.support import SECRET, Tally, verify

WEBHOOKS = 200
REDELIVERED = 20
CONNECTIONS = 12


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[str, Any]]:
    served = runtime(db_url, write_config(tmp_path))
    app = create_app(served, clock, environ=samples.SAMPLE_ENV)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{server.config.port}", app
    finally:
        server.should_exit = True
        thread.join(10)
        served.engine.dispose()


def test_a_crm_flooding_the_webhook_endpoint(
    server: tuple[str, Any], clock: SimulatedClock, db_url: str
) -> None:
    base, app = server
    tally = Tally("CRM flood", "postgresql" if "postgresql" in db_url else "sqlite")
    stamp = int(clock.now().timestamp())
    requests = []
    for i in range(WEBHOOKS):
        event = {"id": f"flood-{i}", "entity": "order", "entity_id": f"flood-{i}", "event": "stage_changed",
                 "stage": "rush_requested",
                 "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "flood"}}
        requests.append((f"flood-{i}", *samples.generic(event, secret=SECRET, timestamp=stamp)))
    requests += requests[:REDELIVERED]  # the CRM sends some twice
    lock = threading.Lock()
    local = threading.local()
    clients: list[httpx.Client] = []

    def send(item: tuple[str, bytes, dict[str, str]]) -> None:
        key, body, headers = item
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=30)
            with lock:
                clients.append(local.client)
        for _ in range(20):  # a CRM retries what was refused with 503
            answer = local.client.post("/webhooks/generic", content=body, headers=headers)
            with lock:
                tally.sent += 1
                tally.statuses[answer.status_code] += 1
                if answer.status_code == 503 and "retry-after" not in answer.headers:
                    tally.without_retry_after += 1
                if answer.status_code == 200:
                    tally.acked_hooks.add(key)
                    if answer.json()["duplicate"]:
                        tally.extra["redeliveries answered as duplicates"] = tally.extra.get(
                            "redeliveries answered as duplicates", 0) + 1
            if answer.status_code != 503:
                return
            time.sleep(0.1)

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            list(pool.map(send, requests))
    finally:
        for client in clients:
            client.close()
    seconds = time.perf_counter() - started
    tally.extra["sent per second"] = round(len(requests) / seconds)
    assert app.state.slaflow.pipeline.wait_idle(60)
    tally.extra["drained after (s)"] = round(time.perf_counter() - started, 1)
    assert tally.statuses[200] >= len(requests), tally.statuses
    assert tally.extra.get("redeliveries answered as duplicates", 0) >= REDELIVERED
    verify(db_url, tally)

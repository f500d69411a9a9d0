"""One real server: uvicorn on 127.0.0.1 (a free port, in a thread), a real HTTP client posting a
signed webhook over TCP, and the case it opens."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from api.testing import admin_header, runtime, token_header, write_config
from core.clock import SimulatedClock
from crm import samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_it_opens_a_case_from_a_webhook_posted_to_a_real_uvicorn_server(
    sqlite_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    config = write_config(tmp_path)
    admin = admin_header(sqlite_url, config)
    served = runtime(sqlite_url, config)
    app = create_app(served, clock, environ=samples.SAMPLE_ENV)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        base = f"http://127.0.0.1:{server.config.port}"
        body, headers = samples.generic(
            {"id": "erp-1", "entity": "order", "entity_id": "A-1042", "event": "stage_changed",
             "stage": "rush_requested",
             "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "new customer"}},
            secret=samples.SAMPLE_ENV["SLAFLOW_GENERIC_SECRET"], timestamp=int(clock.now().timestamp()))
        with httpx.Client(base_url=base, timeout=10) as client:
            accepted = client.post("/webhooks/generic", content=body, headers=headers)
            assert accepted.status_code == 200 and accepted.json()["duplicate"] is False
            assert app.state.slaflow.pipeline.wait_idle(10)
            stored = client.get(f"/webhooks/events/{accepted.json()['id']}", headers=admin).json()
            [action] = stored["result"]["actions"]
            case = client.get(f"/api/cases/{action['case_id']}", headers=token_header("ivanov")).json()
    finally:
        server.should_exit = True
        thread.join(10)
        served.engine.dispose()
    assert (stored["status"], action["outcome"]) == ("processed", "opened")
    assert (case["type"], case["state"], case["data"]["order"]) == ("rush_delivery", "slot_confirmation", "A-1042")

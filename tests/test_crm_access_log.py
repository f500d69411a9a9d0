"""A real uvicorn server with its access log on: a webhook URL's token never reaches the log."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from api.testing import runtime, write_config
from core.clock import SimulatedClock
from crm import samples
from tests.test_api_server import free_port


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_it_writes_the_amocrm_webhook_url_to_the_access_log_with_its_token_blanked(
    sqlite_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    served = runtime(sqlite_url, write_config(tmp_path))
    app = create_app(served, clock, environ=samples.SAMPLE_ENV)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="info",
                                           access_log=True, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    capture = Capture()
    access = logging.getLogger("uvicorn.access")
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        access.addHandler(capture)
        token = samples.SAMPLE_ENV["SLAFLOW_AMOCRM_TOKEN"]
        body, headers = samples.amocrm_lead("status", [{"id": 11, "status_id": 1, "pipeline_id": 2}])
        with httpx.Client(base_url=f"http://127.0.0.1:{server.config.port}", timeout=10) as client:
            assert client.post(f"/webhooks/amocrm?token={token}&x=1", content=body, headers=headers).status_code == 200
            assert client.post("/webhooks/amocrm?token=a-guess", content=body, headers=headers).status_code == 401
        deadline = time.monotonic() + 5
        while len(capture.lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        access.removeHandler(capture)
        server.should_exit = True
        thread.join(10)
        served.engine.dispose()
    assert len(capture.lines) == 2, capture.lines
    assert all(token not in line and "a-guess" not in line for line in capture.lines)
    assert "POST /webhooks/amocrm?token=***&x=1" in capture.lines[0] and "?token=***" in capture.lines[1]

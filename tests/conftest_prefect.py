"""Prefect for the tests: offline, in a temporary PREFECT_HOME, one test server per module.

Import this module before anything imports prefect: Prefect reads its settings (home folder,
API URL) when it is first imported. The variables are set here, at import, for that reason.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="slaflow-prefect-home-")
atexit.register(shutil.rmtree, _HOME, True)
os.environ.update(
    {
        "PREFECT_HOME": _HOME,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    }
)
# Never talk to a real server from the tests, whatever the developer's shell says.
for _name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
    os.environ.pop(_name, None)


STARTUP_SECONDS = int(os.environ.get("SLAFLOW_TEST_PREFECT_STARTUP_SECONDS", "300"))
"""How long the test server may take to start: ~10 s on a quiet machine, minutes on a 2-core one
with both cores busy (Prefect's own default, 20-30 s, then fails the whole module)."""
TIMEOUT = STARTUP_SECONDS + 120
"""pytest-timeout for a test of a module with the server (its set-up counts against the first test)."""

FASTAPI_BREAKS_PREFECT_SERVER = (0, 151)
"""FastAPI 0.151 rejects the explicit nulls Prefect 3.8's client sends in filter bodies (422 on
/artifacts/filter and friends); 0.155 drops ``Body(min_items=...)``, which the server's routes
use, so the server no longer imports. The project must pin ``fastapi<0.151`` for Prefect."""


def _server_problem() -> str | None:
    """Why the Prefect test server cannot work here, or None."""
    import fastapi
    import prefect

    version = tuple(int(part) for part in fastapi.__version__.split(".")[:2])
    if version >= FASTAPI_BREAKS_PREFECT_SERVER:
        return (
            f"Prefect {prefect.__version__}'s server does not work with FastAPI {fastapi.__version__} "
            "(needs fastapi<0.151; see tests/conftest_prefect.py)"
        )
    return None


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    """One Prefect test server for the module (it takes ~10 s to start), flow heartbeats off
    (a sync flow run otherwise waits ~1 s for its heartbeat thread)."""
    problem = _server_problem()
    if problem:  # fail, never skip: a silently skipped Prefect suite would hide a broken scheduler
        pytest.fail(problem)
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    before = set(map(id, SubprocessASGIServer._instances.values()))
    try:
        with (
            prefect_test_harness(server_startup_timeout=STARTUP_SECONDS),
            temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        ):
            yield
    finally:
        # The harness stops its server when it exits normally, but not when the start times out;
        # stop every server started here either way, so no process outlives the tests.
        for server in list(SubprocessASGIServer._instances.values()):
            if id(server) not in before:
                server.stop()

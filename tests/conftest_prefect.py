"""Prefect for the tests: offline, in a temporary PREFECT_HOME, one test server per module.

Import this module before anything imports prefect: Prefect reads its settings (home folder,
API URL) when it is first imported. The variables are set here, at import, for that reason.
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import inspect
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

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


def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect database migrated once per test session, shared by the xdist workers: a server
    on a fresh file spends ~10-15 s of its ~20 s start migrating it, on a migrated one ~6 s."""
    import prefect

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # (the session's folder, above each worker's own)
    folder = root / f"prefect-template-{prefect.__version__}"
    folder.mkdir(exist_ok=True)
    template = folder / "prefect.db"
    lock = os.open(folder / "lock", os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # (the other worker waits for the first one's template)
        if not template.exists():
            _migrate(folder / "migrating.db")
            partial = folder / "template.partial"
            partial.unlink(missing_ok=True)
            with closing(sqlite3.connect(folder / "migrating.db")) as conn:  # one file, WAL included
                conn.execute("VACUUM INTO ?", (str(partial),))
            os.replace(partial, template)
    finally:
        os.close(lock)  # (closing releases the lock)
    return template


def _migrate(path: Path) -> None:
    """What the test server does first on a fresh file (Prefect's own migrations), done here."""
    from prefect.server.database.dependencies import provide_database_interface, temporary_database_interface
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    with (
        temporary_database_interface(),
        temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{path}"}),
    ):
        # (a loop of its own: Prefect disposes of the engine it made there when the loop closes)
        asyncio.run(provide_database_interface().create_db())


@contextmanager
def _test_server(database: Path) -> Iterator[None]:
    """Prefect's ``prefect_test_harness`` (3.8), with the server's database at ``database``."""
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.server.database.dependencies import temporary_database_interface
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings
    from prefect.testing.utilities import _find_available_port
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain_workers() -> None:
        """The logs and events still queued, sent before the server stops (as the harness does)."""
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # (the worker never started)
            pass
        events = EventsWorker.drain_all()
        if inspect.isawaitable(events):
            await events

    with ExitStack() as stack:
        stack.enter_context(temporary_database_interface())
        stack.enter_context(temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: f"sqlite+aiosqlite:///{database}"}))
        server = SubprocessASGIServer(port=_find_available_port())
        # Registered as the default server, so that Prefect's own code asking for one during a
        # flow run finds this one instead of starting another (the harness does the same).
        prior_default = SubprocessASGIServer._instances.get(None)
        SubprocessASGIServer._instances[None] = server
        try:
            server.start(timeout=STARTUP_SECONDS)
            stack.enter_context(temporary_settings({PREFECT_API_URL: server.api_url}))
            stack.enter_context(prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()))
            yield
            run_coro_as_sync(drain_workers())
        finally:
            server.stop()
            if prior_default is not None:
                SubprocessASGIServer._instances[None] = prior_default
            else:
                SubprocessASGIServer._instances.pop(None, None)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One Prefect test server for the module, on a copy of the session's migrated database, flow
    heartbeats off (a sync flow run otherwise waits ~1 s for its heartbeat thread)."""
    problem = _server_problem()
    if problem:  # fail, never skip: a silently skipped Prefect suite would hide a broken scheduler
        pytest.fail(problem)
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    database = tmp_path_factory.mktemp("prefect") / "prefect.db"
    shutil.copy(_template(tmp_path_factory), database)
    before = set(map(id, SubprocessASGIServer._instances.values()))
    try:
        with _test_server(database), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield
    finally:
        # Stop every server started here, whatever happened, so no process outlives the tests.
        for server in list(SubprocessASGIServer._instances.values()):
            if id(server) not in before:
                server.stop()

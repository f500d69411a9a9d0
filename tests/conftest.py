"""Shared fixtures: real databases (a SQLite file per test; PostgreSQL when
``SLAFLOW_TEST_PG_URL`` is set, as `.ci/run` does), the example company, a fixed clock."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from org.chart import Company
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, migrate, normalise_url, session_factory
from storage.models import Base

# The suite imports ~150 test modules in each xdist worker and starts hundreds of Python
# processes (the CLI, Prefect servers and workers, uvicorn): with PYTHONDONTWRITEBYTECODE set (as
# on this project's machines) each recompiled everything and pytest re-rewrote every test
# module's assertions, ~8 s of collection a worker. Bytecode caches are __pycache__/ (ignored by git).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

PG_URL = os.environ.get("SLAFLOW_TEST_PG_URL")
os.environ.setdefault("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))  # commands need a company; the tests use the example

# Monday 16 November 2026, 09:00 in Moscow: an ordinary working week (no RU holidays).
MONDAY_0900_MSK = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)


FIGURES_SECTION = "fault injection: figures"
_figures: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collects the figures tests attach to their reports (tests/faults/conftest.py), from
    whichever xdist worker ran them."""
    for name, lines in report.user_properties:
        if name == FIGURES_SECTION and isinstance(lines, list):
            _figures.extend(str(line) for line in lines)


SLOWEST_FIRST = (
    "test_prefect_pool.py", "test_cli.py", "test_flows_prefect.py", "test_api_schemathesis.py",
    "test_engine_properties.py", "test_lead_letter.py", "test_role_matrix.py", "test_calendar_properties.py",
    "test_output_consistency.py", "test_what_if_properties.py", "test_signin.py", "test_first_run.py",
    "test_pg_faults.py", "test_sweeper_concurrency.py", "test_backup.py", "test_dashboard_browser.py",
)
"""Files that take longest, longest first (measured 2026-11-30; test_api_schemathesis.py 55 -> 31 s
with -n 0 after its date-times were drawn in the documented range; test_cli.py between the two
Prefect files, so that the second worker does not sit idle while the first migrates the Prefect
database both copy, tests/conftest_prefect.py). xdist gives each worker a file at
a time (``--dist loadfile``) in collection order (``--no-loadscope-reorder``): these start first,
so that the workers finish together instead of one running a long file alone at the end. The
other files follow, those with the most tests first (what xdist itself would do)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests_in: dict[str, int] = {}
    for item in items:
        tests_in[item.path.name] = tests_in.get(item.path.name, 0) + 1

    def rank(item: pytest.Item) -> tuple[int, int, str]:
        name = item.path.name
        first = SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)
        return first, -tests_in[name], str(item.path)

    items.sort(key=rank)  # (stable: a file's tests keep their order)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _figures:
        terminalreporter.section(FIGURES_SECTION)
        for line in _figures:
            terminalreporter.write_line(line)


_CLUSTER_LOCK = Path(tempfile.gettempdir()) / "slaflow-tests-postgresql-cluster.lock"
_CLUSTER_GATE = Path(tempfile.gettempdir()) / "slaflow-tests-postgresql-cluster.gate"


@contextmanager
def cluster_lock(*, exclusive: bool) -> Iterator[None]:
    """A lock shared by every pytest process on this machine (xdist workers included): tests on
    PostgreSQL hold it shared; a test that restarts the whole cluster holds it alone. flock
    favours nobody, so tests starting one after another could hold it shared for ever: the test
    that wants it alone first closes a gate, which later tests pass only once it has finished."""
    gate = os.open(_CLUSTER_GATE, os.O_CREAT | os.O_RDWR, 0o666)
    fd = os.open(_CLUSTER_LOCK, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(gate, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if not exclusive:
            os.close(gate)
            gate = -1
        yield
    finally:
        os.close(fd)  # (closing releases the lock)
        if gate >= 0:
            os.close(gate)


@pytest.fixture(autouse=True)
def _postgresql_cluster(request: pytest.FixtureRequest) -> Iterator[None]:
    """While one worker restarts PostgreSQL (``pg_cluster_exclusive``), the others' tests wait (any
    test may reach the server: a fixture, a command, a backup)."""
    if not PG_URL:
        yield
        return
    with cluster_lock(exclusive=request.node.get_closest_marker("pg_cluster_exclusive") is not None):
        yield


@pytest.fixture(scope="session")
def company() -> Company:
    return load_company(EXAMPLE_COMPANY)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(MONDAY_0900_MSK)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "slaflow.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


ASYNC_COMMIT = "synchronous_commit = off"
"""The test database's commits do not wait for their WAL to reach the disk (0.5-3 ms a commit on
this machine, ~0.1 ms without): a crash could lose the last ones, and only the fault suite crashes
the server (tests/faults/test_pg_faults.py turns it back on for its tests)."""


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    if not PG_URL:
        pytest.skip("SLAFLOW_TEST_PG_URL is not set (.ci/run sets it when PostgreSQL is reachable)")
    # pre-ping: the fault suite restarts the cluster, and the drop at the end must still work.
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"slaflow_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        conn.execute(text(f'ALTER DATABASE "{name}" SET {ASYNC_COMMIT}'))
    url = normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    cleaner = _cleaners.pop(url, None)
    if cleaner is not None:
        cleaner.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_EMPTY_ALL_TABLES = """
DO $$
DECLARE
    name text;
    seq record;
BEGIN
    FOREACH name IN ARRAY string_to_array(:tables, ',') LOOP
        EXECUTE format('DELETE FROM %I', name);
    END LOOP;
    FOR seq IN SELECT schemaname, sequencename, start_value FROM pg_sequences
               WHERE schemaname = current_schema() AND last_value IS NOT NULL LOOP
        PERFORM setval(format('%I.%I', seq.schemaname, seq.sequencename), seq.start_value, false);
    END LOOP;
END $$"""
"""Every table emptied, children first, and every used sequence back at its start: what
``TRUNCATE ... RESTART IDENTITY`` does, in one round trip. DELETE, not TRUNCATE: TRUNCATE makes
and syncs a new file for each of the ~30 tables (1-2 s a test on a busy machine); deleting the
few rows a test leaves takes milliseconds."""


def _truncate(url: str) -> None:
    """Empties the test database at ``url`` (a test starts from the migrated, empty schema)."""
    children_first = ",".join(table.name for table in reversed(Base.metadata.sorted_tables))
    engine = _cleaners.get(url)
    if engine is None:
        engine = _cleaners[url] = make_engine(url)
    for attempt in (1, 2):  # a fault test may have killed its connection a moment ago (not pinged then)
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL synchronous_commit = off"))  # nothing to keep: a throwaway database
                conn.execute(text(_EMPTY_ALL_TABLES.replace(":tables", f"'{children_first}'")))
            return
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise


_cleaners: dict[str, Engine] = {}
"""One connection per test database for emptying it (connecting costs more than the emptying)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("pg_database"))
    _truncate(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)

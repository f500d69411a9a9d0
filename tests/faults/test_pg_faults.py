"""PostgreSQL under storage faults: the database made read-only, connections killed
(``pg_terminate_backend``, also in the middle of a transaction) and, only when asked for with
SLAFLOW_TEST_PG_RESTART=1 (it restarts the whole cluster, which other users may share), the
server restarted under load. Only this test session's own database is touched otherwise."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from api.testing import TestClient, serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from storage.db import normalise_url
from tests.conftest import ASYNC_COMMIT, PG_URL, _truncate
from tests.faults.support import Tally, Workload, verify

N = 4


@pytest.fixture
def pg_url(pg_database: str, admin: Engine) -> Iterator[str]:
    """The session's database, emptied, with commits flushed to disk before they are acknowledged
    as on a real server (the other tests' commits do not wait: tests/conftest.py ASYNC_COMMIT)."""
    _truncate(pg_database)
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name_of(pg_database)}" SET synchronous_commit = on'))
    yield pg_database
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name_of(pg_database)}" SET {ASYNC_COMMIT}'))


@pytest.fixture
def admin() -> Iterator[Engine]:
    """A connection to the server's maintenance database (never to the one under test)."""
    assert PG_URL
    engine = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # (a restart)
    yield engine
    engine.dispose()


@pytest.fixture
def client(pg_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    with serving(pg_url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        yield client


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def terminate(admin: Engine, database: str, *, waiting_on_a_lock: bool = False) -> list[int]:
    """``pg_terminate_backend`` for this database's connections; their pids."""
    query = ("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db "
             "AND pid <> pg_backend_pid()" + (" AND wait_event_type = 'Lock'" if waiting_on_a_lock else ""))
    with admin.connect() as conn:
        return [int(row[0]) for row in conn.execute(text(query), {"db": database})]


@contextlib.contextmanager
def read_only(admin: Engine, database: str) -> Iterator[None]:
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on'))
    terminate(admin, database)  # sessions take the setting when they start
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" RESET default_transaction_read_only'))


def test_the_database_made_read_only(client: TestClient, clock: SimulatedClock, pg_url: str, admin: Engine) -> None:
    tally = Tally("database read-only (default_transaction_read_only)", "postgresql")
    work = Workload(client, clock, tally)
    assert set(work.round("before", N)) <= {200, 201}
    with read_only(admin, name_of(pg_url)):
        assert work.ready() == 503
        during = work.round("during", N)
        assert set(during) == {503}, during
    assert work.wait_ready() == 200
    assert set(work.round("after", N)) <= {200, 201}
    work.retry_pending()
    assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]
    verify(pg_url, tally)


def test_a_connection_killed_in_the_middle_of_a_transaction(
    client: TestClient, clock: SimulatedClock, pg_url: str, admin: Engine
) -> None:
    """The request's transaction is held at a row lock, killed there, and retried: the trigger
    takes effect exactly once."""
    tally = Tally("connection killed mid-transaction", "postgresql")
    work = Workload(client, clock, tally)
    assert work.case("held") == 201
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        case_id = int(session.execute(text("SELECT id FROM cases WHERE external_key = 'held'")).scalar_one())
    locker = create_engine(normalise_url(pg_url))
    answer: dict[str, Any] = {}
    body = {"trigger": "approve", "expected_version": 1}

    def fire() -> None:
        answer["response"] = client.post(f"/api/cases/{case_id}/fire", json=body, headers=token_header("kuznetsova"))

    try:
        with locker.connect() as lock:
            lock.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case_id})
            thread = threading.Thread(target=fire)
            thread.start()
            killed: list[int] = []
            deadline = time.monotonic() + 10
            while not killed and time.monotonic() < deadline:
                time.sleep(0.05)
                killed = terminate(admin, name_of(pg_url), waiting_on_a_lock=True)
            assert killed, "the request never waited on the row lock"
            thread.join(15)
            lock.rollback()
    finally:
        locker.dispose()
    first = answer["response"]
    tally.sent += 1
    tally.statuses[first.status_code] += 1
    assert first.status_code == 503 and first.headers["Retry-After"], first.text
    retried = client.post(f"/api/cases/{case_id}/fire", json=body, headers=token_header("kuznetsova"))
    again = client.post(f"/api/cases/{case_id}/fire", json=body, headers=token_header("kuznetsova"))
    tally.sent += 2
    tally.statuses.update([retried.status_code, again.status_code])
    assert retried.status_code == 200 and retried.json()["version"] == 2 and retried.json()["state"] == "reserving"
    assert again.status_code == 409  # stale version: the trigger is not applied twice
    assert [e["trigger"] for e in retried.json()["events"]].count("approve") == 1
    verify(pg_url, tally)


@contextlib.contextmanager
def killing(admin: Engine, database: str, every: float = 0.03) -> Iterator[list[int]]:
    """Terminate every connection to the database, again and again, while the block runs."""
    killed: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            killed.extend(terminate(admin, database))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield killed
    finally:
        stop.set()
        thread.join(5)


def test_connections_killed_again_and_again_under_load(
    client: TestClient, clock: SimulatedClock, pg_url: str, admin: Engine
) -> None:
    tally = Tally("connections killed under load", "postgresql")
    work = Workload(client, clock, tally)
    with killing(admin, name_of(pg_url)) as killed:
        work.round("load", 25)
    tally.extra["connections killed"] = len(killed)
    assert killed
    assert work.wait_ready() == 200
    work.retry_pending()
    assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]
    verify(pg_url, tally)


@pytest.mark.pg_cluster_exclusive  # other xdist workers' PostgreSQL tests wait (tests/conftest.py)
@pytest.mark.skipif(os.environ.get("SLAFLOW_TEST_PG_RESTART") != "1",
                    reason="restarts the whole PostgreSQL cluster: set SLAFLOW_TEST_PG_RESTART=1 on your own server")
def test_postgresql_restarted_under_load(client: TestClient, clock: SimulatedClock, pg_url: str) -> None:
    tally = Tally("PostgreSQL restarted under load", "postgresql")
    work = Workload(client, clock, tally)
    cluster = os.environ.get("SLAFLOW_TEST_PG_CLUSTER", "")  # e.g. "15 main"; default: the only one
    if not cluster:
        [version] = os.listdir("/etc/postgresql")
        cluster = f"{version} main"
    restart = subprocess.Popen(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster.split(), "restart"])
    work.round("load", 25)
    assert restart.wait(120) == 0
    assert work.wait_ready(60) == 200
    work.retry_pending(60)
    assert client.app.state.slaflow.pipeline.wait_idle(60)  # type: ignore[attr-defined]
    verify(pg_url, tally)

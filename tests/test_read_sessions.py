"""Pages and API reads on SQLite neither take nor wait for the write lock: they read the last
commit while a writer holds the lock (an import, ``slaflow reindex``, the inbox processor), and a
write through a read session fails instead of slipping past the lock."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from api.testing import TestClient, runtime, serving, set_passwords, sign_in, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from org.tokens import create_token
from slaflow.cli import main
from storage.models import StoredToken
from tests.test_api_rest import opened


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def app(sqlite_url: str, config: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    set_passwords(sqlite_url, config)
    with serving(sqlite_url, config, clock, samples.SAMPLE_ENV) as client:
        yield client


def opened_id(app: TestClient) -> int:
    return int(opened(app)["id"])


class WriteLock:
    """Another connection holding SQLite's write lock, with an uncommitted change of a case."""

    def __init__(self, url: str) -> None:
        self.connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, *_: Any) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


def timed_get(client: TestClient, path: str, **options: Any) -> Any:
    began = time.perf_counter()
    answer = client.get(path, **options)
    seconds = time.perf_counter() - began
    assert seconds < 5, f"{path} waited {seconds:.1f} s for the write lock"  # the busy timeout is 30 s
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return answer


@pytest.mark.timeout(120)
def test_pages_and_api_reads_answer_the_last_commit_while_a_writer_holds_the_lock(
    app: TestClient, sqlite_url: str
) -> None:
    case_id = opened_id(app)
    assert sign_in(app, "kuznetsova").status_code == 303
    with WriteLock(sqlite_url) as writer:
        writer.execute("UPDATE cases SET state = 'uncommitted' WHERE id = ?", (case_id,))
        shown = timed_get(app, f"/api/cases/{case_id}", headers=token_header("ivanov")).json()
        assert shown["state"] != "uncommitted"  # the last commit, not the writer's change
        listed = timed_get(app, "/api/cases", headers=token_header("ivanov")).json()
        assert [row["id"] for row in listed] == [case_id]
        timed_get(app, "/api/sla/departments", headers=token_header("orlov"))
        timed_get(app, "/api/breaches", headers=token_header("orlov"))
        for page in ("/dashboard", "/dashboard/queue", f"/dashboard/cases/{case_id}"):
            assert "uncommitted" not in timed_get(app, page).text
    # Once the lock is free the next write goes through, and the next read sees it.
    second = opened_id(app)
    listed = app.get("/api/cases", headers=token_header("ivanov")).json()
    assert sorted(row["id"] for row in listed) == sorted([case_id, second])


@pytest.mark.timeout(120)
def test_a_stored_token_reads_without_the_lock_once_its_last_use_is_recorded(
    app: TestClient, sqlite_url: str, config: Path, clock: SimulatedClock
) -> None:
    served = runtime(sqlite_url, config)
    try:
        with served.sessions.begin() as session:
            token = create_token(session, served.company, name="popov-reader", now=clock.now(), person="popov")
    finally:
        served.close()
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.get("/api/cases", headers=bearer).status_code == 200  # records the first use (a write)
    with WriteLock(sqlite_url):
        timed_get(app, "/api/cases", headers=bearer)  # used within the minute: nothing to write
    clock.advance(timedelta(minutes=2))
    assert app.get("/api/cases", headers=bearer).status_code == 200
    with app.app.state.slaflow.reads() as session:  # type: ignore[attr-defined]
        used = session.scalar(select(StoredToken.last_used_at).where(StoredToken.name == "popov-reader"))
    assert used == clock.now()


def test_a_write_through_a_read_session_fails_and_changes_nothing(
    sqlite_url: str, config: Path, clock: SimulatedClock
) -> None:
    served = runtime(sqlite_url, config)
    try:
        with served.sessions.begin() as session:
            create_token(session, served.company, name="kept", now=clock.now(), person="popov")
        with served.reads() as session, pytest.raises(OperationalError, match="readonly"):
            session.execute(update(StoredToken).values(name="changed"))
            session.commit()
        with served.reads() as session:
            assert session.scalars(select(StoredToken.name)).all() == ["kept"]
    finally:
        served.close()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_only_a_sqlite_file_gets_engines_of_its_own_for_reads(db_url: str, config: Path) -> None:
    served = runtime(db_url, config)
    try:
        if db_url.startswith("sqlite"):
            assert served.read_engine is not served.engine
            with served.read_engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1
            with served.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0
        else:  # PostgreSQL's readers never wait for its writers: one pool
            assert served.read_engine is served.engine and served.reads is served.sessions
    finally:
        served.close()


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["slaflow", *args])
    began = time.perf_counter()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    seconds = time.perf_counter() - began
    out, err = capsys.readouterr()
    assert seconds < 10, f"slaflow {' '.join(args[:2])} waited {seconds:.1f} s for the write lock"
    return code, out + err


@pytest.mark.timeout(120)
def test_cli_reads_and_reports_do_not_wait_for_a_writer(
    app: TestClient, sqlite_url: str, config: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    case_id = opened_id(app)
    options = ["--database-url", sqlite_url, "--config", str(config)]
    with WriteLock(sqlite_url):
        code, out = run_cli(monkeypatch, capsys, "case", "list", *options)
        assert code == 0 and f"{case_id}" in out, out
        code, out = run_cli(monkeypatch, capsys, "case", "show", str(case_id), *options)
        assert code == 0 and "reservation" in out, out
        code, out = run_cli(monkeypatch, capsys, "report", "--format", "json", "--out", str(tmp_path / "out"),
                            "--at", "2026-11-30T12:00:00+03:00", *options)
        assert code == 0, out
    assert list((tmp_path / "out").glob("*.json"))

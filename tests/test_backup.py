"""`slaflow backup` / `slaflow restore`: a backup taken while the database is in use restores into
a fresh database with every record as it was at backup time, and the restored event logs rebuild
identical clocks (`slaflow sla rebuild`). On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from engine import cases
from engine.rebuild import rebuild
from org.chart import Company
from storage.backup import BackupError, backup, restore
from storage.db import make_engine, normalise_url, session_factory
from storage.models import Breach, Case, CaseEvent, SlaClock, Timer
from tests.conftest import PG_URL
from tests.test_cli import slaflow
from tests.test_rebuild import _week


def snapshot(factory: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a restore must bring back, in a stable order."""
    tables = {"cases": Case, "events": CaseEvent, "clocks": SlaClock, "breaches": Breach, "timers": Timer}
    with factory() as session:
        return {
            name: [tuple(getattr(row, c.key) for c in model.__table__.columns)
                   for row in session.scalars(select(model).order_by(model.id))]  # type: ignore[attr-defined]
            for name, model in tables.items()
        }


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as ``db_url`` to restore into."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    assert PG_URL
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"slaflow_restore_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield normalise_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_backup_restores_every_record_and_rebuilds_identical_clocks(
    db_url: str, fresh_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock,
    tmp_path: Path,
) -> None:
    ids = _week(sessions, company, clock)
    at_backup = snapshot(sessions)
    done = backup(db_url, tmp_path / "slaflow.backup")
    assert done.bytes > 0 and done.kind == ("sqlite" if db_url.startswith("sqlite") else "pg_dump")
    # Work goes on after the backup; the restore brings back the state at backup time.
    with sessions.begin() as session:
        cases.fire(session, company, case_id=ids[0], trigger="collected", actor=company.actor("kozlov"),
                   payload={"waybill": "W-1"},
                   now=clock.now())
    assert snapshot(sessions) != at_backup

    restore(fresh_url, tmp_path / "slaflow.backup")
    engine = make_engine(fresh_url)
    try:
        restored = session_factory(engine)
        assert snapshot(restored) == at_backup
        result = rebuild(restored, company)
        assert result.checked == len(ids) and result.ok, result.differences
    finally:
        engine.dispose()


def test_it_refuses_to_overwrite_a_file_or_restore_what_is_not_a_backup(sqlite_url: str, tmp_path: Path) -> None:
    target = tmp_path / "b.db"
    backup(sqlite_url, target)
    with pytest.raises(BackupError, match="exists; choose another name or pass --overwrite"):
        backup(sqlite_url, target)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(BackupError, match="is not a SQLite backup"):
        restore(sqlite_url, junk)
    with pytest.raises(BackupError, match="is not a pg_dump custom-format backup"):
        restore("postgresql://postgres@127.0.0.1:1/none", target)


def test_the_commands_back_up_restore_and_rebuild_from_the_command_line(tmp_path: Path) -> None:
    db, restored, copy = tmp_path / "live.db", tmp_path / "restored.db", tmp_path / "copy.db"
    slaflow("init", db=db)
    slaflow("case", "open", "return", "--as", "ivanov", "-d", "customer=c", "-d", "order=o", "-d", "reason=r",
            "--at", "2026-11-16T09:00:00+03:00", db=db)
    assert "backup written: " in slaflow("backup", str(copy), db=db).stdout
    refused = slaflow("backup", str(copy), db=db, check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "--overwrite" in refused.stderr
    assert "restored from" in slaflow("restore", str(copy), "--yes", db=restored).stdout
    assert "1 cases replayed from their event logs: every clock" in slaflow("sla", "rebuild", db=restored).stdout
    missing = slaflow("restore", str(tmp_path / "nope.db"), "--yes", db=restored, check=False)
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr

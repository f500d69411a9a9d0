"""`storage.maintenance.rebuild_indexes` and ``slaflow reindex`` on SQLite and PostgreSQL: clocks
added department by department in time order leave PostgreSQL's report indexes half full; a
rebuild packs them without changing a single report figure, cleans up what an interrupted
concurrent rebuild left, and refuses what it does not know."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import SlaflowError
from org.chart import Company
from reports.ledger import ledger
from reports.scope import Scope
from reports.steps import step_rows
from sla.model import ClockKind, ClockStatus
from slaflow.cli import main
from storage.maintenance import REPORT_INDEXES, rebuild_indexes
from storage.models import CalendarVersion, SlaClock
from tests.test_sweeper_logic import open_returns

SINCE = datetime(2030, 1, 7, tzinfo=UTC)
SCOPE = Scope(SINCE, SINCE + timedelta(days=30), now=SINCE + timedelta(days=31))
DEPARTMENTS = ("warehouse", "logistics", "sales")
PER_DEPARTMENT = 1_500


def _clocks_in_time_order(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> None:
    """Finished step clocks as a working company adds them: one after the other in time, the
    departments interleaved, so each lands at the end of its department's range."""
    ids = open_returns(sessions, company, clock.now(), 3)
    with sessions.begin() as session:
        model = session.scalars(select(CalendarVersion).order_by(CalendarVersion.name)).first()
        assert model is not None
        rows = []
        for n in range(PER_DEPARTMENT * len(DEPARTMENTS)):
            start = SINCE + timedelta(minutes=10 * n)
            used = float(n % 97)
            rows.append(dict(
                case_id=ids[n % len(ids)], kind=ClockKind.STEP, state="inspection", event_seq=n + 2,
                department=DEPARTMENTS[n % len(DEPARTMENTS)], calendar=model.name,
                calendar_fingerprint=model.fingerprint, target_minutes=60.0, warn_fraction=0.75, started_at=start,
                running_since=start, used_minutes=used, stopped_at=start + timedelta(minutes=used),
                status=ClockStatus.BREACHED if used > 60 else ClockStatus.MET, requester="sales",
                case_opened_at=SINCE + timedelta(minutes=n),
            ))
        session.execute(insert(SlaClock), rows)


def _figures(sessions: sessionmaker[Session]) -> tuple[list[Any], list[Any]]:
    with sessions() as session:
        return step_rows(session, SCOPE), ledger(session, SCOPE)


def _committed_size(engine: Engine, name: str) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT pg_relation_size('{name}'::regclass)")).scalar_one())
    with sqlite3.connect(str(engine.url.database)) as conn:
        return int(conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (name,)).fetchone()[0])


def test_a_rebuild_packs_the_report_indexes_and_changes_no_figure(
    engine: Engine, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _clocks_in_time_order(sessions, company, clock)
    before = _figures(sessions)
    assert before[0] and len(before[0]) == len(DEPARTMENTS)  # the report reads what was stored

    done = {rebuilt.index: rebuilt for rebuilt in rebuild_indexes(engine)}

    assert list(done) == list(REPORT_INDEXES)
    assert _figures(sessions) == before
    # Committed: a new connection sees the packed index (a rebuild rolled back would not shrink it).
    assert _committed_size(engine, "ix_sla_clocks_finished") == done["ix_sla_clocks_finished"].bytes_after
    assert done["ix_sla_clocks_finished"].bytes_after < done["ix_sla_clocks_finished"].bytes_before
    if engine.dialect.name == "postgresql":
        # Half-full pages packed: the two indexes led by the department shrink by a third or more.
        for name in ("ix_sla_clocks_finished", "ix_sla_clocks_by_department"):
            assert done[name].bytes_after < 0.75 * done[name].bytes_before, done[name]
        with engine.connect() as conn:
            invalid = conn.execute(text(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname LIKE 'ix_sla_clocks%' AND NOT i.indisvalid")).scalar_one()
        assert invalid == 0
    else:
        assert all(r.bytes_after <= r.bytes_before for r in done.values())
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        wal = Path(f"{engine.url.database}-wal")  # the rebuilt pages went through it: cut back after
        assert not wal.exists() or wal.stat().st_size == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_interrupted_concurrent_rebuild_is_dropped_before_the_next(engine: Engine) -> None:
    leftover = "ix_sla_clocks_ledger_ccnew"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE INDEX {leftover} ON sla_clocks (kind, requester)"))
        # What REINDEX CONCURRENTLY leaves when it is cancelled: an invalid copy writers still maintain.
        conn.execute(text(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{leftover}'::regclass"))
        try:
            rebuild_indexes(engine, ["ix_sla_clocks_ledger"])
            left = conn.execute(text(
                "SELECT relname FROM pg_class WHERE relname LIKE 'ix_sla_clocks_ledger_ccnew%'")).scalars().all()
        finally:
            conn.execute(text(f"DROP INDEX IF EXISTS {leftover}"))
    assert left == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unknown_index_is_refused_before_anything_runs(engine: Engine) -> None:
    with pytest.raises(SlaflowError, match="unknown index ix_nope; the report indexes are: ix_sla_clocks_finished"):
        rebuild_indexes(engine, ["ix_sla_clocks_ledger", "ix_nope"])
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_sla_clocks_breached"))
    with pytest.raises(SlaflowError, match="no index ix_sla_clocks_breached: upgrade it first"):
        rebuild_indexes(engine)


def test_the_command_rebuilds_names_what_it_did_and_refuses_a_wrong_name(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", sqlite_url)
    with pytest.raises(SystemExit) as exited:
        main(["reindex", "--index", "ix_sla_clocks_ledger", "--index", "ix_sla_clocks_finished", "--json"])
    out, err = capsys.readouterr()
    assert exited.value.code in (0, None), err
    assert [row["index"] for row in json.loads(out)] == ["ix_sla_clocks_ledger", "ix_sla_clocks_finished"]
    with pytest.raises(SystemExit) as exited:
        main(["reindex", "--index", "ix_nope"])
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and "Traceback" not in err
    assert err.startswith("error: unknown index ix_nope; the report indexes are:")

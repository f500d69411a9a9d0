"""storage.write_plan on real SQLite files: what a plan records is what the usual way writes (same
rows, same ids), nothing is written while planning, and a plan that no longer fits the database
writes nothing at all, leaving the writer's transaction to do the work the usual way."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.vocabulary import TimerKind, TimerStatus
from storage.db import make_engine, make_read_engine, session_factory
from storage.models import Case, CaseTypeVersion, Timer, table
from storage.prepared import prepared_insert
from storage.write_plan import PlanAborted, planning, replay

_cases, _timers, _versions = table(Case), table(Timer), table(CaseTypeVersion)
AT = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
CASE = ("case_type", "definition_fingerprint", "external_source", "external_key", "state", "data", "requester",
        "performer", "owner_department", "owner_role", "owner_person", "due_at", "version", "opened_at", "updated_at",
        "closed_at")
INSERT_CASE = prepared_insert(_cases, CASE, returning="id")
INSERT_LINKED = prepared_insert(_cases, CASE, returning="id", unless_exists=("external_source", "external_key"))
TIMER = ("case_id", "clock_id", "kind", "level", "trigger", "state", "due_at", "status", "fired_at", "lease_until",
         "lease_owner", "attempts", "last_error")
INSERT_TIMERS = prepared_insert(_timers, TIMER)
INSERT_VERSION = prepared_insert(_versions, ("fingerprint", "name", "definition", "created_at"),
                                 unless_exists=("fingerprint",))


def case_row(n: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "case_type": "return", "definition_fingerprint": "f1", "external_source": "erp", "external_key": f"o-{n}",
        "state": "inspection", "data": {"n": n, "ru": "возврат"}, "requester": "sales", "performer": "warehouse",
        "owner_department": "warehouse", "owner_role": None, "owner_person": None, "due_at": AT + timedelta(hours=n),
        "version": 1, "opened_at": AT, "updated_at": AT, "closed_at": None,
    }
    return {**row, **changes}


def timer_row(case_id: int, n: int) -> dict[str, Any]:
    return {"case_id": case_id, "clock_id": None, "kind": TimerKind.BREACH, "level": 0, "trigger": None,
            "state": "inspection", "due_at": AT + timedelta(minutes=n), "status": TimerStatus.PENDING,
            "fired_at": None, "lease_until": None, "lease_owner": None, "attempts": 0, "last_error": None}


def open_cases(session: Session, numbers: range) -> list[int]:
    """What a batch does: an insert whose answer (the id) the next writes use, then those writes."""
    ids = []
    for n in numbers:
        case_id = INSERT_LINKED.scalar(session, case_row(n))
        INSERT_TIMERS.later_many(session, [timer_row(case_id, n), timer_row(case_id, n + 1)])
        ids.append(case_id)
    return ids


@pytest.fixture
def engines(sqlite_url: str) -> Iterator[tuple[Engine, Engine]]:
    writes, reads = make_engine(sqlite_url), make_read_engine(sqlite_url)
    with session_factory(writes).begin() as session:
        INSERT_VERSION.execute(session, {"fingerprint": "f1", "name": "return", "definition": {}, "created_at": AT})
    yield writes, reads
    writes.dispose()
    reads.dispose()


def contents(sessions: sessionmaker[Session]) -> tuple[list[Any], list[Any]]:
    with sessions() as session:
        cases = list(session.execute(select(_cases).order_by(_cases.c.id)))
        timers = list(session.execute(select(_timers).order_by(_timers.c.id)))
    return cases, timers


def count(sessions: sessionmaker[Session], of: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(of)) or 0)


def test_a_replayed_plan_writes_what_the_usual_way_writes_with_the_ids_it_gave(
    engines: tuple[Engine, Engine], tmp_path: Path, sqlite_template: Path
) -> None:
    writes, reads = engines
    sessions = session_factory(writes)
    with sessions.begin() as session:
        open_cases(session, range(0, 2))  # the tables are not empty: ids continue from what is there
    with session_factory(reads)() as planner, planning(planner) as plan:
        planned_ids = open_cases(planner, range(2, 6))
    assert count(sessions, _cases) == 2 and count(sessions, _timers) == 4  # nothing written while planning
    with sessions.begin() as session:
        assert replay(session, plan)
    shutil.copy(sqlite_template, tmp_path / "usual.db")
    usual = session_factory(make_engine(f"sqlite:///{tmp_path / 'usual.db'}"))
    with usual.begin() as session:
        INSERT_VERSION.execute(session, {"fingerprint": "f1", "name": "return", "definition": {}, "created_at": AT})
    with usual.begin() as session:
        open_cases(session, range(0, 2))
    with usual.begin() as session:
        usual_ids = open_cases(session, range(2, 6))
    assert planned_ids == usual_ids == [3, 4, 5, 6]
    assert contents(sessions) == contents(usual)


def test_an_insert_meanwhile_makes_the_replay_write_nothing_and_the_transaction_goes_on(
    engines: tuple[Engine, Engine],
) -> None:
    writes, reads = engines
    sessions = session_factory(writes)
    with session_factory(reads)() as planner, planning(planner) as plan:
        open_cases(planner, range(0, 3))
    with sessions.begin() as session:  # another writer opened a case after the plan read the ids
        INSERT_CASE.scalar(session, case_row(99, external_key=None))
    with sessions.begin() as session:
        assert not replay(session, plan)
        assert open_cases(session, range(0, 3)) == [2, 3, 4]  # the usual way, in the same transaction
    cases, timers = contents(sessions)
    assert [row.external_key for row in cases] == [None, "o-0", "o-1", "o-2"]
    assert [row.case_id for row in timers] == [2, 2, 3, 3, 4, 4]


def test_a_row_that_does_not_come_back_with_its_id_undoes_the_whole_plan_only(engines: tuple[Engine, Engine]) -> None:
    """The same CRM record twice in one plan: the second insert meets the first (ON CONFLICT DO
    NOTHING, no id back); what the transaction wrote before the replay stays."""
    writes, reads = engines
    sessions = session_factory(writes)
    with session_factory(reads)() as planner, planning(planner) as plan:
        open_cases(planner, range(0, 2))
        open_cases(planner, range(1, 2))
    with sessions.begin() as session:
        INSERT_VERSION.execute(session, {"fingerprint": "f9", "name": "x", "definition": {}, "created_at": AT})
        assert not replay(session, plan)
    assert contents(sessions) == ([], [])
    with sessions() as session:
        assert sorted(session.scalars(select(_versions.c.fingerprint))) == ["f1", "f9"]


def test_nothing_outside_the_plan_writes_while_planning(engines: tuple[Engine, Engine]) -> None:
    writes, reads = engines
    sessions, planners = session_factory(writes), session_factory(reads)
    with pytest.raises(PlanAborted), planners() as planner, planning(planner):
        INSERT_VERSION.execute(planner, {"fingerprint": "f2", "name": "x", "definition": {}, "created_at": AT})
    with pytest.raises(OperationalError, match="readonly"), planners() as planner, planning(planner):
        planner.execute(_versions.insert().values(fingerprint="f3", name="x", definition={}, created_at=AT))
    with pytest.raises(PlanAborted), planners() as planner, planning(planner):
        planner.add(CaseTypeVersion(fingerprint="f4", name="x", definition={}, created_at=AT))
    with planners() as planner:  # the connection is writable again once the plan is over
        planner.execute(_versions.insert().values(fingerprint="f5", name="x", definition={}, created_at=AT))
    with sessions() as session:
        assert sorted(session.scalars(select(_versions.c.fingerprint))) == ["f1", "f5"]


def test_a_plan_reads_one_snapshot(engines: tuple[Engine, Engine]) -> None:
    """Its reads agree with each other: a commit meanwhile is not half seen (the replay's id check
    then finds it)."""
    writes, reads = engines
    sessions = session_factory(writes)
    with session_factory(reads)() as planner, planning(planner) as plan:
        assert planner.scalar(select(func.count()).select_from(_cases)) == 0
        with sessions.begin() as session:
            INSERT_CASE.scalar(session, case_row(1))
        assert planner.scalar(select(func.count()).select_from(_cases)) == 0
        open_cases(planner, range(2, 3))
    with sessions.begin() as session:
        assert not replay(session, plan)
    assert count(sessions, _cases) == 1


def test_a_plan_that_cannot_begin_leaves_its_connection_writable_again(engines: tuple[Engine, Engine]) -> None:
    _, reads = engines
    with session_factory(reads)() as planner:
        driver = planner.connection().connection.dbapi_connection
        assert driver is not None
        driver.execute("BEGIN")  # left open by someone: the plan's own BEGIN fails
        with pytest.raises(sqlite3.OperationalError), planning(planner):
            pass  # pragma: no cover
        assert driver.execute("PRAGMA query_only").fetchone()[0] == 0
        assert not driver.in_transaction

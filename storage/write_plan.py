"""Writes planned without SQLite's write lock, then replayed under it in one go.

Why: SQLite lets one writer in at a time, and a webhook's store waits while the inbox processor
opens cases. Opening a case is about half Python (deadlines in business time, timers, messages)
and half SQLite; done the usual way, the lock is held for both (bench/webhooks.py). Planned, the
Python half runs first on a read connection, recording each write instead of sending it, and
the lock is held only while the recorded writes run.

While planning (`planning`), on the session's connection:
- reads run, all in one read transaction (one snapshot of the last commit);
- writes whose answer nobody reads (`Prepared.later`, ``later_many``, ``execute_many``) are
  recorded in order;
- an insert whose only answer is the new row's id (a `Prepared` with ``with_id``) gets the id
  the table would give it next (its largest id so far, plus the ones planned before it), and is
  recorded with that id;
- anything else (a write whose row count or returned row is read, any statement outside
  `Prepared`: the connection is ``PRAGMA query_only`` meanwhile) raises `PlanAborted`.

`replay`, in the writer's transaction: if any table given ids has a larger id than when the plan
read it (someone inserted meanwhile), nothing is written and False comes back: the caller does
the work the usual way, under the lock it now holds. Otherwise the writes run in order inside a
savepoint; an insert that does not come back with its planned id (an ``ON CONFLICT DO NOTHING``
that met a row, e.g. the same CRM record twice in one batch), a failed row-count check or a
statement the database refuses undoes them all (False again: done the usual way, the work meets
the same refusal and reports it as it always does). What the plan read besides ids is the
caller's to check under the lock before replaying (the caller knows which of its reads matter).
SQLite only: PostgreSQL locks rows, and its writers do not wait for each other's transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session

from storage.deferred import Write

PLAN = "slaflow.write_plan"
"""``Connection.info`` key of the plan being recorded on that connection."""


class PlanAborted(Exception):
    """The work cannot be planned (it needs an answer only a write gives): do it the usual way."""


@dataclass
class WritePlan:
    driver: DBAPIConnection
    writes: list[Write] = field(default_factory=list)
    read_max_id: dict[str, int] = field(default_factory=dict)
    """The largest id of each table given ids, as the plan read it (0: the table was empty)."""
    _next_id: dict[str, int] = field(default_factory=dict)

    def record(self, write: Write) -> None:
        self.writes.append(write)

    def reserve(self, table: str) -> int:
        """The id the next row of ``table`` gets when the plan is replayed (SQLite gives an
        INTEGER PRIMARY KEY its table's largest id plus one)."""
        if table not in self._next_id:
            self.read_max_id[table] = _max_id(self.driver, table)
            self._next_id[table] = self.read_max_id[table] + 1
        reserved = self._next_id[table]
        self._next_id[table] = reserved + 1
        return reserved


def plan_of(conn: Connection) -> WritePlan | None:
    """The plan being recorded on ``conn``, if any (`storage.prepared` asks before each statement)."""
    plan: WritePlan | None = conn.info.get(PLAN)
    return plan


@contextmanager
def planning(session: Session) -> Iterator[WritePlan]:
    """Record ``session``'s writes instead of sending them (see the module docstring). The session
    must be on a SQLite read engine (`storage.db.make_read_engine`) and is never committed: its
    ORM objects added or changed meanwhile would be lost, so any is `PlanAborted`."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        raise ValueError("write plans are for SQLite")
    driver = conn.connection.dbapi_connection
    assert driver is not None
    plan = WritePlan(driver)
    _pragma(driver, "PRAGMA query_only = 1")  # a statement outside the plan cannot write by mistake
    try:
        _pragma(driver, "BEGIN")  # one snapshot for all the plan reads (not one read transaction each)
        conn.info[PLAN] = plan
        yield plan
        if session.new or session.dirty or session.deleted:
            raise PlanAborted("the work changed ORM objects, which a plan does not record")
    finally:
        conn.info.pop(PLAN, None)
        if driver.in_transaction:  # (SQLite may have ended it on an error already)
            _pragma(driver, "ROLLBACK")
        _pragma(driver, "PRAGMA query_only = 0")


def replay(session: Session, plan: WritePlan) -> bool:
    """Run ``plan``'s writes in ``session``'s transaction (holding SQLite's write lock); False,
    with nothing written, if they no longer fit what the database holds."""
    driver = session.connection().connection.dbapi_connection
    assert driver is not None
    if any(_max_id(driver, table) != read for table, read in plan.read_max_id.items()):
        return False
    cursor = driver.cursor()
    try:
        cursor.execute("SAVEPOINT slaflow_plan")
        try:
            fits = _run(cursor, plan.writes)
        except Exception:  # e.g. a row the plan refers to went meanwhile: the usual way says what is wrong
            fits = False
        if not fits:
            cursor.execute("ROLLBACK TO slaflow_plan")
        cursor.execute("RELEASE slaflow_plan")
        return fits
    finally:
        cursor.close()


def _run(cursor: Any, writes: list[Write]) -> bool:
    for write in writes:
        if write.many:
            cursor.executemany(write.sql, write.params)
            continue
        cursor.execute(write.sql, write.params)
        if write.expect_id is not None:
            row = cursor.fetchone()
            if row is None or row[0] != write.expect_id:
                return False
        if write.check is not None:
            try:
                write.check(int(cursor.rowcount))
            except Exception:
                return False
    return True


def _max_id(driver: DBAPIConnection, table: str) -> int:
    """``table``'s largest id (0 when empty): its rowid B-tree's last entry, one page read."""
    cursor = driver.cursor()
    try:
        cursor.execute(f'SELECT max(id) FROM "{table}"')
        row = cursor.fetchone()
        return int(row[0] or 0) if row is not None else 0
    finally:
        cursor.close()


def _pragma(driver: DBAPIConnection, sql: str) -> None:
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def is_planning(session: Session) -> bool:
    """Whether ``session``'s writes are being recorded (a caller may refuse work it will not plan)."""
    return plan_of(session.connection()) is not None

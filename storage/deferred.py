"""Writes nobody waits on, sent to PostgreSQL together in psycopg's pipeline mode.

Why: on PostgreSQL each statement is a network round trip, and a trigger makes about a dozen, of
which most are writes whose result nobody reads (stop a clock, cancel its timers, append the
event, insert the next timers, the outbox rows). Queued, they travel in one pipeline with the next
statement that needs an answer, or with the commit: a trigger waits on the server about half as
often (``bench/engine.py --pg``). SQLite has no round trips to save; there a deferred write runs
at once.

Order is kept: before any other statement on the connection (a prepared one, any Core or ORM
execute: ``before_execute``), before a savepoint begins or is released, and before COMMIT, the
queue is sent. A rollback (of the transaction or of a savepoint) drops it. A queued write that
fails makes the flush fail with SQLAlchemy's exception for it, so the transaction fails as it
would have; a check on a write's row count (the optimistic version check) runs at the flush too.
The queue belongs to one transaction: a queue left from another (an invalidated connection) is
dropped, never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakSet

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor

QUEUED = "slaflow.deferred"
_PIPELINED: WeakSet[Engine] = WeakSet()


@dataclass
class Write:
    """One statement (``many``: one per parameter set) and what to check of its row count."""

    sql: str
    params: Any
    many: bool = False
    check: Callable[[int], None] | None = None
    expect_id: int | None = None
    """The id the row must come back with (RETURNING): a write plan's (`storage.write_plan`)."""


def pipeline_writes(engine: Engine) -> None:
    """Let deferred writes wait on ``engine``'s connections (PostgreSQL engines: `storage.db`)."""
    _PIPELINED.add(engine)
    event.listen(engine, "before_execute", _flush_before_execute)
    event.listen(engine, "commit", _flush_on)
    event.listen(engine, "savepoint", _flush_before_savepoint)
    event.listen(engine, "release_savepoint", _flush_before_savepoint)
    event.listen(engine, "rollback", _drop)
    event.listen(engine, "rollback_savepoint", _drop_savepoint)


def pipelined(conn: Connection) -> bool:
    """Whether writes may wait on ``conn`` now (its engine pipelines, and a transaction is open)."""
    return conn.engine in _PIPELINED and conn.in_transaction() and not conn._is_autocommit_isolation()


def defer(conn: Connection, driver: DBAPIConnection, write: Write) -> None:
    """Queue ``write`` on a pipelined engine; elsewhere run it now (and check it)."""
    if not pipelined(conn):
        cursor = _send(conn, driver, write)
        _check(write, cursor)
        cursor.close()
        return
    transaction = conn.get_transaction()
    held: tuple[Any, list[Write]] | None = conn.info.get(QUEUED)
    if held is None or held[0] is not transaction:
        held = conn.info[QUEUED] = (transaction, [])
    held[1].append(write)


def run_with_queue(conn: Connection, driver: DBAPIConnection, write: Write) -> DBAPICursor:
    """Send what is queued, then ``write``, in one pipeline (or just ``write`` when nothing is
    queued); its cursor, with its result fetched. Row-count checks run in order."""
    queued = _take(conn)
    if not queued:
        cursor = _send(conn, driver, write)
        _check(write, cursor)
        return cursor
    return _pipeline(conn, driver, [*queued, write])


def flush(conn: Connection, driver: DBAPIConnection) -> None:
    """Send what is queued now (one pipeline)."""
    queued = _take(conn)
    if queued:
        _pipeline(conn, driver, queued).close()


def _pipeline(conn: Connection, driver: DBAPIConnection, writes: list[Write]) -> DBAPICursor:
    """``writes`` in one pipeline, their checks run in order; the last one's cursor (the others closed)."""
    cursors: list[DBAPICursor] = []
    shared: DBAPICursor | None = None  # for the writes whose result nobody reads: a cursor costs
    current = writes[0]                # as much as sending a write, and its objects outlive it
    try:
        with driver.pipeline():
            for current in writes:
                if current.check is None and current is not writes[-1]:
                    shared = shared or driver.cursor()
                    cursors.append(_start(driver, current, shared))
                else:
                    cursors.append(_start(driver, current))
    except BaseException as exc:
        conn._handle_dbapi_exception(exc, current.sql, current.params, None, None)
    for done, cursor in zip(writes, cursors, strict=True):
        _check(done, cursor)
        if cursor is not cursors[-1] and cursor is not shared:
            cursor.close()
    if shared is not None:
        shared.close()
    return cursors[-1]


def _take(conn: Connection) -> list[Write]:
    held = conn.info.pop(QUEUED, None)
    if held is None or held[0] is not conn.get_transaction():
        return []
    queued: list[Write] = held[1]
    return queued


def _start(driver: DBAPIConnection, write: Write, cursor: DBAPICursor | None = None) -> DBAPICursor:
    cursor = cursor or driver.cursor()
    if write.many:
        cursor.executemany(write.sql, write.params)
    else:
        cursor.execute(write.sql, write.params)
    return cursor


def _send(conn: Connection, driver: DBAPIConnection, write: Write) -> DBAPICursor:
    """``write`` alone, its error as SQLAlchemy's."""
    try:
        return _start(driver, write)
    except BaseException as exc:
        conn._handle_dbapi_exception(exc, write.sql, write.params, None, None)
        raise  # (not reached: the handler raises)


def _check(write: Write, cursor: DBAPICursor) -> None:
    if write.check is not None:
        write.check(int(cursor.rowcount))


def _driver(conn: Connection) -> DBAPIConnection:
    driver = conn.connection.dbapi_connection
    assert driver is not None
    return driver


def _flush_before_execute(conn: Connection, *_: Any) -> None:
    _flush_on(conn)


def _flush_on(conn: Connection) -> None:
    if not conn.invalidated and QUEUED in conn.info:
        flush(conn, _driver(conn))


def _flush_before_savepoint(conn: Connection, _name: str, *_: Any) -> None:
    _flush_on(conn)


def _drop(conn: Connection, *_: Any) -> None:
    # (An invalidated connection's queue is gone with it: a new transaction never sends it.)
    if not conn.invalidated:
        conn.info.pop(QUEUED, None)


def _drop_savepoint(conn: Connection, _name: str, _context: Any) -> None:
    # What is queued was written after the savepoint began (it began with a flush): undone with it.
    _drop(conn)

"""Storage faults: which errors mean "the database cannot take this write now" (so the caller
answers 503 and retries later) as opposed to a bug, and a one-line description of them.

Also the guard of a SQLite file: SQLite keeps writing happily into a file that was deleted (or
replaced) under it, and those writes vanish. `guard_sqlite_file` refuses such a commit, and makes
the pool reconnect once the file is back, so the service recovers without a restart."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """The database cannot durably take a write right now (e.g. its file is gone)."""


UNAVAILABLE: tuple[type[Exception], ...] = (
    StorageUnavailable,
    sa_exc.OperationalError,  # disk full, read-only file, locked, connection lost, server gone
    sa_exc.InternalError,  # PostgreSQL: read-only transaction, server shutting down
    sa_exc.InterfaceError,  # the connection was closed under us
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no pooled connection in time
)
"""Errors that mean the storage, not the request, is at fault."""


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE)


def describe(exc: BaseException) -> str:
    """One line: the kind of fault and the driver's first line, never a statement or parameters."""
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first}"[:300]


def sqlite_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if engine.url.query.get("uri") or str(database).startswith("file:"):
        return None  # a SQLite URI filename: not a plain path this guard can watch
    return Path(str(database)).resolve()


def file_identity(path: Path | str) -> tuple[int, int] | None:
    """(device, inode) of the file, or None if it is missing."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class SqliteFileGuard:
    """Keeps each pooled connection tied to the file it opened (device, inode).

    - A new connection is refused while the file is missing (SQLite would create an empty one).
    - A pooled connection whose file was replaced or deleted is discarded at checkout.
    - A commit is refused unless the connection's file is still the one at the path.
    """

    CHECKOUT_RECHECK_SECONDS = 0.1
    """How old the file identity seen at checkout may be (the commit check never uses a cached one)."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.path = path
        self._where = str(path)
        self._seen: tuple[float, tuple[int, int] | None] = (-1.0, None)
        self.serving: tuple[int, int] | None = None
        """The identity of the file the newest connection opened (at start: the file at start)."""
        event.listen(engine, "do_connect", self._before_connect)
        event.listen(engine, "connect", self._connected)
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "commit", self._commit)

    def problem(self, identity: tuple[int, int] | None) -> str | None:
        """Why a connection to the file ``identity`` must not commit now (None: it may)."""
        return self._compare(identity, file_identity(self._where))

    def _compare(self, identity: tuple[int, int] | None, current: tuple[int, int] | None) -> str | None:
        if current is None:
            return f"the database file {self.path} is missing"
        if identity is not None and current != identity:
            return f"the database file {self.path} was replaced"
        return None

    def _before_connect(self, dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
        if self.serving is not None and file_identity(self.path) is None:
            raise sqlite3.OperationalError(f"the database file {self.path} is missing")

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        identity = file_identity(self._where)
        self._seen = (time.monotonic(), identity)
        record.info["sqlite_file"] = self.serving = identity

    def _checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        identity = record.info.get("sqlite_file")
        if identity is None:
            return  # the file was not found where the URL points when it was opened: not watched
        # A stat per checkout and per commit cost ~5% of a small transaction; at checkout (which
        # only decides whether to reconnect) an identity up to 0.1 s old will do.
        at, current = self._seen
        now = time.monotonic()
        if now - at > self.CHECKOUT_RECHECK_SECONDS:
            current = file_identity(self._where)
            self._seen = (now, current)
        if self._compare(identity, current) is not None:
            raise sa_exc.DisconnectionError()  # the pool opens a fresh connection (or fails to)

    def _commit(self, connection: Any) -> None:
        identity = connection.connection._connection_record.info.get("sqlite_file")
        if identity is None:
            return
        problem = self.problem(identity)
        if problem is not None:
            connection.invalidate()  # closing it rolls the transaction back
            raise StorageUnavailable(f"{problem}; the write was not made")


_GUARDS: WeakKeyDictionary[Engine, SqliteFileGuard] = WeakKeyDictionary()


def guard_sqlite_file(engine: Engine) -> SqliteFileGuard | None:
    """Install the guard on a SQLite file engine (make_engine does); None for other databases."""
    path = sqlite_path(engine)
    if path is None:
        return None
    guard = _GUARDS[engine] = SqliteFileGuard(engine, path)
    return guard


def guard_of(engine: Engine) -> SqliteFileGuard | None:
    return _GUARDS.get(engine)


def probe_writable(engine: Engine, *, timeout_ms: int = 3000) -> str | None:
    """None if the database takes a durable write now, else one line saying why not.

    The write is real and committed (a rolled-back one proves nothing on SQLite, which touches the
    file only at commit) but changes nothing: ``alembic_version`` is set to itself."""
    guard = guard_of(engine)
    if guard is not None and (problem := guard.problem(guard.serving)) is not None:
        return problem
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            sqlite = connection.dialect.name == "sqlite"
            if sqlite and raw is not None:  # outside SQLAlchemy: a PRAGMA must not begin a transaction
                raw.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
            try:
                with connection.begin():
                    if not sqlite:
                        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
                    connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
            finally:
                if sqlite and raw is not None:
                    raw.execute("PRAGMA busy_timeout=30000")
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return describe(exc)
    return None


RECONNECT_SQLSTATES = frozenset({"25006", "57P01", "57P02", "57P03"})
"""PostgreSQL errors after which a pooled connection is worth nothing: read-only transaction (the
database was made read-only: the session keeps that setting), admin/crash shutdown, cannot
connect now. Treated as disconnects, so the pool opens fresh connections once the fault clears."""


PING_IDLE_AFTER = 1.0
"""Seconds a pooled PostgreSQL connection may rest before its next checkout asks the server
whether it is still there (`ping_when_idle`)."""
_LAST_CHECKIN = "slaflow.last_checkin"


def ping_when_idle(engine: Engine, idle_seconds: float = PING_IDLE_AFTER) -> None:
    """Ping a pooled connection at checkout only if it rested longer than ``idle_seconds``.

    Why: ``pool_pre_ping`` pings at every checkout, one round trip of the ~6 a trigger waits for
    on PostgreSQL (bench/engine.py --pg); a connection used a moment ago is almost surely alive.
    The price: after the server restarts, a connection that rested less than ``idle_seconds``
    fails its first statement (the request answers 503, `UNAVAILABLE`), and that failure marks
    every connection of the pool as stale (`reconnect_after_server_faults`), so the next
    checkouts reconnect. A ping that fails discards the connection and the pool opens another."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_LAST_CHECKIN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        rested = record.info.get(_LAST_CHECKIN)  # none: connected for this checkout
        if rested is None or time.monotonic() - rested <= idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            raise sa_exc.DisconnectionError()  # the pool discards it and opens a fresh connection


def reconnect_after_server_faults(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _handle_error(context: Any) -> None:
        if getattr(context.original_exception, "sqlstate", None) in RECONNECT_SQLSTATES:
            context.is_disconnect = True

"""Engines and sessions. SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` so concurrent
writers queue instead of failing with a stale snapshot; PostgreSQL is used as it is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config
from storage.deferred import pipeline_writes
from storage.faults import guard_sqlite_file, ping_when_idle, reconnect_after_server_faults

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (the driver we install)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson (a trigger writes several documents: ~10x faster than
    the stdlib), falling back to the stdlib for what orjson refuses (integers over 64 bits, keys
    that are not strings)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    kwargs = {"json_serializer": json_dumps, **kwargs}  # reads stay on the stdlib: orjson reads big integers as floats
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        guard_sqlite_file(engine)
        return engine
    # No JIT compilation: it pays off for long analytic queries, and costs the app's short ones
    # 30-90 ms each once their estimate passes jit_above_cost (a board's count, bench/dashboard.py).
    engine = create_engine(url, connect_args={"options": "-c jit=off"}, **kwargs)
    reconnect_after_server_faults(engine)
    ping_when_idle(engine)  # not pool_pre_ping: a round trip per transaction (see there)
    pipeline_writes(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs the WAL at checkpoints, not at each commit: a committed
        # transaction survives the process crashing, but the newest ones may roll back if the
        # machine loses power before the next checkpoint (FULL would fsync every commit). The
        # engine bench's floor (bench/engine.py) runs with the same setting.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # Take the write lock up front: a deferred transaction that reads, then writes after another
    # writer committed, fails with SQLITE_BUSY_SNAPSHOT instead of waiting. The dialect's
    # ``do_begin`` (a no-op for pysqlite) is where SQLAlchemy begins a DBAPI transaction and
    # handles its errors; issuing BEGIN there on the driver's cursor costs a few microseconds,
    # where a "begin" event running ``exec_driver_sql`` cost ~70 µs a transaction (bench/engine.py).
    engine.dialect.do_begin = _begin_immediate  # type: ignore[method-assign]


def make_read_engine(url: str) -> Engine:
    """An engine for reads that must not queue for SQLite's write lock: no ``BEGIN`` at all, so
    each statement is its own transaction and, in WAL mode, reads the last commit while another
    connection (or process) writes. What it read may be stale by the time a writer acts on it:
    the writer checks again under its lock. On PostgreSQL it is `make_engine`'s."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        engine.dialect.do_begin = _no_begin  # type: ignore[method-assign]
    return engine


def make_snapshot_engine(url: str) -> Engine:
    """An engine for the pages and API reads of a SQLite database: each transaction is a plain
    (deferred) ``BEGIN``, so all of a page's statements read one snapshot of the last commit, and
    in WAL mode neither waits for a writer nor makes one wait (a `make_engine` session takes the
    write lock first: a board of 85 ms held the CRM's webhook stores for as long, and a
    ``slaflow reindex`` or a long import stalled every page for its length). Its connections are
    ``query_only``: a write through it fails at once ("attempt to write a readonly database")
    instead of writing without the lock taken first. PostgreSQL's readers never block its
    writers: there it is `make_engine`'s."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = 1")  # (after make_engine's: WAL is set)

        engine.dialect.do_begin = _begin_deferred  # type: ignore[method-assign]
    return engine


def _begin_deferred(dbapi_connection: Any) -> None:
    """``BEGIN``: a read transaction, its snapshot taken at its first read."""
    dbapi_connection.execute("BEGIN")


def _no_begin(dbapi_connection: Any) -> None:
    """pysqlite with ``isolation_level = None``: without a BEGIN every statement autocommits."""
    del dbapi_connection


def _begin_immediate(dbapi_connection: Any) -> None:
    """``BEGIN IMMEDIATE``, its statement journals kept in memory.

    Why: each statement's undo (needed with foreign keys on: a failing statement rolls back
    alone, and the inbox processor's plans replay in a savepoint, which journals every page they
    touch) spills to a temp file past 64 KiB, and once the tables held a few hundred cases every
    write transaction spilled: ~60 extra ``pwrite``s a CRM case opened (strace); the processor's
    CPU a case fell 16 % without them (bench/webhooks.py). SQLite fixes where a transaction's
    statement journals live when it begins, from ``temp_store``; setting it back right after
    keeps sorts spilling to temp files as before
    (in memory, a report's bare ``GROUP BY`` over a quarter of 1M cases took 0.75 s against 0.53
    and its peak memory rose by half: bench/reports.py). Changing ``temp_store`` drops the
    connection's temporary tables: slaflow makes none (a feature that needs them must move this)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA temp_store = MEMORY")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.execute("PRAGMA temp_store = DEFAULT")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back everything if it raises."""
    with factory.begin() as session:
        yield session


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # imported when migrating: a read must start fast

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Create or upgrade the schema to the newest migration (idempotent). A new SQLite file gets a
    copy of the first one this process migrated: SQLite's batch migrations copy each table they
    alter, ~1 s a file, and a replay (``engine.rebuild``) or a test makes one per run."""
    from alembic import command

    new_file = _new_sqlite_file(url)
    if new_file is not None and MIGRATIONS in _migrated_sqlite:
        new_file.write_bytes(_migrated_sqlite[MIGRATIONS])
        return
    command.upgrade(alembic_config(url), "head")
    if new_file is not None and not Path(f"{new_file}-wal").exists():  # (all of it is in the file)
        _migrated_sqlite[MIGRATIONS] = new_file.read_bytes()


_migrated_sqlite: dict[Path, bytes] = {}
"""The migrations' folder -> a SQLite database this process migrated when it was new, as bytes."""


def _new_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL that names no database yet (missing or empty), else None."""
    from sqlalchemy.engine import make_url

    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.query or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(str(parsed.database))
    wal = Path(f"{path}-wal")
    new = path.parent.is_dir() and (not path.exists() or (path.stat().st_size == 0 and not wal.exists()))
    return path if new else None

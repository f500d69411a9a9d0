"""Engines and sessions. SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` so concurrent
writers queue instead of failing with a stale snapshot; PostgreSQL is used as it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config
from storage.faults import guard_sqlite_file, reconnect_after_server_faults

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (the driver we install)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        guard_sqlite_file(engine)
        return engine
    # No JIT compilation: it pays off for long analytic queries, and costs the app's short ones
    # 30-90 ms each once their estimate passes jit_above_cost (a board's count, bench/dashboard.py).
    engine = create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"}, **kwargs)
    reconnect_after_server_faults(engine)
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

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads, then writes after
        # another writer committed, fails with SQLITE_BUSY_SNAPSHOT instead of waiting.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


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
    """Create or upgrade the schema to the newest migration (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


class _SqliteInsertIgnoring(sqlite_dml.Insert):
    inherit_cache = True  # see insert_ignoring_duplicates


class _SqliteDoNothing(sqlite_dml.OnConflictDoNothing):
    inherit_cache = True
    _traverse_internals: list[Any] = []  # the target is fixed per table (see the factory)


class _PgInsertIgnoring(postgresql_dml.Insert):
    inherit_cache = True


class _PgDoNothing(postgresql_dml.OnConflictDoNothing):
    inherit_cache = True
    _traverse_internals: list[Any] = []


def insert_ignoring_duplicates(table: Table, *key: str) -> dict[str, Insert]:
    """``INSERT ... ON CONFLICT (key...) DO NOTHING`` for each dialect, built once.

    SQLAlchemy 2.0 does not cache dialect inserts with an ON CONFLICT clause (the clause is not in
    the cache key), so each execution compiled the statement again (~70 us: a third of a trigger).
    Each table here has exactly one conflict target, set once by this factory, so the table in the
    cache key identifies the statement; the subclasses declare themselves cacheable on that basis.
    """
    sqlite_statement = _SqliteInsertIgnoring(table)
    sqlite_statement._post_values_clause = _SqliteDoNothing(index_elements=list(key))
    pg_statement = _PgInsertIgnoring(table)
    pg_statement._post_values_clause = _PgDoNothing(index_elements=list(key))
    return {"sqlite": sqlite_statement, "postgresql": pg_statement}

"""Rebuilding the indexes the reports read.

Those indexes lead with a department or a requester, so every new clock lands at the end of its
own department's range, not at the end of the index. PostgreSQL splits such a full page in half
and nothing ever fills the left half again: at 1M cases they were 55-60 % full
(``pgstatindex``), so a quarter's report read ~1.6x the pages it needs, and the first report
after the pages left memory read them all from disk (bench/reports.py: 1.32-1.35 s; after a
rebuild, 90 % full, 0.71-0.88 s). A rebuild packs them again; new clocks then only touch the
pages at each range's end. PostgreSQL rebuilds ``CONCURRENTLY`` (writers go on); SQLite's
``REINDEX`` holds the write lock while it runs, one index at a time (the largest, 11 s at 1M
cases: under the engine's 30 s busy timeout), and SQLite's pages were ~90 % full already (~10 %
smaller after).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from core.errors import SlaflowError

REPORT_INDEXES = (
    "ix_sla_clocks_finished",
    "ix_sla_clocks_ledger",
    "ix_sla_clocks_by_department",
    "ix_sla_clocks_report",
    "ix_sla_clocks_breached",
    "ix_sla_clocks_case_kind",
)
"""The indexes the per-department report, the ledger and the dashboard read by range (see
`storage.models.cases.SlaClock`), in the order they are rebuilt (the most read first)."""


@dataclass(frozen=True)
class Rebuilt:
    """One index rebuilt: its size before and after (bytes), and how long the rebuild took."""

    index: str
    bytes_before: int
    bytes_after: int
    seconds: float


def rebuild_indexes(engine: Engine, names: Sequence[str] = REPORT_INDEXES) -> list[Rebuilt]:
    """Rebuild ``names`` (each one of `REPORT_INDEXES`), one after the other, each committed on
    its own. An unknown name, or an index missing from the database (a schema not upgraded), is
    refused before anything runs."""
    unknown = [name for name in names if name not in REPORT_INDEXES]
    if unknown:
        raise SlaflowError(f"unknown index {', '.join(unknown)}; the report indexes are: {', '.join(REPORT_INDEXES)}")
    sizes = {name: _size(engine, name) for name in dict.fromkeys(names)}  # read once: dbstat scans the file
    missing = [name for name, size in sizes.items() if size is None]
    if missing:
        raise SlaflowError(f"the database has no index {', '.join(missing)}: upgrade it first with `slaflow init`")
    done = []
    for name, before in sizes.items():
        began = time.perf_counter()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                _drop_failed_rebuilds(conn, name)
                conn.execute(text(f'REINDEX INDEX CONCURRENTLY "{name}"'))
        else:
            with engine.begin() as conn:  # slaflow's SQLite engine begins every transaction itself
                conn.execute(text(f'REINDEX "{name}"'))
        done.append(Rebuilt(name, before or 0, _size(engine, name) or 0, round(time.perf_counter() - began, 3)))
    if engine.dialect.name == "sqlite":
        _truncate_wal(engine)
    return done


def _truncate_wal(engine: Engine) -> None:
    """Each REINDEX went through the WAL (1.5 GB at 1M cases), which SQLite keeps at its largest
    size: copy it into the database and cut it back. Outside any transaction (a checkpoint in one
    is refused), on the driver's connection: slaflow's engine begins one before every statement."""
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # type: ignore[union-attr]
    finally:
        raw.close()


def _size(engine: Engine, name: str) -> int | None:
    """The index's size in bytes as committed, None if the database has no such index (0 where
    SQLite was built without its ``dbstat`` table: the size is then unknown, the rebuild the same)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            found = conn.execute(text("SELECT pg_relation_size(to_regclass(:name))"), {"name": name}).scalar()
            return None if found is None else int(found)
        exists = text("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :name")
        if conn.execute(exists, {"name": name}).first() is None:
            return None
        try:
            pages = text("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = :name")
            return int(conn.execute(pages, {"name": name}).scalar_one())
        except OperationalError as exc:
            if "no such table: dbstat" not in str(exc):
                raise
            return 0


def _drop_failed_rebuilds(conn: Connection, name: str) -> None:
    """A ``REINDEX CONCURRENTLY`` that was interrupted leaves an invalid ``<name>_ccnew`` index
    that writers still maintain; drop it before trying again (PostgreSQL's documented remedy)."""
    leftovers = conn.execute(
        text("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
             "WHERE NOT i.indisvalid AND c.relname LIKE :pattern"),
        {"pattern": f"{name}_ccnew%"},
    ).scalars().all()
    for leftover in leftovers:
        conn.execute(text(f'DROP INDEX CONCURRENTLY IF EXISTS "{leftover}"'))

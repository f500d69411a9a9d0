"""Rebuilding the indexes the reports read.

Those indexes lead with a department or a requester, so every new clock lands at the end of its
own department's range, not at the end of the index. PostgreSQL splits such a full page in half
and nothing ever fills the left half again: at 1M cases they were 55-60 % full
(``pgstatindex``), so a quarter's report read ~1.6x the pages it needs, and the first report
after the pages left memory read them all from disk (bench/reports.py: 1.32-1.35 s; after a
rebuild, 90 % full, 0.71-0.88 s). A rebuild packs them again; new clocks then only touch the
pages at each range's end. PostgreSQL rebuilds ``CONCURRENTLY`` (writers go on); SQLite's
``REINDEX`` holds the write lock while it runs (docs/operations.md gives the times at 1M cases).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

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
    """Rebuild ``names`` (each one of `REPORT_INDEXES`), one after the other. An unknown name, or
    an index missing from the database (a schema not upgraded), is refused before anything runs."""
    unknown = [name for name in names if name not in REPORT_INDEXES]
    if unknown:
        raise SlaflowError(f"unknown index {', '.join(unknown)}; the report indexes are: {', '.join(REPORT_INDEXES)}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        missing = [name for name in names if _size(conn, name) is None]
        if missing:
            raise SlaflowError(
                f"the database has no index {', '.join(missing)}: upgrade it first with `slaflow init`")
        done = []
        for name in dict.fromkeys(names):
            before = _size(conn, name) or 0
            began = time.perf_counter()
            if conn.dialect.name == "postgresql":
                _drop_failed_rebuilds(conn, name)
                conn.execute(text(f'REINDEX INDEX CONCURRENTLY "{name}"'))
            else:
                conn.execute(text(f'REINDEX "{name}"'))
            done.append(Rebuilt(name, before, _size(conn, name) or 0, round(time.perf_counter() - began, 3)))
    return done


def _size(conn: Connection, name: str) -> int | None:
    """The index's size in bytes, None if the database has no such index."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(text("SELECT pg_relation_size(to_regclass(:name))"), {"name": name}).scalar()
        return None if found is None else int(found)
    if conn.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :name"), {"name": name}).first():
        return int(conn.execute(text("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = :name"),
                                {"name": name}).scalar_one())
    return None


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

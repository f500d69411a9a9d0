"""Every statement the report sends about clocks reads ranges of an index, never all the clocks.

SQLite databases are never analysed by slaflow, so SQLite plans them by its rules alone, whatever
the table holds: a plan read here on a few cases is the plan at a million. ``sla_clocks`` carries
no index on a department or a status alone (migration 0018: two B-trees fewer for every clock
written), so a read that names a department without the clock's kind would scan every clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from org.chart import Company
from reports.report import build_report
from tests.test_sweeper_logic import open_returns

_ALIASED = re.compile(r"\bsla_clocks AS (\w+)")
_SCAN = re.compile(r"^SCAN (\w+)", re.MULTILINE)


def _clock_statements(engine: Engine, run: Callable[[], None]) -> list[tuple[str, Any]]:
    """The SELECTs ``run`` sends that read ``sla_clocks``, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "sla_clocks" in statement and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def _clock_scans(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The names under which ``statement``'s plan reads ``sla_clocks`` whole (a table or a full
    index scan), not by a range."""
    names = {"sla_clocks", *_ALIASED.findall(statement)}
    raw = engine.raw_connection()
    try:
        rows = raw.driver_connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()  # type: ignore[union-attr]
    finally:
        raw.close()
    plan = "\n".join(str(row[3]) for row in rows)
    return [name for name in _SCAN.findall(plan) if name in names]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_report_reads_clocks_by_ranges_with_and_without_a_department(
    engine: Engine, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    open_returns(sessions, company, clock.now(), 6)
    since, until = clock.now() - timedelta(days=7), clock.now() + timedelta(days=1)

    def reports() -> None:
        for department in (None, "warehouse", "sales"):
            with sessions() as session:
                build_report(session, company, since=since, until=until, department=department, now=until)

    sent = _clock_statements(engine, reports)
    assert len(sent) >= 10  # the ledger, the department lines, the late and open cases, the trend
    assert any("sla_clocks.department = ?" in statement for statement, _ in sent)  # a department's reads
    scans = {statement: found for statement, params in sent if (found := _clock_scans(engine, statement, params))}
    assert scans == {}

"""A SQLite write transaction touches the disk only when it commits: its statement journals stay
in memory (`storage.db._begin_immediate`, ``temp_store``), where they used to spill to a temp file in every
transaction once the tables held a few hundred cases (~60 extra writes a case opened)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from crm.config import crm_config
from crm.processing import integration_actor
from engine.cases import open_case
from org.chart import Company
from storage.db import make_engine, session_factory

THREAD_IO = Path("/proc/thread-self/io")
DATA = {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "test"}


def write_calls() -> int:
    """This thread's write system calls so far (SQLite writes in the thread that runs it)."""
    line = next(line for line in THREAD_IO.read_text().splitlines() if line.startswith("syscw:"))
    return int(line.split()[1])


@pytest.mark.skipif(not THREAD_IO.exists(), reason="needs Linux's per-thread I/O counters")
def test_opening_cases_writes_nothing_before_the_commit(sqlite_url: str, company: Company,
                                                         clock: SimulatedClock) -> None:
    engine = make_engine(sqlite_url)
    sessions: sessionmaker[Session] = session_factory(engine)
    generic = crm_config(company).sources.generic
    assert generic is not None
    actor = integration_actor("generic", generic)

    def open_batch(prefix: str, count: int) -> int:
        """Open ``count`` CRM cases in one transaction; the writes made before its commit."""
        with sessions.begin() as session:
            before = write_calls()
            for n in range(count):
                open_case(session, company, case_type="rush_delivery", data={**DATA, "order": f"{prefix}-{n}"},
                          actor=actor, now=clock.now(), source="crm:generic", external_source="generic",
                          external_key=f"order:{prefix}-{n}:rush_delivery")
            written = write_calls() - before
        return written

    try:
        for batch in range(8):  # tables of a few hundred cases: where the journals used to spill
            open_batch(f"fill-{batch}", 25)
        before_commit = open_batch("measured", 25)
        committed = write_calls()
        open_batch("after", 1)
        assert write_calls() > committed, "the counter sees SQLite's commits (else the test proves nothing)"
        assert before_commit == 0
    finally:
        engine.dispose()

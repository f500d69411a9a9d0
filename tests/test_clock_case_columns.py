"""Every clock carries its case's requester and opening instant (the whole-case clock's department
and start): the engine writes them when it starts a clock, and migration 0015 filled them in for
the clocks written before, from the whole-case clock, on SQLite and PostgreSQL. The ledger groups
by them instead of joining each case's steps to its whole-case clock (`reports.ledger`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from engine import cases
from org.chart import Company
from sla.model import ClockKind
from storage.db import alembic_config, make_engine
from storage.models import Case, SlaClock
from tests.test_sweeper_logic import open_returns

_clocks = SlaClock.__table__


def _two_cases(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> list[int]:
    """Two returns opened three hours apart; the first moves to its second step a day later."""
    ids = open_returns(sessions, company, clock.now(), 2, step=timedelta(hours=3))
    with sessions.begin() as session:
        cases.fire(session, company, case_id=ids[0], trigger="approve", actor=company.actor("popov"),
                   payload={"inspection_notes": "x"}, now=clock.advance(timedelta(days=1)))
    return ids


def _carried(session: Session) -> dict[int, tuple[Any, ...]]:
    """Per clock id: its case, kind, and the requester and opening instant it carries."""
    query = select(_clocks.c.id, _clocks.c.case_id, _clocks.c.kind, _clocks.c.requester, _clocks.c.case_opened_at)
    return {row.id: tuple(row)[1:] for row in session.execute(query)}


def test_the_engine_writes_the_cases_requester_and_opening_on_each_clock(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    opened = clock.now()
    ids = _two_cases(sessions, company, clock)
    with sessions() as session:
        carried = _carried(session)
        wholes = session.execute(select(_clocks).where(_clocks.c.kind == ClockKind.WHOLE_CASE))
        whole = {row.case_id: row for row in wholes}
        case_rows = {row.id: row for row in session.execute(select(Case.id, Case.requester, Case.opened_at))}
    assert sorted(kind for _, kind, _, _ in carried.values()).count(ClockKind.STEP) == 3
    for case_id, _, requester, case_opened_at in carried.values():
        assert requester == whole[case_id].department == case_rows[case_id].requester == "sales"
        assert case_opened_at == whole[case_id].started_at == case_rows[case_id].opened_at
    assert {case_id: at for case_id, _, _, at in carried.values()} == {
        ids[0]: opened, ids[1]: opened + timedelta(hours=3)
    }


def test_the_migration_fills_them_in_from_the_whole_case_clock(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    ids = _two_cases(sessions, company, clock)
    with sessions() as session:
        written = _carried(session)
    config = alembic_config(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:  # a case without its whole-case clock was outside the ledger's join
            conn.execute(text("DELETE FROM sla_clocks WHERE case_id = :case AND kind = 'case'"), {"case": ids[1]})
    finally:
        engine.dispose()
    command.downgrade(config, "0014")
    command.upgrade(config, "head")
    with sessions() as session:
        filled = _carried(session)
    expected: dict[int, tuple[Any, ...]] = {
        clock_id: row if row[0] == ids[0] else (*row[:2], None, None)
        for clock_id, row in written.items()
        if not (row[0] == ids[1] and row[1] == ClockKind.WHOLE_CASE)
    }
    assert filled == expected
    assert all(isinstance(row[3], datetime) for row in filled.values() if row[0] == ids[0])

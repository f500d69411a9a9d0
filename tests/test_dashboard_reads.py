"""The board's reads as rewritten for speed (bench/dashboard.py): a page of cases first, then each
case's current step clock in one query, and the open total counted only when the page is full."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.dashboard import data
from core.clock import SimulatedClock
from engine import cases
from engine.case_view import current_steps
from org.actors import person_scope
from org.chart import Company
from org.scope import case_filter
from sla.model import ClockKind
from storage.models import Case, SlaClock


def _open_returns(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, n: int) -> list[int]:
    ids = []
    for k in range(n):
        with sessions.begin() as session:
            ids.append(cases.open_case(session, company, case_type="return",
                                       data={"customer": f"c{k}", "order": f"SO-{k}", "reason": "defect"},
                                       actor=company.actor("ivanov"), now=clock.now()).id)
        clock.advance(timedelta(hours=1))
    return ids


def _copy(clock: SlaClock, **changes: object) -> SlaClock:
    columns = {c.key: getattr(clock, c.key) for c in SlaClock.__table__.columns if c.key != "id"}
    return SlaClock(**{**columns, **changes})


def test_the_current_step_is_the_latest_open_step_clock_of_the_state_the_case_is_in(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    first, second = _open_returns(sessions, company, clock, 2)
    with sessions.begin() as session:
        running = session.scalars(select(SlaClock).where(SlaClock.case_id == first, SlaClock.kind == ClockKind.STEP,
                                                         SlaClock.stopped_at.is_(None))).one()
        newer = _copy(running)
        session.add_all([newer, _copy(running, state="another_state"),
                         _copy(running, stopped_at=clock.now())])
        session.flush()
        newer_id = newer.id
    with sessions() as session:
        found = list(session.scalars(select(Case).where(Case.id.in_([first, second])).order_by(Case.id)))
        steps = current_steps(session, found)
        assert steps[first].id == newer_id  # a later clock of another state, or a stopped one, is not current
        assert steps[second].case_id == second and steps[second].state == found[1].state
        assert current_steps(session, []) == {}


@pytest.mark.parametrize("limit", [500, 2])
def test_the_open_total_counts_every_readable_open_case_whether_or_not_the_page_is_full(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch,
    limit: int
) -> None:
    ids = _open_returns(sessions, company, clock, 3)
    monkeypatch.setattr(data, "OPEN_LIMIT", limit)
    with sessions() as session:
        for person in ("orlov", "kuznetsova", "morozova", "popov"):
            scope = person_scope(company, person)[1]
            readable = session.scalar(select(func.count()).select_from(Case).where(
                Case.closed_at.is_(None), case_filter(scope, Case.id)))
            assert person != "orlov" or readable == len(ids)  # the director reads every case
            board = data.board(session, company, clock.now(), "week", reader=scope)
            assert board.open_total == readable
            assert board.listed == min(readable, limit)
            listed = [row.case_id for dept in board.departments for row in dept.rows]
            assert set(listed) <= set(ids)

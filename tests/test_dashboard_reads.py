"""The board's reads as rewritten for speed (bench/dashboard.py): a page of cases first, then each
case's current step clock in one query, and the open total counted only when the page is full."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.dashboard import data
from api.dashboard.open_cases import nearest_statuses
from core.clock import SimulatedClock
from engine import cases
from engine.case_view import current_steps
from org.actors import person_scope
from org.chart import Company
from org.scope import case_filter
from sla.model import ClockKind, ClockStatus
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


KINDS: dict[str, dict[str, Any]] = {
    "ok": {},
    "warning": {"warn_at": "past"},
    "warning_now": {"warn_at": "now"},
    "running_late": {"deadline_at": "past"},
    "due_now": {"deadline_at": "now", "warn_at": "past"},
    "recorded_breached": {"status": ClockStatus.BREACHED},
    "paused": {"paused_since": "past", "deadline_at": "past", "status": ClockStatus.PAUSED},
    "breached_then_paused": {"paused_since": "past", "status": ClockStatus.BREACHED},
    "untimed": {"target_minutes": None, "deadline_at": None, "warn_at": None},
    "no_clock_paused_state": {"state": "awaiting_customer"},
    "no_clock": {"state": "collection"},
    "newer_clock_of_another_state": {"newer_state": "refund"},
    "older_clock_breached": {"newer_state": "inspection", "status": ClockStatus.BREACHED},
}
"""Step clocks of every kind `engine.clock_view.step_status` tells apart (times relative to ``now``)."""


def test_the_board_statuses_computed_in_sql_are_the_python_rule_for_every_kind_of_step(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    ids = _open_returns(sessions, company, clock, len(KINDS))
    now = clock.now()
    at = {"past": now - timedelta(minutes=5), "now": now}
    ahead = {"deadline_at": now + timedelta(hours=10), "warn_at": now + timedelta(hours=5), "paused_since": None,
             "status": ClockStatus.RUNNING}
    with sessions.begin() as session:
        for case_id, changes in zip(ids, KINDS.values(), strict=True):
            running = session.scalars(select(SlaClock).where(
                SlaClock.case_id == case_id, SlaClock.kind == ClockKind.STEP, SlaClock.stopped_at.is_(None))).one()
            changes = {key: at.get(value, value) if isinstance(value, str) else value
                       for key, value in changes.items()}
            for key, value in ahead.items():
                setattr(running, key, value)
            if "state" in changes:
                session.get_one(Case, case_id).state = str(changes["state"])
            elif "newer_state" in changes:  # the older clock keeps any other change
                session.add(_copy(running, state=changes.pop("newer_state")))
                session.flush()
                for key, value in changes.items():
                    setattr(running, key, value)
            else:
                for key, value in changes.items():
                    setattr(running, key, value)
    director = person_scope(company, "orlov")[1]
    with sessions() as session:
        nearest = nearest_statuses(session, company, now, reader=director, limit=100)
        in_sql = {near.case_id: near.status for near in nearest}
        by_python = {row.case_id: row.status for row in data.open_rows(session, company, now, reader=director)}
    assert in_sql == by_python
    assert sorted(Counter(in_sql.values()).items()) == [("breached", 3), ("ok", 3), ("paused", 2), ("untimed", 2),
                                                        ("warning", 3)]

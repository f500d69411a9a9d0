"""A sweep group's writes wait for its next read or its commit on PostgreSQL (storage.deferred),
with the breaches of its clocks read ahead (sla.breach_log.read_ahead): the outcome
must be that of firing each timer alone, every due timer fires, what a subscriber is handed is
what is stored, a read through SQLAlchemy inside the group still sees its rows, and a queued write
that fails sets its own timer aside, not the group's."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.vocabulary import TimerKind, TimerStatus
from engine import cases
from engine import events as ev
from engine.timers import sweep
from org.chart import Company
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, session_factory
from storage.deferred import QUEUED
from storage.models import Breach, OutboxMessage, Timer, table
from storage.prepared import prepared_insert
from tests.conftest import MONDAY_0900_MSK, _truncate
from tests.test_sweep_group_reads import OPENINGS
from tests.test_sweep_group_reads import _state as group_state
from tests.test_sweeper_logic import open_returns

COMPANY = load_company(EXAMPLE_COMPANY)  # not a fixture: hypothesis prints its arguments with each example
FALLBACK = "firing them one by one"


def _state(factory: sessionmaker[Session]) -> dict[str, list[tuple[object, ...]]]:
    """What firing leaves behind (`tests.test_sweep_group_reads`), with the whole breach rows and
    the message contexts (they quote the breach row)."""
    with factory() as session:
        return {
            **group_state(factory),
            "breaches": [tuple(r) for r in session.execute(select(
                Breach.clock_id, Breach.case_id, Breach.kind, Breach.department, Breach.person, Breach.state,
                Breach.deadline_at, Breach.breached_at, Breach.detected_at).order_by(Breach.clock_id))],
            "messages": [tuple(r) for r in session.execute(select(
                OutboxMessage.dedupe_key, OutboxMessage.created_at, OutboxMessage.next_attempt_at,
                OutboxMessage.context).order_by(OutboxMessage.dedupe_key))],
        }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(st.sampled_from(range(len(OPENINGS))), min_size=1, max_size=6),
    hours=st.lists(st.integers(min_value=1, max_value=59), min_size=0, max_size=3),
)
def test_on_postgresql_a_group_fires_exactly_as_its_timers_fired_alone(
    pg_database: str, kinds: list[int], hours: list[int]
) -> None:
    outcomes = []
    for group in (50, 1):
        _truncate(pg_database)
        engine = make_engine(pg_database)
        factory = session_factory(engine)
        for n, kind in enumerate(kinds):
            case_type, data, actor = OPENINGS[kind]
            with factory.begin() as session:
                cases.open_case(session, COMPANY, case_type=case_type, data=data, actor=COMPANY.actor(actor),
                                now=MONDAY_0900_MSK + timedelta(minutes=n))
        for step in [*sorted(hours), 60]:  # the last sweep finds warnings, breaches and levels due
            result = sweep(factory, COMPANY, now=MONDAY_0900_MSK + timedelta(hours=step), owner="sweeper",
                           group=group)
            assert result.failed == 0
        outcomes.append(_state(factory))
        engine.dispose()
    grouped, alone = outcomes
    assert grouped == alone
    assert any(status == "fired" for _, status, _, _ in grouped["timers"])


def mixed(sessions: sessionmaker[Session], company: Company) -> tuple[datetime, int, int]:
    """Returns opened every 20 minutes of a Monday, and an instant at which some have their step
    breach due (their warning sent before, as bench/timers.py has them) and others only their step
    warning: (instant, breaches due, warnings to send). Each case has one timer due."""
    open_returns(sessions, company, MONDAY_0900_MSK, 14, step=timedelta(minutes=20))
    with sessions() as session:
        rows = session.execute(select(Timer.case_id, Timer.kind, Timer.due_at).where(
            Timer.kind.in_([TimerKind.WARNING, TimerKind.BREACH]), Timer.state != "*")).all()
    due: dict[int, dict[str, datetime]] = {}
    for case_id, kind, due_at in rows:
        due.setdefault(case_id, {})[kind] = due_at
    for moment in sorted(d["breach"] + timedelta(seconds=1) for d in due.values()):
        breaches = sum(d["breach"] <= moment for d in due.values())
        warnings = sum(d["warning"] <= moment < d["breach"] for d in due.values())
        if breaches >= 2 and warnings >= 2:
            late = [case_id for case_id, d in due.items() if d["breach"] <= moment]
            with sessions.begin() as session:
                session.execute(update(Timer).where(Timer.case_id.in_(late), Timer.kind == TimerKind.WARNING,
                                                    Timer.due_at <= moment)
                                .values(status=TimerStatus.FIRED, fired_at=moment - timedelta(hours=1)))
            return moment, breaches, warnings
    raise AssertionError(f"no instant with breaches and warnings due among {due}")


@contextmanager
def subscribed(kind: type[Any], subscriber: Callable[[Session, Company, Any], None]) -> Iterator[None]:
    ev.subscribe(kind, subscriber)
    try:
        yield
    finally:
        ev.unsubscribe(kind, subscriber)


def test_every_due_warning_and_breach_fires_once_in_one_group_and_is_told_its_stored_breach(
    sessions: sessionmaker[Session], company: Company, caplog: pytest.LogCaptureFixture
) -> None:
    now, breaches, warnings = mixed(sessions, company)
    told: list[Any] = []
    pipelined: list[bool] = []

    def breached(session: Session, _: Company, event: ev.StepBreached) -> None:
        told.append(event.breach)

    def warned(session: Session, _: Company, event: ev.StepWarned) -> None:
        held = session.connection().info.get(QUEUED)
        pipelined.append(held is not None and len(held[1]) > 0)

    with caplog.at_level(logging.INFO, logger="engine.timers"), subscribed(ev.StepBreached, breached), \
            subscribed(ev.StepWarned, warned):
        result = sweep(sessions, company, now=now, owner="s", group=50)
    assert FALLBACK not in caplog.text
    assert result.failed == 0 and result.fired == {"breach": breaches, "warning": warnings}
    with sessions() as session:
        stored = {row.clock_id: tuple(row) for row in session.execute(select(table(Breach)))}
        assert session.scalar(select(func.count()).where(Timer.due_at <= now, Timer.status == "pending")) == 0
        fired = session.execute(select(Timer.kind, func.count())
                                .where(Timer.status == TimerStatus.FIRED, Timer.fired_at == now)
                                .group_by(Timer.kind)).all()
    assert {kind: count for kind, count in fired} == {"breach": breaches, "warning": warnings}
    assert len(told) == breaches and {row.clock_id: tuple(row) for row in told} == stored
    postgresql = sessions.kw["bind"].dialect.name == "postgresql"
    assert pipelined == [postgresql] * warnings  # the warnings' writes waited for the commit


def test_a_read_through_sqlalchemy_inside_a_group_sees_its_rows(
    sessions: sessionmaker[Session], company: Company, caplog: pytest.LogCaptureFixture
) -> None:
    """(The writes waiting before it are sent first: storage.deferred.)"""
    now, _, warnings = mixed(sessions, company)
    seen: list[int | None] = []

    def warned(session: Session, _: Company, event: ev.StepWarned) -> None:
        seen.append(session.scalar(select(func.count()).select_from(OutboxMessage)
                                   .where(OutboxMessage.case_id == event.case.id)))

    with caplog.at_level(logging.INFO, logger="engine.timers"), subscribed(ev.StepWarned, warned):
        result = sweep(sessions, company, now=now, owner="s", group=50)
    assert FALLBACK not in caplog.text and result.failed == 0
    assert len(seen) == warnings and all(count is not None and count > 0 for count in seen)  # its opening's


_BAD_BREACH = prepared_insert(table(Breach), ("case_id", "clock_id", "kind", "department", "person", "state",
                                              "deadline_at", "breached_at", "detected_at"))


def test_a_queued_write_that_fails_sets_aside_its_own_timer_only(
    sessions: sessionmaker[Session], company: Company
) -> None:
    now, breaches, warnings = mixed(sessions, company)
    victims: list[int] = []

    def warned(session: Session, _: Company, event: ev.StepWarned) -> None:
        if not victims:
            victims.append(event.case.id)
        if event.case.id == victims[0]:  # its warning writes a row the database refuses (no department)
            _BAD_BREACH.later(session, {  # refused when it is sent, with a later read or the commit
                "case_id": event.case.id, "clock_id": event.clock.id, "kind": "step", "department": None,
                "person": None, "state": None, "deadline_at": now, "breached_at": now, "detected_at": now})

    with subscribed(ev.StepWarned, warned):
        result = sweep(sessions, company, now=now, owner="s", group=50)
    assert result.failed == 1 and result.fired == {"breach": breaches, "warning": warnings - 1}
    with sessions() as session:
        (bad,) = session.execute(select(Timer).where(Timer.case_id == victims[0], Timer.kind == "warning",
                                                     Timer.state != "*")).scalars()
        assert bad.status == TimerStatus.PENDING and "department" in (bad.last_error or "")
        assert session.scalar(select(func.count()).select_from(Breach)) == breaches

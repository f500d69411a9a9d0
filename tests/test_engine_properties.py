"""Properties of the engine on a real SQLite file: random people firing random triggers never
reach an undefined state, a refused trigger changes nothing, and the event log always replays
to exactly the stored state and SLA records."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import InvalidData, SlaflowError
from core.vocabulary import ParticipantRole
from engine import cases, records, replay
from engine.rebuild import rebuild
from org.chart import Company
from state_machines.builtin import BUILTIN_TYPES
from storage.db import make_engine, session_factory
from storage.models import Case, CaseEvent, SlaClock, Timer
from tests.conftest import MONDAY_0900_MSK

OPEN_DATA = {
    "return": {"customer": "c", "order": "o", "reason": "r"},
    "replacement": {"customer": "c", "order": "o", "product": "p", "complaint": "x"},
    "rush_delivery": {"customer": "c", "order": "o", "deliver_by": "d", "reason": "r"},
    "reservation": {"customer": "c", "deal": "d", "items": "i"},
    "lead_dispute": {"lead_id": "l", "reason": "r"},
    "picking_error": {"customer": "c", "order": "o", "complaint": "x"},
}
PEOPLE = ["ivanov", "kuznetsova", "popov", "kozlov", "morozova", "egorov", "sidorov", "nowak", "orlov"]
"""Someone of every department that owns a step (the property only holds if moves succeed)."""
FIELDS = [
    "inspection_notes",
    "reason",
    "question",
    "answer",
    "waybill",
    "document",
    "cause",
    "supply_doc",
    "pick_list",
    "slot",
    "reservation_doc",
    "available_qty",
    "order",
    "payment_doc",
    "justification",
    "decision",
    "missing_items",
    "details",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def property_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> str:
    """Where the random cases are stored: a SQLite file, or PostgreSQL (they are replayed into a
    SQLite scratch database either way, so the PostgreSQL run also checks the two agree)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    path = tmp_path_factory.mktemp("properties") / "slaflow.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def property_sessions(property_db: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(property_db)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def replay_sessions(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[
    sessionmaker[Session]
]:
    path = tmp_path_factory.mktemp("replay") / "replay.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield session_factory(engine)
    engine.dispose()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case_type=st.sampled_from(sorted(OPEN_DATA)), data=st.data())
def test_random_moves_keep_the_case_consistent(
    property_sessions: sessionmaker[Session], replay_sessions: sessionmaker[Session], company: Company,
    case_type: str, data: st.DataObject,
) -> None:
    sessions = property_sessions
    clock = SimulatedClock(MONDAY_0900_MSK)
    definition = company.case_type(case_type)
    machine = company.machine(case_type)
    all_triggers = sorted({t.trigger for d in BUILTIN_TYPES.values() for t in d.transitions})
    with sessions.begin() as session:
        case_id = cases.open_case(
            session,
            company,
            case_type=case_type,
            data=OPEN_DATA[case_type],
            actor=company.actor("ivanov"),
            now=clock.now(),
        ).id
    accepted = 0
    for _ in range(data.draw(st.integers(min_value=0, max_value=12), label="moves")):
        before = _snapshot(sessions, case_id)  # (the draws below touch no database)
        state = before[0]
        # Mostly a trigger of the current state with its required fields; sometimes anything.
        allowed = machine.triggers(str(state))
        prefer_allowed: bool = data.draw(st.booleans())
        choices = allowed if allowed and prefer_allowed else all_triggers
        trigger = data.draw(st.sampled_from(choices), label="trigger")
        rule = machine.rule(trigger, str(state))
        required = set(rule.requires) if rule else set()
        fields = data.draw(st.sets(st.sampled_from(FIELDS), max_size=3), label="fields")
        if data.draw(st.booleans(), label="supply required fields"):
            fields |= required
        person = data.draw(st.sampled_from(PEOPLE), label="person")
        clock.advance(timedelta(minutes=data.draw(st.integers(min_value=0, max_value=600), label="minutes")))
        try:
            with sessions.begin() as session:
                cases.fire(
                    session,
                    company,
                    case_id=case_id,
                    trigger=trigger,
                    actor=company.actor(person),
                    payload={name: "v" for name in fields},
                    now=clock.now(),
                )
            accepted += 1
        except SlaflowError:
            assert _snapshot(sessions, case_id) == before
    with sessions() as session:
        case = cases.get_case(session, case_id)
        assert case.state in definition.states
        assert case.version == accepted + 1
        assert replay.replay(definition, case.events) == replay.CaseSnapshot.of(case)
        open_steps = session.execute(
            select(SlaClock.state, SlaClock.paused_since)
            .where(SlaClock.case_id == case_id, SlaClock.kind == "step", SlaClock.stopped_at.is_(None))
        ).all()
        state = definition.states[case.state]
        running = [name for name, paused_since in open_steps if paused_since is None]
        assert running == ([] if state.terminal or state.paused else [case.state])
        # Besides it, only the step the state works on behalf of waits, paused (a dependency).
        waiting = [name for name, paused_since in open_steps if paused_since is not None]
        assert waiting == ([state.on_behalf_of] if state.on_behalf_of else [])
        if state.terminal:
            assert (
                session.scalar(
                    select(func.count()).select_from(Timer).where(Timer.case_id == case_id, Timer.status == "pending")
                )
                == 0
            )
    rebuilt = rebuild(sessions, company, case_ids=[case_id], scratch=replay_sessions)
    assert rebuilt.ok, rebuilt.differences  # the SLA records also replay exactly from the event log


def _snapshot(sessions: sessionmaker[Session], case_id: int) -> tuple[object, ...]:
    """The case's row and how many events, timers and clocks it has, in one statement (one round
    trip on PostgreSQL: the property takes two snapshots a move)."""

    def count(model: type[CaseEvent] | type[Timer] | type[SlaClock]) -> Any:
        return select(func.count()).select_from(model).where(model.case_id == case_id).scalar_subquery()

    with sessions() as session:
        counts = (count(CaseEvent), count(Timer), count(SlaClock))
        row = session.execute(
            select(Case.state, Case.version, Case.data, Case.updated_at, *counts).where(Case.id == case_id)
        ).one()
        return (row[0], row[1], dict(row[2]), *row[3:])


_JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
                | st.sampled_from([ParticipantRole.OWNER, (1, 2)]))
"""Leaves JSON may change (an enum member, a tuple) or refuse (NaN, infinity) among the plain ones."""


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=3) | st.integers(), _JSON_LEAVES | st.lists(_JSON_LEAVES, max_size=2)
                             | st.dictionaries(st.text(max_size=2), _JSON_LEAVES, max_size=2), max_size=4))
def test_plain_json_is_the_json_round_trip(value: dict[Any, Any]) -> None:
    """Its shortcut for flat payloads gives what the round trip gives, and refuses what it refuses."""
    try:
        expected = json.loads(json.dumps(value, allow_nan=False))
    except ValueError:
        with pytest.raises(InvalidData, match="payload is not plain JSON"):
            records.plain_json(value, "payload")
        return
    got = records.plain_json(value, "payload")
    assert got == expected
    assert [type(item) for item in got.values()] == [type(item) for item in expected.values()]
    assert got is not value

"""Random working weeks for the property tests of issue 12: cases of every built-in type moved by
whoever may move them, recurring duties opened and delivered, customer pauses (paused states),
dependency pauses (``replacement``: the warehouse waits on purchasing), escalation levels that
notify and reassign, reassignments by heads, and sweeps now and then. Each history lives in its
own SQLite file (a copy of the migrated template)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_mapping
from core.clock import SimulatedClock
from core.errors import SlaflowError
from duties.opening import open_due_duties
from engine import cases
from engine.timers import sweep
from org.chart import Company
from runtime.company import company_from_mapping
from state_machines.machine import machine_for
from storage.db import make_engine, session_factory
from storage.models import Case
from tests.conftest import MONDAY_0900_MSK

OPEN_DATA: dict[str, dict[str, str]] = {
    "return": {"customer": "c", "order": "o", "reason": "r"},
    "replacement": {"customer": "c", "order": "o", "product": "p", "complaint": "x"},
    "rush_delivery": {"customer": "c", "order": "o", "deliver_by": "d", "reason": "r"},
    "reservation": {"customer": "c", "deal": "d", "items": "i"},
    "lead_dispute": {"lead_id": "l", "reason": "r"},
    "picking_error": {"customer": "c", "order": "o", "complaint": "x"},
    "price_approval": {"customer": "c", "deal": "d", "discount_pct": "10"},
}
OPENERS = {"lead_dispute": "petrova", "replacement": "petrova", "rush_delivery": "petrova"}
PEOPLE = ["ivanov", "kuznetsova", "popov", "kozlov", "morozova", "egorov", "sidorov", "nowak", "orlov", "volkova",
          "petrova", "smirnov", "novikova"]
WEEK_START = MONDAY_0900_MSK - timedelta(hours=9)
"""Monday 16 November 2026, 00:00 Moscow: every history happens in this ISO week."""
WEEK_END = WEEK_START + timedelta(days=7)


def history_company() -> Company:
    """The example company, with one escalation level that hands the step to the head (the
    price approval's margin check), so replays meet escalation reassignments."""
    raw: dict[str, Any] = example_mapping()
    body = dict(raw["case_types"]["price_approval"])
    body["states"] = {**body["states"], "margin_check": {
        **body["states"]["margin_check"],
        "escalation": {"levels": [{"after": "1h", "reassign_to": "head", "notify": ["department_head"]},
                                  {"after": "3h", "notify": ["head_manager"]}]}}}
    raw["case_types"]["price_approval"] = body
    return company_from_mapping(raw)


@contextmanager
def history_database(template: Path, folder: Path) -> Iterator[sessionmaker[Session]]:
    # A new name each time: engine.versions remembers per database URL what it registered.
    path = folder / f"history-{uuid.uuid4().hex}.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


@dataclass
class History:
    clock: SimulatedClock
    actions: int = 0


ACTIONS = ["open", "move", "move", "move", "assign", "advance", "advance", "sweep", "duties"]


def play(sessions: sessionmaker[Session], company: Company, data: st.DataObject, *, max_actions: int = 30) -> History:
    """Draw and apply a random history; refused moves are simply not part of it."""
    clock = SimulatedClock(MONDAY_0900_MSK)
    history = History(clock)
    duties_since = WEEK_START
    for _ in range(data.draw(st.integers(min_value=1, max_value=max_actions), label="actions")):
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        if action == "advance":
            minutes = data.draw(st.integers(min_value=0, max_value=480), label="minutes")
            clock.set(max(clock.now(), min(clock.now() + timedelta(minutes=minutes), WEEK_END - timedelta(hours=1))))
        elif action == "sweep":
            sweep(sessions, company, now=clock.now(), owner="history")
        elif action == "duties":
            with sessions.begin() as session:
                open_due_duties(session, company, now=clock.now(), since=duties_since)
            duties_since = clock.now()
        elif action == "open":
            _open(sessions, company, data.draw(st.sampled_from(sorted(OPEN_DATA)), label="case type"), clock.now())
        else:
            _act_on_a_case(sessions, company, data, clock.now(), action)
        history.actions += 1
    return history


def _open(sessions: sessionmaker[Session], company: Company, case_type: str, now: datetime) -> None:
    _try(sessions, lambda session: cases.open_case(
        session, company, case_type=case_type, data=dict(OPEN_DATA[case_type]),
        actor=company.actor(OPENERS.get(case_type, "ivanov")), now=now))


def _act_on_a_case(
    sessions: sessionmaker[Session], company: Company, data: st.DataObject, now: datetime, action: str
) -> None:
    with sessions() as session:
        open_ids = list(session.scalars(select(Case.id).where(Case.closed_at.is_(None)).order_by(Case.id)))
    if not open_ids:
        return
    case_id = data.draw(st.sampled_from(open_ids), label="case")
    with sessions() as session:
        case = cases.get_case(session, case_id)
        definition = cases.definition_of(session, company, case)
        state, department = case.state, case.owner_department
    if action == "assign":
        if department is None:
            return
        person = data.draw(st.sampled_from(PEOPLE), label="assignee")
        _try(sessions, lambda session: cases.assign(
            session, company, case_id=case_id, person=person, actor=company.actor(company.head_of(department)),
            now=now))
        return
    machine = machine_for(definition)
    triggers = machine.triggers(state)
    if not triggers:
        return
    trigger = data.draw(st.sampled_from(triggers), label="trigger")
    rule = machine.rule(trigger, state)
    payload = {name: "v" for name in (rule.requires if rule else [])}
    person = data.draw(st.sampled_from(PEOPLE), label="person")
    _try(sessions, lambda session: cases.fire(
        session, company, case_id=case_id, trigger=trigger, actor=company.actor(person), payload=payload, now=now))


def _try(sessions: sessionmaker[Session], action: Any) -> None:
    try:
        with sessions.begin() as session:
            action(session)
    except SlaflowError:
        pass  # refused: nothing changed

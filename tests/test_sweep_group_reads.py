"""A sweep group reads its timers, cases and clocks together (engine.timer_group) and holds its
finishes back for one write: the outcome must be exactly that of firing each timer alone, also
when one case has several timers due in the same group (warning, breach, escalation levels)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import cases
from engine.timers import sweep
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, session_factory
from storage.models import Breach, CaseEvent, OutboxMessage, SlaClock, Timer
from tests.conftest import MONDAY_0900_MSK

COMPANY = load_company(EXAMPLE_COMPANY)  # not a fixture: hypothesis prints its arguments with each example
OPENINGS = [  # (case type, data, who opens it)
    ("return", {"customer": "c", "order": "o", "reason": "r"}, "ivanov"),
    ("replacement", {"customer": "c", "order": "o", "product": "p", "complaint": "x"}, "petrova"),
]


def _state(factory: sessionmaker[Session]) -> dict[str, list[tuple[object, ...]]]:
    with factory() as session:
        return {
            "timers": [tuple(r) for r in session.execute(select(
                Timer.id, Timer.status, Timer.fired_at, Timer.lease_owner).order_by(Timer.id))],
            "clocks": [tuple(r) for r in session.execute(select(
                SlaClock.id, SlaClock.status, SlaClock.person, SlaClock.stopped_at).order_by(SlaClock.id))],
            "breaches": [tuple(r) for r in session.execute(select(
                Breach.clock_id, Breach.department, Breach.person, Breach.detected_at).order_by(Breach.clock_id))],
            "events": [tuple(r) for r in session.execute(select(
                CaseEvent.case_id, CaseEvent.seq, CaseEvent.trigger, CaseEvent.payload).order_by(CaseEvent.id))],
            "messages": [tuple(r) for r in session.execute(select(
                OutboxMessage.dedupe_key, OutboxMessage.created_at, OutboxMessage.next_attempt_at)
                .order_by(OutboxMessage.dedupe_key))],
        }


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(st.sampled_from(range(len(OPENINGS))), min_size=1, max_size=6),
    hours=st.lists(st.integers(min_value=1, max_value=59), min_size=0, max_size=3),
)
def test_group_reads_fire_exactly_as_timers_fired_alone(
    tmp_path_factory: object, sqlite_template: Path, kinds: list[int], hours: list[int]
) -> None:
    company = COMPANY
    folder = Path(str(tmp_path_factory.mktemp("groups")))  # type: ignore[attr-defined]
    outcomes = []
    for group in (50, 1):
        path = folder / f"group{group}.db"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        factory = session_factory(engine)
        for n, kind in enumerate(kinds):
            case_type, data, actor = OPENINGS[kind]
            with factory.begin() as session:
                cases.open_case(session, company, case_type=case_type, data=data, actor=company.actor(actor),
                                now=MONDAY_0900_MSK + timedelta(minutes=n))
        at = MONDAY_0900_MSK
        for step in [*sorted(hours), 60]:  # the last sweep finds warnings, breaches and levels due
            at = MONDAY_0900_MSK + timedelta(hours=step)
            result = sweep(factory, company, now=at, owner="sweeper", group=group)
            assert result.failed == 0
        outcomes.append(_state(factory))
        engine.dispose()
    grouped, alone = outcomes
    assert grouped == alone
    assert any(status == "fired" for _, status, _, _ in grouped["timers"])

"""The engine says what happened as events (engine.events); features subscribe through
runtime.wiring, in the transition's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from crm import writeback
from engine import cases
from engine import events as ev
from notifications import events as notifications
from org.chart import Actor, Company
from runtime.wiring import wire
from storage.models import Case, CaseEvent, OutboxMessage

PRICE = {"customer": "c", "deal": "d", "discount_pct": 10}
KINDS = (ev.CaseOpened, ev.StepEntered, ev.CaseAssigned, ev.Mentioned, ev.CaseResolved, ev.HoldStarted)


@pytest.fixture
def heard() -> Iterator[list[ev.CaseEvent]]:
    events: list[ev.CaseEvent] = []

    def record(session: Session, company: Company, event: ev.CaseEvent) -> None:
        events.append(event)

    for kind in KINDS:
        ev.subscribe(kind, record)
    yield events
    for kind in KINDS:
        ev.unsubscribe(kind, record)


def test_the_engine_emits_what_happened_with_what_subscribers_need(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, heard: list[ev.CaseEvent]
) -> None:
    with sessions.begin() as session:
        opened = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                 data=PRICE, now=clock.now())
        moved = cases.fire(session, company, case_id=opened.id, trigger="margin_ok", actor=company.actor("morozova"),
                           payload={"margin_pct": 18}, now=clock.now())
        assert moved.owner_department is not None
        person = company.members(moved.owner_department)[0]
        cases.assign(session, company, case_id=opened.id, person=person, actor=Actor.system(), now=clock.now())
        cases.comment(session, company, case_id=opened.id, actor=company.actor("ivanov"), text="@morozova see",
                      now=clock.now())
    assert [type(e) for e in heard] == [ev.CaseOpened, ev.StepEntered, ev.CaseAssigned, ev.Mentioned]
    assert heard[0].case == opened and heard[0].key == f"case={opened.id}"
    assert heard[1].case == moved and heard[1].key == f"case={opened.id}|event=2"
    assigned = heard[2]
    assert isinstance(assigned, ev.CaseAssigned) and assigned.person == person and assigned.case.version == 3
    mention = heard[3]
    assert isinstance(mention, ev.Mentioned)
    assert (mention.author, mention.people, mention.text) == ("ivanov", ["morozova"], "@morozova see")


def test_a_failing_subscriber_fails_the_transition_and_nothing_of_it_is_kept(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """Subscribers run in the transition's transaction: the messages commit with it or not at all."""
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                  data=PRICE, now=clock.now()).id
    with sessions() as session:
        messages_before = session.scalar(select(func.count()).select_from(OutboxMessage))

    def broken(session: Session, company: Company, event: ev.StepEntered) -> None:
        raise RuntimeError("a subscriber's bug")

    ev.subscribe(ev.StepEntered, broken)
    try:
        with pytest.raises(RuntimeError), sessions.begin() as session:
            cases.fire(session, company, case_id=case_id, trigger="margin_ok", actor=company.actor("morozova"),
                       payload={"margin_pct": 18}, now=clock.now())
    finally:
        ev.unsubscribe(ev.StepEntered, broken)
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.version == 1 and case.state == "margin_check"
        assert session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == messages_before


def test_wiring_is_idempotent_and_people_hear_before_the_crm(company: Company) -> None:
    before = {kind: ev.subscribers_of(kind) for kind in KINDS}
    wire()
    wire()
    assert {kind: ev.subscribers_of(kind) for kind in KINDS} == before
    listeners = ev.subscribers_of(ev.StepEntered)
    assert len(listeners) == 2
    assert listeners[0].__module__ == notifications.__name__ and listeners[1].__module__ == writeback.__name__


@dataclass(frozen=True)
class Probe(ev.CaseEvent):
    """An event nobody else listens to."""


def test_subscribing_twice_is_once(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> None:
    calls: list[Probe] = []

    def count(session: Session, company: Company, event: Probe) -> None:
        calls.append(event)

    ev.subscribe(Probe, count)
    ev.subscribe(Probe, count)
    try:
        with sessions.begin() as session:
            case = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                   data=PRICE, now=clock.now())
            ev.emit(session, company, Probe(case, clock.now()))
    finally:
        ev.unsubscribe(Probe, count)
    assert calls == [Probe(case, clock.now())]
    assert ev.subscribers_of(Probe) == ()

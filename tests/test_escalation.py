"""Escalation chains: levels fire at business-time offsets past the deadline, once each, to
recipients resolved from the org chart when they fire; a level may reassign the step; the
recipient can acknowledge or snooze."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_mapping
from core.clock import SimulatedClock
from core.errors import NotPermitted
from engine import cases
from engine.rebuild import rebuild
from engine.timers import sweep
from org.chart import Company
from runtime.company import company_from_mapping
from storage.models import CaseEvent, OutboxMessage, Timer

RETURN = {"customer": "c", "order": "o", "reason": "r"}


def _open(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> int:
    with sessions.begin() as session:  # Monday 09:00 Moscow; warehouse 08-20: due 17:00
        return cases.open_case(session, company, case_type="return", data=RETURN, actor=company.actor("ivanov"),
                               now=clock.now()).id


def _escalations(sessions: sessionmaker[Session]) -> Counter[tuple[int, str, str]]:
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "escalation"))
        return Counter((m.level, m.recipient, m.channel) for m in rows)


def test_the_default_chain_climbs_the_org_chart_at_business_offsets(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open(sessions, company, clock)
    with sessions() as session:
        due = sorted((t.level, t.due_at.isoformat()) for t in session.scalars(
            select(Timer).where(Timer.kind == "escalation")))
    # Deadline Monday 17:00 Moscow; +4h -> Tuesday 09:00 (the shift ends 20:00, resumes 08:00),
    # +8h -> Tuesday 13:00, +16h -> Tuesday 21:00 is after the shift: Wednesday 09:00.
    assert due == [(1, "2026-11-17T06:00:00+00:00"), (2, "2026-11-17T10:00:00+00:00"),
                   (3, "2026-11-18T06:00:00+00:00")]
    fired = 0
    for hours in (24, 4, 20):  # Tuesday 09:00, Tuesday 13:00, Wednesday 09:00
        clock.advance(timedelta(hours=hours))
        fired += sweep(sessions, company, now=clock.now(), owner="s1").fired["escalation"]
    assert fired == 3
    sweep(sessions, company, now=clock.now() + timedelta(hours=1), owner="s2")  # nothing fires twice
    # The commercial director heads the warehouse head's chain and is the director; urgent
    # messages go to every channel he uses (e-mail and Telegram).
    assert _escalations(sessions) == Counter({(1, "smirnov", "email"): 1, (2, "orlov", "email"): 1,
                                              (2, "orlov", "telegram"): 1, (3, "orlov", "email"): 1,
                                              (3, "orlov", "telegram"): 1})


def test_the_next_level_goes_to_whoever_heads_the_department_when_it_fires(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open(sessions, company, clock)
    raw = example_mapping()
    raw["departments"]["warehouse"]["head"] = "volkova"
    changed = company_from_mapping(raw)
    clock.advance(timedelta(days=1))  # Tuesday 09:00: level 1 is due
    sweep(sessions, changed, now=clock.now(), owner="s")
    assert _escalations(sessions) == Counter({(1, "volkova", "email"): 1})


def test_a_level_can_hand_the_step_to_the_head_as_an_event(
    sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    raw: dict[str, Any] = example_mapping()
    body = dict(raw["case_types"]["price_approval"])
    body["states"] = {**body["states"], "margin_check": {
        **body["states"]["margin_check"],
        "escalation": {"levels": [{"after": "1h", "reassign_to": "head", "notify": ["department_head"]}],
                       "repeat_every": "2h", "repeat_max": 2}}}
    raw["case_types"]["price_approval"] = body
    company = company_from_mapping(raw)
    with sessions.begin() as session:  # accounting, Moscow office, 4h: due 14:00 (lunch 13-14)
        case_id = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                  data={"customer": "c", "deal": "d", "discount_pct": 10}, now=clock.now()).id
    clock.advance(timedelta(days=1))
    sweep(sessions, company, now=clock.now(), owner="s")
    with sessions() as session:
        case = cases.get_case(session, case_id)
        assert case.owner_person == "novikova"  # the chief accountant now holds the step
        assert [(e.trigger, e.actor, e.source) for e in case.events][-1] == ("assign", "escalation", "timer")
        levels = session.scalars(select(OutboxMessage.level).where(OutboxMessage.kind == "escalation",
                                                                   OutboxMessage.recipient == "novikova"))
        # Level 1 tells the head (and hands her the step); levels 2 and 3 remind the owner, who is
        # now she; then the cap. Swept a day later, 2 and 3 are due together and reach the same
        # person: one message, naming level 3.
        assert sorted(levels) == [1, 3]
    assert rebuild(sessions, company).ok


def test_acknowledging_stops_the_chain_and_snoozing_holds_it(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    first, second = _open(sessions, company, clock), _open(sessions, company, clock)
    clock.advance(timedelta(hours=9))  # Monday 18:00: breached
    with sessions.begin() as session:
        cases.acknowledge(session, company, case_id=first, actor=company.actor("smirnov"), now=clock.now())
        cases.acknowledge(session, company, case_id=second, actor=company.actor("popov"), now=clock.now(),
                          snooze_minutes=600)  # 2h today + 8h tomorrow: Tuesday 16:00
    with sessions.begin() as session, pytest.raises(NotPermitted, match="kozlov may not acknowledge"):
        cases.acknowledge(session, company, case_id=first, actor=company.actor("kozlov"), now=clock.now())
    clock.advance(timedelta(hours=15))  # Tuesday 09:00: level 1 would be due
    sweep(sessions, company, now=clock.now(), owner="s")
    assert _escalations(sessions) == Counter()
    clock.advance(timedelta(hours=7))  # Tuesday 16:00: the snooze is over for the second case
    sweep(sessions, company, now=clock.now(), owner="s")
    with sessions() as session:
        fired = session.scalars(select(Timer.case_id).where(Timer.kind == "escalation", Timer.status == "fired"))
        assert set(fired) == {second}
        triggers = session.scalars(select(CaseEvent.trigger).where(CaseEvent.case_id.in_([first, second])))
        assert Counter(triggers) == Counter({"open": 2, "acknowledge": 1, "snooze": 1})
    assert rebuild(sessions, company).ok


def test_leaving_the_state_cancels_the_remaining_levels(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    clock.advance(timedelta(days=1))
    sweep(sessions, company, now=clock.now(), owner="s")  # level 1 fired
    with sessions.begin() as session:
        cases.fire(session, company, case_id=case_id, trigger="approve", actor=company.actor("popov"),
                   payload={"inspection_notes": "x"}, now=clock.now())
    with sessions() as session:
        left = session.scalars(select(Timer.status).where(Timer.kind == "escalation", Timer.state == "inspection"))
        assert sorted(left) == ["cancelled", "cancelled", "fired"]

"""The engine and the sweeper queue messages in the same transaction as their cause, and the
dispatcher delivers them through a real SMTP server: one message per recipient and level."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import MissingFields
from engine import cases
from engine.timers import sweep
from notifications.outbox import dispatch_due
from org.chart import Company
from storage.models import OutboxMessage, Timer
from tests.test_notifications_support import SmtpServer, self_signed, start_smtp

RETURN_DATA = {"customer": "ООО Ромашка", "order": "SO-1", "reason": "broken"}


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    controller, server = start_smtp("none", self_signed(tmp_path))
    yield server
    controller.stop()


def _messages(sessions: sessionmaker[Session], kind: str) -> Counter[tuple[str, int]]:
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))
        return Counter((m.recipient, m.level) for m in rows)


def test_opening_a_case_tells_both_departments_in_the_same_transaction(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with sessions.begin() as session:
        cases.open_case(session, company, case_type="return", data=RETURN_DATA, actor=company.actor("ivanov"),
                        now=clock.now())
    assert set(_messages(sessions, "case_opened")) == {("kuznetsova", 0), ("smirnov", 0)}  # heads of sales, warehouse
    with sessions.begin() as session, pytest.raises(MissingFields):
        cases.open_case(session, company, case_type="return", data={}, actor=company.actor("ivanov"), now=clock.now())
    assert sum(_messages(sessions, "case_opened").values()) == 2  # the refused opening queued nothing


def test_a_breach_reaches_each_recipient_once_through_a_real_smtp_server(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, smtp: SmtpServer
) -> None:
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return", data=RETURN_DATA,
                                  actor=company.actor("ivanov"), now=clock.now()).id
    clock.advance(timedelta(hours=9))  # past the warehouse's 17:00 deadline
    assert sweep(sessions, company, now=clock.now(), owner="s1").fired["breach"] == 1
    # The same cause processed again (a re-fired timer after a crash) must not queue a second copy.
    with sessions.begin() as session:
        session.execute(update(Timer).where(Timer.kind == "breach", Timer.state == "inspection")
                        .values(status="pending", lease_owner=None, lease_until=None))
    sweep(sessions, company, now=clock.now(), owner="s2")
    breach_messages = _messages(sessions, "breach")
    # Storekeepers popov and volkova own the step; smirnov heads the warehouse.
    assert breach_messages == Counter({("popov", 0): 1, ("volkova", 0): 1, ("smirnov", 0): 1})
    result = dispatch_due(sessions, company, now=clock.now(), owner="d1", settings=smtp.settings)
    assert result.failed == 0
    breach_mail = Counter(rcpt for _, rcpts, message in smtp.mailbox.messages for rcpt in rcpts
                          if str(message["Subject"]) == f"Срок нарушен: заявка №{case_id}, Проверка товара")
    assert breach_mail == Counter({"popov@sever.example": 1, "volkova@sever.example": 1,
                                   "smirnov@sever.example": 1})
    assert dispatch_due(sessions, company, now=clock.now() + timedelta(hours=1), owner="d2",
                        settings=smtp.settings).sent == 0  # nothing goes out twice


def test_a_case_that_names_its_subscribers_tells_them_instead_of_the_heads(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with sessions.begin() as session:
        cases.open_case(session, company, case_type="return", data={**RETURN_DATA, "notify": ["ivanov", "petrova"]},
                        actor=company.actor("ivanov"), now=clock.now())
    assert set(_messages(sessions, "case_opened")) == {("ivanov", 0), ("petrova", 0)}

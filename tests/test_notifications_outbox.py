"""The outbox on SQLite and PostgreSQL: written once per cause, held for working hours,
retried with backoff, never lost, never blocked by another channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifications import events
from notifications.config import notifications_config
from notifications.outbox import claim_due, dispatch_due
from notifications.outbox_admin import retry
from notifications.settings import NotificationSettings
from notifications.transports import Outgoing, Transport
from org.chart import Company, PersonConfig
from storage.models import DeliveryAttempt, OutboxMessage
from tests.conftest import MONDAY_0900_MSK
from tests.test_notifications_support import (
    HttpSink,
    closed_port_url,
    company_with,
    open_dispute,
    outbox,
    raw_company,
    record_breach_row,
    running_http_sink,
    step_clock,
)

MONDAY_2200_MSK = datetime(2026, 11, 16, 19, 0, tzinfo=UTC)
TUESDAY_0900_MSK = datetime(2026, 11, 17, 6, 0, tzinfo=UTC)
TUESDAY_0800_EKB = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    with running_http_sink() as sink:
        yield sink


def _webhook(sink: HttpSink, **extra: object) -> NotificationSettings:
    return NotificationSettings(webhook_url=sink.url + "/hook", webhook_secret="k", **extra)  # type: ignore[arg-type]


def _test_messages(sessions: sessionmaker[Session], company: Company, channel: str, *people: str) -> list[int]:
    """One test message per name, each produced at its own instant in the minute before 09:00
    (a test message is unique per instant, so the same person may get several)."""
    global _produced
    ids = []
    with sessions.begin() as session:
        for person in people:
            _produced += 1
            at = MONDAY_0900_MSK - timedelta(seconds=60 - _produced % 60)
            ids.append(events.test_message(session, company, person=person, channel=channel, now=at))
    return ids


_produced = 0


def test_it_writes_one_row_per_recipient_and_channel_however_often_the_cause_is_processed(
    sessions: sessionmaker[Session], company: Company
) -> None:
    now = MONDAY_0900_MSK + timedelta(days=1)
    with sessions.begin() as session:
        case = open_dispute(session, company, MONDAY_0900_MSK)
        clock = step_clock(session, case)
        breach = record_breach_row(session, clock)
        for _ in range(2):
            events.case_opened(session, company, case, now=MONDAY_0900_MSK)
            events.step_breached(session, company, case, clock, breach, now=now)
        case.data = {**case.data, "note": "the transaction goes on after a duplicate"}
    with sessions.begin() as session:  # the sweeper processes the same breach again later
        events.step_breached(session, company, case, clock, breach, now=now + timedelta(minutes=5))
    with sessions() as session:
        rows = outbox(session)
        assert sorted((m.kind, m.recipient, m.channel) for m in rows) == [
            ("breach", "pavlova", "email"), ("breach", "sidorov", "email"),
            ("case_opened", "kuznetsova", "email"), ("case_opened", "pavlova", "email"),
        ]
        assert session.get(type(case), case.id).data["note"]  # type: ignore[union-attr]


def test_it_holds_a_warning_produced_at_night_until_the_recipients_working_hours(
    sessions: sessionmaker[Session], company: Company, tmp_path: Path
) -> None:
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    with sessions.begin() as session:
        case = open_dispute(session, company, MONDAY_0900_MSK)
        events.step_warning(session, company, case, step_clock(session, case), now=MONDAY_2200_MSK)
        events.case_assigned(session, company, case, person="lebedev", now=MONDAY_2200_MSK)  # Yekaterinburg, +2h
    with sessions() as session:
        due = {m.recipient: m.next_attempt_at for m in outbox(session)}
    assert due == {"sidorov": TUESDAY_0900_MSK, "lebedev": TUESDAY_0800_EKB}
    assert dispatch_due(sessions, company, now=MONDAY_2200_MSK, owner="w", settings=settings).claimed == 0
    assert dispatch_due(sessions, company, now=TUESDAY_0800_EKB, owner="w", settings=settings).sent == 1
    assert dispatch_due(sessions, company, now=TUESDAY_0900_MSK, owner="w", settings=settings).sent == 1
    assert (tmp_path / "sidorov").is_dir() and (tmp_path / "lebedev").is_dir()


def test_it_sends_a_breach_produced_at_night_at_once(
    sessions: sessionmaker[Session], company: Company, tmp_path: Path
) -> None:
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    with sessions.begin() as session:
        case = open_dispute(session, company, MONDAY_0900_MSK)
        clock = step_clock(session, case)
        events.step_breached(session, company, case, clock, record_breach_row(session, clock), now=MONDAY_2200_MSK)
    result = dispatch_due(sessions, company, now=MONDAY_2200_MSK, owner="w", settings=settings)
    assert (result.claimed, result.sent) == (2, 2)


def test_it_can_be_told_to_hold_breaches_for_working_hours_too(sessions: sessionmaker[Session]) -> None:
    quiet = company_with(notifications={"quiet_hours_for": ["breach"]})
    with sessions.begin() as session:
        case = open_dispute(session, quiet, MONDAY_0900_MSK)
        clock = step_clock(session, case)
        events.step_breached(session, quiet, case, clock, record_breach_row(session, clock), now=MONDAY_2200_MSK)
    with sessions() as session:
        assert {m.next_attempt_at for m in outbox(session)} == {TUESDAY_0900_MSK}


def test_it_retries_a_server_error_with_exponential_backoff_until_it_succeeds(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    http_sink.answer("/hook", (503, "down"), (503, "still down"))
    [message_id] = _test_messages(sessions, company, "webhook", "orlov")
    t0 = MONDAY_0900_MSK
    assert dispatch_due(sessions, company, now=t0, owner="w", settings=_webhook(http_sink)).retried == 1
    assert dispatch_due(sessions, company, now=t0 + timedelta(seconds=59), owner="w",
                        settings=_webhook(http_sink)).claimed == 0
    assert dispatch_due(sessions, company, now=t0 + timedelta(seconds=60), owner="w",
                        settings=_webhook(http_sink)).retried == 1
    assert dispatch_due(sessions, company, now=t0 + timedelta(seconds=179), owner="w",
                        settings=_webhook(http_sink)).claimed == 0
    assert dispatch_due(sessions, company, now=t0 + timedelta(seconds=180), owner="w",
                        settings=_webhook(http_sink)).sent == 1
    assert len(http_sink.to("/hook")) == 3
    with sessions() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == "sent" and message.attempts == 3
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
                                   .order_by(DeliveryAttempt.id)).all()
        assert [(a.ok, a.permanent) for a in attempts] == [(False, False), (False, False), (True, False)]
        assert "HTTP 503: down" in (attempts[0].error or "")


def test_it_marks_a_message_failed_when_its_attempts_run_out(
    sessions: sessionmaker[Session], http_sink: HttpSink
) -> None:
    company = company_with(notifications={"max_attempts": 2, "backoff_seconds": 10})
    http_sink.answer("/hook", *[(500, "boom")] * 5)
    [message_id] = _test_messages(sessions, company, "webhook", "orlov")
    for offset in (0, 10, 1000):
        dispatch_due(sessions, company, now=MONDAY_0900_MSK + timedelta(seconds=offset), owner="w",
                     settings=_webhook(http_sink))
    assert len(http_sink.to("/hook")) == 2
    with sessions() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == "failed" and "HTTP 500" in (message.last_error or "")


@pytest.mark.parametrize(("status", "retried"), [(400, False), (404, False), (408, True), (429, True)])
def test_it_does_not_retry_a_client_error_except_timeout_and_rate_limit(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink, status: int, retried: bool
) -> None:
    http_sink.answer("/hook", (status, "no"))
    [message_id] = _test_messages(sessions, company, "webhook", "orlov")
    result = dispatch_due(sessions, company, now=MONDAY_0900_MSK, owner="w", settings=_webhook(http_sink))
    assert (result.retried, result.failed) == ((1, 0) if retried else (0, 1))
    later = dispatch_due(sessions, company, now=MONDAY_0900_MSK + timedelta(hours=1), owner="w",
                         settings=_webhook(http_sink))
    assert later.sent == (1 if retried else 0)
    with sessions() as session:
        first = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
                                .order_by(DeliveryAttempt.id)).first()
        assert first is not None and first.permanent is not retried


class _Broken(Transport):
    """A transport with a bug: it raises something that is not a TransportError."""

    kind = "slack"
    format = "chat"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        return "x"

    def send(self, message: Outgoing) -> None:
        raise RuntimeError("bug in a transport")


def test_it_delivers_other_channels_while_one_is_failing(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    settings = _webhook(http_sink, telegram_token="t", telegram_api_base=closed_port_url())
    telegram = _test_messages(sessions, company, "telegram", "orlov", "orlov", "orlov", "orlov")
    _test_messages(sessions, company, "webhook", "orlov", "kuznetsova")
    [slack] = _test_messages(sessions, company, "slack", "lebedev")
    result = dispatch_due(sessions, company, now=MONDAY_0900_MSK, owner="w", settings=settings,
                          transports={"slack": _Broken(settings, notifications_config(company))})
    assert len(http_sink.to("/hook")) == 2
    assert (result.claimed, result.sent, result.retried, result.released) == (7, 2, 4, 1)
    with sessions() as session:
        statuses = {m.id: (m.status, m.attempts) for m in outbox(session)}
        assert [statuses[i] for i in telegram] == [("pending", 1)] * 3 + [("pending", 0)]  # the breaker released #4
        assert statuses[slack] == ("pending", 1)
        error = session.get(OutboxMessage, slack)
        assert error is not None and error.last_error == "RuntimeError: bug in a transport"


def test_it_lets_one_worker_hold_a_message_until_its_lease_runs_out(
    sessions: sessionmaker[Session], company: Company
) -> None:
    ids = _test_messages(sessions, company, "email", "orlov", "kuznetsova", "ivanov")
    lease = timedelta(minutes=5)
    with sessions.begin() as session:
        assert claim_due(session, now=MONDAY_0900_MSK, owner="a", lease=lease) == ids
    with sessions.begin() as session:
        assert claim_due(session, now=MONDAY_0900_MSK + timedelta(minutes=4), owner="b", lease=lease) == []
    with sessions.begin() as session:
        assert claim_due(session, now=MONDAY_0900_MSK + timedelta(minutes=6), owner="b", lease=lease) == ids


def test_it_never_lets_a_worker_that_lost_its_lease_overwrite_the_new_owners_state(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    [message_id] = _test_messages(sessions, company, "webhook", "orlov")
    with sessions.begin() as session:
        claim_due(session, now=MONDAY_0900_MSK, owner="stale", lease=timedelta(minutes=5))
    result = dispatch_due(sessions, company, now=MONDAY_0900_MSK + timedelta(minutes=10), owner="fresh",
                          settings=_webhook(http_sink))
    assert result.sent == 1
    with sessions() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and (message.status, message.lease_owner) == ("sent", None)


def test_it_sends_the_next_message_to_the_new_head_once_the_config_changes(sessions: sessionmaker[Session]) -> None:
    before = company_with()
    raw = raw_company()
    raw["departments"]["marketing"]["head"] = "petrova"
    after = company_with(departments=raw["departments"])
    with sessions.begin() as session:
        for company, lead in ((before, "L-1"), (after, "L-2")):
            case = open_dispute(session, company, MONDAY_0900_MSK, lead=lead)
            clock = step_clock(session, case)
            events.step_breached(session, company, case, clock, record_breach_row(session, clock),
                                 now=MONDAY_0900_MSK + timedelta(days=1))
    with sessions() as session:
        by_case: dict[int | None, set[str]] = {}
        for m in outbox(session):
            by_case.setdefault(m.case_id, set()).add(m.recipient)
    assert list(by_case.values()) == [{"sidorov", "pavlova"}, {"sidorov", "petrova"}]


def test_it_queues_failed_messages_again_with_a_fresh_budget_but_never_resends_sent_ones(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    http_sink.answer("/hook", (400, "bad"))
    failed, sent = _test_messages(sessions, company, "webhook", "orlov", "kuznetsova")
    dispatch_due(sessions, company, now=MONDAY_0900_MSK, owner="w", settings=_webhook(http_sink))
    with sessions.begin() as session:
        assert retry(session, now=MONDAY_0900_MSK, all_failed=True) == [failed]
        assert retry(session, now=MONDAY_0900_MSK, ids=[sent]) == []
    assert dispatch_due(sessions, company, now=MONDAY_0900_MSK, owner="w", settings=_webhook(http_sink)).sent == 1
    assert len(http_sink.to("/hook")) == 3

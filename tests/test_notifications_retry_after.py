"""A channel's answer cannot break the outbox: ``Retry-After`` is read safely (seconds, HTTP-dates,
``1e308``, garbage) and capped by ``backoff_max_seconds``, and every attempt is recorded, whatever
the channel answered (a real local HTTP server answers as a misbehaving channel would)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifications import events
from notifications.config import notifications_config
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from notifications.transports.base import MAX_RETRY_AFTER, bounded_seconds, retry_after
from org.chart import Company
from storage.models import DeliveryAttempt, OutboxMessage
from tests.conftest import MONDAY_0900_MSK
from tests.test_notifications_support import HttpSink, running_http_sink

NOW = MONDAY_0900_MSK + timedelta(hours=1)


def answer(headers: dict[str, str]) -> httpx.Response:
    return httpx.Response(429, headers=headers)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "120"}, 120.0),
    ({"Retry-After": " 7 "}, 7.0),
    ({"Retry-After": "1e308"}, MAX_RETRY_AFTER),
    ({"Retry-After": "9" * 5000}, None),
    ({"Retry-After": "-5"}, 0.0),
    ({"Retry-After": "nan"}, None),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": ""}, None),
    ({}, None),
    ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT", "Date": "Wed, 21 Oct 2026 07:27:00 GMT"}, 60.0),
    ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT", "Date": "Thu, 22 Oct 2026 07:28:00 GMT"}, 0.0),
    ({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),  # no Date to measure against
    ({"Retry-After": "Wed, 21 Oct 99999 07:28:00 GMT", "Date": "Wed, 21 Oct 2026 07:27:00 GMT"}, None),
])
def test_it_reads_retry_after_as_seconds_or_an_http_date_and_nothing_else(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after(answer(headers)) == expected


@given(st.one_of(st.text(max_size=80), st.floats(), st.integers(), st.booleans(), st.none()))
def test_whatever_a_server_says_the_wait_is_a_bounded_number_or_nothing(value: object) -> None:
    seconds = bounded_seconds(value)
    assert seconds is None or 0.0 <= seconds <= MAX_RETRY_AFTER


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    with running_http_sink() as sink:
        yield sink


@pytest.mark.parametrize(("status", "body", "headers", "expected_error"), [
    (429, "slow down", {"Retry-After": "1e308"}, "HTTP 429"),
    (503, "", {"Retry-After": "Sat, 01 Jan 2000 00:00:00 GMT"}, "HTTP 503"),
    (500, "garbage \x00\x01\ufffd", {"Retry-After": "garbage"}, "HTTP 500"),
])
def test_every_attempt_is_recorded_and_the_wait_is_capped_by_backoff_max(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink,
    status: int, body: str, headers: dict[str, str], expected_error: str,
) -> None:
    settings = NotificationSettings(webhook_url=http_sink.url + "/hook", webhook_secret="s3cret")
    http_sink.answer("/hook", (status, body, headers))
    with sessions.begin() as session:
        events.test_message(session, company, person="orlov", channel="webhook", now=NOW)
    assert dispatch_due(sessions, company, now=NOW, owner="w1", settings=settings).retried == 1
    config = notifications_config(company)
    with sessions() as session:
        message = session.scalars(select(OutboxMessage)).one()
        [attempt] = session.scalars(select(DeliveryAttempt)).all()
    assert (attempt.ok, attempt.permanent) == (False, False)
    assert expected_error in (attempt.error or "") and "\x00" not in (attempt.error or "")
    assert message.lease_owner is None and message.status == "pending"
    wait = (message.next_attempt_at - NOW).total_seconds()
    assert config.backoff(1) <= wait <= config.backoff_max_seconds
    if headers["Retry-After"] == "1e308":
        assert wait == config.backoff_max_seconds
    # Due again after the wait, it is delivered once (the server now answers 200).
    later = NOW + timedelta(seconds=wait)
    assert dispatch_due(sessions, company, now=later, owner="w2", settings=settings).sent == 1
    assert len(http_sink.to("/hook")) == 2
    with sessions() as session:
        assert len(session.scalars(select(DeliveryAttempt)).all()) == 2

"""Channels against real local servers: an aiosmtpd SMTP server (STARTTLS, implicit TLS, auth)
and an HTTP server standing in for Telegram, Slack and webhook receivers."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from notifications import events
from notifications.config import NotificationsConfig
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings, TlsMode
from notifications.transports import Outgoing, TransportError
from notifications.transports.file import FileTransport
from notifications.transports.smtp import EmailTransport
from notifications.transports.webhook import WebhookTransport
from org.chart import Company
from storage.models import DeliveryAttempt, OutboxMessage
from tests.conftest import MONDAY_0900_MSK
from tests.test_notifications_support import (
    HttpSink,
    SmtpServer,
    free_port,
    open_dispute,
    record_breach_row,
    running_http_sink,
    self_signed,
    start_smtp,
    step_clock,
)

NOW = MONDAY_0900_MSK + timedelta(hours=1)
@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    with running_http_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    controller, server = start_smtp("starttls", certificate)
    yield server
    controller.stop()


def _breach(sessions: sessionmaker[Session], company: Company) -> int:
    """A missed deadline on a lead dispute assigned to nobody: sidorov (the marketer) and
    pavlova (head of marketing) hear about it. Returns the case id."""
    with sessions.begin() as session:
        case = open_dispute(session, company, MONDAY_0900_MSK)
        clock = step_clock(session, case)
        events.step_breached(session, company, case, clock, record_breach_row(session, clock), now=NOW)
        return case.id


def test_it_emails_the_owner_and_the_head_through_an_smtp_server_with_starttls_and_auth(
    sessions: sessionmaker[Session], company: Company, smtp: SmtpServer
) -> None:
    case_id = _breach(sessions, company)
    result = dispatch_due(sessions, company, now=NOW, owner="w1", settings=smtp.settings)
    assert (result.sent, result.retried, result.failed) == (2, 0, 0)
    received = {rcpt[0]: (sender, message) for sender, rcpt, message in smtp.mailbox.messages}
    assert set(received) == {"sidorov@sever.example", "pavlova@sever.example"}
    sender, message = received["pavlova@sever.example"]
    assert sender == "sla@sever.example"
    assert message["To"] == "pavlova@sever.example"
    assert message["Subject"] == f"Срок нарушен: заявка №{case_id}, Проверка маркетингом"
    body = message.get_content()
    assert "Здравствуйте, Светлана Павлова!" in body
    assert "Никита Сидоров" not in body  # nobody was assigned: the step is the marketers'
    assert "lead_id: L-1" in body
    assert message["Auto-Submitted"] == "auto-generated"
    with sessions() as session:
        assert {m.status for m in session.scalars(select(OutboxMessage))} == {"sent"}
        assert all(a.ok for a in session.scalars(select(DeliveryAttempt)))


@pytest.mark.parametrize("mode", ["tls", "none"])
def test_it_speaks_implicit_tls_and_plain_smtp(mode: TlsMode, certificate: tuple[Path, Path]) -> None:
    controller, server = start_smtp(mode, certificate)
    try:
        EmailTransport(server.settings, NotificationsConfig()).send(_outgoing("kowalski@sever.example"))
    finally:
        controller.stop()
    [(_, rcpt, message)] = server.mailbox.messages
    assert rcpt == ["kowalski@sever.example"]
    assert message["Subject"] == "Test" and message.get_content().strip() == "Body"


@pytest.mark.parametrize(("reply", "permanent"), [("550 5.1.1 no such user", True), ("451 4.3.0 try later", False)])
def test_it_tells_a_rejected_address_from_a_busy_server(
    reply: str, permanent: bool, certificate: tuple[Path, Path]
) -> None:
    controller, server = start_smtp("none", certificate)
    server.mailbox.refuse_rcpt = reply
    try:
        with pytest.raises(TransportError) as error:
            EmailTransport(server.settings, NotificationsConfig()).send(_outgoing("ghost@sever.example"))
    finally:
        controller.stop()
    assert error.value.permanent is permanent


def test_it_treats_an_unreachable_smtp_server_as_transient() -> None:
    settings = NotificationSettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none", smtp_timeout=2)
    with pytest.raises(TransportError) as error:
        EmailTransport(settings, NotificationsConfig()).send(_outgoing("orlov@sever.example"))
    assert error.value.permanent is False


def test_it_rejects_a_wrong_smtp_password_permanently(certificate: tuple[Path, Path]) -> None:
    controller, server = start_smtp("starttls", certificate)
    settings = server.settings.model_copy(update={"smtp_password": None})
    try:
        with pytest.raises(TransportError) as error:
            EmailTransport(settings, NotificationsConfig()).send(_outgoing("orlov@sever.example"))
    finally:
        controller.stop()
    assert error.value.permanent is True
    assert "535" in str(error.value)


def test_it_posts_to_the_telegram_bot_api_with_the_token_and_chat_id(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    settings = NotificationSettings(telegram_token="123:ABC", telegram_api_base=http_sink.url + "/tg")
    with sessions.begin() as session:
        events.test_message(session, company, person="orlov", channel="telegram", now=NOW)
    assert dispatch_due(sessions, company, now=NOW, owner="w1", settings=settings).sent == 1
    [request] = http_sink.to("/tg/bot123:ABC/sendMessage")
    body = request.json()
    assert body["chat_id"] == "100001"
    assert body["text"].startswith("✔️ Тест slaflow: канал «telegram» работает")


def test_it_waits_as_long_as_telegram_asks_after_a_429(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    settings = NotificationSettings(telegram_token="123:ABC", telegram_api_base=http_sink.url)
    http_sink.answer("/bot123:ABC/sendMessage",
                     (429, '{"ok": false, "error_code": 429, "parameters": {"retry_after": 900}}'))
    with sessions.begin() as session:
        events.test_message(session, company, person="orlov", channel="telegram", now=NOW)
    assert dispatch_due(sessions, company, now=NOW, owner="w1", settings=settings).retried == 1
    with sessions() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.next_attempt_at == NOW + timedelta(seconds=900)
        assert "HTTP 429" in (message.last_error or "")


def test_it_posts_slack_messages_to_the_global_webhook_with_the_persons_handle(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    settings = NotificationSettings(slack_webhook_url=http_sink.url + "/slack")
    with sessions.begin() as session:  # lebedev prefers slack, then e-mail; a test goes where it is asked
        events.test_message(session, company, person="lebedev", channel="slack", now=NOW)
    assert dispatch_due(sessions, company, now=NOW, owner="w1", settings=settings).sent == 1
    [request] = http_sink.to("/slack")
    assert request.json()["channel"] == "@lebedev"
    assert "«slack»" in request.json()["text"]


def test_it_signs_webhook_bodies_with_hmac_over_timestamp_and_body(
    sessions: sessionmaker[Session], company: Company, http_sink: HttpSink
) -> None:
    settings = NotificationSettings(webhook_url=http_sink.url + "/hook", webhook_secret="shared-secret")
    _breach(sessions, company)
    with sessions() as session:
        session.execute(update(OutboxMessage).values(channel="webhook"))
        session.commit()
    assert dispatch_due(sessions, company, now=NOW, owner="w1", settings=settings).sent == 2
    for request in http_sink.to("/hook"):
        timestamp = request.headers["X-Slaflow-Timestamp"]
        assert timestamp == str(int(NOW.timestamp()))
        expected = hmac.new(b"shared-secret", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Slaflow-Signature"] == f"sha256={expected}"
        payload = json.loads(request.body)
        assert payload["kind"] == "breach" and payload["data"]["clock"]["state_label"] == "Проверка маркетингом"
        assert request.headers["X-Slaflow-Idempotency-Key"].startswith("breach|")


def test_it_writes_what_each_person_would_receive_to_a_folder(
    sessions: sessionmaker[Session], company: Company, tmp_path: Path
) -> None:
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    _breach(sessions, company)
    assert dispatch_due(sessions, company, now=NOW, owner="demo", settings=settings).sent == 2
    [pavlova] = (tmp_path / "pavlova").glob("*.eml")
    message = email.message_from_bytes(pavlova.read_bytes(), policy=email.policy.default)
    assert message["To"] == "pavlova@sever.example"
    assert message["Subject"].startswith("Срок нарушен")
    assert len(list((tmp_path / "sidorov").glob("*-breach-email.eml"))) == 1


def test_it_refuses_to_send_an_unsigned_webhook() -> None:
    settings = NotificationSettings(webhook_url="http://127.0.0.1:9/hook", webhook_secret=None)
    with pytest.raises(TransportError) as error:
        WebhookTransport(settings, NotificationsConfig()).send(_outgoing("orlov"))
    assert error.value.permanent is True


def test_it_needs_a_folder_for_the_file_transport() -> None:
    with pytest.raises(TransportError, match="file_outbox_dir"):
        FileTransport(NotificationSettings(notify_file_dir=None), NotificationsConfig()).send(_outgoing("orlov"))


def _outgoing(address: str) -> Outgoing:
    return Outgoing(message_id=1, dedupe_key="test|x|L0|orlov|email", kind="test", channel="email",
                    recipient="orlov", address=address, subject="Test", text="Body\n", now=NOW)

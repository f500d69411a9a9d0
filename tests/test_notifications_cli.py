"""``notify test`` and ``outbox list/retry`` as a person runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.errors import SlaflowError
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from slaflow.commands.notifications import notify_app, outbox_app
from tests.test_notifications_support import HttpSink, outbox, running_http_sink

runner = CliRunner()


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    with running_http_sink() as sink:
        yield sink


@pytest.fixture
def env(db_url: str, http_sink: HttpSink, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))
    monkeypatch.setenv("SLAFLOW_WEBHOOK_URL", http_sink.url + "/hook")
    monkeypatch.setenv("SLAFLOW_WEBHOOK_SECRET", "k")
    return db_url


def test_it_sends_a_real_test_message_through_the_channel_now(
    env: str, http_sink: HttpSink, sessions: sessionmaker[Session]
) -> None:
    result = runner.invoke(notify_app, ["test", "--to", "kowalski", "--channel", "webhook"])
    assert result.exit_code == 0, result.output
    assert "sent test message" in result.output
    [request] = http_sink.to("/hook")
    assert request.json()["data"]["recipient"]["id"] == "kowalski"
    assert "działa" in request.json()["text"]  # kowalski reads Polish


def test_it_reports_a_failed_test_message_and_lists_and_retries_it(
    env: str, http_sink: HttpSink, sessions: sessionmaker[Session], company: Company
) -> None:
    http_sink.answer("/hook", (401, "bad signature"))
    failed = runner.invoke(notify_app, ["test", "--to", "orlov", "--channel", "webhook"])
    assert failed.exit_code == 1
    assert "HTTP 401: bad signature" in failed.output
    listed = runner.invoke(outbox_app, ["list", "--status", "failed"])
    assert listed.exit_code == 0 and "orlov" in listed.output and "webhook" in listed.output
    retried = runner.invoke(outbox_app, ["retry", "--all-failed"])
    assert retried.exit_code == 0 and "queued again: 1" in retried.output
    with sessions() as session:
        assert [(m.status, m.attempts) for m in outbox(session)] == [("pending", 0)]
    assert runner.invoke(outbox_app, ["dispatch"]).exit_code == 0
    with sessions() as session:
        assert [m.status for m in outbox(session)] == ["sent"]


def test_it_refuses_an_unknown_channel(env: str) -> None:
    result = runner.invoke(notify_app, ["test", "--to", "orlov", "--channel", "pigeon"])
    assert result.exit_code != 0
    assert "unknown channel 'pigeon'" in str(result.exception)
    assert isinstance(result.exception, SlaflowError)  # slaflow.cli.main prints it as one line

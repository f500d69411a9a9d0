"""One-click acknowledge links in e-mails: the dispatcher signs one into an escalation e-mail
(with SLAFLOW_ACK_LINK_SECRET), opening it shows a confirmation page, confirming acknowledges as
the person it was made for; forged, expired or not-permitted links change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.testing import TestClient, runtime, serving
from core.clock import SimulatedClock
from crm import samples
from engine import cases
from notifications import ack_links, events
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from storage.models import Case, CaseEvent, OutboxMessage
from tests.test_notifications_support import running_http_sink, step_clock
from tests.workplace_support import company_with_people

SECRET = "ack-link-secret-for-tests-0123456789"


@pytest.fixture
def mailed(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[TestClient, int, str]]:
    """(client, case id, the acknowledge link found in smirnov's escalation e-mail)."""
    config = company_with_people(db_url, tmp_path)
    served = runtime(db_url, config)
    company = served.company
    try:
        with served.sessions.begin() as session:
            record = cases.open_case(session, company, case_type="return", actor=company.actor("ivanov"),
                                     now=clock.now(), data={"customer": "ACME", "order": "SO-1", "reason": "x"})
            session.query(OutboxMessage).delete()
            case = session.get(Case, record.id)
            assert case is not None
            events.escalated(session, company, record, step_clock(session, case), level=1,
                             audience=["person:smirnov"], now=clock.now())
        mail = tmp_path / "mail"
        settings = NotificationSettings(notify_redirect="file", notify_file_dir=mail, public_url="http://testserver",
                                        ack_link_secret=SECRET)
        assert dispatch_due(served.sessions, company, now=clock.now(), owner="t", settings=settings).sent == 1
    finally:
        served.engine.dispose()
    [eml] = (mail / "smirnov").glob("*.eml")
    found = re.search(r"http://testserver(/dashboard/ack/[A-Za-z0-9_.-]+)", eml.read_text(encoding="utf-8"))
    assert found, "no acknowledge link in the e-mail"
    with serving(db_url, config, clock, {**samples.SAMPLE_ENV, "SLAFLOW_ACK_LINK_SECRET": SECRET}) as client:
        yield client, record.id, found.group(1)


def confirm(client: TestClient, path: str) -> object:
    page = client.get(path + "?lang=en")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf, page.text
    return client.post(path + "?lang=en", data={"csrf": csrf.group(1)}, headers={"Origin": str(client.base_url)})


def acknowledgements(client: TestClient, case_id: int) -> list[tuple[str, str]]:
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                       CaseEvent.trigger == "acknowledge"))
        return [(e.actor, e.source) for e in rows]


def test_the_link_in_the_escalation_mail_shows_a_confirmation_and_acknowledges_as_its_person(
    mailed: tuple[TestClient, int, str]
) -> None:
    client, case_id, path = mailed
    page = client.get(path + "?lang=en")
    assert "Acknowledge the escalation of case #" in page.text and "Sergey Smirnov" in page.text
    assert acknowledgements(client, case_id) == []  # opening the link (a mail scanner does) changes nothing
    done = confirm(client, path)
    assert done.status_code == 200 and "is acknowledged" in done.text  # type: ignore[attr-defined]
    assert acknowledgements(client, case_id) == [("smirnov", "email")]


def test_forged_expired_and_not_permitted_links_change_nothing(
    mailed: tuple[TestClient, int, str], clock: SimulatedClock
) -> None:
    client, case_id, path = mailed
    assert client.get(path[:-3] + "abc").status_code == 404
    outsider = ack_links.sign(SECRET, case_id, "morozova", clock.now())
    refused = confirm(client, f"/dashboard/ack/{outsider}")
    assert refused.status_code == 409 and "may not acknowledge" in refused.text  # type: ignore[attr-defined]
    clock.advance(ack_links.VALID_FOR + timedelta(minutes=1))
    expired = client.get(path + "?lang=en")
    assert expired.status_code == 404 and "expired" in expired.text
    assert acknowledgements(client, case_id) == []


def test_a_telegram_escalation_carries_buttons_to_the_case_and_to_acknowledge(
    sessions: Any, company: Any, tmp_path: Path, clock: SimulatedClock
) -> None:
    """Against a local HTTP server answering as the Bot API: InlineKeyboardMarkup with URL buttons."""
    with sessions.begin() as session:
        record = cases.open_case(session, company, case_type="return", actor=company.actor("ivanov"),
                                 now=clock.now(), data={"customer": "ACME", "order": "SO-1", "reason": "x"})
        case = session.get(Case, record.id)
        session.query(OutboxMessage).delete()
        events.escalated(session, company, record, step_clock(session, case), level=2, audience=["director"],
                         now=clock.now())
        session.query(OutboxMessage).where(OutboxMessage.channel != "telegram").delete()
    with running_http_sink() as sink:
        settings = NotificationSettings(telegram_token="123:ABC", telegram_api_base=sink.url,
                                        public_url="https://sla.example", ack_link_secret=SECRET)
        assert dispatch_due(sessions, company, now=clock.now(), owner="t", settings=settings).sent == 1
        [request] = sink.to("/bot123:ABC/sendMessage")
    [[open_case, acknowledge]] = request.json()["reply_markup"]["inline_keyboard"]
    assert open_case == {"text": "Открыть заявку", "url": f"https://sla.example/dashboard/cases/{record.id}"}
    assert acknowledge["text"] == "Принять" and acknowledge["url"].startswith("https://sla.example/dashboard/ack/")
    link = ack_links.verify(SECRET, acknowledge["url"].rsplit("/", 1)[1], clock.now())
    assert (link.case_id, link.person) == (record.id, "orlov")

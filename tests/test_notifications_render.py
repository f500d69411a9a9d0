"""Templates: every kind in every locale and format renders from the context the producers
really write, and a missing variable is an error, never a blank."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy.orm import Session

from leads.letter import enqueue_lead_letters
from leads.service import LeadFacts, record_lead_event, set_feedback_request
from notifications import events
from notifications.config import KINDS
from notifications.render import LOCALES, TEMPLATES, render, template_names
from notifications.transports.base import Format
from org.chart import Company
from reports import digest as reports
from storage.db import make_engine, session_factory
from storage.models import CaseWatcher
from tests.test_notifications_support import assign, closed_copy, open_dispute, outbox, record_breach_row, step_clock

MONDAY_1000_MSK = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


def _produce_every_kind(session: Session, company: Company) -> None:
    now = MONDAY_1000_MSK
    case = open_dispute(session, company, now)
    events.case_opened(session, company, case, now=now)
    assign(session, company, case, "sidorov", now)
    events.case_assigned(session, company, case, person="sidorov", now=now)
    events.mentioned(session, company, case, author="kuznetsova", people=["sidorov"], text="@sidorov see the call log",
                     now=now)
    clock = step_clock(session, case)
    events.step_warning(session, company, case, clock, now=now + timedelta(hours=6))
    later = now + timedelta(days=1, hours=6)
    breach = record_breach_row(session, clock)
    events.step_breached(session, company, case, clock, breach, now=later)
    events.escalated(session, company, case, clock, level=2, audience=["director"], now=later)
    session.add(CaseWatcher(case_id=case.id, person="kuznetsova", following=True, since=now))
    events.case_moved(session, company, case, now=later)
    events.hold_expiring(session, company, case, expires_at=later + timedelta(hours=4), now=later)
    events.case_resolved(session, company, closed_copy(case, "accepted", later), now=later)
    open_dispute(session, company, later, lead="L-2")
    reports.enqueue_daily_digests(session, company, now=later + timedelta(days=1))
    report = reports.LeadReport(120, "filter the spam", "under 5% non-target", "https://crm.example/leads/{lead_id}")
    reports.enqueue_lead_report(session, company, report, now=later)
    events.test_message(session, company, person="kowalski", channel="email", now=later)
    figures = [{"department": "warehouse", "steps": 5, "met": 2, "breached": 3, "running": 0, "late_minutes": 930.0,
                "compliance": 0.4}]
    reports.enqueue_sla_report(session, company, recipient="smirnov", rows=figures, since=now - timedelta(days=7),
                               until=now, department="warehouse", now=later, link="https://sla.example/report")
    record_lead_event(session, company, source="amocrm", external_key="L-9", status="non_target", at=later,
                      actor=company.actor("ivanov"), facts=LeadFacts(reason="spam", customer="ООО Ромашка"))
    set_feedback_request(session, company, actor=company.actor("kuznetsova"), department="sales",
                         request="Лиды с телефоном", expected_result="Меньше 5% нецелевых", now=later)
    enqueue_lead_letters(session, company, now=later)


@pytest.fixture(scope="module")
def contexts(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, company: Company) -> Iterator[
    dict[str, dict[str, Any]]
]:
    """One context per kind, written by the real producers (events and reports)."""
    path = tmp_path_factory.mktemp("render") / "render.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with session_factory(engine).begin() as session:
        _produce_every_kind(session, company)
        found = {m.kind: dict(m.context) for m in outbox(session)}
    engine.dispose()
    yield found


KIND_KEY = {
    "case_opened": "case", "assigned": "assignee_name", "warning": "clock", "breach": "breach",
    "escalation": "level", "resolved": "case", "digest": "open_total", "lead_report": "total_leads",
    "sla_report": "rows", "test": "channel", "lead_feedback": "leads_week", "mention": "comment",
    "step_changed": "automatic", "hold_expiring": "expires_at",
}
"""A variable each kind's templates cannot do without."""


def test_it_has_an_email_and_a_chat_template_for_every_kind_in_every_locale() -> None:
    for locale in LOCALES:
        present = {f"{locale}/{p.name}" for p in (TEMPLATES / locale).glob("*.j2") if not p.name.startswith("_")}
        assert present == set(template_names(locale)), locale
        assert (TEMPLATES / locale / "_macros.j2").is_file()


def test_it_produces_a_context_for_every_kind(contexts: dict[str, dict[str, Any]]) -> None:
    assert set(contexts) == set(KINDS)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_it_renders_every_template_from_a_produced_context(
    contexts: dict[str, dict[str, Any]], kind: str, locale: str
) -> None:
    context = contexts[kind]
    for app_url in ("", "https://sla.example"):
        mail = render(kind, locale, "email", context, app_url=app_url)
        assert mail.subject and "\n" not in mail.subject
        assert context["recipient"]["name"] in mail.text
        chat = render(kind, locale, "chat", context, app_url=app_url)
        assert chat.text and len(chat.text) < 4096
        if "case" in context:
            assert f"{context['case']['id']}" in mail.subject
            assert ("https://sla.example/dashboard/cases/" in chat.text) == bool(app_url)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_it_refuses_to_render_when_a_variable_is_missing(
    contexts: dict[str, dict[str, Any]], kind: str, locale: str
) -> None:
    context = dict(contexts[kind])
    del context[KIND_KEY[kind]]
    formats: tuple[Format, ...] = ("email", "chat")
    for fmt in formats:
        with pytest.raises(UndefinedError):
            render(kind, locale, fmt, context)


def test_it_refuses_a_missing_nested_variable(contexts: dict[str, dict[str, Any]]) -> None:
    context = dict(contexts["breach"])
    context["clock"] = {k: v for k, v in context["clock"].items() if k != "deadline_at"}
    with pytest.raises(UndefinedError):
        render("warning", "ru", "email", context)


def test_it_builds_the_webhook_json_from_the_context_and_the_chat_text(contexts: dict[str, dict[str, Any]]) -> None:
    rendered = render("breach", "en", "json", contexts["breach"])
    assert rendered.payload["kind"] == "breach"
    assert rendered.payload["data"]["case"]["id"] == contexts["breach"]["case"]["id"]
    assert rendered.payload["text"] == render("breach", "en", "chat", contexts["breach"]).text


def test_it_shows_instants_in_the_recipients_time_zone(contexts: dict[str, dict[str, Any]]) -> None:
    context = dict(contexts["warning"])
    deadline = datetime.fromisoformat(context["clock"]["deadline_at"])
    moscow = render("warning", "en", "email", {**context, "tz": "Europe/Moscow"}).text
    yekaterinburg = render("warning", "en", "email", {**context, "tz": "Asia/Yekaterinburg"}).text
    assert f"{(deadline + timedelta(hours=3)):%H:%M} MSK" in moscow
    assert f"{(deadline + timedelta(hours=5)):%H:%M} +05" in yekaterinburg


def test_it_writes_the_message_in_the_recipients_language(contexts: dict[str, dict[str, Any]]) -> None:
    test_context = contexts["test"]  # produced for kowalski, whose locale is pl
    assert test_context["locale"] == "pl"
    assert "Dzień dobry" in render("test", "pl", "email", test_context).text
    assert "Здравствуйте" in render("breach", "ru", "email", contexts["breach"]).text

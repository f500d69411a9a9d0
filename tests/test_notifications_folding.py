"""Duty messages folded into one digest per person, channel and local day (issue 19, point 2),
on SQLite and PostgreSQL, delivered by the real file transport."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from duties.config import DutyConfig
from duties.opening import open_due_duties
from engine.timers import sweep
from notifications.folding import DIGEST_KIND
from notifications.outbox import dispatch_due
from notifications.render import LOCALES, render
from notifications.settings import NotificationSettings
from org.chart import Company
from storage.models import DeliveryAttempt, OutboxMessage
from tests.test_duties import _raw, msk
from tests.test_notifications_support import company_with

MONDAY = (2026, 11, 16)


def _duty(notify: list[str]) -> DutyConfig:
    """Stock on hand, owed three times a day (09:00, 12:00, 15:00 Moscow) for the test."""
    raw = next(raw for raw in _raw() if raw["name"] == "stock_on_hand")
    schedule = {"cron": "0 9,12,15 * * 1-5", "tz": "Europe/Moscow", "calendar": "msk_warehouse"}
    return DutyConfig.model_validate({**raw, "schedule": schedule, "deadline": {"business": "1h"}, "notify": notify})


def _open_day(sessions: sessionmaker[Session], company: Company, notify: list[str]) -> list[int]:
    with sessions.begin() as session:
        return open_due_duties(session, company, now=msk(*MONDAY, 16, 0), since=msk(*MONDAY, 0, 0),
                               duties=[_duty(notify)])


def _files(folder: Path, person: str) -> list[Path]:
    return sorted((folder / person).glob("*.eml")) if (folder / person).is_dir() else []


def _rows(sessions: sessionmaker[Session], kind: str) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


def test_three_duty_messages_to_one_person_on_one_day_arrive_as_one_digest(
    sessions: sessionmaker[Session], company: Company, tmp_path: Path
) -> None:
    case_ids = _open_day(sessions, company, ["person:ivanov"])
    assert len(case_ids) == 3
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    result = dispatch_due(sessions, company, now=msk(*MONDAY, 16, 0), owner="w", settings=settings)
    assert (result.claimed, result.sent) == (3, 1)
    files = _files(tmp_path, "ivanov")
    assert len(files) == 1 and DIGEST_KIND in files[0].name
    text = files[0].read_text(encoding="utf-8")
    for case_id in case_ids:
        assert f"{case_id}" in text
    rows = _rows(sessions, "case_opened")
    assert [(r.recipient, r.status, r.sent_at) for r in rows] == [("ivanov", "sent", msk(*MONDAY, 16, 0))] * 3
    with sessions() as session:  # every folded row has its own attempt: nothing is left unaccounted for
        attempted = set(session.scalars(select(DeliveryAttempt.message_id).where(DeliveryAttempt.ok)))
    assert attempted == {r.id for r in rows}
    assert dispatch_due(sessions, company, now=msk(*MONDAY, 17, 0), owner="w", settings=settings).claimed == 0
    assert len(_files(tmp_path, "ivanov")) == 1


def test_two_people_get_one_digest_each(sessions: sessionmaker[Session], company: Company, tmp_path: Path) -> None:
    case_ids = _open_day(sessions, company, ["person:ivanov", "person:petrova"])
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    result = dispatch_due(sessions, company, now=msk(*MONDAY, 16, 0), owner="w", settings=settings)
    assert (result.claimed, result.sent) == (6, 2)
    for person in ("ivanov", "petrova"):
        files = _files(tmp_path, person)
        assert len(files) == 1, person
        text = files[0].read_text(encoding="utf-8")
        assert all(f"{case_id}" in text for case_id in case_ids)


def test_a_retry_after_a_failed_digest_sends_it_once(
    sessions: sessionmaker[Session], company: Company, tmp_path: Path
) -> None:
    _open_day(sessions, company, ["person:ivanov"])
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the transport needs a folder")
    failing = NotificationSettings(notify_redirect="file", notify_file_dir=blocked)
    first = dispatch_due(sessions, company, now=msk(*MONDAY, 16, 0), owner="w", settings=failing)
    assert (first.claimed, first.sent, first.retried) == (3, 0, 1)
    rows = _rows(sessions, "case_opened")
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert len({r.next_attempt_at for r in rows}) == 1  # they stay together for the retry
    working = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path / "out")
    later = msk(*MONDAY, 17, 0)
    second = dispatch_due(sessions, company, now=later, owner="w", settings=working)
    assert (second.claimed, second.sent) == (3, 1)
    assert dispatch_due(sessions, company, now=later, owner="w", settings=working).claimed == 0
    assert len(_files(tmp_path / "out", "ivanov")) == 1
    assert {r.status for r in _rows(sessions, "case_opened")} == {"sent"}


def test_breaches_of_duties_are_never_folded(sessions: sessionmaker[Session], company: Company, tmp_path: Path) -> None:
    _open_day(sessions, company, ["person:ivanov"])
    sweep(sessions, company, owner="sweeper", now=msk(*MONDAY, 16, 30))
    breaches = _rows(sessions, "breach")
    per_person: dict[str, int] = {}
    for row in breaches:
        per_person[row.recipient] = per_person.get(row.recipient, 0) + 1
    assert per_person and max(per_person.values()) == 3  # three breaches reach the same people the same day
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    dispatch_due(sessions, company, now=msk(*MONDAY, 16, 30), owner="w", settings=settings)
    for person, count in per_person.items():
        files = [f for f in _files(tmp_path, person) if "-breach-" in f.name]
        assert len(files) == count, person
        assert not [f for f in _files(tmp_path, person) if DIGEST_KIND in f.name and "breach" in f.read_text()]
    assert len([f for f in _files(tmp_path, "ivanov") if DIGEST_KIND in f.name]) == 1


def test_a_digest_time_holds_the_days_duty_messages_for_one_digest(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    company = company_with(notifications={"duty_digest_at": "17:00"})
    settings = NotificationSettings(notify_redirect="file", notify_file_dir=tmp_path)
    since, opened = msk(*MONDAY, 0, 0), []
    for hour in (9, 12, 15):  # the duties flow and the dispatcher run through the day
        now = msk(*MONDAY, hour, 30)
        with sessions.begin() as session:
            opened += open_due_duties(session, company, now=now, since=since, duties=[_duty(["person:ivanov"])])
        since = now
        assert dispatch_due(sessions, company, now=now, owner="w", settings=settings).claimed == 0
    assert len(opened) == 3
    result = dispatch_due(sessions, company, now=msk(*MONDAY, 17, 0), owner="w", settings=settings)
    assert (result.claimed, result.sent) == (3, 1)
    files = _files(tmp_path, "ivanov")
    assert len(files) == 1 and all(f"{case_id}" in files[0].read_text(encoding="utf-8") for case_id in opened)


def _digest_context() -> dict[str, Any]:
    item = {"id": 7, "type_label": "Duty", "state_label": "Waiting", "data": {"duty": "stock_on_hand"},
            "opened_at": datetime(2026, 11, 16, 6, 0, tzinfo=UTC).isoformat()}
    return {"company_name": "Acme", "recipient": {"id": "ivanov", "name": "Ivan Ivanov"}, "locale": "en",
            "tz": "Europe/Moscow", "folded_kind": "case_opened", "day": "2026-11-16",
            "items": [item, {**item, "id": 8}]}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_digest_renders_in_every_locale_and_refuses_a_missing_variable(locale: str) -> None:
    context = _digest_context()
    mail = render(DIGEST_KIND, locale, "email", context, app_url="https://sla.example")
    assert "Ivan Ivanov" in mail.text and "https://sla.example/dashboard/cases/8" in mail.text
    assert "2026-11-16" in mail.subject
    chat = render(DIGEST_KIND, locale, "chat", context)
    assert "#7" in chat.text or "7" in chat.text
    for missing in ("items", "day"):
        broken = {k: v for k, v in context.items() if k != missing}
        with pytest.raises(UndefinedError):
            render(DIGEST_KIND, locale, "email", broken)

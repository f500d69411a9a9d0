"""The weekly lead letter from the lead records: each head receives the other's letter with the
week's and the day's totals, the non-target leads with links and disputes, and the request the
sender keeps; sent by the Prefect flow (once per week however often it fires) and on demand
from the CLI; the daily digest flow and both schedules."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from engine import cases
from flows.deploy import build_deployments
from flows.lead_letter import DIGEST_CRON, daily_digest, weekly_lead_letter
from leads.service import LeadFacts, record_lead_event, set_feedback_request
from notifications.render import render
from org.chart import Company
from storage.db import make_engine, session_factory
from storage.models import OutboxMessage

MON = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)  # Monday 09:00 Moscow
FRIDAY_1600 = MON + timedelta(days=4, hours=7)


@pytest.fixture
def sessions_on_file(sqlite_url: str) -> sessionmaker[Session]:
    return session_factory(make_engine(sqlite_url))


def a_week_of_leads(sessions: sessionmaker[Session], company: Company) -> None:
    with sessions.begin() as session:
        def lead(key: str, status: str, at: datetime, **facts: Any) -> None:
            record_lead_event(session, company, source="amocrm", external_key=key, status=status, at=at,
                              actor=company.actor("ivanov"), facts=LeadFacts(**facts))

        for day in range(5):
            for n in range(3):
                lead(f"W{day}{n}", "new", MON + timedelta(days=day, hours=n), channel="site")
        lead("W00", "qualified", MON + timedelta(hours=3))
        lead("W10", "non_target", MON + timedelta(days=1, hours=2), reason="ищет работу")
        lead("W40", "non_target", MON + timedelta(days=4, hours=5), reason="поставщик", customer="ООО Вектор")
        lead("OLD", "new", MON - timedelta(days=3))  # last week
        cases.open_case(session, company, case_type="lead_dispute", data={"lead_id": "W40", "reason": "поставщик"},
                        actor=company.actor("ivanov"), now=MON + timedelta(days=4, hours=5))
        set_feedback_request(session, company, actor=company.actor("kuznetsova"), department="sales",
                             request="Отсекайте поставщиков на сайте", expected_result="Нецелевых меньше 5%",
                             now=MON)


def letters(sessions: sessionmaker[Session]) -> dict[str, OutboxMessage]:
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "lead_feedback")).all()
    return {row.recipient: row for row in rows}


def test_each_head_gets_the_others_letter_from_the_lead_records(
    sessions_on_file: sessionmaker[Session], company: Company, sqlite_url: str
) -> None:
    a_week_of_leads(sessions_on_file, company)
    for _ in range(2):  # the schedule firing twice sends once
        weekly_lead_letter.fn(at=FRIDAY_1600, database_url=sqlite_url)
    sent = letters(sessions_on_file)
    assert set(sent) == {"pavlova", "kuznetsova"}
    to_marketing = sent["pavlova"].context
    assert (to_marketing["leads_week"], to_marketing["leads_today"], to_marketing["qualified_week"]) == (15, 3, 1)
    # Only W00 was taken (at 12:00, two hours after its 10:00 deadline); W10 and W40 were marked
    # non-target hours late; the other twelve were never answered and their deadlines passed.
    assert (to_marketing["taken_week"], to_marketing["answered_late_week"]) == (1, 15)
    assert [lead["key"] for lead in to_marketing["non_target_week"]] == ["W10", "W40"]
    assert [lead["key"] for lead in to_marketing["non_target_today"]] == ["W40"]
    assert to_marketing["non_target_today"][0]["url"] == "https://sever.amocrm.ru/leads/detail/W40"
    assert to_marketing["request"] == "Отсекайте поставщиков на сайте"
    mail = render("lead_feedback", "ru", "email", to_marketing)
    assert "Поступило лидов за неделю: 15 (сегодня: 3)" in mail.text
    assert "лид W40 (ООО Вектор): поставщик https://sever.amocrm.ru/leads/detail/W40" in mail.text
    assert "спор №" in mail.text and "Ожидаемый результат: Нецелевых меньше 5%" in mail.text
    to_sales = sent["kuznetsova"].context
    assert to_sales["request"] is None  # marketing has not written one yet
    assert "ещё не сформулировал(а) просьбу" in render("lead_feedback", "ru", "email", to_sales).text


def _slaflow(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLAFLOW_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slaflow.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_the_cli_records_leads_keeps_the_request_and_sends_the_letter_on_demand(
    sessions_on_file: sessionmaker[Session], sqlite_url: str
) -> None:
    at = ["--at", "2026-11-20T16:00:00+03:00"]
    done = _slaflow("leads", "record", "CLI-1", "non_target", "--as", "petrova", "--reason", "спам", *at,
                    url=sqlite_url)
    assert done.returncode == 0, done.stderr
    assert "lead CLI-1 (api): non_target; first response met" in done.stdout
    bad = _slaflow("leads", "record", "CLI-1", "taken", "--as", "petrova", *at, url=sqlite_url)
    assert bad.returncode == 2 and bad.stderr.startswith("error: lead 'CLI-1' is 'non_target'")
    assert _slaflow("leads", "request", "marketing", "--as", "pavlova", "--request", "Звоните в течение часа",
                    "--expected", "Ответ за час у 95% лидов", *at, url=sqlite_url).returncode == 0
    refused = _slaflow("leads", "request", "marketing", "--as", "sidorov", "--request", "x", "--expected", "y",
                       url=sqlite_url)
    assert refused.returncode == 2 and "sidorov may not change the lead letter of 'marketing'" in refused.stderr
    first = _slaflow("leads", "letter", *at, url=sqlite_url)
    assert first.returncode == 0 and "lead letters queued: 2 message(s)" in first.stdout
    assert "already sent" in _slaflow("leads", "letter", *at, url=sqlite_url).stdout
    assert "lead letters queued: 2" in _slaflow("leads", "letter", "--again", *at, url=sqlite_url).stdout
    sent = letters(sessions_on_file)
    assert sent["kuznetsova"].context["request"] == "Звоните в течение часа"
    assert sent["kuznetsova"].context["non_target_today"][0]["key"] == "CLI-1"
    shown = _slaflow("leads", "show", "api", "CLI-1", "--as", "kuznetsova", *at, url=sqlite_url)
    assert "non_target_reason: спам" in shown.stdout and "-> non_target by petrova" in shown.stdout
    assert _slaflow("leads", "list", "--as", "popov", url=sqlite_url).returncode == 2


def test_a_company_without_leads_gets_a_clear_error(tmp_path: Path, sqlite_url: str) -> None:
    from api.testing import dump_yaml, example_mapping

    raw = example_mapping()
    del raw["leads"]
    config = tmp_path / "no-leads.yaml"
    config.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
    done = _slaflow("leads", "letter", "--config", str(config), url=sqlite_url)
    assert done.returncode == 2 and "has no 'leads:' section" in done.stderr


def test_the_daily_digest_flow_queues_each_head_their_digest(
    sessions_on_file: sessionmaker[Session], company: Company, sqlite_url: str
) -> None:
    with sessions_on_file.begin() as session:
        cases.open_case(session, company, case_type="stock_discrepancy", actor=company.actor("ivanov"), now=MON,
                        data={"sku": "SKU-1", "system_qty": 5, "reason": "на полке 3"})
    assert daily_digest.fn(at=MON + timedelta(days=1), database_url=sqlite_url) >= 1
    assert daily_digest.fn(at=MON + timedelta(days=1), database_url=sqlite_url) == 0  # once a day
    with sessions_on_file() as session:
        heads = set(session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "digest")))
    assert "smirnov" in heads and "orlov" in heads


def test_the_letter_and_the_digest_run_on_crons_in_the_head_office_time_zone() -> None:
    deployments = {d.flow_name: d for d in build_deployments()}
    for name, cron in (("weekly-lead-letter", "0 16 * * 5"), ("daily-digest", DIGEST_CRON)):
        schedules = deployments[name].schedules
        assert schedules is not None
        schedule: Any = schedules[0].schedule
        assert (deployments[name].name, schedule.cron, schedule.timezone) == ("company", cron, "Europe/Moscow")


def test_a_company_without_leads_schedules_no_letter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.testing import dump_yaml, example_mapping

    raw = example_mapping()
    del raw["leads"]
    config = tmp_path / "no-leads.yaml"
    config.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
    monkeypatch.setenv("SLAFLOW_CONFIG", str(config))
    names = {d.flow_name for d in build_deployments()}
    assert "daily-digest" in names and "weekly-lead-letter" not in names


def test_the_regulation_states_the_lead_slas_and_the_letter_schedule(company: Company) -> None:
    from regulation.render import render_regulation

    md = render_regulation(company, "en")["md"]
    leads = md.split("## 5. Leads", 1)[1]
    assert "taken into work by Sales within 1 h of business time" in leads
    assert "within 8 h of business time" in leads
    assert "Maria Kuznetsova and Svetlana Pavlova exchange the weekly lead letter on the schedule “0 16 * * 5”" in leads


def test_a_broken_letter_schedule_is_a_config_error(tmp_path: Path) -> None:
    from api.testing import dump_yaml, example_mapping
    from core.errors import ConfigError
    from runtime.company import load_company

    raw = example_mapping()
    raw["leads"]["letter_cron"] = "0 16 * * 9"
    raw["leads"]["marketing"] = "advertising"
    config = tmp_path / "broken.yaml"
    config.write_text(dump_yaml(raw, sort_keys=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_company(config)
    assert "leads.letter_cron: '0 16 * * 9' is not a cron expression" in str(caught.value)
    assert "leads.marketing: 'advertising' is not in departments" in str(caught.value)


def test_cli_instants_without_an_offset_are_head_office_time(sessions_on_file: sessionmaker[Session],
                                                              sqlite_url: str) -> None:
    done = _slaflow("leads", "record", "T-1", "new", "--as", "sidorov", "--at", "2026-11-16T09:00:00", url=sqlite_url)
    assert done.returncode == 0, done.stderr
    with sessions_on_file() as session:
        from storage.models import Lead

        assert session.scalars(select(Lead.received_at)).one() == MON  # 09:00 Moscow
    bad = _slaflow("leads", "list", "--as", "kuznetsova", "--from", "0001-01-01", url=sqlite_url)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --from 0001-01-01T00:00:00")

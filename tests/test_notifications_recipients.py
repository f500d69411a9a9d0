"""Audiences resolve against the org chart; people get their language, channels and hours;
the ``notifications:`` config and the channel settings validate at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from notifications import recipients
from notifications.config import NotificationsConfig, notifications_config
from notifications.settings import NotificationSettings
from org import audience
from org.audience import Scope
from org.chart import Company
from tests.test_notifications_support import company_with, raw_company

MARKETING_STEP = Scope(department="marketing", role="marketer", requester="sales", performer="marketing")


def test_it_sends_owner_messages_to_the_assigned_person(company: Company) -> None:
    scope = Scope("marketing", "marketer", "sidorov", "sales", "marketing")
    assert audience.resolve(company, ["owner"], scope) == ["sidorov"]


def test_it_sends_owner_messages_to_everyone_with_the_owning_role_when_nobody_is_assigned(company: Company) -> None:
    assert audience.resolve(company, ["owner"], Scope("warehouse", "storekeeper")) == ["popov", "volkova"]
    assert audience.resolve(company, ["owner"], Scope("commercial", "head")) == ["orlov"]
    assert audience.resolve(company, ["owner"], Scope("logistics", None)) == ["lebedev", "kozlov"]


def test_it_resolves_heads_managers_and_the_director_from_the_org_chart(company: Company) -> None:
    assert audience.resolve(company, ["department_head"], MARKETING_STEP) == ["pavlova"]
    assert audience.resolve(company, ["head_manager"], MARKETING_STEP) == ["orlov"]
    assert audience.resolve(company, ["director"], MARKETING_STEP) == ["orlov"]
    assert audience.resolve(company, ["head_manager"], Scope("commercial", "head")) == []  # the top has no manager


def test_it_sends_requester_and_performer_messages_to_the_heads_of_both_departments(company: Company) -> None:
    assert audience.resolve(company, ["requester", "performer"], MARKETING_STEP) == ["kuznetsova", "pavlova"]
    assert audience.resolve(company, ["requester_members"], MARKETING_STEP) == ["kuznetsova", "ivanov", "petrova"]


def test_it_names_people_and_departments_explicitly_and_lists_each_person_once(company: Company) -> None:
    specs = ["person:nowak", "head:quality", "department:quality", "director", "head_manager"]
    assert audience.resolve(company, specs, MARKETING_STEP) == ["nowak", "kowalski", "orlov"]


def test_it_skips_a_name_that_is_not_in_the_config_instead_of_failing_the_transaction(company: Company) -> None:
    assert audience.resolve(company, ["person:ghost", "head:nowhere", "owner"], MARKETING_STEP) == ["sidorov"]


def test_it_sends_the_next_message_to_a_new_head_after_the_config_changes() -> None:
    raw = raw_company()
    raw["departments"]["marketing"] = {**raw["departments"]["marketing"], "head": "sidorov"}
    changed = company_with(departments=raw["departments"])
    assert audience.resolve(changed, ["department_head"], MARKETING_STEP) == ["sidorov"]


def test_it_uses_the_persons_locale_else_the_companys(company: Company) -> None:
    assert audience.locale_of(company, "kowalski") == "pl"
    assert audience.locale_of(company, "ivanov") == "ru"


def test_it_uses_the_first_reachable_channel_unless_the_kind_goes_to_all(company: Company) -> None:
    assert recipients.channels_for(company, "lebedev", all_channels=False) == ["slack"]
    assert recipients.channels_for(company, "lebedev", all_channels=True) == ["slack", "email"]
    assert recipients.channels_for(company, "ivanov", all_channels=True) == ["email"]


def test_it_keeps_an_unreachable_channel_so_the_failure_shows_in_the_outbox() -> None:
    raw = raw_company()
    raw["people"]["ivanov"] = {**raw["people"]["ivanov"], "channels": ["telegram"]}  # no chat.telegram
    changed = company_with(people=raw["people"])
    assert recipients.channels_for(changed, "ivanov", all_channels=False) == ["telegram"]


def test_it_uses_the_recipients_own_department_calendar(company: Company) -> None:
    assert audience.calendar_of_person(company, "kozlov").config.tz == "Asia/Yekaterinburg"
    assert audience.calendar_of_person(company, "orlov").config.tz == "Europe/Moscow"
    assert audience.calendar_of_person(company, "nowak").config.tz == "Europe/Warsaw"


def test_it_reads_delivery_policy_from_the_company_config() -> None:
    changed = company_with(notifications={"quiet_hours_for": ["digest"], "max_attempts": 3,
                                          "audiences": {"breach": ["owner", "head_manager"]}})
    config = notifications_config(changed)
    assert config.urgent("warning") and not config.urgent("digest")
    assert config.audience("breach") == ["owner", "head_manager"]
    assert config.audience("warning") == ["owner"]


def test_it_rejects_an_unknown_audience_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match="audiences.breach: 'boss' is not an audience"):
        company_with(notifications={"audiences": {"breach": ["boss"]}})


def test_it_backs_off_exponentially_up_to_a_cap() -> None:
    config = NotificationsConfig(backoff_seconds=60, backoff_max_seconds=300)
    assert [config.backoff(n) for n in (1, 2, 3, 4, 5)] == [60, 120, 240, 300, 300]


def test_it_reads_channel_settings_and_secret_files_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("SLAFLOW_SMTP_HOST", "mail.example")
    monkeypatch.setenv("SLAFLOW_SMTP_TLS", "tls")
    monkeypatch.setenv("SLAFLOW_SMTP_PASSWORD", "from-env")
    monkeypatch.setenv("SLAFLOW_SMTP_PASSWORD_FILE", str(secret))
    settings = NotificationSettings()
    assert settings.smtp_host == "mail.example"
    assert settings.smtp_port_effective == 465
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == "s3cret"


def test_it_fails_loudly_when_a_secret_file_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SLAFLOW_WEBHOOK_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="SLAFLOW_WEBHOOK_SECRET_FILE"):
        NotificationSettings()

"""Write-back through the outbox against the fake CRM: the case's events appear on the deal as
timeline comments and an "SLA status" field, a breach exactly once even when the CRM first
answers 429 and 500, every attempt recorded."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_config
from core.clock import SimulatedClock
from core.vocabulary import OutboxStatus
from crm.processing import process_inbox_event
from crm.writeback import deliver, target_of
from engine.timers import sweep
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from notifications.transports.base import TransportError
from runtime.company import company_from_mapping
from storage.models import Case, DeliveryAttempt, OutboxMessage
from tests.crm_fake import FakeCrm, fake_crm  # noqa: F401 (fixture)
from tests.test_crm_enrichment import DEAL, ENVIRON, RULES, deal_event

SETTINGS = NotificationSettings()


def company_writing_back(url: str, monkeypatch: Any) -> Any:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    rules = [dict(RULES[0], write_back={"on": ["opened", "step_changed", "breach"], "locale": "ru",
                                        "fields": {"UF_CRM_SLA_STATUS": "{{ status }}"}}), RULES[1]]
    raw = example_config(rules=rules)
    raw["crm"]["sources"]["bitrix24"] = {
        "application_token": {"env": "SLAFLOW_BITRIX24_APP_TOKEN"}, "domain": "sever.bitrix24.ru",
        "memberships": ["sales/manager", "logistics/dispatcher"],
        "api": {"url": f"{url}/rest/1", "token": {"env": "B24_API"}},
    }
    return company_from_mapping(raw)


def crm_rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "crm")
                                    .order_by(OutboxMessage.id)))


def dispatch(sessions: sessionmaker[Session], company: Any, clock: SimulatedClock) -> None:
    dispatch_due(sessions, company, now=clock.now(), owner="t", settings=SETTINGS,
                 only=[m.id for m in crm_rows(sessions)])


def test_it_writes_a_breach_onto_the_deal_exactly_once_when_the_crm_answers_429_and_500_first(
    sessions: sessionmaker[Session], clock: SimulatedClock, fake_crm: FakeCrm, monkeypatch: Any  # noqa: F811
) -> None:
    company = company_writing_back(fake_crm.url, monkeypatch)
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    opened = process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALADD", 77, 1794808800),
                                 clock.now())
    assert opened is not None and opened.status == "processed", opened
    dispatch(sessions, company, clock)
    [opening] = fake_crm.notes_on("bitrix24", "deal", "77")
    assert opening.startswith("SLA: открыта заявка «Срочная доставка №") and "Подтверждение слота" in opening
    assert fake_crm.updates[-1]["fields"] == {"UF_CRM_SLA_STATUS": "on_track"}

    with sessions() as session:
        case = session.scalars(select(Case)).one()
        assert case.due_at is not None
        deadline = case.due_at
    fake_crm.fail_with("crm.timeline.comment.add", 429, {"Retry-After": "90"},
                       {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})
    fake_crm.fail("crm.timeline.comment.add", 500)
    clock.set(deadline + timedelta(minutes=1))
    assert sweep(sessions, company, owner="s", now=clock.now()).fired_total >= 1
    assert sweep(sessions, company, owner="s", now=clock.now()).fired_total == 0  # the breach fires once
    [breach_comment] = [m for m in crm_rows(sessions) if m.kind == "breach" and m.context["op"] == "comment"]

    dispatch(sessions, company, clock)  # 429: waits the 90 s the CRM asked for (more than the 60 s backoff)
    with sessions() as session:
        row = session.get(OutboxMessage, breach_comment.id)
        assert row is not None and row.status == "pending"
        assert row.next_attempt_at == clock.now() + timedelta(seconds=90)
    dispatch(sessions, company, clock)  # not due yet: nothing is sent
    clock.advance(timedelta(seconds=90))
    dispatch(sessions, company, clock)  # 500: retried after the backoff
    clock.advance(timedelta(hours=1))
    dispatch(sessions, company, clock)
    clock.advance(timedelta(hours=1))
    dispatch(sessions, company, clock)  # sent already: nothing more

    breaches = [n for n in fake_crm.notes_on("bitrix24", "deal", "77") if n.startswith("SLA нарушен")]
    assert breaches == [breaches[0]] and "Подтверждение слота" in breaches[0]
    assert fake_crm.updates[-1]["fields"] == {"UF_CRM_SLA_STATUS": "breached"}
    with sessions() as session:
        row = session.get(OutboxMessage, breach_comment.id)
        attempts = session.scalars(select(DeliveryAttempt.ok).where(DeliveryAttempt.message_id == breach_comment.id)
                                   .order_by(DeliveryAttempt.id)).all()
    assert row is not None and row.status == OutboxStatus.SENT and attempts == [False, False, True]


def test_it_comments_the_step_change_and_finds_the_record_of_a_named_account() -> None:
    assert target_of("deal:77:rush_delivery", "rush_delivery") == ("default", "deal", "77")
    assert target_of("app/deal:77:rush_delivery", "rush_delivery") == ("app", "deal", "77")
    assert target_of("lead:a:b:return", "return") == ("default", "lead", "a:b")


def test_it_comments_each_step_the_case_moves_to(
    sessions: sessionmaker[Session], clock: SimulatedClock, fake_crm: FakeCrm, monkeypatch: Any  # noqa: F811
) -> None:
    company = company_writing_back(fake_crm.url, monkeypatch)
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALADD", 77, 1794808800), clock.now())
    fake_crm.records[("bitrix24", "deal", "77")].update(STAGE_ID="C1:PREPARATION", UF_CRM_SLOT="2026-11-18 10:00")
    clock.advance(timedelta(minutes=10))
    process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALUPDATE", 77, 1794809400), clock.now())
    dispatch(sessions, company, clock)
    opened, moved = fake_crm.notes_on("bitrix24", "deal", "77")
    assert opened.startswith("SLA: открыта заявка")
    assert moved.startswith("SLA: заявка «Срочная доставка №") and "«Сборка вне очереди»" in moved
    assert "отвечает Склад" in moved and "срок 2026-11-16" in moved


@pytest.mark.parametrize(
    ("vendor", "kind", "record_id"),
    [("bitrix24", "deal", "77"), ("hubspot", "deal", "311"), ("amocrm", "lead", "25399013"),
     ("pipedrive", "deal", "311")],
)
def test_it_writes_a_comment_and_fields_with_each_crms_documented_api(
    vendor: str, kind: str, record_id: str, clock: SimulatedClock, fake_crm: FakeCrm,  # noqa: F811
    monkeypatch: Any,
) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    raw = example_config()
    env = {"bitrix24": "B24_API", "hubspot": "HS_API", "amocrm": "AMO_API", "pipedrive": "PD_API"}[vendor]
    url = f"{fake_crm.url}/rest/1" if vendor == "bitrix24" else fake_crm.url
    raw["crm"]["sources"][vendor]["api"] = {"url": url, "token": {"env": env}}
    company = company_from_mapping(raw)
    target = {"source": vendor, "account": "default", "kind": kind, "id": record_id}
    fake_crm.records[(vendor, kind, record_id)] = {"id": record_id}
    deliver(company, {"op": "comment", "target": target, "text": "SLA breached: step Picking"}, clock.now())
    deliver(company, {"op": "fields", "target": target, "fields": {"sla_status": "breached"}}, clock.now())
    assert fake_crm.notes_on(vendor, kind, record_id) == ["SLA breached: step Picking"]
    [update] = fake_crm.updates
    assert (update["kind"], update["id"]) == (kind, record_id) and "breached" in json.dumps(update["fields"])
    fake_crm.fail("/", 401)
    with pytest.raises(TransportError) as refused:
        deliver(company, {"op": "comment", "target": target, "text": "x"}, clock.now())
    assert refused.value.permanent and ENVIRON[env] not in str(refused.value)

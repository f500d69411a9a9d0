"""CRM webhooks feed the lead records (the ``leads.crm`` rules of the example company), in the
inbox row's transaction, on SQLite and PostgreSQL; a lead the CRM moves backwards is reported,
not retried forever."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.vocabulary import InboxStatus
from crm import samples
from crm.processing import process_inbox_event
from org.chart import Company
from storage.models import Lead
from tests.test_crm_processing import stored

NEW = {"id": 777001, "status_id": 43315788, "pipeline_id": 4740529, "last_modified": 1794808000,
       "custom_fields": [(5, "Источник", "Яндекс.Директ"), (6, "Товарная группа", "Насосы"),
                         (1, "Компания", "ООО Ромашка")]}


def webhook(sessions: sessionmaker[Session], clock: SimulatedClock, action: str, lead: dict[str, Any], key: str) -> int:
    body, _ = samples.amocrm_lead(action, [lead])
    return stored(sessions, clock, "amocrm", body, key)


def moved(stage: int, changed: int, **extra: Any) -> dict[str, Any]:
    return {"id": 777001, "status_id": stage, "pipeline_id": 4740529, "last_modified": changed, **extra}


def lead_of(sessions: sessionmaker[Session]) -> Lead:
    with sessions() as session:
        return session.scalars(select(Lead)).one()


def test_amocrm_events_move_the_lead_through_the_funnel(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    first = process_inbox_event(sessions, company, webhook(sessions, clock, "add", NEW, "a"), clock.now())
    assert first is not None and first.status == InboxStatus.PROCESSED and first.result is not None
    assert first.result["actions"][0]["outcome"] == "recorded"
    lead = lead_of(sessions)
    assert (lead.source, lead.external_key, lead.status) == ("amocrm", "777001", "new")
    assert (lead.channel, lead.product_group, lead.customer) == ("Яндекс.Директ", "Насосы", "ООО Ромашка")
    assert lead.received_at == datetime(2026, 11, 16, 5, 46, 40, tzinfo=UTC)  # amoCRM's last_modified
    process_inbox_event(sessions, company, webhook(sessions, clock, "status", moved(43315789, 1794808100), "b"),
                        clock.now())
    reason = {"custom_fields": [(9, "Причина", "ищет работу")]}
    process_inbox_event(sessions, company, webhook(sessions, clock, "status", moved(43315794, 1794808200, **reason),
                                                   "c"), clock.now())
    lead = lead_of(sessions)
    assert (lead.status, lead.non_target_reason) == ("non_target", "ищет работу")
    assert (lead.taken_at, lead.non_target_at) == (datetime(2026, 11, 16, 5, 48, 20, tzinfo=UTC),
                                                   datetime(2026, 11, 16, 5, 50, tzinfo=UTC))


def test_a_crm_timestamp_in_the_future_is_not_trusted(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    late = {**NEW, "last_modified": 1894808000}  # 2030
    process_inbox_event(sessions, company, webhook(sessions, clock, "add", late, "a"), clock.now())
    assert lead_of(sessions).received_at == clock.now()


def test_a_backward_move_in_the_crm_is_reported_and_changes_nothing(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    process_inbox_event(sessions, company, webhook(sessions, clock, "status", moved(43315793, 1794808100), "a"),
                        clock.now())
    assert lead_of(sessions).status == "reservation_paid"
    done = process_inbox_event(sessions, company, webhook(sessions, clock, "status", moved(43315789, 1794808200),
                                                          "b"), clock.now())
    assert done is not None and done.status == InboxStatus.PROCESSED and done.result is not None
    [action] = done.result["actions"]
    assert action["outcome"] == "refused" and "cannot become 'taken'" in action["reason"]
    assert lead_of(sessions).status == "reservation_paid" and lead_of(sessions).version == 1

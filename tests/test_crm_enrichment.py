"""Enrichment against a local server answering as each CRM's API documents it: an ID-only
webhook is completed from the record, rules match its stage and custom fields, rate limits are
waited out within bounds, and an outage fails the row for a later retry instead of losing it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import dump_yaml, example_config, serving
from core.clock import SimulatedClock
from core.vocabulary import InboxStatus
from crm import samples
from crm.api.http import CrmApiError
from crm.api.registry import ApiRegistry
from crm.inbox import InboxRecord, store
from crm.processing import process_inbox_event
from org.chart import Company
from runtime.company import company_from_mapping
from storage.db import make_engine, session_factory
from storage.models import Case, CrmApiToken, InboxEvent
from tests.crm_fake import B24_APP_CLIENT_ID, TOKENS, FakeCrm, fake_crm  # noqa: F401 (fixture)

B24_TOKEN = samples.SAMPLE_ENV["SLAFLOW_BITRIX24_APP_TOKEN"]
ENVIRON = {"B24_API": TOKENS["bitrix24"], "HS_API": TOKENS["hubspot"], "AMO_API": TOKENS["amocrm"],
           "PD_API": TOKENS["pipedrive"], "ZOHO_REFRESH": TOKENS["zoho"],
           "ZOHO_CLIENT_SECRET": TOKENS["zoho_client_secret"]}
DEAL = {"ID": "77", "TITLE": "Ромашка: 40 паллет", "STAGE_ID": "C1:NEW", "CATEGORY_ID": "1", "OPPORTUNITY": "150000.00",
        "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": "15", "COMPANY_ID": "9", "CLOSEDATE": "2026-11-20T03:00:00+03:00",
        "UF_CRM_RUSH": "Y", "UF_CRM_CUSTOMER": "ООО Ромашка", "UF_CRM_SLOT": None}
RULES: list[dict[str, Any]] = [
    {"name": "b24-rush", "source": "bitrix24", "entity": "deal", "event": "created", "pipeline": "1",
     "when": {"UF_CRM_RUSH": "Y"}, "open": "rush_delivery",
     "data": {"customer": "UF_CRM_CUSTOMER", "order": "$entity_id", "deliver_by": "CLOSEDATE", "reason": "TITLE"}},
    {"name": "b24-slot", "source": "bitrix24", "entity": "deal", "stage": "C1:PREPARATION", "fire": "confirm_slot",
     "case_type": "rush_delivery", "data": {"slot": "UF_CRM_SLOT"}},
]


def company_with_api(url: str, **api: Any) -> Company:
    raw = example_config(rules=RULES)
    raw["crm"]["sources"]["bitrix24"] = {
        "application_token": {"env": "SLAFLOW_BITRIX24_APP_TOKEN"}, "domain": "sever.bitrix24.ru",
        "memberships": ["sales/manager", "logistics/dispatcher"],
        "api": {"url": f"{url}/rest/1", "token": {"env": "B24_API"}, **api},
    }
    return company_from_mapping(raw)


def deal_event(sessions: sessionmaker[Session], clock: SimulatedClock, event: str, deal_id: int, ts: int) -> int:
    body, headers = samples.bitrix24(event, deal_id, ts, token=B24_TOKEN)
    with sessions.begin() as session:
        return store(session, InboxRecord(source="bitrix24", idempotency_key=f"{event}:{deal_id}:{ts}",
                                          received_at=clock.now(), content_type=headers["Content-Type"], headers={},
                                          body=body.decode())).id


def cases(sessions: sessionmaker[Session]) -> list[Case]:
    with sessions() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def test_it_moves_the_right_case_by_the_stage_read_back_for_an_id_only_bitrix24_deal_update(
    sessions: sessionmaker[Session], clock: SimulatedClock, fake_crm: FakeCrm  # noqa: F811
) -> None:
    company = company_with_api(fake_crm.url)
    apis = ApiRegistry(company, ENVIRON, sleep=lambda _: None)
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    fake_crm.records[("bitrix24", "deal", "78")] = {**DEAL, "ID": "78", "UF_CRM_CUSTOMER": "ООО Лютик"}
    for deal in (77, 78):
        done = process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALADD", deal, 1794808800),
                                   clock.now(), apis=apis)
        assert done is not None and done.status == InboxStatus.PROCESSED, done
    first, second = cases(sessions)
    assert first.data == {"customer": "ООО Ромашка", "order": "77", "deliver_by": "2026-11-20T03:00:00+03:00",
                          "reason": "Ромашка: 40 паллет"}
    assert (first.external_key, second.data["customer"]) == ("deal:77:rush_delivery", "ООО Лютик")

    # Deal 77 moves to PREPARATION in Bitrix24: the webhook still carries only its id.
    fake_crm.records[("bitrix24", "deal", "77")].update(STAGE_ID="C1:PREPARATION", UF_CRM_SLOT="2026-11-18 10:00")
    moved = process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALUPDATE", 77, 1794809000),
                                clock.now(), apis=apis)
    assert moved is not None and moved.status == InboxStatus.PROCESSED and moved.result is not None
    assert moved.result["actions"][0]["outcome"] == "fired"
    assert moved.result["events"][0]["new_stage"] == "C1:PREPARATION" and moved.result["events"][0]["enriched"]
    first, second = cases(sessions)
    assert (first.state, second.state) == ("picking", "slot_confirmation")
    assert first.data["slot"] == "2026-11-18 10:00"
    # Another update while the deal stays in PREPARATION fires nothing twice.
    again = process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALUPDATE", 77, 1794809100),
                                clock.now(), apis=apis)
    assert again is not None and again.result is not None
    assert again.result["actions"][0]["outcome"] == "already_applied"
    assert [m for m, p in fake_crm.requests if "crm.deal.get" in p] == ["POST"] * 4


def test_it_waits_out_a_rate_limit_within_bounds_and_fails_the_row_for_a_retry_when_it_persists(
    sessions: sessionmaker[Session], clock: SimulatedClock, fake_crm: FakeCrm  # noqa: F811
) -> None:
    company = company_with_api(fake_crm.url, max_retries=2, max_wait_seconds=5)
    waits: list[float] = []
    apis = ApiRegistry(company, ENVIRON, sleep=waits.append)
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    fake_crm.fail("crm.deal.get", "bitrix24", times=2)  # 503 QUERY_LIMIT_EXCEEDED, twice
    done = process_inbox_event(sessions, company, deal_event(sessions, clock, "ONCRMDEALADD", 77, 1794808800),
                               clock.now(), apis=apis)
    assert done is not None and done.status == InboxStatus.PROCESSED and waits == [1.0, 2.0]
    fake_crm.fail("crm.deal.get", "bitrix24", times=3)
    row = deal_event(sessions, clock, "ONCRMDEALADD", 77, 1794808900)
    failed = process_inbox_event(sessions, company, row, clock.now(), apis=apis)
    assert failed is not None and failed.status == InboxStatus.FAILED
    assert "QUERY_LIMIT_EXCEEDED" in (failed.last_error or "")
    assert B24_TOKEN not in (failed.last_error or "") and TOKENS["bitrix24"] not in (failed.last_error or "")
    retried = process_inbox_event(sessions, company, row, clock.now(), apis=apis)
    assert retried is not None and retried.status == InboxStatus.PROCESSED and len(cases(sessions)) == 1


@pytest.mark.parametrize("vendor", ["hubspot", "amocrm", "pipedrive"])
def test_it_reads_each_crms_record_with_its_documented_api_and_honours_retry_after(
    vendor: str, fake_crm: FakeCrm  # noqa: F811
) -> None:
    raw = example_config()
    env = {"hubspot": "HS_API", "amocrm": "AMO_API", "pipedrive": "PD_API"}[vendor]
    raw["crm"]["sources"][vendor]["api"] = {"url": fake_crm.url, "token": {"env": env}}
    company = company_from_mapping(raw)
    waits: list[float] = []
    api = ApiRegistry(company, ENVIRON, sleep=waits.append).get(vendor, "default")
    assert api is not None
    cases_by_vendor: dict[str, tuple[str, dict[str, Any]]] = {
        "hubspot": ("deal", {"dealname": "Ромашка", "dealstage": "presentationscheduled", "pipeline": "default",
                             "amount": "150000", "hubspot_owner_id": "52", "sla_customer": "ООО Ромашка",
                             "hs_object_id": "311"}),
        "amocrm": ("lead", {"id": 311, "name": "Ромашка", "price": 150000, "responsible_user_id": 52,
                            "status_id": 43315792, "pipeline_id": 4740529, "custom_fields_values": [
                                {"field_id": 1, "field_name": "Компания", "values": [{"value": "ООО Ромашка"}]}]}),
        "pipedrive": ("deal", {"id": 311, "title": "Ромашка", "value": 150000, "owner_id": 52, "stage_id": 7,
                               "pipeline_id": 1, "custom_fields": {"d4de1c15": "ООО Ромашка"}}),
    }
    kind, record = cases_by_vendor[vendor]
    fake_crm.records[(vendor, kind, "311")] = record
    fake_crm.fail("/311", vendor)
    got = api.fetch(kind, "311", ["sla_customer"])
    expected_wait = float(RATE_LIMITS_WAIT[vendor])
    assert waits == [expected_wait]
    assert got.stage == {"hubspot": "presentationscheduled", "amocrm": "43315792", "pipedrive": "7"}[vendor]
    assert str(got.fields["amount"]) == "150000" and str(got.fields["responsible"]) == "52"
    customer = {"hubspot": "sla_customer", "amocrm": "Компания", "pipedrive": "d4de1c15"}[vendor]
    assert got.fields[customer] == "ООО Ромашка"


RATE_LIMITS_WAIT = {"hubspot": 1, "amocrm": 1, "pipedrive": 2}
"""The Retry-After each vendor's rate-limit answer carries in the fake (tests/crm_fake.py)."""


def test_it_gives_up_waiting_when_a_call_would_exceed_its_budget(fake_crm: FakeCrm) -> None:  # noqa: F811
    waits: list[float] = []
    company = company_with_api(fake_crm.url)
    api = ApiRegistry(company, ENVIRON, sleep=waits.append, budget_seconds=1.5).get("bitrix24", "default")
    assert api is not None
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    fake_crm.fail("crm.deal.get", "bitrix24", times=2)
    with pytest.raises(CrmApiError, match="QUERY_LIMIT_EXCEEDED") as limited:
        api.fetch("deal", "77", [])
    assert not limited.value.permanent and waits == [1.0]


def test_it_enriches_an_id_only_webhook_posted_to_the_app_with_the_apps_secrets(
    db_url: str, tmp_path: Path, clock: SimulatedClock, fake_crm: FakeCrm  # noqa: F811
) -> None:
    raw = example_config(rules=RULES)
    raw["crm"]["sources"]["bitrix24"] = {
        "application_token": {"env": "SLAFLOW_BITRIX24_APP_TOKEN"}, "domain": "sever.bitrix24.ru",
        "memberships": ["sales/manager", "logistics/dispatcher"],
        "api": {"url": f"{fake_crm.url}/rest/1", "token": {"env": "B24_API"}},
    }
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw), encoding="utf-8")
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    body, headers = samples.bitrix24("ONCRMDEALADD", 77, int(clock.now().timestamp()), token=B24_TOKEN)
    with serving(db_url, config, clock, {**samples.SAMPLE_ENV, **ENVIRON}) as client:
        accepted = client.post("/webhooks/bitrix24", content=body, headers=headers)
        assert accepted.status_code == 200
        assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            case = session.scalars(select(Case)).one()
    finally:
        engine.dispose()
    assert (case.case_type, case.data["customer"], case.data["reason"]) == (
        "rush_delivery", "ООО Ромашка", "Ромашка: 40 паллет")


def test_it_reads_a_zoho_record_buying_an_access_token_and_another_when_zoho_says_it_expired(
    fake_crm: FakeCrm,  # noqa: F811
) -> None:
    raw = example_config()
    raw["crm"]["sources"]["zoho"] = {
        "token": {"env": "ZOHO_TOKEN"}, "channel_ids": ["1000000068002"], "memberships": ["sales/manager"],
        "api": {"url": fake_crm.url, "token": {"env": "ZOHO_REFRESH"}, "client_id": "1000.CLIENTID",
                "client_secret": {"env": "ZOHO_CLIENT_SECRET"}, "token_url": f"{fake_crm.url}/oauth/v2/token"},
    }
    company = company_from_mapping(raw)
    api = ApiRegistry(company, ENVIRON, sleep=lambda _: None).get("zoho", "default")
    assert api is not None
    fake_crm.records[("zoho", "deal", "3000000122001")] = {
        "id": "3000000122001", "Deal_Name": "Ромашка", "Stage": "Negotiation/Review", "Amount": 150000,
        "Pipeline": {"name": "Standard", "id": "3000000091023"}, "Owner": {"name": "Ivanov", "id": "3000000031001"},
        "Rush": True}
    first = api.fetch("deal", "3000000122001", [])
    assert (first.stage, first.pipeline, first.fields["responsible"], first.fields["Rush"]) == (
        "Negotiation/Review", "Standard", "3000000031001", True)
    fake_crm.zoho_access = "1000.access.revoked"  # the hour is over
    api.comment("deal", "3000000122001", "SLA breached", datetime(2026, 11, 16, tzinfo=UTC))
    assert fake_crm.zoho_refreshes == 2 and fake_crm.notes_on("zoho", "deal", "3000000122001") == ["SLA breached"]
    assert TOKENS["zoho"] not in str(fake_crm.notes)


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("1e308", 20.0), ("nan", 20.0), ("-5", 0.0),
                                                   ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("inf", 20.0)])
def test_it_bounds_whatever_retry_after_a_crm_sends(header: str, expected: float | None) -> None:
    import httpx

    from crm.api.http import retry_after_seconds

    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": header}), 20.0) == expected


def test_the_server_retries_a_row_that_failed_on_a_rate_limited_crm_by_itself(
    db_url: str, tmp_path: Path, clock: SimulatedClock, fake_crm: FakeCrm  # noqa: F811
) -> None:
    raw = example_config(rules=RULES)
    raw["crm"]["sources"]["bitrix24"] = {
        "application_token": {"env": "SLAFLOW_BITRIX24_APP_TOKEN"}, "domain": "sever.bitrix24.ru",
        "memberships": ["sales/manager", "logistics/dispatcher"],
        "api": {"url": f"{fake_crm.url}/rest/1", "token": {"env": "B24_API"}, "max_retries": 1},
    }
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw), encoding="utf-8")
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    fake_crm.records[("bitrix24", "deal", "78")] = {**DEAL, "ID": "78"}
    limited = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    for _ in range(2):  # both tries of the first processing are refused
        fake_crm.fail_with("crm.deal.get", 503, {"Retry-After": "0"}, limited)
    with serving(db_url, config, clock, {**samples.SAMPLE_ENV, **ENVIRON}) as client:
        body, headers = samples.bitrix24("ONCRMDEALADD", 77, int(clock.now().timestamp()), token=B24_TOKEN)
        first = client.post("/webhooks/bitrix24", content=body, headers=headers).json()["id"]
        assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]
        with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
            row = session.get(InboxEvent, first)
            assert row is not None and row.status == InboxStatus.FAILED
            assert "QUERY_LIMIT_EXCEEDED" in (row.last_error or "")
        clock.advance(timedelta(seconds=61))
        body, headers = samples.bitrix24("ONCRMDEALADD", 78, int(clock.now().timestamp()), token=B24_TOKEN)
        assert client.post("/webhooks/bitrix24", content=body, headers=headers).status_code == 200
        assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]
        with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
            row = session.get(InboxEvent, first)
            assert row is not None and (row.status, row.attempts) == (InboxStatus.PROCESSED, 2)
            assert sorted(c.external_key for c in session.scalars(select(Case))) == [
                "deal:77:rush_delivery", "deal:78:rush_delivery"]


def test_a_bitrix24_app_refreshes_its_access_and_keeps_the_rotated_refresh_token_across_restarts(
    sessions: sessionmaker[Session], clock: SimulatedClock, fake_crm: FakeCrm  # noqa: F811
) -> None:
    raw = example_config(rules=RULES)
    raw["crm"]["sources"]["bitrix24"] = {
        "application_token": {"env": "SLAFLOW_BITRIX24_APP_TOKEN"}, "domain": "sever.bitrix24.ru",
        "memberships": ["sales/manager", "logistics/dispatcher"],
        "api": {"url": f"{fake_crm.url}/rest", "token": {"env": "B24_REFRESH"}, "client_id": B24_APP_CLIENT_ID,
                "client_secret": {"env": "B24_APP_SECRET"}, "token_url": f"{fake_crm.url}/oauth/token/"},
    }
    company = company_from_mapping(raw)
    environ = {"B24_REFRESH": TOKENS["bitrix24_refresh"], "B24_APP_SECRET": TOKENS["bitrix24_app_secret"]}
    fake_crm.records[("bitrix24", "deal", "77")] = dict(DEAL)
    api = ApiRegistry(company, environ, sleep=lambda _: None, sessions=sessions).get("bitrix24", "default")
    assert api is not None
    assert api.fetch("deal", "77", []).stage == "C1:NEW" and fake_crm.b24_refreshes == 1
    fake_crm.b24_access = "revoked"  # the hour is over
    api.comment("deal", "77", "SLA breached", clock.now())
    assert fake_crm.b24_refreshes == 2 and fake_crm.notes_on("bitrix24", "deal", "77") == ["SLA breached"]
    with sessions() as session:
        stored = session.get(CrmApiToken, ("bitrix24", "default"))
        assert stored is not None and stored.refresh_token == fake_crm.b24_refresh != TOKENS["bitrix24_refresh"]
    # A restart: the configured refresh token was used up long ago; the stored one carries on.
    fake_crm.b24_access = "revoked again"
    restarted = ApiRegistry(company, environ, sleep=lambda _: None, sessions=sessions).get("bitrix24", "default")
    assert restarted is not None and restarted.fetch("deal", "77", []).fields["TITLE"] == DEAL["TITLE"]
    assert fake_crm.b24_refreshes == 3
    # Without the database the used-up refresh token is refused, saying what to do.
    fake_crm.b24_access = "revoked once more"
    forgetful = ApiRegistry(company, environ, sleep=lambda _: None).get("bitrix24", "default")
    assert forgetful is not None
    with pytest.raises(CrmApiError, match="authorise the app again") as refused:
        forgetful.fetch("deal", "77", [])
    assert refused.value.permanent and TOKENS["bitrix24_app_secret"] not in str(refused.value)

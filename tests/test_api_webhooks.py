"""``POST /webhooks/{source}`` end to end on SQLite and PostgreSQL: each CRM's request opens
its case, redeliveries answer the first result, refusals are 401/400/422 and nothing accepted
is ever lost."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.testing import TestClient, admin_header, runtime, serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from crm.adapters.generic import sign
from storage.db import make_engine, session_factory
from storage.models import Case, InboxEvent

ENV = samples.SAMPLE_ENV
HUBSPOT_URL = "https://slaflow.sever.example/webhooks/hubspot"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def client(db_url: str, config_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    with serving(db_url, config_path, clock, ENV) as client:
        client.app.state.test_admin = admin_header(db_url, config_path)  # type: ignore[attr-defined]
        yield client


def settle(client: TestClient) -> None:
    assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]


def cases_in(db_url: str) -> list[Case]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(Case).order_by(Case.id)))
    finally:
        engine.dispose()


def inbox_count(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(InboxEvent)).scalar_one())
    finally:
        engine.dispose()


def event(client: TestClient, inbox_id: int) -> dict[str, Any]:
    settle(client)
    refused = client.get(f"/webhooks/events/{inbox_id}", headers=token_header("kuznetsova"))
    assert refused.status_code == 403  # stored bodies hold customer data: admins only
    response = client.get(f"/webhooks/events/{inbox_id}", headers=client.app.state.test_admin)  # type: ignore[attr-defined]
    assert response.status_code == 200
    return dict(response.json())


def now_ts(clock: SimulatedClock) -> int:
    return int(clock.now().timestamp())


def test_it_opens_a_case_from_a_bitrix24_lead_deletion_and_answers_a_redelivery_with_the_first_result(
    client: TestClient, db_url: str, clock: SimulatedClock
) -> None:
    body, headers = samples.bitrix24("ONCRMLEADDELETE", 3187, now_ts(clock),
                                     token=ENV["SLAFLOW_BITRIX24_APP_TOKEN"])
    first = client.post("/webhooks/bitrix24", content=body, headers=headers)
    assert first.status_code == 200 and first.json()["duplicate"] is False
    stored = event(client, first.json()["id"])
    assert stored["status"] == "processed"
    assert ENV["SLAFLOW_BITRIX24_APP_TOKEN"] not in stored["body"] and "ONCRMLEADDELETE" in stored["body"]
    assert stored["headers"] == {"content-type": "application/x-www-form-urlencoded",
                                 "user-agent": "Bitrix24 Webhook Engine"}
    again = client.post("/webhooks/bitrix24", content=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "status": "processed", "duplicate": True,
                            "result": stored["result"]}
    [case] = cases_in(db_url)
    assert (case.case_type, case.external_key, case.data["lead_id"]) == ("lead_dispute", "lead:3187:lead_dispute",
                                                                        "3187")
    assert inbox_count(db_url) == 1


def test_it_opens_one_case_per_amocrm_lead_of_a_request(client: TestClient, db_url: str) -> None:
    lead = {"status_id": 43315792, "pipeline_id": 4740529, "old_status_id": 43315795,
            "custom_fields": [(1, "Компания", "ООО Ромашка"), (2, "Товары", "40 паллет")]}
    body, headers = samples.amocrm_lead("status", [{"id": 11, **lead}, {"id": 12, **lead}])
    response = client.post(f"/webhooks/amocrm?token={ENV['SLAFLOW_AMOCRM_TOKEN']}", content=body, headers=headers)
    assert response.status_code == 200
    assert event(client, response.json()["id"])["status"] == "processed"
    assert [c.external_key for c in cases_in(db_url)] == ["lead:11:reservation", "lead:12:reservation"]
    refused = client.post("/webhooks/amocrm?token=guess", content=body, headers=headers)
    assert refused.status_code == 401


def test_it_opens_a_lead_dispute_from_a_signed_hubspot_batch_and_refuses_a_stale_one(
    client: TestClient, db_url: str, clock: SimulatedClock
) -> None:
    change = samples.hubspot_property_change(91, 5101, "hs_lead_status", "UNQUALIFIED", kind="contact")
    ms = now_ts(clock) * 1000
    body, headers = samples.hubspot([change], secret=ENV["SLAFLOW_HUBSPOT_APP_SECRET"], url=HUBSPOT_URL,
                                    timestamp_ms=ms)
    assert client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200
    settle(client)
    assert [(c.case_type, c.external_key) for c in cases_in(db_url)] == [("lead_dispute", "contact:5101:lead_dispute")]
    stale_body, stale = samples.hubspot([{**change, "eventId": 92}], secret=ENV["SLAFLOW_HUBSPOT_APP_SECRET"],
                                        url=HUBSPOT_URL, timestamp_ms=ms - 301_000)
    response = client.post("/webhooks/hubspot", content=stale_body, headers=stale)
    assert response.status_code == 401 and "off (limit 300 s)" in response.json()["detail"]
    assert inbox_count(db_url) == 1


def test_it_opens_a_rush_delivery_when_a_pipedrive_deal_enters_its_stage(client: TestClient, db_url: str) -> None:
    data = {"id": 595, "title": "40 паллет", "status": "open", "stage_id": 7, "pipeline_id": 1, "org_id": 88,
            "expected_close_date": "2026-11-18",
            "custom_fields": {"d4de1c1518b4531717c676029a45911c340390a6": {"type": "varchar", "value": "VIP"}}}
    body, headers = samples.pipedrive("change", "deal", 595, data, {"stage_id": 3}, event_id="uuid-1",
                                      user=ENV["SLAFLOW_PIPEDRIVE_USER"], password=ENV["SLAFLOW_PIPEDRIVE_PASSWORD"])
    response = client.post("/webhooks/pipedrive", content=body, headers=headers)
    assert response.status_code == 200
    settle(client)
    [case] = cases_in(db_url)
    assert case.data == {"customer": 88, "order": "595", "deliver_by": "2026-11-18", "reason": "VIP"}
    unauthorised = client.post("/webhooks/pipedrive", content=body, headers={"Content-Type": "application/json"})
    assert unauthorised.status_code == 401 and unauthorised.headers["www-authenticate"].startswith("Basic")


def test_it_refuses_a_bad_signature_with_401_stores_nothing_and_logs_no_secret(
    client: TestClient, db_url: str, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    body, headers = samples.generic({"entity": "order", "entity_id": "A-1"}, secret="guessed-secret",
                                    timestamp=now_ts(clock))
    with caplog.at_level(logging.WARNING):
        response = client.post("/webhooks/generic", content=body, headers=headers)
    assert response.status_code == 401 and response.json()["detail"] == "X-Slaflow-Signature does not match"
    assert inbox_count(db_url) == 0
    assert "webhook generic from testclient refused (401)" in caplog.text
    assert "guessed-secret" not in caplog.text and ENV["SLAFLOW_GENERIC_SECRET"] not in caplog.text
    assert headers["X-Slaflow-Signature"] not in caplog.text


def test_it_keeps_an_authenticated_but_invalid_body_as_rejected_and_names_the_problem(
    client: TestClient, db_url: str, clock: SimulatedClock
) -> None:
    body, headers = samples.generic({"entity": "order"}, secret=ENV["SLAFLOW_GENERIC_SECRET"], timestamp=now_ts(clock))
    response = client.post("/webhooks/generic", content=body, headers=headers)
    assert response.status_code == 422 and "entity_id: Field required" in response.json()["detail"]
    stored = event(client, response.json()["inbox_id"])
    assert (stored["status"], stored["last_error"]) == ("rejected", "entity_id: Field required")
    garbled = b'{"entity": '
    headers["X-Slaflow-Signature"] = sign(ENV["SLAFLOW_GENERIC_SECRET"], str(now_ts(clock)), garbled)
    response = client.post("/webhooks/generic", content=garbled, headers=headers)
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]
    assert cases_in(db_url) == []


def test_it_stores_an_event_no_rule_matches_as_unmatched(client: TestClient, clock: SimulatedClock) -> None:
    body, headers = samples.generic({"entity": "invoice", "entity_id": "INV-9", "event": "paid"},
                                    secret=ENV["SLAFLOW_GENERIC_SECRET"], timestamp=now_ts(clock))
    response = client.post("/webhooks/generic", content=body, headers=headers)
    stored = event(client, response.json()["id"])
    assert stored["status"] == "unmatched" and stored["result"]["events"][0]["entity_id"] == "INV-9"
    assert client.get("/webhooks/events?status=unmatched", headers=token_header("erp")).status_code == 403
    listed = client.get("/webhooks/events?status=unmatched", headers=client.app.state.test_admin).json()  # type: ignore[attr-defined]
    assert [row["id"] for row in listed] == [response.json()["id"]]


def test_it_answers_404_for_an_unknown_or_disabled_source(
    db_url: str, tmp_path: Path, clock: SimulatedClock
) -> None:
    config = write_config(tmp_path, sources={"generic": {"secret": {"env": "SLAFLOW_GENERIC_SECRET"}},
                                             "hubspot": {"enabled": False, "app_secret": {"env": "UNSET"}}},
                          rules=[])
    with serving(db_url, config, clock, ENV) as client:
        for source in ("zoho", "hubspot"):
            response = client.post(f"/webhooks/{source}", content=b"[]")
            assert response.status_code == 404 and "enabled: ['generic']" in response.json()["detail"]


def test_it_processes_at_start_what_a_previous_run_stored_but_did_not_process(
    db_url: str, config_path: Path, clock: SimulatedClock
) -> None:
    body, headers = samples.generic(
        {"entity": "order", "entity_id": "A-7", "stage": "rush_requested",
         "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "new customer"}},
        secret=ENV["SLAFLOW_GENERIC_SECRET"], timestamp=now_ts(clock))
    admin = admin_header(db_url, config_path)
    with serving(db_url, config_path, clock, ENV, process=False) as storing:
        storing.app.state.test_admin = admin  # type: ignore[attr-defined]
        inbox_id = storing.post("/webhooks/generic", content=body, headers=headers).json()["id"]
        assert event(storing, inbox_id)["status"] == "received"
    assert cases_in(db_url) == []
    with serving(db_url, config_path, clock, ENV) as restarted:
        restarted.app.state.test_admin = admin  # type: ignore[attr-defined]
        assert event(restarted, inbox_id)["status"] == "processed"
    assert [c.external_key for c in cases_in(db_url)] == ["order:A-7:rush_delivery"]


def test_it_starts_without_a_sources_secret_and_that_source_answers_503_saying_why(
    db_url: str, config_path: Path, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {k: v for k, v in ENV.items() if k != "SLAFLOW_PIPEDRIVE_PASSWORD"}
    with caplog.at_level(logging.WARNING, logger="api.app"):
        served = runtime(db_url, config_path)
        app = create_app(served, clock, environ=environ)
    [line] = [r.getMessage() for r in caplog.records if r.name == "api.app"]
    assert line.startswith("webhook source pipedrive is disabled:") and "SLAFLOW_PIPEDRIVE_PASSWORD" in line
    assert ENV["SLAFLOW_HUBSPOT_APP_SECRET"] not in line and ENV["SLAFLOW_GENERIC_SECRET"] not in line
    with TestClient(app) as client:
        refused = client.post("/webhooks/pipedrive", content=b"{}", headers={"Content-Type": "application/json"})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "300"
        assert "SLAFLOW_PIPEDRIVE_PASSWORD" in refused.json()["detail"]
        body, headers = samples.generic({"entity": "order", "entity_id": "A-1", "event": "created"},
                                        secret=ENV["SLAFLOW_GENERIC_SECRET"], timestamp=now_ts(clock))
        assert client.post("/webhooks/generic", content=body, headers=headers).status_code == 200
    served.engine.dispose()


def test_it_reads_a_body_once_when_it_is_stored_as_it_came_and_again_when_it_was_redacted(
    client: TestClient, db_url: str, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crm.adapters.bitrix24 import Bitrix24Adapter
    from crm.adapters.generic import GenericAdapter

    reads: list[str] = []
    for adapter in (GenericAdapter, Bitrix24Adapter):
        def counting(self: Any, body: bytes, config: Any, parse: Any = adapter.parse) -> Any:
            reads.append(self.name)
            return parse(self, body, config)
        monkeypatch.setattr(adapter, "parse", counting)
    order = {"entity": "order", "entity_id": "R-1", "event": "stage_changed", "stage": "rush_requested",
             "fields": {"customer": "ООО Ромашка", "deliver_by": "2026-11-18", "reason": "VIP"}}
    body, headers = samples.generic(order, secret=ENV["SLAFLOW_GENERIC_SECRET"], timestamp=now_ts(clock))
    generic = client.post("/webhooks/generic", content=body, headers=headers)
    assert generic.status_code == 200 and event(client, generic.json()["id"])["status"] == "processed"
    assert reads == ["generic"]  # on receipt; processing used what that reading gave
    body, headers = samples.bitrix24("ONCRMLEADDELETE", 3187, now_ts(clock), token=ENV["SLAFLOW_BITRIX24_APP_TOKEN"])
    bitrix = client.post("/webhooks/bitrix24", content=body, headers=headers)
    assert bitrix.status_code == 200 and event(client, bitrix.json()["id"])["status"] == "processed"
    assert reads == ["generic", "bitrix24", "bitrix24"]  # the stored body is redacted: read as stored
    assert [(c.external_key, c.data.get("reason")) for c in cases_in(db_url)] == [
        ("order:R-1:rush_delivery", "VIP"), ("lead:3187:lead_dispute", "deleted in Bitrix24 as junk")]

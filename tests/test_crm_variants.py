"""Every documented request variant through ``POST /webhooks/{source}`` on SQLite and
PostgreSQL: several accounts per source, Salesforce outbound messages (SOAP, ``<Ack>``,
OrganizationId), Zoho CRM notifications (token and channel_id in the body), HubSpot's
``eventType`` batches, signed idempotency keys; odd headers and NUL bodies are 4xx, never 5xx,
and an odd body is kept byte for byte as rejected."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.testing import TestClient, admin_header, example_config, serving, write_config
from core.clock import SimulatedClock
from crm import samples
from crm.adapters.generic import sign
from crm.redaction import RedactSecrets
from storage.db import make_engine, session_factory
from storage.models import Case, InboxEvent

ENV = {**samples.SAMPLE_ENV, "B24_APP_TOKEN": "app-token-0b8d6c1e", "SF_TOKEN": "sf-url-token-11aa",
       "ZOHO_TOKEN": "TOKEN_FOR_VERIFICATION_OF_1000000068002"}
ORG = "00D5g000004XyZaEAK"
HUBSPOT_URL = "https://slaflow.sever.example/webhooks/hubspot"
RUSH = {"customer": "Account_Name", "order": "$entity_id", "deliver_by": "CloseDate", "reason": "Description"}


@pytest.fixture
def client(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    sources: dict[str, Any] = dict(example_config()["crm"]["sources"])
    sources["bitrix24"] = {**sources["bitrix24"], "accounts": {
        "app": {"application_token": {"env": "B24_APP_TOKEN"}, "domain": "yug.bitrix24.ru"}}}
    sources["salesforce"] = {"token": {"env": "SF_TOKEN"}, "organization_id": ORG, "memberships": ["sales/manager"]}
    sources["zoho"] = {"token": {"env": "ZOHO_TOKEN"}, "channel_ids": ["1000000068002"],
                       "memberships": ["sales/manager"]}
    rules = [*example_config()["crm"]["rules"],
             {"name": "sf-rush", "source": "salesforce", "entity": "opportunity", "stage": "Rush Delivery",
              "open": "rush_delivery", "data": RUSH}]
    with serving(db_url, write_config(tmp_path, sources=sources, rules=rules), clock, ENV) as client:
        yield client


def settle(client: TestClient) -> None:
    assert client.app.state.slaflow.pipeline.wait_idle(30)  # type: ignore[attr-defined]


def rows(db_url: str) -> list[InboxEvent]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
    finally:
        engine.dispose()


def cases(db_url: str) -> list[Case]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(Case).order_by(Case.id)))
    finally:
        engine.dispose()


def now_ts(clock: SimulatedClock) -> int:
    return int(clock.now().timestamp())


def test_it_accepts_each_bitrix24_account_with_its_own_token_and_keeps_their_records_apart(
    client: TestClient, db_url: str, clock: SimulatedClock
) -> None:
    for token, domain in ((ENV["SLAFLOW_BITRIX24_APP_TOKEN"], "sever.bitrix24.ru"),
                          (ENV["B24_APP_TOKEN"], "yug.bitrix24.ru")):
        body, headers = samples.bitrix24("ONCRMLEADDELETE", 3187, now_ts(clock), token=token, domain=domain)
        assert client.post("/webhooks/bitrix24", content=body, headers=headers).status_code == 200
    wrong_domain, headers = samples.bitrix24("ONCRMLEADDELETE", 1, now_ts(clock), token=ENV["B24_APP_TOKEN"])
    refused = client.post("/webhooks/bitrix24", content=wrong_domain, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["detail"] == ("no account matches (default: auth[application_token] does not match the "
                                        "configured token; app: auth[domain] is not yug.bitrix24.ru)")
    settle(client)
    assert [r.account for r in rows(db_url)] == ["default", "app"]
    assert [c.external_key for c in cases(db_url)] == ["lead:3187:lead_dispute", "app/lead:3187:lead_dispute"]


def test_it_acknowledges_a_salesforce_outbound_message_in_soap_and_opens_the_case_once(
    client: TestClient, db_url: str
) -> None:
    fields = {"Id": "0065g00000XyZaAAAR", "StageName": "Rush Delivery", "Account_Name": "ООО Ромашка",
              "CloseDate": "2026-11-20", "Description": "new customer", "Amount": None}
    body, headers = samples.salesforce([("04l5g000000AbCdAAK", "Opportunity", fields)], organization_id=ORG)
    url = f"/webhooks/salesforce?token={ENV['SF_TOKEN']}"
    first = client.post(url, content=body, headers=headers)
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/xml")
    assert "<Ack>true</Ack>" in first.text and "notificationsResponse" in first.text
    again = client.post(url, content=body, headers=headers)  # Salesforce retries until it sees the Ack
    assert again.status_code == 200 and "<Ack>true</Ack>" in again.text
    settle(client)
    [row] = rows(db_url)
    assert (row.status, row.idempotency_key) == ("processed", "notifications:04l5g000000AbCdAAK")
    [case] = cases(db_url)
    assert (case.external_key, case.data["customer"]) == ("opportunity:0065g00000XyZaAAAR:rush_delivery",
                                                          "ООО Ромашка")
    other_org, _ = samples.salesforce([("04l1", "Opportunity", fields)], organization_id="00D000000000001AAA")
    assert client.post(url, content=other_org, headers=headers).status_code == 401
    assert client.post("/webhooks/salesforce", content=body, headers=headers).status_code == 401
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>&lol2;</soapenv:Envelope>")
    refused = client.post(url, content=bomb, headers=headers)
    assert refused.status_code == 400 and "forbidden construct" in refused.json()["detail"]


def test_it_accepts_a_zoho_notification_only_with_its_token_and_channel_and_blanks_the_token(
    client: TestClient, db_url: str
) -> None:
    body, headers = samples.zoho("Deals", "update", ["3000000122001", "3000000122002"], token=ENV["ZOHO_TOKEN"],
                                 affected_fields=["Stage"])
    accepted = client.post("/webhooks/zoho", content=body, headers=headers)
    assert accepted.status_code == 200
    wrong, _ = samples.zoho("Deals", "update", ["1"], token="TOKEN_FOR_SOMETHING_ELSE")
    assert client.post("/webhooks/zoho", content=wrong, headers=headers).status_code == 401
    other_channel, _ = samples.zoho("Deals", "update", ["1"], token=ENV["ZOHO_TOKEN"], channel_id="42")
    assert client.post("/webhooks/zoho", content=other_channel, headers=headers).status_code == 401
    settle(client)
    [row] = rows(db_url)
    assert ENV["ZOHO_TOKEN"] not in row.body and json.loads(row.body)["token"] == "***"
    assert row.status == "unmatched" and row.result is not None
    assert [e["entity_key"] if "entity_key" in e else e["entity_id"] for e in row.result["events"]] == [
        "3000000122001", "3000000122002"]


def test_it_accepts_hubspot_batches_that_name_the_type_event_type_and_keys_each_occurrence(
    client: TestClient, db_url: str, clock: SimulatedClock
) -> None:
    change = samples.hubspot_property_change(91, 5101, "hs_lead_status", "UNQUALIFIED", kind="contact")
    documented = {**{k: v for k, v in change.items() if k != "subscriptionType"}, "eventType": "contact.propertyChange"}
    later = {**documented, "occurredAt": documented["occurredAt"] + 1000}  # the same eventId, another occurrence
    body, headers = samples.hubspot([documented, later], secret=ENV["SLAFLOW_HUBSPOT_APP_SECRET"], url=HUBSPOT_URL,
                                    timestamp_ms=now_ts(clock) * 1000)
    response = client.post("/webhooks/hubspot", content=body, headers=headers)
    assert response.status_code == 200, response.text
    settle(client)
    [row] = rows(db_url)
    assert row.status == "processed" and row.result is not None
    assert len({e["event_id"] for e in row.result["events"]}) == 2
    assert [c.external_key for c in cases(db_url)] == ["contact:5101:lead_dispute"]


def test_it_refuses_a_generic_replay_under_a_new_idempotency_key(client: TestClient, clock: SimulatedClock) -> None:
    event = {"entity": "invoice", "entity_id": "INV-9", "event": "paid"}
    body, headers = samples.generic(event, secret=ENV["SLAFLOW_GENERIC_SECRET"], timestamp=now_ts(clock),
                                    idempotency_key="delivery-1")
    assert client.post("/webhooks/generic", content=body, headers=headers).status_code == 200
    replayed = client.post("/webhooks/generic", content=body, headers={**headers, "Idempotency-Key": "delivery-2"})
    assert replayed.status_code == 401 and "timestamp.key.body" in replayed.json()["detail"]


@pytest.mark.parametrize(
    ("source", "headers"),
    [("generic", {"X-Slaflow-Timestamp": "²", "X-Slaflow-Signature": "sha256=00"}),
     ("generic", {"X-Slaflow-Timestamp": "1" * 5000, "X-Slaflow-Signature": "sha256=00"}),
     ("hubspot", {"X-HubSpot-Request-Timestamp": "9" * 5000, "X-HubSpot-Signature-v3": "x"}),
     ("hubspot", {"X-HubSpot-Request-Timestamp": "١٢٣", "X-HubSpot-Signature-v3": "x"})],
    ids=["superscript-two", "5000-digits", "hubspot-5000-digits", "arabic-digits"],
)
def test_it_answers_odd_timestamps_with_401_not_500(client: TestClient, source: str, headers: dict[str, str]) -> None:
    raw = {"Content-Type": b"application/json", **{k: v.encode() for k, v in headers.items()}}
    response = client.post(f"/webhooks/{source}", content=b"[]", headers=raw)
    assert response.status_code == 401 and "Timestamp is missing or not" in response.json()["detail"]


@pytest.mark.parametrize("body", [b'{"entity": "order", "entity_id": "A-\x00"}',
                                  b'{"entity": "order", "entity_id": "A-\\u0000"}',
                                  b'{"entity": "order", "entity_id": "\xff\xfe"}'],
                         ids=["raw-nul", "escaped-nul", "not-utf8"])
def test_it_refuses_nul_at_parse_time_and_keeps_the_exact_bytes_as_rejected(
    client: TestClient, db_url: str, tmp_path: Path, clock: SimulatedClock, body: bytes
) -> None:
    stamp = str(now_ts(clock))
    headers = {"Content-Type": "application/json", "X-Slaflow-Timestamp": stamp,
               "X-Slaflow-Signature": sign(ENV["SLAFLOW_GENERIC_SECRET"], stamp, body)}
    response = client.post("/webhooks/generic", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["detail"] or "UTF-8" in response.json()["detail"]
    admin = admin_header(db_url, tmp_path / "company.yaml")  # stored bodies are read by admins only
    stored = client.get(f"/webhooks/events/{response.json()['inbox_id']}", headers=admin)
    assert stored.status_code == 200 and stored.json()["status"] == "rejected"
    if stored.json()["body_base64"] is not None:
        assert base64.b64decode(stored.json()["body_base64"]) == body
    [row] = rows(db_url)
    lossless = row.raw_body if row.raw_body is not None else row.body.encode()
    assert lossless == body


def test_it_refuses_a_nul_in_a_form_body_before_anything_is_stored(
    client: TestClient, db_url: str, clock: SimulatedClock
) -> None:
    body, headers = samples.bitrix24("ONCRMDEALUPDATE", 42, now_ts(clock), token=ENV["SLAFLOW_BITRIX24_APP_TOKEN"],
                                     fields={"TITLE": "a\x00b"})
    assert b"%00" in body
    response = client.post("/webhooks/bitrix24", content=body, headers=headers)
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    nested = b'{"token": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    deep = client.post("/webhooks/zoho", content=nested, headers={"Content-Type": "application/json"})
    assert deep.status_code == 401


def test_it_blanks_secrets_in_uvicorns_access_log_line() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.7:51000", "POST", f"/webhooks/amocrm?token={ENV['SLAFLOW_AMOCRM_TOKEN']}&x=1",
                                "1.1", 200), None)
    assert RedactSecrets().filter(record)
    line = record.getMessage()
    assert ENV["SLAFLOW_AMOCRM_TOKEN"] not in line and "/webhooks/amocrm?token=***&x=1" in line


@pytest.mark.parametrize("path", ["/dashboard/invite/sBkUTORhDdlx3BWFpQRmXEtm", "/dashboard/ack/eyJjIjo5fQ.Zt1-x_y"])
def test_it_blanks_the_one_time_token_of_an_invitation_or_acknowledge_link(path: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.7:51000", "GET", path, "1.1", 200), None)
    assert RedactSecrets().filter(record)
    token = path.rsplit("/", 1)[1]
    line = record.getMessage()
    assert token not in line and path.rsplit("/", 1)[0] + "/***" in line


def test_it_blanks_a_bitrix24_webhook_code_in_the_http_clients_log_line() -> None:
    import httpx

    url = httpx.URL("https://sever.bitrix24.ru/rest/1/k9xq2w7r1t5y3u8i/crm.deal.get.json")
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s %d %s"',
                               ("POST", url, "HTTP/1.1", 200, "OK"), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == ('HTTP Request: POST https://sever.bitrix24.ru/rest/1/***/crm.deal.get.json '
                                   '"HTTP/1.1 200 OK"')

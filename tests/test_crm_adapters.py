"""Each CRM adapter against requests built from the vendor's documentation: authentication
(good, wrong, missing, stale), normalisation, idempotency keys. No database needed."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm import samples
from crm.adapters import ADAPTERS, WebhookRequest
from crm.adapters.base import load_json
from crm.config import (
    AmoCrmSource,
    Bitrix24Source,
    GenericSource,
    HubSpotSource,
    PipedriveSource,
    SecretRef,
)
from crm.errors import AuthFailed, InvalidWebhook, MalformedWebhook
from crm.forms import parse_form

NOW = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
ENV = samples.SAMPLE_ENV
REF = SecretRef(env="UNUSED")
HUBSPOT_URL = "https://slaflow.sever.example/webhooks/hubspot"


def request(body: bytes, headers: dict[str, str] | None = None, *, url: str = "http://testserver/webhooks/x",
            query: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(method="POST", url=url, headers={k.lower(): v for k, v in (headers or {}).items()},
                          query=query or {}, body=body)


# --- Bitrix24 ---------------------------------------------------------------------------------

BITRIX = Bitrix24Source(application_token=REF, domain="sever.bitrix24.ru")
BITRIX_SECRETS = {"application_token": ENV["SLAFLOW_BITRIX24_APP_TOKEN"]}
# ONCRMDEALUPDATE exactly as Bitrix24 posts it (PHP http_build_query), from its event docs.
BITRIX_BODY = (
    b"event=ONCRMDEALUPDATE&event_handler_id=201&data%5BFIELDS%5D%5BID%5D=42&ts=1794808800"
    b"&auth%5Bdomain%5D=sever.bitrix24.ru&auth%5Bclient_endpoint%5D=https%3A%2F%2Fsever.bitrix24.ru%2Frest%2F"
    b"&auth%5Bserver_endpoint%5D=https%3A%2F%2Foauth.bitrix.info%2Frest%2F"
    b"&auth%5Bmember_id%5D=a223c6b3710f85df22e9377d6c4f7553"
    b"&auth%5Bapplication_token%5D=51856fefc120afa4b628cc82d3935cce"
)


def test_it_builds_bitrix24_bodies_byte_for_byte_as_bitrix24_sends_them() -> None:
    body, headers = samples.bitrix24("ONCRMDEALUPDATE", 42, NOW_TS, token=BITRIX_SECRETS["application_token"])
    assert body == BITRIX_BODY
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_it_accepts_bitrix24_with_the_configured_application_token_and_normalises_the_deal() -> None:
    adapter = ADAPTERS["bitrix24"]
    incoming = request(BITRIX_BODY)
    adapter.authenticate_any(incoming, BITRIX, {"default": BITRIX_SECRETS}, NOW)
    [event] = adapter.parse(BITRIX_BODY, BITRIX)
    assert (event.entity_kind, event.entity_id, event.event_type) == ("deal", "42", "updated")
    assert event.vendor_event == "ONCRMDEALUPDATE"
    assert event.occurred_at == NOW
    assert adapter.idempotency_key(incoming, [event]) == "ONCRMDEALUPDATE:42:1794808800"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (BITRIX_BODY.replace(b"51856fefc120afa4b628cc82d3935cce", b"0" * 32), "does not match"),
        (BITRIX_BODY.split(b"&auth%5Bapplication_token%5D")[0], "missing"),
        (BITRIX_BODY.replace(b"auth%5Bdomain%5D=sever", b"auth%5Bdomain%5D=evil"), r"auth\[domain\] is not"),
    ],
    ids=["wrong-token", "no-token", "other-portal"],
)
def test_it_refuses_bitrix24_without_the_right_token_or_portal(body: bytes, problem: str) -> None:
    with pytest.raises(AuthFailed, match=problem) as refused:
        ADAPTERS["bitrix24"].authenticate_any(request(body), BITRIX, {"default": BITRIX_SECRETS}, NOW)
    assert BITRIX_SECRETS["application_token"] not in str(refused.value)


def test_it_blanks_bitrix24_tokens_in_the_stored_body_and_keeps_the_rest_byte_exact() -> None:
    stored = ADAPTERS["bitrix24"].redact(BITRIX_BODY + b"&auth%5Baccess_token%5D=s6p6eclrvim6da22")
    assert b"51856fefc120afa4b628cc82d3935cce" not in stored and b"s6p6eclrvim6da22" not in stored
    assert stored.startswith(BITRIX_BODY.split(b"&auth%5Bapplication_token%5D")[0])
    assert [e.entity_id for e in ADAPTERS["bitrix24"].parse(stored, BITRIX)] == ["42"]


def test_it_reads_bitrix24_entity_kind_and_action_from_the_event_name() -> None:
    body, _ = samples.bitrix24("ONCRMLEADDELETE", 7, NOW_TS, token="t")
    [event] = ADAPTERS["bitrix24"].parse(body, BITRIX)
    assert (event.entity_kind, event.event_type) == ("lead", "deleted")


def test_it_names_the_missing_bitrix24_field() -> None:
    with pytest.raises(InvalidWebhook, match=r"data\[FIELDS\]\[ID\]"):
        ADAPTERS["bitrix24"].parse(b"event=ONCRMDEALUPDATE&ts=1", BITRIX)


# --- amoCRM -----------------------------------------------------------------------------------

AMO = AmoCrmSource(token=REF, subdomain="sever")
AMO_SECRETS = {"token": ENV["SLAFLOW_AMOCRM_TOKEN"]}
# Two leads changing status in one request, as amoCRM sends it (x-www-form-urlencoded).
AMO_BODY = (
    b"leads%5Bstatus%5D%5B0%5D%5Bid%5D=25399013&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=43315792"
    b"&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=4740529&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=43315795"
    b"&leads%5Bstatus%5D%5B0%5D%5Bold_pipeline_id%5D=4740529&leads%5Bstatus%5D%5B0%5D%5Blast_modified%5D=1794808790"
    b"&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=629233"
    b"&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bname%5D=%D0%9A%D0%BE%D0%BC%D0%BF%D0%B0%D0%BD%D0%B8%D1%8F"
    b"&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bvalues%5D%5B0%5D%5Bvalue%5D="
    b"%D0%9E%D0%9E%D0%9E+%D0%A0%D0%BE%D0%BC%D0%B0%D1%88%D0%BA%D0%B0"
    b"&leads%5Bstatus%5D%5B1%5D%5Bid%5D=25399020&leads%5Bstatus%5D%5B1%5D%5Bstatus_id%5D=143"
    b"&leads%5Bstatus%5D%5B1%5D%5Bpipeline_id%5D=4740529&leads%5Bstatus%5D%5B1%5D%5Bold_status_id%5D=43315792"
    b"&leads%5Bstatus%5D%5B1%5D%5Bold_pipeline_id%5D=4740529&leads%5Bstatus%5D%5B1%5D%5Blast_modified%5D=1794808795"
    b"&account%5Bsubdomain%5D=sever&account%5Bid%5D=29715442&account%5B_links%5D%5Bself%5D=https%3A%2F%2Fsever.amocrm.ru"
)


def test_it_builds_amocrm_bodies_byte_for_byte_as_amocrm_sends_them() -> None:
    body, _ = samples.amocrm_lead("status", [
        {"id": 25399013, "status_id": 43315792, "pipeline_id": 4740529, "old_status_id": 43315795,
         "old_pipeline_id": 4740529, "last_modified": 1794808790,
         "custom_fields": [(629233, "Компания", "ООО Ромашка")]},
        {"id": 25399020, "status_id": 143, "pipeline_id": 4740529, "old_status_id": 43315792,
         "old_pipeline_id": 4740529, "last_modified": 1794808795},
    ])
    assert body == AMO_BODY


def test_it_normalises_every_amocrm_lead_of_a_request_with_old_and_new_status() -> None:
    adapter = ADAPTERS["amocrm"]
    adapter.authenticate_any(request(AMO_BODY, query={"token": AMO_SECRETS["token"]}), AMO, {"default": AMO_SECRETS},
                             NOW)
    first, second = adapter.parse(AMO_BODY, AMO)
    assert (first.entity_kind, first.entity_id, first.event_type) == ("lead", "25399013", "stage_changed")
    assert (first.old_stage, first.new_stage, first.pipeline) == ("43315795", "43315792", "4740529")
    assert first.fields["Компания"] == "ООО Ромашка" and first.fields["cf_629233"] == "ООО Ромашка"
    assert (second.entity_id, second.old_stage, second.new_stage) == ("25399020", "43315792", "143")


def test_it_keys_amocrm_deliveries_by_a_hash_of_the_body() -> None:
    adapter = ADAPTERS["amocrm"]
    events = adapter.parse(AMO_BODY, AMO)
    key = adapter.idempotency_key(request(AMO_BODY), events)
    assert key == adapter.idempotency_key(request(AMO_BODY), events) and key.startswith("sha256:")
    other = AMO_BODY.replace(b"1794808795", b"1794808799")
    assert adapter.idempotency_key(request(other), adapter.parse(other, AMO)) != key


@pytest.mark.parametrize(
    ("query", "body", "problem"),
    [({}, AMO_BODY, "missing"), ({"token": "guess"}, AMO_BODY, "does not match"),
     ({"token": AMO_SECRETS["token"]}, AMO_BODY.replace(b"subdomain%5D=sever", b"subdomain%5D=other"), "subdomain")],
    ids=["no-token", "wrong-token", "other-account"],
)
def test_it_refuses_amocrm_without_the_url_token_or_from_another_account(
    query: dict[str, str], body: bytes, problem: str
) -> None:
    with pytest.raises(AuthFailed, match=problem):
        ADAPTERS["amocrm"].authenticate_any(request(body, query=query), AMO, {"default": AMO_SECRETS}, NOW)


# --- HubSpot ----------------------------------------------------------------------------------

HUBSPOT = HubSpotSource(app_secret=REF, public_url=HUBSPOT_URL)
HUBSPOT_SECRETS = {"app_secret": ENV["SLAFLOW_HUBSPOT_APP_SECRET"]}
NOW_MS = NOW_TS * 1000


def hubspot_request(events: list[dict[str, Any]], *, at_ms: int = NOW_MS, url: str = HUBSPOT_URL,
                    tamper: bool = False) -> WebhookRequest:
    body, headers = samples.hubspot(events, secret=HUBSPOT_SECRETS["app_secret"], url=url, timestamp_ms=at_ms)
    if tamper:
        body = body.replace(b"closedwon", b"closedlost")
    return request(body, headers, url="http://10.0.0.5:8000/webhooks/hubspot")


STAGE_EVENT = samples.hubspot_property_change(3816279340, 1246965, "dealstage", "closedwon")


def test_it_accepts_a_hubspot_v3_signature_computed_over_the_public_url() -> None:
    good = hubspot_request([STAGE_EVENT])
    ADAPTERS["hubspot"].authenticate_any(good, HUBSPOT, {"default": HUBSPOT_SECRETS}, NOW)  # raises if refused
    tampered = replace(good, body=good.body.replace(b"closedwon", b"closedlost"))
    with pytest.raises(AuthFailed):  # the same signature over another body is refused
        ADAPTERS["hubspot"].authenticate_any(tampered, HUBSPOT, {"default": HUBSPOT_SECRETS}, NOW)


def test_it_verifies_the_hubspot_v3_signature_as_hubspots_docs_define_it() -> None:
    # base64(HMAC-SHA256(secret, "POST" + uri + body + timestamp)), computed here independently.
    import hashlib
    import hmac

    incoming = hubspot_request([STAGE_EVENT])
    source = b"POST" + HUBSPOT_URL.encode() + incoming.body + str(NOW_MS).encode()
    expected = base64.b64encode(hmac.new(HUBSPOT_SECRETS["app_secret"].encode(), source, hashlib.sha256).digest())
    assert incoming.headers["x-hubspot-signature-v3"] == expected.decode()


@pytest.mark.parametrize(
    ("incoming", "problem"),
    [
        (hubspot_request([STAGE_EVENT], tamper=True), "does not match"),
        (hubspot_request([STAGE_EVENT], at_ms=NOW_MS - 6 * 60 * 1000), "360 s off"),
        (hubspot_request([STAGE_EVENT], url="https://attacker.example/webhooks/hubspot"), "does not match"),
    ],
    ids=["tampered-body", "older-than-5-minutes", "signed-for-another-url"],
)
def test_it_refuses_hubspot_requests_with_a_bad_or_stale_signature(incoming: WebhookRequest, problem: str) -> None:
    with pytest.raises(AuthFailed, match=problem):
        ADAPTERS["hubspot"].authenticate_any(incoming, HUBSPOT, {"default": HUBSPOT_SECRETS}, NOW)


def test_it_accepts_legacy_hubspot_signatures_only_where_configured() -> None:
    incoming = hubspot_request([STAGE_EVENT])
    legacy = request(incoming.body, {k: v for k, v in incoming.headers.items() if "v3" not in k})
    with pytest.raises(AuthFailed, match="v1 is not accepted"):
        ADAPTERS["hubspot"].authenticate_any(legacy, HUBSPOT, {"default": HUBSPOT_SECRETS}, NOW)
    allowing = HubSpotSource(app_secret=REF, public_url=HUBSPOT_URL, legacy_signatures=["v1"])
    ADAPTERS["hubspot"].authenticate_any(legacy, allowing, {"default": HUBSPOT_SECRETS}, NOW)
    forged = request(legacy.body, {**legacy.headers, "x-hubspot-signature": "0" * 64})
    with pytest.raises(AuthFailed, match="does not match"):
        ADAPTERS["hubspot"].authenticate_any(forged, allowing, {"default": HUBSPOT_SECRETS}, NOW)


def test_it_refuses_hubspot_events_from_another_portal_when_one_is_configured() -> None:
    pinned = HubSpotSource(app_secret=REF, public_url=HUBSPOT_URL, portal_id=999)
    with pytest.raises(AuthFailed, match="portal"):
        ADAPTERS["hubspot"].authenticate_any(hubspot_request([STAGE_EVENT]), pinned, {"default": HUBSPOT_SECRETS}, NOW)


def test_it_turns_a_hubspot_dealstage_change_into_a_stage_change_and_keys_the_batch_by_event_ids() -> None:
    adapter = ADAPTERS["hubspot"]
    created = {**STAGE_EVENT, "eventId": 3816279341, "subscriptionType": "contact.creation", "objectId": 512}
    for key in ("propertyName", "propertyValue"):
        created.pop(key)
    incoming = hubspot_request([STAGE_EVENT, created])
    deal, contact = adapter.parse(incoming.body, HUBSPOT)
    assert (deal.entity_kind, deal.entity_id, deal.event_type, deal.new_stage) == (
        "deal", "1246965", "stage_changed", "closedwon")
    assert deal.occurred_at == NOW
    assert (contact.entity_kind, contact.event_type) == ("contact", "created")
    reordered = hubspot_request([created, STAGE_EVENT])
    assert adapter.idempotency_key(incoming, [deal, contact]) == adapter.idempotency_key(
        reordered, adapter.parse(reordered.body, HUBSPOT))


def test_it_names_what_is_missing_in_a_hubspot_event() -> None:
    with pytest.raises(InvalidWebhook, match=r"\[0\]\.objectId is missing"):
        ADAPTERS["hubspot"].parse(b'[{"eventId": 1, "subscriptionType": "deal.creation"}]', HUBSPOT)
    with pytest.raises(InvalidWebhook, match="JSON array"):
        ADAPTERS["hubspot"].parse(b'{"eventId": 1}', HUBSPOT)


# --- Pipedrive --------------------------------------------------------------------------------

PIPEDRIVE = PipedriveSource(username=REF, password=REF)
PD_SECRETS = {"username": ENV["SLAFLOW_PIPEDRIVE_USER"], "password": ENV["SLAFLOW_PIPEDRIVE_PASSWORD"]}
PD_DATA = {"id": 595, "title": "ООО Ромашка — 40 паллет", "status": "open", "stage_id": 7, "pipeline_id": 1,
           "org_id": 88, "value": 1250000, "currency": "RUB", "expected_close_date": "2026-11-18",
           "custom_fields": {"d4de1c1518b4531717c676029a45911c340390a6": {"type": "varchar", "value": "новый клиент"}}}


def pipedrive_request(user: str = PD_SECRETS["username"], password: str = PD_SECRETS["password"],
                      **change: Any) -> WebhookRequest:
    body, headers = samples.pipedrive("change", "deal", 595, {**PD_DATA, **change}, {"stage_id": 3},
                                      event_id="6a1e8b3f-4c1d-4b7a-9e2f-0c5d7a8b9e10", user=user, password=password)
    return request(body, headers)


def test_it_accepts_pipedrive_basic_auth_and_sees_a_stage_change_from_previous() -> None:
    adapter = ADAPTERS["pipedrive"]
    incoming = pipedrive_request()
    adapter.authenticate_any(incoming, PIPEDRIVE, {"default": PD_SECRETS}, NOW)
    [event] = adapter.parse(incoming.body, PIPEDRIVE)
    assert (event.entity_kind, event.entity_id, event.event_type) == ("deal", "595", "stage_changed")
    assert (event.old_stage, event.new_stage, event.pipeline) == ("3", "7", "1")
    assert event.fields["d4de1c1518b4531717c676029a45911c340390a6"] == "новый клиент"
    assert event.occurred_at == NOW
    assert adapter.idempotency_key(incoming, [event]) == "6a1e8b3f-4c1d-4b7a-9e2f-0c5d7a8b9e10"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic " + base64.b64encode(b"pipedrive:wrong").decode()},
     {"Authorization": "Basic !!!"}, {"Authorization": "Bearer pd-pass-93c1"}],
    ids=["none", "wrong-password", "not-base64", "not-basic"],
)
def test_it_refuses_pipedrive_without_the_configured_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(AuthFailed):
        ADAPTERS["pipedrive"].authenticate_any(request(pipedrive_request().body, headers), PIPEDRIVE,
                                               {"default": PD_SECRETS}, NOW)


def test_it_accepts_a_pipedrive_webhooks_v1_stage_change_keyed_on_what_a_retry_repeats() -> None:
    def v1(retry: int) -> bytes:
        return json.dumps({
            "v": 1, "matches_filters": {"current": []}, "retry": retry, "event": "updated.deal",
            "meta": {"action": "updated", "object": "deal", "id": 311, "v": 1, "company_id": 12882925,
                     "host": "sever.pipedrive.com", "timestamp": 1794808800, "timestamp_micro": 1794808800595189,
                     "user_id": 18487521, "webhook_id": "991823", "change_source": "app"},
            "current": {"id": 311, "stage_id": 7, "pipeline_id": 1, "status": "open", "title": "Ромашка, 40 паллет"},
            "previous": {"stage_id": 3},
        }).encode()

    adapter = ADAPTERS["pipedrive"]
    [event] = adapter.parse(v1(0), PIPEDRIVE)
    assert (event.entity_kind, event.entity_id, event.event_type, event.old_stage, event.new_stage) == (
        "deal", "311", "stage_changed", "3", "7")
    assert event.fields["title"] == "Ромашка, 40 паллет"
    first = adapter.idempotency_key(request(v1(0)), [event])
    assert adapter.idempotency_key(request(v1(3)), adapter.parse(v1(3), PIPEDRIVE)) == first
    with pytest.raises(InvalidWebhook, match=r"meta\.object is missing"):
        adapter.parse(b'{"v": 1, "meta": {"action": "updated", "id": 1, "v": 1}, "current": {}}', PIPEDRIVE)


# --- generic ----------------------------------------------------------------------------------

GENERIC = GenericSource(secret=REF)
GENERIC_SECRETS = {"secret": ENV["SLAFLOW_GENERIC_SECRET"]}
ORDER = {"id": "evt-1", "entity": "order", "entity_id": "A-1042", "event": "stage_changed",
         "stage": "rush_requested", "fields": {"customer": "ООО Ромашка"}}


def generic_request(event: dict[str, Any] = ORDER, *, at: int = NOW_TS, secret: str = GENERIC_SECRETS["secret"],
                    key: str | None = None) -> WebhookRequest:
    body, headers = samples.generic(event, secret=secret, timestamp=at, idempotency_key=key)
    return request(body, headers)


def test_it_accepts_a_generic_webhook_signed_over_timestamp_and_body() -> None:
    incoming = generic_request()
    ADAPTERS["generic"].authenticate_any(incoming, GENERIC, {"default": GENERIC_SECRETS}, NOW)
    [event] = ADAPTERS["generic"].parse(incoming.body, GENERIC)
    assert (event.entity_key, event.new_stage, event.fields["customer"]) == (
        "order:A-1042", "rush_requested", "ООО Ромашка")


@pytest.mark.parametrize(
    ("incoming", "problem"),
    [(generic_request(secret="not-the-secret"), "does not match"),
     (generic_request(at=NOW_TS - 301), "301 s off"),
     (request(generic_request().body, {"X-Slaflow-Timestamp": str(NOW_TS)}), "missing")],
    ids=["wrong-secret", "stale", "unsigned"],
)
def test_it_refuses_generic_webhooks_with_a_bad_stale_or_missing_signature(
    incoming: WebhookRequest, problem: str
) -> None:
    with pytest.raises(AuthFailed, match=problem):
        ADAPTERS["generic"].authenticate_any(incoming, GENERIC, {"default": GENERIC_SECRETS}, NOW)


def test_it_keys_generic_deliveries_by_idempotency_key_else_by_body_hash() -> None:
    adapter = ADAPTERS["generic"]
    with_key, without = generic_request(key="erp-77"), generic_request()
    assert adapter.idempotency_key(with_key, []) == "key:erp-77"
    assert adapter.idempotency_key(without, []).startswith("sha256:")


def test_it_names_each_invalid_generic_field_and_tells_json_errors_apart() -> None:
    with pytest.raises(InvalidWebhook, match="entity_id: Field required") as invalid:
        ADAPTERS["generic"].parse(b'{"entity": "order", "colour": "red"}', GENERIC)
    assert "colour" in str(invalid.value)
    with pytest.raises(MalformedWebhook, match="not valid JSON"):
        ADAPTERS["generic"].parse(b'{"entity": ', GENERIC)


# --- the shared form helper -------------------------------------------------------------------

def test_it_nests_bracketed_form_keys_and_refuses_conflicting_ones() -> None:
    assert parse_form(b"a%5Bb%5D%5B0%5D%5Bc%5D=1&a%5Bb%5D%5B0%5D%5Bd%5D=2&x%5B%5D=p&x%5B%5D=q") == {
        "a": {"b": {"0": {"c": "1", "d": "2"}}}, "x": {"0": "p", "1": "q"}}
    with pytest.raises(MalformedWebhook, match="conflicts"):
        parse_form(b"a=1&a%5Bb%5D=2")
    with pytest.raises(MalformedWebhook, match="UTF-8"):
        parse_form(b"a=%FF")


def test_it_ignores_absurd_timestamps_instead_of_failing() -> None:
    body, _ = samples.bitrix24("ONCRMDEALADD", 1, 10**30, token="t")
    [event] = ADAPTERS["bitrix24"].parse(body, BITRIX)
    assert event.occurred_at is None and event.event_type == "created"


_TEXT = st.text(alphabet=st.sampled_from(["a", "\\", "u", "0", "\x00", "я"]), max_size=8)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | _TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=12)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(item) for key, item in value.items())
    return isinstance(value, list) and any(_has_nul(item) for item in value)


@settings(max_examples=300, deadline=None)
@given(value=_JSON, ascii_only=st.booleans())
def test_a_json_body_is_refused_exactly_when_a_nul_is_in_it(value: Any, ascii_only: bool) -> None:
    """Escaped (``\\u0000``, also beside escaped backslashes) or raw, in a key or a value, at any
    depth: refused; anything else parses to the same value (the walk runs only for escapes)."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    if _has_nul(value):
        with pytest.raises(MalformedWebhook, match="NUL"):
            load_json(body)
    else:
        assert load_json(body) == value

"""The lead API on SQLite and PostgreSQL: record statuses, read leads with SLAs and disputes,
the funnel, each head's request; refusals as 403/404/409/422 that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.testing import TestClient, serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples


@pytest.fixture
def api(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    with serving(db_url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        yield client


def event(api: TestClient, who: str = "ivanov", **body: object) -> Any:
    return api.post("/api/leads/events", json={"key": "L-1", **body}, headers=token_header(who))


def test_it_records_a_lead_through_its_statuses_with_both_slas(api: TestClient, clock: SimulatedClock) -> None:
    response = event(api, status="new", channel="site", product_group="pumps", customer="ООО Ромашка")
    assert response.status_code == 200, response.text
    lead = response.json()
    assert (lead["status"], lead["first_response"], lead["url"]) == (
        "new", "running", "https://sever.amocrm.ru/leads/detail/L-1")
    assert lead["first_response_due_at"] == "2026-11-16T07:00:00Z"  # 10:00 Moscow
    clock.advance(timedelta(minutes=20))
    taken = event(api, status="taken").json()
    assert (taken["first_response"], taken["owner"], taken["qualification"]) == ("met", "ivanov", "running")
    clock.advance(timedelta(hours=2))
    event(api, status="qualified")
    detail = api.get("/api/leads/api/L-1", headers=token_header("kuznetsova")).json()
    trail = [(e["from"], e["to"]) for e in detail["events"]]
    assert trail == [("new", "new"), ("new", "taken"), ("taken", "qualified")]
    assert detail["qualification"] == "met"
    listed = api.get("/api/leads", params={"status": "qualified"}, headers=token_header("kuznetsova")).json()
    assert [item["key"] for item in listed] == ["L-1"]
    funnel = api.get("/api/leads/funnel", params={"since": "2026-11-16T00:00:00+03:00",
                                                  "until": "2026-11-23T00:00:00+03:00"},
                     headers=token_header("kuznetsova")).json()
    assert funnel["weeks"][0]["qualified"] == 1 and funnel["groups"][0]["value"] == "pumps"


def test_it_refuses_with_the_right_code_and_changes_nothing(api: TestClient) -> None:
    event(api, status="qualified")
    back = event(api, status="taken")
    assert back.status_code == 409 and "cannot become 'taken'" in back.json()["detail"]
    no_reason = event(api, status="non_target")
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.json()["detail"]
    outsider = event(api, who="morozova", status="non_target", reason="spam")
    assert outsider.status_code == 403
    assert api.get("/api/leads", headers=token_header("morozova")).status_code == 403
    future = event(api, status="reservation_paid", at="2030-01-01T00:00:00Z")
    assert future.status_code == 422 and "in the future" in future.json()["detail"]
    assert event(api, status="won").status_code == 422
    missing = api.get("/api/leads/api/NOPE", headers=token_header("ivanov"))
    assert missing.status_code == 404 and missing.json()["detail"] == "no lead 'NOPE' from 'api'"
    lead = api.get("/api/leads/api/L-1", headers=token_header("ivanov")).json()
    assert lead["status"] == "qualified" and len(lead["events"]) == 1


def test_only_the_head_sets_their_departments_request(api: TestClient) -> None:
    body = {"request": "Лиды с телефоном и регионом", "expected_result": "Не больше 10% нецелевых"}
    ok = api.put("/api/leads/feedback/sales", json=body, headers=token_header("kuznetsova"))
    assert ok.status_code == 200 and ok.json()["updated_by"] == "kuznetsova"
    assert api.put("/api/leads/feedback/sales", json=body, headers=token_header("ivanov")).status_code == 403
    assert api.put("/api/leads/feedback/warehouse", json=body, headers=token_header("kuznetsova")).status_code == 422


def test_it_refuses_instants_and_characters_no_lead_can_have(api: TestClient) -> None:
    ancient = api.get("/api/leads/funnel", headers=token_header("ivanov"),
                      params={"since": "0001-01-01T00:00:00+00:01", "until": "0002-01-01T00:00:00Z"})
    assert ancient.status_code == 422
    assert api.get("/api/leads/api/a%00b", headers=token_header("ivanov")).status_code == 422
    too_long = api.get("/api/leads/funnel", params={"since": "2026-01-01T00:00:00Z", "until": "2028-01-01T00:00:00Z"},
                       headers=token_header("ivanov"))
    assert too_long.status_code == 422 and "at most a year" in too_long.json()["detail"]

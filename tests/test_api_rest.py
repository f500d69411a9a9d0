"""The REST API on SQLite and PostgreSQL: bearer tokens, the engine's permissions and errors as
HTTP answers, case reads with clocks and history, per-department SLA figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.testing import TestClient, serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples

RESERVATION = {"type": "reservation", "data": {"customer": "ООО Ромашка", "deal": "D-595", "items": "40 паллет"}}


@pytest.fixture
def api(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[TestClient]:
    with serving(db_url, write_config(tmp_path), clock, samples.SAMPLE_ENV) as client:
        yield client


def opened(api: TestClient, body: dict[str, Any] = RESERVATION, who: str = "ivanov") -> dict[str, Any]:
    response = api.post("/api/cases", json=body, headers=token_header(who))
    assert response.status_code == 201, response.text
    return dict(response.json())


def fire(api: TestClient, case_id: int, who: str, trigger: str, **body: Any) -> Any:
    return api.post(f"/api/cases/{case_id}/fire", json={"trigger": trigger, **body}, headers=token_header(who))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}],
                         ids=["none", "unknown", "not-bearer"])
def test_it_requires_a_known_bearer_token(api: TestClient, headers: dict[str, str]) -> None:
    response = api.get("/api/cases", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_it_opens_a_case_as_the_person_behind_the_token_and_shows_clocks_and_history(
    api: TestClient, clock: SimulatedClock
) -> None:
    case = opened(api)
    assert (case["type"], case["state"], case["version"], case["owner"]) == ("reservation", "approval", 1, "sales/head")
    assert case["events"] == [{"seq": 1, "at": "2026-11-16T06:00:00Z", "actor": "ivanov", "trigger": "open",
                               "from": None, "to": "approval", "payload": RESERVATION["data"], "source": "api"}]
    assert [(c["kind"], c["status"], c["department"]) for c in case["clocks"]] == [
        ("case", "running", "sales"), ("step", "running", "sales")]
    clock.advance(timedelta(hours=1))
    detail = api.get(f"/api/cases/{case['id']}", headers=token_header("erp")).json()
    assert detail["clocks"][1]["used_minutes"] == pytest.approx(60)
    assert detail["remaining_minutes"]["business_minutes"] == pytest.approx(180)


def test_it_refuses_a_warehouse_token_firing_a_sales_trigger_with_403(api: TestClient) -> None:
    case = opened(api)
    response = fire(api, case["id"], "erp", "approve")
    assert response.status_code == 403
    assert response.json()["allowed"] == ["sales/head"]
    assert "api:erp may not fire 'approve'" in response.json()["detail"]
    assert api.get(f"/api/cases/{case['id']}", headers=token_header("erp")).json()["version"] == 1


def test_it_moves_a_case_through_departments_each_acting_with_its_own_token(api: TestClient) -> None:
    case = opened(api)
    assert fire(api, case["id"], "kuznetsova", "approve", expected_version=1).json()["state"] == "reserving"
    moved = fire(api, case["id"], "erp", "reserved", payload={"reservation_doc": "РЗ-1187"}).json()
    assert (moved["state"], moved["version"], moved["data"]["reservation_doc"]) == ("held", 3, "РЗ-1187")
    assert [e["actor"] for e in moved["events"]] == ["ivanov", "kuznetsova", "api:erp"]


def test_it_answers_409_to_a_stale_expected_version(api: TestClient) -> None:
    case = opened(api)
    assert fire(api, case["id"], "kuznetsova", "approve", expected_version=1).status_code == 200
    stale = fire(api, case["id"], "kuznetsova", "cancel", payload={"reason": "x"}, expected_version=1)
    assert stale.status_code == 409 and stale.json()["error"] == "ConflictError"
    assert "you saw version 1, it is now 2" in stale.json()["detail"]


def test_it_answers_409_with_the_allowed_triggers_when_the_state_does_not_allow_one(api: TestClient) -> None:
    case = opened(api)
    response = fire(api, case["id"], "ivanov", "convert", payload={"order": "З-1"})
    assert response.status_code == 409
    assert sorted(response.json()["allowed"]) == ["approve", "cancel", "reject"]


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        ("/api/cases", {"type": "reservation", "data": {"customer": "ООО Ромашка"}}, 422,
         {"missing": ["deal", "items"]}),
        ("/api/cases", {"type": "teleport", "data": {}}, 422, {"error": "UnknownCaseType"}),
        ("/api/cases/999/fire", {"trigger": "approve"}, 404, {"detail": "case 999 does not exist"}),
        ("/api/cases", {"type": "reservation", "data": {"customer": "a\x00b"}}, 422, {}),
    ],
    ids=["missing-fields", "unknown-type", "no-such-case", "nul-in-data"],
)
def test_it_names_what_is_wrong_with_a_request(
    api: TestClient, path: str, body: dict[str, Any], status: int, expected: dict[str, Any]
) -> None:
    response = api.post(path, json=body, headers=token_header("ivanov"))
    assert response.status_code == status
    assert expected.items() <= response.json().items()


def test_it_lists_cases_by_type_department_and_openness(api: TestClient) -> None:
    first = opened(api)
    second = opened(api, {"type": "lead_dispute", "data": {"lead_id": "L-1", "reason": "дубль"}})
    fire(api, second["id"], "ivanov", "withdraw")
    headers = token_header("kuznetsova")  # head of sales, which requested both
    assert [c["id"] for c in api.get("/api/cases", headers=headers).json()] == [first["id"], second["id"]]
    assert api.get("/api/cases", headers=token_header("morozova")).json() == []  # accounting takes no part
    assert [c["id"] for c in api.get("/api/cases?open=true", headers=headers).json()] == [first["id"]]
    assert [c["id"] for c in api.get("/api/cases?department=marketing", headers=headers).json()] == [second["id"]]
    assert [c["type"] for c in api.get("/api/cases?type=reservation&limit=1", headers=headers).json()] == [
        "reservation"]


def test_it_counts_step_clocks_per_department(api: TestClient, clock: SimulatedClock) -> None:
    case = opened(api)
    clock.advance(timedelta(minutes=30))
    fire(api, case["id"], "kuznetsova", "approve")
    figures = {f["department"]: f for f in api.get("/api/sla/departments", headers=token_header("erp")).json()}
    assert figures["sales"] == {"department": "sales", "steps": 1, "met": 1, "breached": 0, "running": 0,
                                "paused": 0, "late_minutes": 0.0, "compliance": 1.0, "exempted": 0}
    assert (figures["warehouse"]["steps"], figures["warehouse"]["running"]) == (1, 1)
    assert figures["quality"]["steps"] == 0


def test_it_reports_health_without_a_token_and_publishes_openapi(api: TestClient) -> None:
    assert api.get("/health").json() == {"status": "ok", "database": "ok", "inbox_backlog": 0}
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/webhooks/{source}", "/api/cases", "/api/cases/{case_id}/fire", "/api/sla/departments"} <= set(paths)


def test_someone_in_the_chain_acknowledges_or_snoozes_the_escalation_through_the_api(api: TestClient) -> None:
    case = opened(api)  # the reservation waits on the head of sales: a sales step
    refused = api.post(f"/api/cases/{case['id']}/acknowledge", json={}, headers=token_header("erp"))
    assert refused.status_code == 403 and "may not acknowledge" in refused.json()["detail"]
    snoozed = api.post(f"/api/cases/{case['id']}/acknowledge", json={"snooze_minutes": 120},
                       headers=token_header("ivanov"))
    assert snoozed.status_code == 200, snoozed.text
    assert [e["trigger"] for e in snoozed.json()["events"]] == ["open", "snooze"]
    acked = api.post(f"/api/cases/{case['id']}/acknowledge", json={}, headers=token_header("ivanov"))
    assert [e["trigger"] for e in acked.json()["events"]][-1] == "acknowledge"
    bad = api.post(f"/api/cases/{case['id']}/acknowledge", json={"snooze_minutes": 0}, headers=token_header("ivanov"))
    assert bad.status_code == 422


def test_it_answers_422_listing_the_known_values_to_a_filter_with_a_typo(api: TestClient) -> None:
    headers = token_header("morozova")
    typo = api.get("/api/cases?department=logistcs", headers=headers)
    assert typo.status_code == 422
    assert typo.json()["detail"].startswith("department: unknown value 'logistcs'; known: accounting, commercial")
    assert "logistics" in typo.json()["detail"]
    wrong_type = api.get("/api/cases?type=retrun", headers=headers)
    assert wrong_type.status_code == 422 and "type: unknown value 'retrun'" in wrong_type.json()["detail"]
    assert api.get("/api/cases?department=logistics", headers=headers).status_code == 200

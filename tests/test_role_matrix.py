"""The role matrix: each kind of caller reads exactly the cases it should, through every HTTP
route that reads cases (REST list and detail, writes, the dashboard's board and case page, the
per-department figures) and stored webhooks, on SQLite and PostgreSQL.

The company is the example one with two changes that give the org chart depth and a case sales
is not part of: quality sits under warehouse, and accounting requests ``stock_count`` cases of
warehouse. The cases are opened with that chart; the app then serves a chart in which popov
has moved from warehouse to quality, so the case assigned to him earlier stays readable to him
(assigned) while warehouse's other cases do not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.testing import API_TOKENS, TestClient, dump_yaml, example_config, runtime, serving
from core.clock import SimulatedClock
from crm import samples
from crm.config import crm_config
from engine import cases
from org.accounts import set_admin
from org.chart import Company
from org.tokens import create_token
from runtime.company import company_from_mapping
from storage.models import CaseParticipant, SlaClock

STOCK_COUNT = {
    "label": "Stock count",
    "requester": "accounting",
    "performer": "warehouse",
    "initial": "counting",
    "open_requires": ["location"],
    "states": {
        "counting": {"label": "Counting", "department": "warehouse", "role": "storekeeper", "target": "8h"},
        "done": {"label": "Done", "terminal": True},
    },
    "transitions": [{"trigger": "counted", "source": "counting", "dest": "done", "allowed": ["warehouse"]}],
}
ORDER = {"customer": "ООО Ромашка", "order": "A-1"}

# The cases, each with the departments that take part in it (checked against the database).
CASES: dict[str, tuple[str, str, dict[str, Any], set[str]]] = {
    "return_assigned": ("return", "ivanov", {**ORDER, "reason": "брак"}, {"sales", "warehouse"}),
    "return_in_collection": ("return", "ivanov", {**ORDER, "reason": "не подошло"},
                             {"sales", "warehouse", "logistics"}),
    "rush": ("rush_delivery", "ivanov", {**ORDER, "deliver_by": "2026-11-18", "reason": "VIP"}, {"sales", "logistics"}),
    "replacement": ("replacement", "ivanov", {**ORDER, "product": "P-1", "complaint": "скол"}, {"sales", "quality"}),
    "price": ("price_approval", "ivanov", {"customer": "ООО Ромашка", "deal": "D-1", "discount_pct": 12},
              {"sales", "accounting"}),
    "lead": ("lead_dispute", "ivanov", {"lead_id": "L-1", "reason": "дубль"}, {"sales", "marketing"}),
    "stock_count": ("stock_count", "morozova", {"location": "A-01"}, {"accounting", "warehouse"}),
}
EVERYTHING = set(CASES)
SALES = EVERYTHING - {"stock_count"}

# Who reads what. Tokens: "db:" a token made by `slaflow token create`, "config:" one listed in
# the company file.
MATRIX: list[tuple[str, str, set[str], bool]] = [
    # (principal, token, readable cases, may read stored webhooks)
    ("director", "db:orlov", EVERYTHING, False),
    ("sales manager", "db:ivanov", SALES, False),
    ("sales manager, config token", "config:ivanov", SALES, False),
    ("head of sales", "db:kuznetsova", SALES, False),
    ("accountant", "db:morozova", {"price", "stock_count"}, False),
    ("head of warehouse (quality under it)", "db:smirnov",
     {"return_assigned", "return_in_collection", "replacement", "stock_count"}, False),
    ("storekeeper moved to quality", "db:popov", {"return_assigned", "replacement"}, False),
    ("dispatcher", "db:kozlov", {"return_in_collection", "rush"}, False),
    ("marketer who is an admin", "db:sidorov", {"lead"}, True),
    ("warehouse integration (config)", "config:erp", {"return_assigned", "return_in_collection", "stock_count"}, False),
    ("accounting integration, admin", "db:ops", {"price", "stock_count"}, True),
]


def company_mapping(*, popov_moved: bool) -> dict[str, Any]:
    raw = example_config()
    raw["case_types"]["stock_count"] = STOCK_COUNT
    raw["departments"]["quality"]["parent"] = "warehouse"
    if popov_moved:
        warehouse = raw["departments"]["warehouse"]
        warehouse["members"] = [m for m in warehouse["members"] if m["person"] != "popov"]
        raw["departments"]["quality"]["members"].append({"person": "popov", "roles": ["inspector"]})
    return raw


World = tuple[TestClient, dict[str, int], dict[str, str]]


@pytest.fixture
def world(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[World]:
    """(client, case ids by name, bearer tokens by principal token key)."""
    opening = company_from_mapping(company_mapping(popov_moved=False))
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(company_mapping(popov_moved=True), sort_keys=True), encoding="utf-8")
    served = runtime(db_url, config)
    ids: dict[str, int] = {}
    tokens = {f"config:{name}": token for name, token in API_TOKENS.items()}
    try:
        with served.sessions.begin() as session:
            for key, (case_type, who, data, _) in CASES.items():
                ids[key] = cases.open_case(session, opening, case_type=case_type, data=data,
                                           actor=opening.actor(who), now=clock.now()).id
            cases.assign(session, opening, case_id=ids["return_assigned"], person="popov",
                         actor=opening.actor("smirnov"), now=clock.now())
            cases.fire(session, opening, case_id=ids["return_in_collection"], trigger="approve",
                       actor=opening.actor("volkova"), now=clock.now(), payload={"inspection_notes": "ok"})
            company = served.company
            for person in ("orlov", "ivanov", "kuznetsova", "morozova", "smirnov", "popov", "kozlov", "sidorov"):
                tokens[f"db:{person}"] = create_token(session, company, name=f"{person}-db", person=person,
                                                        now=clock.now())
            tokens["db:ops"] = create_token(session, company, name="ops", memberships=["accounting/accountant"],
                                            admin=True, now=clock.now())
            set_admin(session, company, "sidorov", True, now=clock.now())
        check_participants(served.sessions, ids)
    finally:
        served.engine.dispose()
    with serving(db_url, config, clock, samples.SAMPLE_ENV) as client:
        yield client, ids, tokens


def check_participants(sessions: Any, ids: dict[str, int]) -> None:
    """The scenario's declared departments are the ones the engine recorded."""
    with sessions() as session:
        for key, (_, _, _, departments) in CASES.items():
            found = set(session.scalars(select(CaseParticipant.department).where(CaseParticipant.case_id == ids[key])))
            assert found == departments, key


def step_clocks(client: TestClient, case_ids: set[int]) -> int:
    with client.app.state.slaflow.sessions() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count()).select_from(SlaClock).where(
            SlaClock.kind == "step", SlaClock.case_id.in_(case_ids))) or 0)


@pytest.mark.parametrize(("who", "token", "readable", "admin"), MATRIX, ids=[row[0] for row in MATRIX])
def test_each_role_reads_exactly_its_cases_everywhere(
    world: World, who: str, token: str, readable: set[str], admin: bool
) -> None:
    client, ids, tokens = world
    headers = {"Authorization": f"Bearer {tokens[token]}"}
    expected = {ids[key] for key in readable}
    hidden = set(ids.values()) - expected

    listed = client.get("/api/cases?limit=1000", headers=headers)
    assert listed.status_code == 200 and {row["id"] for row in listed.json()} == expected

    for case_id in expected:
        assert client.get(f"/api/cases/{case_id}", headers=headers).status_code == 200
    missing = client.get("/api/cases/999999", headers=headers).json()
    for case_id in hidden:
        answer = client.get(f"/api/cases/{case_id}", headers=headers)
        # Outside the scope looks exactly like a case that does not exist.
        assert answer.status_code == 404 and answer.json() == {**missing, "detail": f"case {case_id} does not exist"}
        for action, body in (("fire", {"trigger": "approve"}), ("assign", {"person": "popov"}), ("acknowledge", {})):
            assert client.post(f"/api/cases/{case_id}/{action}", json=body, headers=headers).status_code == 404

    board = client.get("/dashboard?lang=en", headers=headers)
    assert board.status_code == 200
    assert {int(found) for found in re.findall(r'data-case="(\d+)"', board.text)} == expected
    for case_id in ids.values():
        page = client.get(f"/dashboard/cases/{case_id}?lang=en", headers=headers)
        assert page.status_code == (200 if case_id in expected else 404)

    # The workplace: the queue is a part of what the role reads; acting on a hidden case is a 404.
    queue = client.get("/dashboard/queue?lang=en", headers=headers)
    assert queue.status_code == 200
    assert {int(found) for found in re.findall(r'data-case="(\d+)"', queue.text)} <= expected
    for case_id in hidden:
        for path, form in (("fire/approve", {"inspection_notes": "x"}), ("take", {}), ("comment", {"text": "hi"}),
                           ("acknowledge", {})):
            answer = client.post(f"/dashboard/cases/{case_id}/{path}", data=form, headers=headers)
            assert answer.status_code == 404, (path, case_id)
        assert client.get(f"/dashboard/cases/{case_id}/files/{'0' * 64}", headers=headers).status_code == 404

    figures = client.get("/api/sla/departments", headers=headers).json()
    assert sum(row["steps"] for row in figures) == step_clocks(client, expected)

    me = client.get("/api/me", headers=headers).json()
    assert me["via"] == ("config-token:" if token.startswith("config:") else "token:") + token.split(":", 1)[1] + (
        "-db" if token.startswith("db:") and token != "db:ops" else "")
    assert ("admin" in me["roles"]) == admin

    for path in ("/webhooks/events", "/webhooks/events/1"):
        status = client.get(path, headers=headers).status_code
        assert (status in (200, 404)) if admin else status == 403, path


def test_the_matrix_covers_every_role(world: World) -> None:
    """Every role of org.actors.Role is exercised by the matrix above."""
    from org.actors import Role
    from org.tokens import principal_for_token

    client, _, tokens = world
    state = client.app.state.slaflow  # type: ignore[attr-defined]
    company: Company = state.company
    seen: set[Role] = set()
    with state.sessions.begin() as session:
        for _, token, _, _ in MATRIX:
            principal = principal_for_token(session, company, tokens[token], now=state.clock.now(),
                                                configured=crm_config(company).api_tokens)
            assert principal is not None
            seen |= principal.roles
    assert seen == set(Role)

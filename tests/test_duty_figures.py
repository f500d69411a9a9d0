"""Duties check their figures (issue 19, point 6): a delivery must carry the figures its duty's
schema names, say when they were taken, and is stored with its age and a stale flag."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.testing import dump_yaml, example_config
from core.clock import SimulatedClock
from core.errors import InvalidData
from duties.age import information_age, information_ages
from duties.config import duties_of
from duties.opening import deliver_duty, open_due_duties
from engine import cases
from org.chart import Company
from runtime.company import load_company


@pytest.fixture
def stock_company(tmp_path: Path) -> Company:
    raw = example_config()
    stock = next(d for d in raw["duties"] if d["name"] == "stock_on_hand")
    stock["figures"] = {"fields": {"stock": {"kind": "per_key", "min": 0}, "skus": {"kind": "integer"},
                                   "comment": {"kind": "text", "required": False}}, "max_age": 60}
    path = tmp_path / "company.yaml"
    path.write_text(dump_yaml(raw), encoding="utf-8")
    return load_company(path)


def deliver(sessions: sessionmaker[Session], company: Company, now: Any, payload: dict[str, Any]) -> dict[str, Any]:
    with sessions.begin() as session:
        record = deliver_duty(session, company, duty="stock_on_hand", actor=company.actor("popov"), now=now,
                              payload=payload)
        return dict(cases.get_case(session, record.id).data)


def test_figures_are_checked_and_their_age_kept_with_a_stale_flag(
    sessions: sessionmaker[Session], stock_company: Company, clock: SimulatedClock
) -> None:
    company = stock_company
    monday_0830 = clock.now() - timedelta(minutes=30)  # the warehouse shift starts 08:00 Moscow
    with sessions.begin() as session:
        opened = open_due_duties(session, company, now=monday_0830, since=monday_0830 - timedelta(days=1))
    assert opened
    refused: list[tuple[dict[str, Any], str]] = [
        ({"figures": {"stock": {"sku-1": -3}, "skus": 1}, "as_of": "2026-11-16T08:00+03:00"}, "stock.sku-1: -3"),
        ({"figures": {"stock": {"sku-1": "many"}, "skus": 1}, "as_of": "2026-11-16T08:00+03:00"}, "stock.sku-1"),
        ({"figures": {"stock": {}, "skus": 1.5}, "as_of": "2026-11-16T08:00+03:00"}, "skus"),
        ({"figures": {"stock": {}}, "as_of": "2026-11-16T08:00+03:00"}, "skus: Field required"),
        ({"figures": {"stock": {}, "skus": 0, "colour": "red"}, "as_of": "2026-11-16T08:00+03:00"}, "colour"),
        ({"figures": {"stock": {}, "skus": 0}}, "as_of: when the figures were taken is required"),
        ({"figures": {"stock": {}, "skus": 0}, "as_of": "2026-11-16T08:00"}, "with offset"),
        ({"figures": {"stock": {}, "skus": 0}, "as_of": "2026-11-16T09:00+03:00"}, "is in the future"),
        ({"figures": "120 pcs"}, "figures must be an object"),
    ]
    for payload, message in refused:
        with pytest.raises(InvalidData, match=message.replace(".", r"\.")):
            deliver(sessions, company, monday_0830, payload)
    fresh = deliver(sessions, company, monday_0830, {"figures": {"stock": {"sku-1": 120, "sku-2": 0}, "skus": 2},
                                                     "as_of": "2026-11-16T08:10+03:00"})
    assert (fresh["figures"], fresh["age_minutes"], fresh["stale"]) == ({"stock": {"sku-1": 120, "sku-2": 0},
                                                                         "skus": 2}, 20.0, False)


def test_information_older_than_its_max_age_is_flagged_stale(
    sessions: sessionmaker[Session], stock_company: Company, clock: SimulatedClock
) -> None:
    company = stock_company
    monday_0850 = clock.now() - timedelta(minutes=10)
    with sessions.begin() as session:
        open_due_duties(session, company, now=monday_0850, since=monday_0850 - timedelta(days=1))
    # taken Saturday 17:00 (the warehouse works Mon-Sat 08-20): 3 h of Saturday and 50 min of Monday
    stale = deliver(sessions, company, monday_0850, {"figures": {"stock": {"sku-1": 1}, "skus": 1},
                                                     "as_of": "2026-11-14T17:00+03:00"})
    assert (stale["age_minutes"], stale["stale"]) == (230.0, True)


def test_the_age_of_the_latest_figures_grows_in_business_time_and_turns_stale(
    sessions: sessionmaker[Session], stock_company: Company, clock: SimulatedClock
) -> None:
    company = stock_company
    monday_0830 = clock.now() - timedelta(minutes=30)
    with sessions() as session:
        before = {age.duty: age for age in information_ages(session, company, monday_0830)}
    assert (before["stock_on_hand"].as_of, before["stock_on_hand"].stale) == (None, True)  # a schema, no figures
    assert before["customer_payments"].stale is False  # no schema: nothing to be stale
    with sessions.begin() as session:
        open_due_duties(session, company, now=monday_0830, since=monday_0830 - timedelta(days=1))
    deliver(sessions, company, monday_0830, {"figures": {"stock": {"sku-1": 5}, "skus": 1},
                                             "as_of": "2026-11-16T08:20+03:00"})
    with sessions() as session:
        at_0900 = information_age(session, company, duties_of(company)[2], monday_0830 + timedelta(minutes=30))
        evening = information_age(session, company, duties_of(company)[2], monday_0830 + timedelta(hours=15))
    assert at_0900.duty == "stock_on_hand" and (at_0900.age_minutes, at_0900.stale) == (40.0, False)
    assert (evening.age_minutes, evening.stale) == (700.0, True)  # the warehouse closes at 20:00: 11 h 40 min


def test_slaflow_duties_shows_age_and_staleness(
    db_url: str, sessions: sessionmaker[Session], stock_company: Company, clock: SimulatedClock, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from slaflow.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["duties", "--json", "--at", clock.now().isoformat(), "--database-url", db_url,
              "--config", str(tmp_path / "company.yaml")])
    out = capsys.readouterr().out
    assert exited.value.code in (0, None)
    shown = {row["duty"]: row for row in json.loads(out)}
    assert (shown["stock_on_hand"]["stale"], shown["stock_on_hand"]["age_minutes"]) == (True, None)
    assert shown["customer_payments"]["stale"] is False

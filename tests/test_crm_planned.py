"""Inbox batches worked out before SQLite's write lock (crm.planned) leave the database exactly as
the usual way does, row for row and id for id: plain openings, the same CRM record twice in a
batch, triggers on existing cases, parked events, and a case opened by someone else between the
plan and the lock."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_config
from core.clock import SimulatedClock
from crm import planned, processing, samples
from crm.inbox import InboxRecord, store_many
from crm.processing import process_inbox_events
from crm.processor import InboxProcessor
from crm.write_gate import WriteGate
from engine.cases import open_case
from org.chart import Actor, Company
from runtime.company import company_from_mapping
from storage.db import make_engine, make_read_engine, session_factory

RESERVE = {"id": 25399013, "status_id": 43315792, "pipeline_id": 4740529, "old_status_id": 43315795,
           "last_modified": 1794808790, "custom_fields": [(1, "Компания", "ООО Ромашка"), (2, "Товары", "40 паллет")]}
RECEIVED = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
LOST = {**RESERVE, "status_id": 143, "old_status_id": 43315792, "last_modified": 1794808900}


@dataclass
class Database:
    writes: sessionmaker[Session]
    reads: sessionmaker[Session]


@pytest.fixture
def twins(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Database, Database]]:
    """Two copies of one database: the first processes with plans, the second the usual way."""
    made = []
    for name in ("planned", "usual"):
        shutil.copy(sqlite_template, tmp_path / f"{name}.db")
        url = f"sqlite:///{tmp_path / name}.db"
        made.append((make_engine(url), make_read_engine(url)))
    yield Database(session_factory(made[0][0]), session_factory(made[0][1])), \
        Database(session_factory(made[1][0]), session_factory(made[1][1]))
    for engines in made:
        for engine in engines:
            engine.dispose()


@pytest.fixture
def outcomes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What became of each batch's plan: replayed, worked out again under the lock, or not planned."""
    seen: list[str] = []
    real_plan, real_replayed = planned.plan_batch, planned.replayed

    def plan_batch(*args: Any) -> planned.PlannedBatch | None:
        batch = real_plan(*args)
        if batch is None:
            seen.append("not planned")
        return batch

    def replayed(*args: Any) -> bool:
        done = real_replayed(*args)
        seen.append("replayed" if done else "again under the lock")
        return done

    monkeypatch.setattr(processing, "plan_batch", plan_batch)
    monkeypatch.setattr(processing, "replayed", replayed)
    return seen


def order(n: int, entity: str | None = None) -> InboxRecord:
    body = (b'{"entity":"order","entity_id":"%s","stage":"rush_requested","fields":{"customer":"X",'
            b'"deliver_by":"2026-11-18","reason":"r"}}' % (entity or f"o-{n}").encode())
    return record("generic", f"g-{n}", body, "application/json")


def amo(key: str, *leads: dict[str, Any]) -> InboxRecord:
    body, _ = samples.amocrm_lead("status", list(leads))
    return record("amocrm", key, body, "application/x-www-form-urlencoded")


def record(source: str, key: str, body: bytes, content_type: str) -> InboxRecord:
    return InboxRecord(source=source, idempotency_key=key, received_at=RECEIVED, content_type=content_type,
                       headers={}, body=body.decode())


def process(db: Database, company: Company, records: list[InboxRecord], now: Any, *, plan: bool) -> list[Any]:
    with db.writes.begin() as session:
        ids = [row.id for row in store_many(session, records)]
    return process_inbox_events(db.writes, company, ids, now, plan_with=db.reads if plan else None)


def dump(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in id order (the outcome of each inbox row included)."""
    with sessions() as session:
        metadata = MetaData()
        metadata.reflect(session.get_bind())
        return {name: [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))]
                for name, table in metadata.tables.items()}


def both(twins: tuple[Database, Database], company: Company, records: list[InboxRecord], now: Any) -> None:
    planned_db, usual_db = twins
    with_plan = process(planned_db, company, records, now, plan=True)
    without = process(usual_db, company, records, now, plan=False)
    assert with_plan == without
    assert dump(planned_db.writes) == dump(usual_db.writes)


def test_every_kind_of_batch_leaves_the_database_as_the_usual_way_does(
    twins: tuple[Database, Database], company: Company, clock: SimulatedClock, outcomes: list[str]
) -> None:
    both(twins, company, [order(0), amo("a0", RESERVE)], clock.now())
    assert outcomes == ["not planned"]  # the case types' and calendars' versions are stored the usual way
    both(twins, company, [order(n) for n in range(1, 6)] + [amo("a1", {**RESERVE, "id": 25399014})], clock.now())
    assert outcomes[-1] == "replayed"
    clock.advance(timedelta(minutes=7))
    both(twins, company, [order(6), order(7, entity="o-7"), order(8, entity="o-7"), order(9)], clock.now())
    assert outcomes[-1] == "again under the lock"  # the second o-7 meets the first: exists
    clock.advance(timedelta(minutes=7))
    both(twins, company, [amo("a2", LOST), order(10)], clock.now())  # a trigger on an existing case
    assert outcomes[-1] == "not planned"
    clock.advance(timedelta(hours=3))
    both(twins, company, [order(n) for n in range(11, 15)], clock.now())
    assert outcomes[-1] == "replayed"
    bare = record("generic", "g-bare", b'{"entity":"order","entity_id":"o-bare","stage":"rush_requested"}',
                  "application/json")
    both(twins, company, [order(15), bare, order(16)], clock.now())  # a case it cannot open: that row fails
    assert outcomes[-1] == "not planned"
    failed = [row for row in dump(twins[0].writes)["inbox_events"] if row[2] == "g-bare"]
    assert len(failed) == 1 and "failed" in failed[0] and "MissingFields" in str(failed[0])
    assert len(dump(twins[0].writes)["cases"]) == 18  # o-7 once, o-bare not


def test_a_parked_event_is_not_planned_and_its_case_gets_it(
    twins: tuple[Database, Database], clock: SimulatedClock, outcomes: list[str]
) -> None:
    config = example_config()
    config["crm"]["sources"]["amocrm"]["park_seconds"] = 600
    company = company_from_mapping(config)
    both(twins, company, [amo("lost-first", LOST)], clock.now())  # no case yet: parked
    both(twins, company, [amo("reserve", RESERVE), order(1)], clock.now() + timedelta(seconds=5))
    assert outcomes == ["not planned", "not planned"]
    reservation = [row for row in dump(twins[0].writes)["cases"] if "lead:25399013" in str(row)]
    assert len(reservation) == 1 and "cancelled" in str(reservation[0])


def test_a_case_opened_between_the_plan_and_the_lock_is_taken_into_account(
    twins: tuple[Database, Database], company: Company, clock: SimulatedClock, outcomes: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The REST API opens a case while the batch is planned: the plan's ids are taken, so it is
    worked out again under the lock, after that case (both databases get the same case first)."""
    actor = Actor(name="api", memberships=frozenset({("sales", "manager")}))
    planning_batch: Callable[..., planned.PlannedBatch | None] = planned.plan_batch

    def meanwhile(db: Database) -> None:
        with db.writes.begin() as session:
            open_case(session, company, case_type="rush_delivery", actor=actor, now=clock.now(),
                      data={"customer": "Y", "order": "api-1", "deliver_by": "2026-11-18", "reason": "api"})

    def plan_then_open(*args: Any) -> planned.PlannedBatch | None:
        batch = planning_batch(*args)
        meanwhile(twins[0])
        return batch

    both(twins, company, [order(100)], clock.now())  # the versions are stored: the next batch is planned
    monkeypatch.setattr(processing, "plan_batch", plan_then_open)
    with_plan = process(twins[0], company, [order(n) for n in range(4)], clock.now(), plan=True)
    meanwhile(twins[1])
    without = process(twins[1], company, [order(n) for n in range(4)], clock.now(), plan=False)
    assert outcomes[-1] == "again under the lock"
    assert with_plan == without
    assert dump(twins[0].writes) == dump(twins[1].writes)


def test_the_processor_opens_a_burst_from_plans_each_case_once(
    twins: tuple[Database, Database], company: Company, clock: SimulatedClock, outcomes: list[str]
) -> None:
    """As `slaflow inbox work` runs on SQLite: a read engine to plan on, the write gate to size
    batches by the lock time they take; the first batch stores the versions, the rest are planned."""
    db = twins[0]
    url = str(db.writes.kw["bind"].url)
    gate, engine = WriteGate.for_url(url), make_engine(url)
    assert gate is not None
    gate.attach(engine)
    try:
        with db.writes.begin() as session:
            store_many(session, [order(n) for n in range(300)])
        processor = InboxProcessor(session_factory(engine), company, clock, doorbell=None, reads=db.reads, gate=gate)
        assert processor.drain() == 300
        assert gate.held_seconds > 0
    finally:
        engine.dispose()
        gate.close()
    tables = dump(db.writes)
    keys = [row[4] for row in tables["cases"]]  # external_key
    assert len(keys) == 300 == len(set(keys))
    assert {row[7] for row in tables["inbox_events"]} == {"processed"}  # status
    assert outcomes.count("replayed") >= 2 and "again under the lock" not in outcomes

"""The flows' bodies without a Prefect server (``flow.fn``): each reads SLAFLOW_* like a served
run, calls one service and reports counts; the deployments a worker serves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from core.clock import SystemClock
from core.errors import SlaflowError
from crm import samples
from crm.inbox import InboxRecord, store
from flows._support import LEASE_OWNER_MAX, worker_id
from flows.deploy import Plan, build_deployments
from flows.hooks import hook_idempotency_key
from flows.inbox import process_inbox
from flows.reconciler import reconcile_timers
from flows.sweeper import sweep_timers
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from slaflow.commands import flows as flows_cli
from storage.models import Case, InboxEvent
from tests.test_sweeper_logic import open_returns

RESERVE = {"id": 25399013, "status_id": 43315792, "pipeline_id": 4740529, "old_status_id": 43315795,
           "last_modified": 1794808790, "custom_fields": [(1, "Компания", "ООО Ромашка"), (2, "Товары", "40 паллет")]}


@pytest.fixture
def env_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database a flow run finds in its environment, as a served run would."""
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", db_url)
    monkeypatch.setenv("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))
    return db_url


def test_the_sweep_flow_body_fires_what_is_due_and_counts_it_per_kind(
    env_db: str, sessions: sessionmaker[Session], company: Company
) -> None:
    open_returns(sessions, company, SystemClock().now() - timedelta(days=30), 2)
    summary = sweep_timers.fn(batch=3, max_batches=100, threads=2)  # two threads on PostgreSQL
    # A month late, every warning's stage has passed: they are cancelled, the breaches fire.
    assert summary["fired"]["breach"] == 4 and "warning" not in summary["fired"]
    assert summary["fired_total"] + summary["skipped"] == summary["claimed"] and summary["skipped"] == 4
    assert summary["failed"] == 0
    assert summary["backlog_left"] is False and summary["owner"].endswith(":local")
    assert sweep_timers.fn()["claimed"] == 0


def test_the_sweep_flow_says_when_it_left_a_backlog(
    env_db: str, sessions: sessionmaker[Session], company: Company
) -> None:
    open_returns(sessions, company, SystemClock().now() - timedelta(days=30), 1)
    summary = sweep_timers.fn(batch=1, max_batches=2)
    assert (summary["claimed"], summary["backlog_left"]) == (2, True)


def test_the_inbox_flow_processes_stored_webhooks(env_db: str, sessions: sessionmaker[Session]) -> None:
    body, _ = samples.amocrm_lead("status", [RESERVE])
    with sessions.begin() as session:
        inbox_id = store(session, InboxRecord(
            source="amocrm", idempotency_key="k1", received_at=SystemClock().now(),
            content_type="application/x-www-form-urlencoded", headers={}, body=body.decode(),
        )).id
    assert process_inbox.fn() == {"processed": 1}
    assert process_inbox.fn() == {}
    with sessions() as session:
        assert session.get(InboxEvent, inbox_id).status == "processed"  # type: ignore[union-attr]
        assert session.scalars(select(Case.case_type)).all() == ["reservation"]


def test_the_reconciler_flow_reports_nothing_when_all_is_well(
    env_db: str, sessions: sessionmaker[Session], company: Company
) -> None:
    open_returns(sessions, company, SystemClock().now(), 1)
    report = reconcile_timers.fn()
    assert (report["failed"], report["expired_leases"], report["overdue"], report["poison"]) == (0, 0, 0, 0)


def test_one_shared_set_of_deployments_each_with_a_cancel_new_limit() -> None:
    from prefect.client.schemas.objects import ConcurrencyLimitStrategy

    deployments = build_deployments(Plan(sweep_interval=7, sweeper_restart=60, dispatch_interval=8, inbox_interval=9,
                                         reconcile_interval=600, duties_interval=300, with_reports=False))
    by_flow = {d.flow_name: d for d in deployments}
    assert set(by_flow) == {"sweep-timers", "dispatch-outbox", "process-inbox", "reconcile-timers", "open-duties"}
    assert {d.name for d in deployments} == {"slaflow"}  # one set for every worker, not one per host
    intervals = {name: getattr(d.schedules[0].schedule, "interval", None) for name, d in by_flow.items() if d.schedules}
    assert intervals == {
        "sweep-timers": timedelta(seconds=60), "dispatch-outbox": timedelta(seconds=8),
        "process-inbox": timedelta(seconds=9), "reconcile-timers": timedelta(seconds=600),
        "open-duties": timedelta(seconds=300),
    }
    limits = {name: d.concurrency_options for name, d in by_flow.items()}
    assert all(o is not None and o.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW for o in limits.values())
    assert {name: d.concurrency_limit for name, d in by_flow.items()}["sweep-timers"] == 3
    sweeper = by_flow["sweep-timers"]
    assert sweeper.parameters == {
        "interval_s": 7, "lifetime_s": 614, "dispatch": True, "lease_s": 120, "threads": 2, "max_batches": 4,
        "restart_s": 60,  # ticks every 60 s replace a dead run; a living one holds them off for ~600 s
    }
    assert "database_url" not in sweeper.parameters and sweeper.entrypoint == "flows.sweeper.sweep_timers"
    with pytest.raises(ValueError, match="greater than 0"):
        Plan(sweep_interval=0)
    with pytest.raises(ValueError, match="two sweep intervals"):
        Plan(sweep_interval=30, sweeper_restart=40)


@pytest.mark.parametrize(("flow_name", "cron"), [("weekly-reports", "0 9 * * 1"), ("rebuild-indexes", "0 3 * * 0")])
def test_the_weekly_reports_and_index_rebuild_run_on_a_cron_in_the_head_office_time_zone(
    flow_name: str, cron: str
) -> None:
    [deployment] = [d for d in build_deployments() if d.flow_name == flow_name]
    assert deployment.schedules is not None
    schedule: Any = deployment.schedules[0].schedule  # a CronSchedule
    assert (deployment.name, schedule.cron, schedule.timezone) == ("company", cron, "Europe/Moscow")
    assert deployment.entrypoint is not None and deployment.entrypoint.startswith("flows.")


def test_a_worker_refuses_to_start_without_a_prefect_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(SlaflowError, match="PREFECT_API_URL is not set"):
        flows_cli.worker()


def test_a_lease_owner_names_host_process_and_run_within_the_column() -> None:
    owner = worker_id()
    assert len(owner) <= LEASE_OWNER_MAX and owner.count(":") >= 2
    assert hook_idempotency_key(7, 3) == "case-7-seq-3"


def test_the_weekly_reports_flow_queues_each_head_their_figures_and_the_director_the_summary(
    sqlite_url: str, company: Company
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from engine import cases
    from flows.reports import weekly_reports
    from storage.db import make_engine, session_factory
    from storage.models import OutboxMessage

    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    monday = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return", data={"customer": "c", "order": "o",
                                  "reason": "r"}, actor=company.actor("ivanov"), now=monday).id
        cases.fire(session, company, case_id=case_id, trigger="approve", actor=company.actor("popov"),
                   payload={"inspection_notes": "x"}, now=monday + timedelta(hours=9))  # an hour late
    friday = monday + timedelta(days=4)
    for _ in range(2):  # the schedule firing twice sends once
        weekly_reports.fn(at=friday, database_url=sqlite_url)
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "sla_report")).all()
    by_person = {(m.recipient, m.channel): m.context for m in rows}
    assert set(by_person) == {("smirnov", "email"), ("lebedev", "slack"), ("orlov", "email")}
    warehouse = by_person[("smirnov", "email")]["rows"]
    assert [(r["department"], r["steps"], r["breached"]) for r in warehouse] == [("warehouse", 1, 1)]
    assert {r["department"] for r in by_person[("orlov", "email")]["rows"]} == {"warehouse", "logistics"}
    engine.dispose()


def test_the_index_rebuild_flow_rebuilds_every_report_index_of_the_database_it_is_given(sqlite_url: str) -> None:
    import sqlite3

    from flows.maintenance import rebuild_report_indexes
    from storage.maintenance import REPORT_INDEXES

    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:  # one index gone: the flow says so
        conn.execute("DROP INDEX ix_sla_clocks_breached")
    with pytest.raises(SlaflowError, match="no index ix_sla_clocks_breached"):
        rebuild_report_indexes.fn(database_url=sqlite_url)
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE INDEX ix_sla_clocks_breached ON sla_clocks (kind, started_at) WHERE status = 'breached'")
    sizes = rebuild_report_indexes.fn(database_url=sqlite_url)
    assert list(sizes) == list(REPORT_INDEXES) and all(size > 0 for size in sizes.values())


def test_up_puts_the_prefect_server_beside_a_postgresql_database_and_leaves_sqlite_alone(
    pg_database: str, sqlite_url: str
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    from flows.server import prefect_database_for

    assert prefect_database_for(sqlite_url) is None  # the server keeps its SQLite under PREFECT_HOME
    url = prefect_database_for(pg_database)
    assert url is not None and prefect_database_for(pg_database) == url  # created once, found after
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+asyncpg" and parsed.database == f"{make_url(pg_database).database}_prefect"
    admin = make_url(pg_database).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone()
        conn.execute(f'DROP DATABASE "{parsed.database}"')

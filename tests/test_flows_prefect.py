"""The flows as Prefect runs them, against one Prefect test server for the module: the sweep
flow fires due timers and shows its counts, the dispatcher delivers through the ``file``
transport, and a state hook starts its deployment once per state entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

import tests.conftest_prefect  # noqa: F401  (PREFECT_HOME and offline settings before prefect loads)
from core.clock import SystemClock
from flows.dispatcher import dispatch_outbox
from flows.hooks import start_state_hook
from flows.sweeper import sweep_timers
from notifications import events
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from storage.db import make_engine, session_factory
from tests.conftest_prefect import TIMEOUT, prefect_server  # noqa: F401  (the module's Prefect server)
from tests.test_sweeper_logic import open_returns

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(TIMEOUT)]


@pytest.fixture
def sqlite_sessions(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    """A SQLite database the flow runs find in their environment (one backend is enough here:
    the sweeper's backends are covered without Prefect)."""
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SLAFLOW_CONFIG", str(EXAMPLE_COMPANY))
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


def test_the_sweep_flow_fires_due_timers_and_reports_the_counts(
    sqlite_sessions: sessionmaker[Session], company: Company
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    open_returns(sqlite_sessions, company, SystemClock().now() - timedelta(days=30), 3)
    summary = sweep_timers(batch=5)
    # A month late, the warnings' stage has passed: cancelled by the guard, the breaches fire.
    assert "warning" not in summary["fired"] and summary["fired"]["breach"] == 6 and summary["skipped"] == 6
    assert summary["failed"] == 0 and summary["fired_total"] + summary["skipped"] == summary["claimed"]
    assert sweep_timers()["claimed"] == 0
    with get_client(sync_client=True) as client:  # the table on the run's page in the UI
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sweep-timers"])))
    assert "breach" in str(artifact.data)


def test_the_dispatch_flow_delivers_through_the_file_transport(
    sqlite_sessions: sessionmaker[Session], company: Company, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAFLOW_NOTIFY_REDIRECT", "file")
    monkeypatch.setenv("SLAFLOW_NOTIFY_FILE_DIR", str(tmp_path / "outbox"))
    with sqlite_sessions.begin() as session:
        events.test_message(session, company, person="orlov", channel="email", now=SystemClock().now())
    counts = dispatch_outbox()
    assert (counts["claimed"], counts["sent"], counts["failed"]) == (1, 1, 0)
    [delivered] = (tmp_path / "outbox").rglob("*.eml")
    assert "orlov@sever.example" in delivered.read_text(encoding="utf-8")


def test_a_state_hook_starts_its_deployment_once_per_state_entry() -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client

    @flow(name="case-hook")
    def case_hook(case_id: int) -> int:
        return case_id

    deployment = case_hook.to_deployment(name="test")  # sync call: a deployment, not a coroutine
    deployment.apply()  # type: ignore[union-attr]
    first = start_state_hook("case-hook/test", case_id=7, event_seq=3)
    again = start_state_hook("case-hook/test", case_id=7, event_seq=3)
    next_entry = start_state_hook("case-hook/test", case_id=7, event_seq=5)
    assert first == again != next_entry
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(first)  # type: ignore[arg-type]
    assert run.parameters == {"case_id": 7} and run.idempotency_key == "case-7-seq-3"


def test_the_demo_fires_its_warnings_breaches_and_escalations_in_prefect_flow_runs(tmp_path: Path) -> None:
    import io

    from prefect.client.orchestration import get_client
    from rich.console import Console

    from slaflow.demo import run_demo

    buffer = io.StringIO()
    totals = run_demo(out=tmp_path, config=None, prefect=True,
                      console=Console(file=buffer, width=200, color_system=None))
    out = buffer.getvalue()
    assert totals["flow_runs"] >= 20 and totals["breaches"] >= 5
    assert "ESCALATE #5 return step collection (Логистика) level 2: told Андрей Орлов  (flow run " in out

    async def completed_sweeps() -> int:
        from prefect.client.schemas.filters import (
            FlowFilter,
            FlowFilterName,
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["sweep-timers"])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType.COMPLETED]))),
                limit=200,
            )
            return len(runs)

    import asyncio

    assert asyncio.run(completed_sweeps()) >= totals["flow_runs"]  # the server recorded every one of them

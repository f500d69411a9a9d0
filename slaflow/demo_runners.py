"""How the demo's sweeps and duty openings run: as Prefect flow runs (Prefect's local ephemeral
mode) or, with ``--no-prefect``, by calling the same services directly."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from core.errors import SlaflowError
from duties.opening import open_due_duties
from engine.timers import sweep
from flows._support import OFFLINE_ENV
from org.chart import Company

Sweeper = Callable[[datetime], tuple[Counter[str], str | None]]
"""Fires what is due at an instant; says how many of each kind fired, and by which flow run."""


def direct_sweeper(factory: sessionmaker[Session], company: Company) -> Sweeper:
    return lambda now: (sweep(factory, company, now=now, owner="demo").fired, None)


PREFECT_STARTUP_SECONDS = 600
"""How long Prefect may take to start its local server (its default, 20 s, is not enough on a
busy 2-core machine); used unless PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS is set."""


def prefect_sweeper(url: str, console: Console) -> Sweeper:
    """Sweeps as Prefect flow runs, offline, without heartbeats (a sync run would wait ~1 s)."""
    for name, value in {**OFFLINE_ENV, "PREFECT_LOGGING_LEVEL": "WARNING"}.items():
        os.environ.setdefault(name, value)  # before prefect is imported: it reads them then
    from prefect.settings import temporary_settings

    from flows.sweeper import sweep_timers

    console.print(
        "sweeps run as Prefect flow runs of [bold]sweep-timers[/] (Prefect's local ephemeral mode; its server "
        "starts with the first run, which can take a minute on a busy machine); each fired line names its flow run"
    )

    updates = _prefect_settings()

    def run(now: datetime) -> tuple[Counter[str], str | None]:
        try:
            with temporary_settings(updates):
                summary = sweep_timers(at=now, database_url=url)
        except RuntimeError as exc:
            raise _prefect_start_error(exc) from None
        return Counter(summary["fired"]), summary["flow_run"]

    return run


def _prefect_settings() -> dict[Any, Any]:
    """No flow heartbeats (a sync run would wait ~1 s for its thread) and time for the local
    server to start (unless the user set PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    updates: dict[Any, Any] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in os.environ:
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = PREFECT_STARTUP_SECONDS
    return updates


def _prefect_start_error(exc: RuntimeError) -> Exception:
    """Prefect's "Timed out while attempting to connect to ephemeral Prefect API server" as one
    line with the way out; any other error as it is."""
    if "ephemeral Prefect API server" not in str(exc):
        return exc
    limit = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", PREFECT_STARTUP_SECONDS)
    return SlaflowError(
        f"Prefect's local server did not start within {limit} s; run `slaflow demo --no-prefect` "
        "(the same week, swept without Prefect), or allow it longer with "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    )


DutyOpener = Callable[[datetime, datetime], None]
"""Opens the duty occurrences that fell due in (since, now]."""


def direct_duties(factory: sessionmaker[Session], company: Company) -> DutyOpener:
    def run(since: datetime, now: datetime) -> None:
        with factory.begin() as session:
            open_due_duties(session, company, now=now, since=since)

    return run


def prefect_duties(url: str) -> DutyOpener:
    from prefect.settings import temporary_settings

    from flows.duties import open_duties

    updates = _prefect_settings()

    def run(since: datetime, now: datetime) -> None:
        minutes = int((now - since).total_seconds() // 60) + 1
        try:
            with temporary_settings(updates):
                open_duties(window_minutes=minutes, at=now, database_url=url)
        except RuntimeError as exc:
            raise _prefect_start_error(exc) from None

    return run



"""The weekly SLA reports flow: each department head gets their department's figures, the
director the whole company's, as outbox messages (delivered by the dispatcher, once per week
however often the schedule fires). Scheduled on a cron in the head office's time zone."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from prefect import flow
from sqlalchemy.orm import Session

from core.clock import SystemClock, ensure_utc
from flows._support import open_runtime, run_logger
from org.chart import Company
from reports.digest import enqueue_sla_report
from reports.steps import department_figures


@flow(name="weekly-reports", retries=0)
def weekly_reports(days: int = 7, at: datetime | None = None, database_url: str | None = None) -> dict[str, int]:
    """Queue the reports for the ``days`` before now (steps started in that period)."""
    log = run_logger(__name__)
    until = ensure_utc(at) if at is not None else SystemClock().now()
    since = until - timedelta(days=days)
    with open_runtime(database_url) as runtime:
        company = runtime.company
        with runtime.reads() as session:  # the figures without SQLite's write lock; the messages under it
            rows = [
                {**asdict(row), "compliance": row.compliance}
                for row in department_figures(session, since=since, until=until)
            ]
        with runtime.sessions.begin() as session:
            written = _enqueue(session, company, rows, since, until)
    log.info("weekly reports for %s .. %s: %d messages queued", since.isoformat(), until.isoformat(), written)
    return {"departments": len(rows), "messages": written}


def _enqueue(session: Session, company: Company, rows: list[dict[str, Any]], since: datetime,
             until: datetime) -> int:
    """Each head's message with their department's row, the director's with every row."""
    written = 0
    for row in rows:
        written += enqueue_sla_report(session, company, recipient=company.head_of(row["department"]), rows=[row],
                                      since=since, until=until, department=row["department"], now=until)
    return written + enqueue_sla_report(session, company, recipient=company.config.company.director, rows=rows,
                                        since=since, until=until, department=None, now=until)

"""The tables the demo ends its week with: SLA by department, missed whole-case targets and the
information duties."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from duties.freshness import freshness
from org.chart import Company
from reports.ledger import late_cases
from reports.scope import Scope
from reports.steps import department_figures
from slaflow.demo_script import at, local


def summary(factory: sessionmaker[Session], company: Company, now: datetime, console: Console) -> None:
    table = Table(title=f"SLA by department, week to {local(now)} (Moscow time)")
    for column in ("department", "steps", "met", "breached", "running", "compliance", "business min late"):
        table.add_column(column, justify="left" if column == "department" else "right")
    with factory() as session:
        for row in department_figures(session, now=now):
            compliance = f"{row.compliance:.0%}" if row.compliance is not None else "-"
            style = "red" if row.breached else None
            table.add_row(
                company.department_name(row.department),
                str(row.steps),
                str(row.met),
                str(row.breached),
                str(row.running),
                compliance,
                f"{row.late_minutes:.0f}",
                style=style,
            )
    console.print(table)


def freshness_table(factory: sessionmaker[Session], company: Company, now: datetime, console: Console) -> None:
    """How reliably the information sales depends on arrived this week."""
    table = Table(title="Information duties this week")
    for column in ("duty", "owed by", "occurrences", "on time", "late", "on-time rate", "worst (business min)"):
        table.add_column(column, justify="left" if column in ("duty", "owed by") else "right")
    with factory() as session:
        for row in freshness(session, company, now=now, since=at("Mon 00:00")):
            rate = f"{row.on_time_rate:.0%}" if row.on_time_rate is not None else "-"
            worst = f"{row.worst_late_minutes:.0f}" if row.worst_late_minutes is not None else "-"
            table.add_row(
                row.duty,
                company.department_name(row.department),
                str(row.occurrences),
                str(row.on_time),
                str(row.late),
                rate,
                worst,
                style="red" if row.late else None,
            )
    console.print(table)


def whole_case_breaches(factory: sessionmaker[Session], company: Company, now: datetime, console: Console) -> None:
    """A missed whole-case target is charged to the departments that used the time."""
    with factory() as session:
        scope = Scope(since=at("Mon 00:00"), until=now, now=now)
        for case in sorted(late_cases(session, scope, limit=1000), key=lambda item: item.case_id):
            charged = ", ".join(
                f"{company.department_name(code)} {share:.0%}" for code, share in case.shares.items()
            )
            console.print(
                f"whole case #{case.case_id} {case.case_type} missed its target; business time used: {charged}",
                soft_wrap=True,
            )

"""``slaflow report``: the SLA report for a period, as a terminal table and/or files.

Registered by ``slaflow.cli`` as ``app.add_typer(report_app, name="report")``; the command is the
group's callback, so ``slaflow report --from ... --to ...`` runs it directly. Dates are days in
the head office's time zone; ``--to`` is the last day included. The real time is read only here
(``SystemClock``), for the default period and for the open cases' remaining time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.clock import SystemClock, ensure_utc
from leads.report import lead_departments
from reports.labels import LOCALES
from reports.render import FORMATS, check_formats, check_locale, render_table, write_outputs
from reports.report import build_report
from reports.scope import report_zone
from runtime.assembly import Runtime

report_app = typer.Typer(help="SLA reports: per department, ledger, trend, open cases, lead quality.")

DEFAULT_WEEKS = 4
"""Without --from: the current ISO week and the three before it."""


@report_app.callback(invoke_without_command=True)
def report(
    since: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="first day (default: 4 weeks ago, Monday)")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="last day, included (default: today)")
    ] = None,
    department: Annotated[str | None, typer.Option("--department", help="department code")] = None,
    case_type: Annotated[str | None, typer.Option("--type", help="case type name")] = None,
    formats: Annotated[str, typer.Option("--format", help=f"comma-separated: {','.join(FORMATS)}")] = "table",
    out: Annotated[Path, typer.Option("--out", help="folder for the files")] = Path("slaflow-out/report"),
    locale: Annotated[
        str | None, typer.Option("--locale", help=f"{' | '.join(LOCALES)} (default: the company's)")
    ] = None,
    at: Annotated[
        datetime | None, typer.Option("--at", help="measure open cases at this instant (ISO 8601 with offset)")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")] = None,
) -> None:
    """Print the SLA report for a period and write it as HTML, CSV or JSON."""
    runtime = Runtime.from_env(database_url=database_url, config=config)
    company = runtime.company
    chosen = check_formats(formats.split(","))
    language = check_locale(locale or company.locale)
    now = ensure_utc(at) if at is not None else SystemClock().now()
    zone = report_zone(company)
    last = until.date() if until is not None else now.astimezone(zone).date()
    first = since.date() if since is not None else _weeks_back(last, DEFAULT_WEEKS)
    if first > last:
        raise typer.BadParameter(f"--from {first} is after --to {last}", param_hint="--from")
    start = datetime.combine(first, time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
    with runtime.reads() as session:
        data = build_report(
            session, company, since=start, until=end, department=department, case_type=case_type, now=now, tz=zone,
            lead_departments=lead_departments(company),
        )
    console = Console(soft_wrap=False)
    if "table" in chosen:
        render_table(data, company, locale=language, console=console)
    files = [name for name in chosen if name != "table"]
    if files:
        written = write_outputs(data, company, out_dir=out, formats=files, locale=language)
        for key, path in written.items():
            console.print(f"{key}: {path}", highlight=False, markup=False, emoji=False, soft_wrap=True)


def _weeks_back(last: date, weeks: int) -> date:
    return last - timedelta(days=last.weekday()) - timedelta(weeks=weeks - 1)

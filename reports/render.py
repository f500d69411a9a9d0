"""Outputs of a report: a terminal table (rich), HTML (a Jinja2 template with pygal SVG charts),
CSV and JSON. Texts come from ``translations.yaml`` and the company config in the chosen locale;
CSV and JSON keep codes and plain numbers (minutes, shares 0..1) for other programs, plus the
localised names."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from core.errors import InvalidData
from org.chart import Company
from reports.funnel_render import FUNNEL_HEADER, GROUPS_HEADER, funnel_rows, funnel_table, group_rows, groups_table
from reports.labels import LOCALES, Labels
from reports.report import Report, build_report
from state_machines.values import label_text

TEMPLATES = Path(__file__).parent / "templates"
FORMATS: tuple[str, ...] = ("table", "html", "csv", "json", "xlsx")
FILES = {
    "table": "sla-report.txt",
    "html": "sla-report.html",
    "json": "sla-report.json",
    "csv": "sla-departments.csv",
    "csv:trend": "sla-trend.csv",
    "csv:ledger": "sla-ledger.csv",
    "csv:open_cases": "sla-open-cases.csv",
    "csv:lead_funnel": "sla-lead-funnel.csv",
    "csv:lead_groups": "sla-lead-groups.csv",
    "xlsx": "sla-report.xlsx",
}
"""File written per output key (``csv`` writes a file per table, ``xlsx`` one sheet per table)."""


def labels(report: Report, company: Company, locale: str) -> Labels:
    return Labels(company, locale, ZoneInfo(report.tz))


def check_formats(formats: Iterable[str]) -> list[str]:
    chosen = [name.strip() for name in formats if name.strip()]
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown:
        raise InvalidData(f"unknown report format {', '.join(unknown)}; use {', '.join(FORMATS)}")
    return chosen


def check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise InvalidData(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")
    return locale


# --------------------------------------------------------------------------------------------
# Terminal


def department_table(report: Report, t: Labels) -> Table:
    table = Table(title=f"{t('departments')}: {_period(report, t)}")
    columns = ("department", "steps", "met", "breached", "running", "compliance", "median", "p90", "late")
    exempted = any(row.exempted for row in report.departments)  # the column only when there is one (80-160 cols)
    for key in (*columns, *(["exempted"] if exempted else []), "case_breaches", "waiting"):
        table.add_column(t(key), justify="left" if key == "department" else "right")
    last = report.departments[-1] if report.departments else None
    for row in [*report.departments, report.totals]:
        total = row.department == "*"
        table.add_row(
            t.department(row.department),
            str(row.steps),
            str(row.met),
            str(row.breached),
            str(row.running),
            t.percent(row.compliance),
            t("none") if total else t.hours(row.median_minutes),
            t("none") if total else t.hours(row.p90_minutes),
            t.hours(row.late_minutes),
            *([str(row.exempted)] if exempted else []),
            str(row.case_breaches),
            t.number(row.waiting_breaches, 2),
            style="bold" if total else ("red" if row.breached else None),
            end_section=row is last,
        )
    return table


def open_cases_table(report: Report, t: Labels) -> Table:
    table = Table(title=f"{t('open_cases')} ({t('as_of')} {t.moment(report.now)})")
    for key in ("case", "case_type", "state", "owner", "due", "remaining"):
        table.add_column(t(key), justify="right" if key in ("case", "remaining") else "left")
    for case in report.open_cases:
        late = case.remaining_minutes is not None and case.remaining_minutes < 0
        remaining = t.hours(case.remaining_minutes)
        table.add_row(
            f"#{case.case_id}",
            t.case_type(case.case_type),
            t.state(case.case_type, case.state),
            t.department(case.department),
            t.moment(case.due_at),
            f"{remaining} ({t('overdue')})" if late else remaining,
            style="red" if late else None,
        )
    return table


def render_table(report: Report, company: Company, *, locale: str, console: Console) -> None:
    """The department table, then the open cases nearest their deadline and the lead figures."""
    t = labels(report, company, locale)
    if not report.departments:
        console.print(f"{t('title')}: {_period(report, t)}. {t('no_data')}", markup=False, emoji=False)
    else:
        console.print(department_table(report, t))
    if report.open_cases:
        console.print(open_cases_table(report, t))
    if report.funnel is not None and report.funnel.groups:
        console.print(funnel_table(report.funnel, t))
        console.print(groups_table(report.funnel, t))
    if report.leads is not None and report.leads.disputes:
        leads = report.leads
        console.print(
            f"{t('leads')}: {t('disputes')} {leads.disputes}, {t('accepted')} {leads.accepted}, "
            f"{t('kept')} {leads.kept}, {t('open')} {leads.open}, {t('non_target_leads')} {leads.non_target_leads}",
            highlight=False,
            markup=False,
            emoji=False,
        )


def table_text(report: Report, company: Company, *, locale: str, width: int = 160) -> str:
    """The terminal output as plain text (for the ``table`` file and e-mail bodies)."""
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    render_table(report, company, locale=locale, console=console)
    return console.export_text()


# --------------------------------------------------------------------------------------------
# HTML


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(report: Report, company: Company, *, locale: str) -> str:
    from reports.charts import all_charts  # the chart library is needed for HTML only

    t = labels(report, company, locale)
    return (
        environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            totals=report.totals,
            t=t,
            charts=all_charts(report, t),
            period=_period(report, t),
            company_name=_company_name(company, locale),
            requesters=sorted({cell.requester for cell in report.ledger}),
            consumers=sorted({cell.department for cell in report.ledger}),
            cells={(cell.requester, cell.department): cell for cell in report.ledger},
        )
    )


# --------------------------------------------------------------------------------------------
# CSV and JSON


def csv_tables(report: Report, company: Company, *, locale: str) -> dict[str, list[dict[str, Any]]]:
    """The report's tables as rows of plain values, by output key: codes, minutes and shares for
    programs, and each code's name in ``locale`` for people."""
    t = labels(report, company, locale)
    data = report.to_dict()
    departments = [
        {"department": row["department"], "department_name": t.department(row["department"]), **_rest(row)}
        for row in [*data["departments"], data["totals"]]
    ]
    ledger = [
        {
            "requester": cell["requester"],
            "requester_name": t.department(cell["requester"]),
            "department": cell["department"],
            "department_name": t.department(cell["department"]),
            "cases": cell["cases"],
            "minutes": cell["minutes"],
            "breach_share": cell["breach_share"],
        }
        for cell in data["ledger"]
    ]
    open_cases = [
        {
            **case,
            "department_name": t.department(case["department"]),
            "state_name": t.state(case["case_type"], case["state"]),
        }
        for case in data["open_cases"]
    ]
    tables = {"csv": departments, "csv:trend": data["trend"], "csv:ledger": ledger, "csv:open_cases": open_cases}
    if report.funnel is not None:
        tables |= {"csv:lead_funnel": funnel_rows(report.funnel), "csv:lead_groups": group_rows(report.funnel)}
    return tables


def _rest(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "department"}


CSV_HEADERS = {
    "csv": [
        "department",
        "department_name",
        "steps",
        "met",
        "breached",
        "running",
        "finished",
        "compliance",
        "median_minutes",
        "p90_minutes",
        "late_minutes",
        "exempted",
        "cases_requested",
        "case_breaches",
        "waiting_breaches",
        "ledger_cases",
        "ledger_minutes",
    ],
    "csv:trend": ["week", "start", "steps", "met", "breached", "compliance"],
    "csv:ledger": [
        "requester",
        "requester_name",
        "department",
        "department_name",
        "cases",
        "minutes",
        "breach_share",
    ],
    "csv:open_cases": [
        "case_id",
        "case_type",
        "state",
        "state_name",
        "department",
        "department_name",
        "person",
        "due_at",
        "opened_at",
        "remaining_minutes",
    ],
    "csv:lead_funnel": FUNNEL_HEADER,
    "csv:lead_groups": GROUPS_HEADER,
}


def write_csv(path: Path, header: list[str], rows: list[dict[str, Any]]) -> None:
    """UTF-8 with a byte-order mark (Excel then reads Cyrillic names correctly; Python's
    ``utf-8-sig`` and most CSV readers skip it), comma-separated, a header line first."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def render_json(report: Report, company: Company, *, locale: str) -> str:
    t = labels(report, company, locale)
    data = report.to_dict()
    codes = {row["department"] for row in data["departments"]} | {c["requester"] for c in data["ledger"]}
    codes |= {case["department"] for case in data["open_cases"]}
    data["locale"] = locale
    data["names"] = {"departments": {code: t.department(code) for code in sorted(codes)}}
    return json.dumps(data, ensure_ascii=False, indent=2)


# --------------------------------------------------------------------------------------------
# Files


def write_outputs(
    report: Report, company: Company, *, out_dir: Path, formats: Iterable[str], locale: str
) -> dict[str, Path]:
    """Write the chosen formats into ``out_dir`` (created if missing); return the paths by output
    key (``html``, ``json``, ``table``, ``xlsx``, and ``csv``, ``csv:trend``, ``csv:ledger``,
    ``csv:open_cases``, ``csv:lead_funnel``, ``csv:lead_groups`` for CSV)."""
    chosen = check_formats(formats)
    check_locale(locale)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "table" in chosen:
        written["table"] = _write(out_dir / FILES["table"], table_text(report, company, locale=locale))
    if "html" in chosen:
        written["html"] = _write(out_dir / FILES["html"], render_html(report, company, locale=locale))
    if "csv" in chosen:
        for key, rows in csv_tables(report, company, locale=locale).items():
            path = out_dir / FILES[key]
            write_csv(path, CSV_HEADERS[key], rows)
            written[key] = path
    if "json" in chosen:
        written["json"] = _write(out_dir / FILES["json"], render_json(report, company, locale=locale) + "\n")
    if "xlsx" in chosen:
        from reports.xlsx import write_xlsx  # the spreadsheet library is needed for XLSX only

        tables = csv_tables(report, company, locale=locale)
        sheets = {_sheet_name(key): (CSV_HEADERS[key], rows) for key, rows in tables.items()}
        written["xlsx"] = write_xlsx(out_dir / FILES["xlsx"], sheets)
    return written


def write_report(
    session: Session,
    company: Company,
    *,
    since: datetime,
    until: datetime,
    out_dir: Path,
    formats: Iterable[str],
    locale: str,
    department: str | None = None,
    case_type: str | None = None,
    now: datetime | None = None,
    lead_departments: tuple[str, str] | None = None,
) -> dict[str, Path]:
    """Build the report for ``[since, until)`` and write it in ``formats`` (``lead_departments``:
    as `build_report`)."""
    chosen = check_formats(formats)
    check_locale(locale)
    report = build_report(
        session, company, since=since, until=until, department=department, case_type=case_type, now=now,
        lead_departments=lead_departments,
    )
    return write_outputs(report, company, out_dir=out_dir, formats=chosen, locale=locale)


def _sheet_name(key: str) -> str:
    """``csv`` -> ``departments``, ``csv:trend`` -> ``trend`` ..."""
    return "departments" if key == "csv" else key.removeprefix("csv:")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _period(report: Report, t: Labels) -> str:
    """Whole days when both bounds are local midnights (the usual case), else instants."""
    since, until = (moment.astimezone(t.tz) for moment in (report.scope.since, report.scope.until))
    if since.time() == until.time() == time():
        return f"{t.day(since.date())} — {t.day(until.date() - timedelta(days=1))}"
    return f"{t.moment(since)} — {t.moment(until)}"


def _company_name(company: Company, locale: str) -> str:
    return label_text(company.config.company.name, locale)

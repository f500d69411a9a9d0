"""The lead funnel in every report format, CSV with a byte-order mark for Excel, and XLSX read
back with openpyxl (on a SQLite file: rendering does not depend on the database)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from leads.report import lead_departments
from leads.service import LeadFacts, record_lead_event
from org.chart import Company
from reports.render import FILES, render_html, table_text, write_outputs
from reports.report import Report, build_report
from storage.db import make_engine, session_factory

MON = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)  # Monday 09:00 Moscow
SINCE, UNTIL = datetime(2026, 11, 15, 21, 0, tzinfo=UTC), datetime(2026, 11, 29, 21, 0, tzinfo=UTC)

LEADS = [  # key, hours after Monday 09:00, status, product group, channel
    ("A", 0, "qualified", "Насосы", "Яндекс.Директ"),
    ("B", 1, "taken", "Насосы", "сайт"),
    ("C", 2, "non_target", "Клапаны", "Яндекс.Директ"),
    ("D", 24 * 7, "reservation_paid", "=HYPERLINK(\"http://evil\")", "сайт"),
]


@pytest.fixture
def factory(sqlite_url: str, company: Company) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        for key, hours, status, group, channel in LEADS:
            record_lead_event(session, company, source="amocrm", external_key=key, status=status,
                              at=MON + timedelta(hours=hours), actor=company.actor("ivanov"),
                              facts=LeadFacts(product_group=group, channel=channel,
                                              reason="спам" if status == "non_target" else None))
    yield sessions
    engine.dispose()


@pytest.fixture
def report(factory: sessionmaker[Session], company: Company) -> Report:
    with factory() as session:
        return build_report(
            session, company, since=SINCE, until=UNTIL, now=MON + timedelta(days=10),
            lead_departments=lead_departments(company),
        )


def test_the_table_and_html_show_the_funnel_per_week_and_month(report: Report, company: Company) -> None:
    assert report.funnel is not None
    text = table_text(report, company, locale="ru", width=240)
    assert "Воронка лидов" in text and "2026-W47" in text and "2026-W48" in text and "2026-11" in text
    assert "Насосы" in text and "Яндекс.Директ" in text
    html = render_html(report, company, locale="en")
    assert "<h2>Lead funnel</h2>" in html and "Leads by product group and channel" in html
    week = report.funnel.weeks[0]
    assert (week.received, week.qualified, week.non_target, week.processed) == (3, 1, 1, 2)
    assert json.loads(json.dumps(report.to_dict()))["funnel"]["months"][0]["received"] == 4


def test_csv_files_start_with_a_byte_order_mark_and_keep_cyrillic(
    report: Report, company: Company, tmp_path: Path
) -> None:
    written = write_outputs(report, company, out_dir=tmp_path, formats=["csv"], locale="ru")
    for key in ("csv", "csv:trend", "csv:ledger", "csv:open_cases", "csv:lead_funnel", "csv:lead_groups"):
        raw = written[key].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), key
        assert not raw[3:].startswith(b"\xef\xbb\xbf")  # exactly one mark
    with written["csv:lead_groups"].open(encoding="utf-8-sig", newline="") as handle:
        groups = list(csv.DictReader(handle))
    pumps = next(row for row in groups if row["value"] == "Насосы")
    assert (pumps["dimension"], pumps["received"], pumps["qualified"]) == ("product_group", "2", "1")
    with written["csv:lead_funnel"].open(encoding="utf-8-sig", newline="") as handle:
        funnel = list(csv.DictReader(handle))
    assert [(r["granularity"], r["period"], r["received"]) for r in funnel] == [
        ("week", "2026-W47", "3"), ("week", "2026-W48", "1"), ("month", "2026-11", "4")]


def test_xlsx_has_a_sheet_per_table_with_numbers_and_no_formulas_from_data(
    report: Report, company: Company, tmp_path: Path
) -> None:
    written = write_outputs(report, company, out_dir=tmp_path, formats=["xlsx"], locale="ru")
    assert written == {"xlsx": tmp_path / FILES["xlsx"]}
    book = load_workbook(written["xlsx"])
    assert book.sheetnames == ["departments", "trend", "ledger", "open_cases", "lead_funnel", "lead_groups"]
    funnel = book["lead_funnel"]
    header = [cell.value for cell in funnel[1]]
    first = dict(zip(header, [cell.value for cell in funnel[2]], strict=True))
    assert (first["period"], first["received"], first["qualified"]) == ("2026-W47", 3, 1)
    assert isinstance(first["received"], int) and funnel.freeze_panes == "A2"
    groups = book["lead_groups"]
    values = [row[1] for row in groups.iter_rows(min_row=2, values_only=True)]
    assert "Насосы" in values
    evil = next(row for row in groups.iter_rows(min_row=2) if str(row[1].value).startswith("="))
    assert evil[1].data_type == "s"  # stays text: Excel will not run it


def _slaflow(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLAFLOW_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slaflow.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_the_report_command_writes_xlsx(factory: sessionmaker[Session], sqlite_url: str, tmp_path: Path) -> None:
    result = _slaflow("report", "--from", "2026-11-16", "--to", "2026-11-29", "--format", "xlsx,csv", "--out",
                      str(tmp_path), "--at", "2026-11-26T12:00:00+03:00", url=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert f"xlsx: {tmp_path / 'sla-report.xlsx'}" in result.stdout
    assert load_workbook(tmp_path / "sla-report.xlsx")["lead_funnel"]["D2"].value == 3
    bad = _slaflow("report", "--format", "xls", url=sqlite_url)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: unknown report format xls; use table, html, csv, json, xlsx"

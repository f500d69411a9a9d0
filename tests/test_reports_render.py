"""Report outputs (terminal table, HTML with charts, CSV, JSON) in every locale, and the
``slaflow report`` command, on the hand-computed dataset of `tests.test_reports` (built once,
on SQLite: rendering does not depend on the database)."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.errors import InvalidData
from leads.report import lead_departments
from org.chart import Company
from reports.labels import LOCALES, catalog
from reports.render import CSV_HEADERS, render_html, render_json, table_text, write_outputs, write_report
from reports.report import Report, build_report
from slaflow.commands.reports import report_app
from storage.db import make_engine, session_factory
from tests.test_reports import NOW, SINCE, UNTIL, build_dataset

DEPARTMENT_NAMES = {"ru": "Склад", "en": "Warehouse", "pl": "Magazyn"}
TITLES = {"ru": "Отчёт по SLA", "en": "SLA report", "pl": "Raport SLA"}


@pytest.fixture(scope="module")
def dataset_url(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, company: Company) -> Iterator[str]:
    path = tmp_path_factory.mktemp("reports") / "reports.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    build_dataset(session_factory(engine), company)
    engine.dispose()
    yield url


@pytest.fixture(scope="module")
def factory(dataset_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(dataset_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def report(factory: sessionmaker[Session], company: Company) -> Report:
    with factory() as session:
        return build_report(
            session, company, since=SINCE, until=UNTIL, now=NOW, lead_departments=lead_departments(company)
        )


class _Tags(HTMLParser):
    """Counts tags and checks they nest (a broken template shows up as a mismatch)."""

    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.mismatched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.mismatched.append(tag)


def test_it_writes_html_json_and_csv_files_from_the_database(
    factory: sessionmaker[Session], company: Company, tmp_path: Path
) -> None:
    with factory() as session:
        written = write_report(
            session,
            company,
            since=SINCE,
            until=UNTIL,
            out_dir=tmp_path / "out",
            formats=["html", "csv", "json"],
            locale="ru",
            now=NOW,
            lead_departments=lead_departments(company),
        )
    assert set(written) == {"html", "json", "csv", "csv:trend", "csv:ledger", "csv:open_cases", "csv:lead_funnel",
                            "csv:lead_groups"}
    assert all(path.is_file() and path.parent == tmp_path / "out" for path in written.values())

    data = json.loads(written["json"].read_text(encoding="utf-8"))
    warehouse = next(row for row in data["departments"] if row["department"] == "warehouse")
    assert (warehouse["steps"], warehouse["compliance"], warehouse["median_minutes"]) == (4, 0.75, 105.0)
    assert data["totals"]["steps"] == 20 and data["leads"]["non_target_leads"] == 2
    assert data["names"]["departments"]["warehouse"] == "Склад"
    assert data["period"]["since"] == "2026-11-15T21:00:00+00:00"  # Mon 16 Nov 00:00 Moscow

    with written["csv"].open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == CSV_HEADERS["csv"]
    assert [row["department"] for row in rows] == [
        "accounting",
        "commercial",
        "logistics",
        "marketing",
        "sales",
        "warehouse",
        "*",
    ]
    sales = rows[4]
    assert (sales["department_name"], sales["case_breaches"], sales["late_minutes"]) == ("Отдел продаж", "3", "720.0")
    with written["csv:trend"].open(encoding="utf-8-sig", newline="") as handle:
        trend = list(csv.DictReader(handle))
    assert [(w["week"], w["steps"], w["breached"]) for w in trend] == [("2026-W47", "18", "5"), ("2026-W48", "2", "0")]


def test_it_draws_the_charts_as_inline_svg_with_russian_labels(report: Report, company: Company) -> None:
    html = render_html(report, company, locale="ru")
    tags = _Tags()
    tags.feed(html)
    assert tags.mismatched == [] and tags.stack == []
    assert tags.counts["svg"] == 6  # compliance, time, causes, ledger, trend, weekly compliance
    assert html.count('class="pygal-chart"') == 6
    assert not re.search(r"<script[^>]*(src|href)=", html)  # self-contained: nothing to fetch
    for text in ("Соблюдение сроков этапов, %", "Склад", "Отдел продаж", "Просрочка", "75 %", "Качество лидов"):
        assert text in html
    assert "Lead quality" not in html


@pytest.mark.parametrize("locale", LOCALES)
def test_it_renders_the_table_and_html_in_each_locale(report: Report, company: Company, locale: str) -> None:
    text = table_text(report, company, locale=locale)
    html = render_html(report, company, locale=locale)
    assert DEPARTMENT_NAMES[locale] in text and DEPARTMENT_NAMES[locale] in html
    assert f'<html lang="{locale}">' in html and TITLES[locale] in html
    assert all(TITLES[other] not in html for other in LOCALES if other != locale)
    # Numbers follow the locale: 105 minutes = 1.75 h shows as 1,8 (ru, pl) or 1.8 (en).
    assert ("1.8" if locale == "en" else "1,8") in text
    assert json.loads(render_json(report, company, locale=locale))["locale"] == locale


def test_it_has_every_label_in_every_locale() -> None:
    missing = [(key, locale) for key, texts in catalog().items() for locale in LOCALES if not texts.get(locale)]
    assert missing == []


def test_it_refuses_unknown_formats_and_locales(report: Report, company: Company, tmp_path: Path) -> None:
    with pytest.raises(InvalidData, match="unknown report format pdf"):
        write_outputs(report, company, out_dir=tmp_path, formats=["html", "pdf"], locale="ru")
    with pytest.raises(InvalidData, match="unknown locale 'de'"):
        write_outputs(report, company, out_dir=tmp_path, formats=["json"], locale="de")
    assert list(tmp_path.iterdir()) == []


def _cli() -> typer.Typer:
    """The command as slaflow.cli registers it."""
    app = typer.Typer()
    app.add_typer(report_app, name="report")

    @app.command()
    def version() -> None:  # a second command, so "report" stays a subcommand as in slaflow
        """Unused."""

    return app


def test_it_prints_the_table_and_the_paths_it_wrote_from_the_command_line(dataset_url: str, tmp_path: Path) -> None:
    args = ["report", "--from", "2026-11-16", "--to", "2026-11-29", "--format", "table,json,csv"]
    args += ["--out", str(tmp_path), "--locale", "en", "--at", "2026-11-23T12:00:00+03:00", "--department", "warehouse"]
    result = CliRunner().invoke(_cli(), args, env={"SLAFLOW_DATABASE_URL": dataset_url, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "SLA by department: 2026-11-16 — 2026-11-29" in result.output
    assert "│ Warehouse" in result.output and "Logistics" not in result.output
    assert f"json: {tmp_path / 'sla-report.json'}" in result.output
    assert f"csv:ledger: {tmp_path / 'sla-ledger.csv'}" in result.output
    data = json.loads((tmp_path / "sla-report.json").read_text(encoding="utf-8"))
    assert data["filters"] == {"department": "warehouse", "case_type": None}
    assert data["period"]["until"] == "2026-11-29T21:00:00+00:00"  # --to is included: up to Mon 30 00:00 Moscow


def test_it_rejects_a_period_that_ends_before_it_starts(dataset_url: str) -> None:
    result = CliRunner().invoke(
        _cli(), ["report", "--from", "2026-11-20", "--to", "2026-11-16"], env={"SLAFLOW_DATABASE_URL": dataset_url}
    )
    assert result.exit_code == 2
    assert "is after --to" in result.output


def test_it_renders_a_period_without_data_as_text_without_charts(
    factory: sessionmaker[Session], company: Company
) -> None:
    with factory() as session:
        empty = build_report(session, company, since=SINCE.replace(year=2025), until=UNTIL.replace(year=2025))
    html = render_html(empty, company, locale="en")
    assert empty.departments == [] and empty.trend[0].steps == 0
    assert "No data for the period." in html and "<svg" not in html
    assert "No data for the period." in table_text(empty, company, locale="en")
    assert json.loads(render_json(empty, company, locale="en"))["totals"]["compliance"] is None

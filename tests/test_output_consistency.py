"""Every output gives the same per-department figures (issue 12, observations 2, 3 and 5): the
terminal table, the HTML report, the CSV and JSON files, the dashboard's data and the REST API,
for random histories and for the demo week; met + breached + running = steps; an open step past
its deadline is breached with its lateness so far; blame shares include the open step. The
figures are also checked against the rules applied clock by clock (`sla.compliance.tally`)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.dashboard.data import board
from api.testing import serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from engine.clock_view import clock_used
from leads.report import lead_departments
from org.actors import ReadScope
from org.chart import Company
from reports.labels import Labels
from reports.render import FILES, write_outputs
from reports.report import build_report
from reports.scope import report_zone
from slaflow.demo import run_demo
from slaflow.demo_script import END, at
from storage.models import SlaClock
from tests.random_history import WEEK_END, WEEK_START, history_company, history_database, play

Figures = dict[str, tuple[int, int, int, int, str]]
"""department -> (steps, met, breached, running, business hours late as shown)."""


def _labels(company: Company) -> Labels:
    return Labels(company, "en", report_zone(company))


def _from_numbers(rows: list[dict[str, Any]], t: Labels) -> Figures:
    return {
        str(r["department"]): (int(r["steps"]), int(r["met"]), int(r["breached"]), int(r["running"]),
                               t.hours(float(r.get("late_minutes", 0.0))))
        for r in rows
        if r["department"] != "*" and int(r["steps"])
    }


def _from_cells(rows: list[list[str]], t: Labels, company: Company) -> Figures:
    """Rows of rendered cells: name, steps, met, breached, running, compliance, median, p90, late."""
    code_of = {t.department(code): code for code in company.config.departments}
    return {
        code_of[cells[0]]: (int(cells[1]), int(cells[2]), int(cells[3]), int(cells[4]), cells[8])
        for cells in rows
        if cells and cells[0] in code_of and int(cells[1])
    }


def terminal_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]


def html_rows(page: str) -> list[list[str]]:
    table = page.split('<table>', 1)[1].split("</table>", 1)[0]  # the department table comes first
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


def clock_by_clock(
    session: Session, company: Company, *, since: datetime, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    """The README's rules applied to each step clock, written out here as the oracle: a step is
    breached if its clock says so or it is open, running and past its deadline (late by the
    business minutes used beyond its target), met if it stopped otherwise, else running."""
    rows: dict[str, dict[str, Any]] = {}
    query = select(SlaClock).where(SlaClock.kind == "step", SlaClock.target_minutes.is_not(None),
                                   SlaClock.started_at >= since, SlaClock.started_at < until)
    for clock in session.scalars(query):
        row = rows.setdefault(clock.department, {"department": clock.department, "steps": 0, "met": 0,
                                                 "breached": 0, "running": 0, "late_minutes": 0.0})
        row["steps"] += 1
        open_late = clock.stopped_at is None and clock.paused_since is None and clock.deadline_at is not None \
            and now > clock.deadline_at
        if clock.status == "breached" or open_late:
            row["breached"] += 1
            row["late_minutes"] += max(clock_used(session, company, clock, now) - (clock.target_minutes or 0), 0.0)
        elif clock.stopped_at is not None:
            row["met"] += 1
        else:
            row["running"] += 1
    return list(rows.values())


def every_output(
    sessions: sessionmaker[Session], url: str, company: Company, *, since: datetime, until: datetime, now: datetime,
    folder: Path,
) -> dict[str, Figures]:
    """The per-department figures as each output shows them."""
    t = _labels(company)
    with sessions() as session:
        report = build_report(session, company, since=since, until=until, now=now,
                              lead_departments=lead_departments(company))
        written = write_outputs(report, company, out_dir=folder, formats=["table", "html", "csv", "json"],
                                locale="en")
        shown = board(session, company, now, "week", reader=ReadScope(everything=True))
        by_hand = clock_by_clock(session, company, since=since, until=until, now=now)
    with written["csv"].open(encoding="utf-8-sig") as handle:
        csv_rows = list(csv.DictReader(handle))
    with serving(url, write_config(folder), SimulatedClock(now), samples.SAMPLE_ENV) as client:
        answer = client.get("/api/sla/departments", headers=token_header("orlov"))  # the director reads every case
        assert answer.status_code == 200, answer.text
        api_rows = answer.json()
    return {
        "terminal": _from_cells(terminal_rows(written["table"].read_text(encoding="utf-8")), t, company),
        "html": _from_cells(html_rows(written["html"].read_text(encoding="utf-8")), t, company),
        "csv": _from_numbers(csv_rows, t),
        "json": _from_numbers(json.loads(written["json"].read_text(encoding="utf-8"))["departments"], t),
        "dashboard": _from_numbers([vars(row) for row in shown.figures], t),
        "api": _from_numbers(api_rows, t),
        "clock by clock": _from_numbers(by_hand, t),
    }


def assert_all_agree(outputs: dict[str, Figures]) -> None:
    reference = outputs["clock by clock"]
    for name, figures in outputs.items():
        assert figures == reference, f"{name} disagrees with the rules applied clock by clock"
    for steps, met, breached, running, _ in reference.values():
        assert met + breached + running == steps


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_output_gives_the_same_figures_for_random_histories(
    data: st.DataObject, sqlite_template: Path, tmp_path: Path
) -> None:
    company = history_company()
    with history_database(sqlite_template, tmp_path) as sessions:
        history = play(sessions, company, data)
        url = str(sessions.kw["bind"].url)
        outputs = every_output(sessions, url, company, since=WEEK_START, until=WEEK_END, now=history.clock.now(),
                               folder=tmp_path)
    assert_all_agree(outputs)


@pytest.fixture(scope="module")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo (sweeping directly) and what it printed."""
    folder = tmp_path_factory.mktemp("demo-week")
    printed = io.StringIO()
    run_demo(out=folder, config=None, console=Console(file=printed, width=250), prefect=False)
    return folder, printed.getvalue()


def test_the_demo_summary_report_csv_dashboard_and_api_agree(
    demo_week: tuple[Path, str], company: Company, tmp_path: Path
) -> None:
    folder, printed = demo_week
    from storage.db import make_engine, session_factory

    url = f"sqlite:///{folder / 'demo.db'}"
    engine = make_engine(url)
    try:
        outputs = every_output(session_factory(engine), url, company, since=at("Mon 00:00"), until=at(END),
                               now=at(END), folder=tmp_path)
    finally:
        engine.dispose()
    summary_table = printed.split("SLA by department", 1)[1]
    code_of = {company.department_name(code): code for code in company.config.departments}
    summary = {
        code_of[cells[0]]: cells[1:5]
        for cells in terminal_rows(summary_table.split("\n\n", 1)[0])
        if cells and cells[0] in code_of
    }
    assert summary == {code: [str(n) for n in row[:4]] for code, row in outputs["json"].items()}
    assert_all_agree(outputs)
    # The demo's written report (in the company's locale) says the same as this one.
    written = json.loads((folder / "demo-report" / FILES["json"]).read_text(encoding="utf-8"))
    assert {r["department"]: (r["steps"], r["met"], r["breached"], r["running"]) for r in written["departments"]} == {
        code: row[:4] for code, row in outputs["json"].items()
    }


def test_the_demo_charges_each_late_case_alike_everywhere(demo_week: tuple[Path, str], company: Company) -> None:
    folder, printed = demo_week
    report = json.loads((folder / "demo-report" / FILES["json"]).read_text(encoding="utf-8"))
    page = html.unescape((folder / "demo-report" / FILES["html"]).read_text(encoding="utf-8"))
    t = Labels(company, company.locale, report_zone(company))
    with (folder / "demo-report" / FILES["csv:ledger"]).open(encoding="utf-8-sig") as handle:
        ledger = {(row["requester"], row["department"]): float(row["breach_share"]) for row in csv.DictReader(handle)}
    assert report["late_cases"], "the demo week has a whole case past its target"
    charged: dict[tuple[str, str], float] = {}
    for case in report["late_cases"]:
        total = sum(case["minutes"].values())
        shares = {code: minutes / total for code, minutes in case["minutes"].items()}
        assert (case["late_minutes"] or 0) > 0 and abs(sum(shares.values()) - 1) < 1e-9
        line = next(line for line in printed.splitlines() if line.startswith(f"whole case #{case['case_id']} "))
        for code, share in shares.items():
            assert f"{company.department_name(code)} {share:.0%}" in line
            charged[(case["requester"], code)] = charged.get((case["requester"], code), 0.0) + share
        assert case.get("shares") == pytest.approx(shares)
        for code, minutes in case["minutes"].items():
            assert f"{t.department(code)} {t.hours(minutes)} ({t.percent(shares[code])})" in page
    for key, share in charged.items():
        assert ledger[key] == pytest.approx(share)

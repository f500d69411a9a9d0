"""The ``slaflow`` command, run as a real subprocess against a real SQLite file."""

from __future__ import annotations

import email
import email.policy
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from runtime.settings import EXAMPLE_COMPANY
from slaflow.demo import run_demo


def slaflow(*args: str, db: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if db is not None:
        env["SLAFLOW_DATABASE_URL"] = f"sqlite:///{db}"
    result = subprocess.run(
        [sys.executable, "-m", "slaflow.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def test_config_validate_accepts_the_example_and_counts_what_it_found() -> None:
    out = slaflow("config", "validate", str(EXAMPLE_COMPANY)).stdout
    assert "OK — 10 departments, 21 people, 4 calendars, 14 case types (1 from the file)" in out


def test_config_validate_names_file_path_and_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        EXAMPLE_COMPANY.read_text(encoding="utf-8").replace("head: smirnov", "head: smirnoff"), encoding="utf-8"
    )
    result = slaflow("config", "validate", str(broken), check=False)
    assert result.returncode == 2
    assert f"{broken}: departments.warehouse.head: 'smirnoff' is not in people" in result.stderr.replace("\n", "")


def test_a_case_is_opened_moved_shown_and_listed_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    slaflow("init", db=db)
    at = "2026-11-16T09:00:00+03:00"
    opened = slaflow(
        "case",
        "open",
        "return",
        "--as",
        "ivanov",
        "-d",
        "customer=ООО Ромашка",
        "-d",
        "order=SO-9",
        "-d",
        "reason=broken",
        "--at",
        at,
        db=db,
    ).stdout
    assert "opened case 1 (return) in state inspection, owner warehouse, due 2026-11-16 17:00 MSK" in opened
    refused = slaflow(
        "case", "fire", "1", "refunded", "--as", "morozova", "-d", "document=CN", "--at", at, db=db, check=False
    )
    assert refused.returncode == 2
    assert "trigger 'refunded' is not allowed in state 'inspection'; allowed triggers: approve" in refused.stderr
    stale = slaflow(
        "case",
        "fire",
        "1",
        "approve",
        "--as",
        "popov",
        "-d",
        "inspection_notes=ok",
        "--expect-version",
        "7",
        "--at",
        at,
        db=db,
        check=False,
    )
    assert stale.returncode == 2 and "you saw version 7, it is now 1" in stale.stderr
    moved = slaflow(
        "case",
        "fire",
        "1",
        "approve",
        "--as",
        "popov",
        "-d",
        "inspection_notes=ok",
        "--at",
        "2026-11-16T10:00:00+03:00",
        db=db,
    ).stdout
    assert "case 1: inspection -> collection (version 2), owner logistics" in moved
    # Logistics (Yekaterinburg, +2h) got it at 12:00 local, lunch 12-13: at 14:00 local 1 business hour is used.
    shown = slaflow("case", "show", "1", "--at", "2026-11-16T12:00:00+03:00", db=db).stdout
    assert "case 1 return — collection (version 2)" in shown
    assert "due: 2026-11-18 10:00 MSK   remaining: 15h00m business, 1d 22h00m wall clock" in shown
    assert "approve" in shown and "ООО Ромашка" in shown
    listed = slaflow("case", "list", "--department", "logistics", "--open", db=db).stdout
    assert "collection" in listed and "return" in listed


def test_unknown_case_type_and_unknown_person_are_clear_errors(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    slaflow("init", db=db)
    result = slaflow("case", "open", "refund", "--as", "ivanov", db=db, check=False)
    assert result.returncode == 2 and "unknown case type 'refund'; known types:" in result.stderr
    result = slaflow("case", "open", "return", "--as", "ghost", db=db, check=False)
    assert result.returncode == 2 and "unknown person 'ghost'" in result.stderr
    result = slaflow("case", "open", "return", "--as", "ivanov", "--json", "[1, 2]", db=db, check=False)
    assert result.returncode == 2 and "--json must be a JSON object" in result.stderr


def test_graph_prints_the_mermaid_diagram_of_a_type() -> None:
    out = slaflow("graph", "lead_dispute", "--locale", "ru").stdout
    # In Russian the arrows carry the triggers' labels (the English diagram keeps the API's trigger ids).
    assert "stateDiagram-v2" in out and "review --> arbitration: Отклонить" in out and "Арбитраж" in out


def test_the_demo_runs_a_week_with_breaches_refusals_and_a_summary(tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    totals = run_demo(out=tmp_path, config=None, console=console, prefect=False)
    out = buffer.getvalue()
    assert totals["opened"] == 7 and totals["rejected"] == 3 and totals["auto"] == 1
    assert totals["breaches"] >= 5 and totals["warnings"] >= 5
    # Recurring duties: Thursday's and Friday's stock figures never come (a breach each, escalated),
    # Wednesday's delivery confirmation and Thursday's payments come late.
    assert (totals["duties_met"], totals["duties_late"]) == (12, 2)  # 3 stock + 4 + 4 + 1 forecast
    assert "BREACH  #19 duty step due: Склад missed the deadline Thu 09:00" in out
    assert "ESCALATE #19 duty step due (Склад) level 1: told Сергей Смирнов" in out
    assert "BREACH  #5 return step inspection: Склад missed the deadline Mon 17:30" in out
    assert "AUTO    #7 reservation: expire -> released" in out
    assert "may not fire 'collected' on case 5; allowed: logistics" in out
    assert "SLA by department" in out
    assert "ESCALATE #5 return step collection (Логистика) level 2: told Андрей Орлов" in out
    assert "ACK     #10 picking_error: Дмитрий Лебедев acknowledged" in out
    assert "Склад's clock pauses while it waits on Закупки" in out
    assert "whole case #10 picking_error missed its target; business time used: Логистика 93%, Склад 7%" in out
    assert totals["messages"] > 20
    # The week of leads: the funnel and each head's weekly letter as it arrives (slaflow.demo_leads).
    assert "Воронка лидов" in out and "│ 2026-W47 │        25 │" in out
    assert "weekly lead letter to Svetlana Pavlova (sent)" in out and "Поступило лидов за неделю: 25" in out
    assert "лид LD-5531, сайт: a student, not a company (спор №" in out
    report = tmp_path / "demo-report" / "sla-report.html"
    assert f"SLA report for the week: {report}" in out
    assert "<svg" in report.read_text(encoding="utf-8") and "Склад" in report.read_text(encoding="utf-8")
    mails = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
             for f in (tmp_path / "demo-messages" / "smirnov").glob("*-breach-email.eml")]
    assert any(str(m["Subject"]) == "Срок нарушен: заявка №5, Проверка товара" for m in mails)
    # Readable with `cat`: the body is 8-bit UTF-8 text, not base64.
    raw = next((tmp_path / "demo-messages" / "smirnov").glob("*-breach-email.eml")).read_bytes()
    assert b"Content-Transfer-Encoding: 8bit" in raw and "Срок".encode() in raw.split(b"\n\n", 1)[1]
    # Everything under the one output folder, with a plain-text transcript of what was printed.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("demo.db")) == [
        "demo-messages", "demo-report", "demo-transcript.txt"]
    transcript = (tmp_path / "demo-transcript.txt").read_text(encoding="utf-8")
    assert "SLA by department" in transcript and "\x1b[" not in transcript
    # Warehouse: 5 case steps (the replacement's picking clock paused while purchasing supplied,
    # then resumed: one clock), 3 late, plus 5 stock duties (Thursday's and Friday's missed, still
    # open: breached, none running). Business minutes late against its 08-20 shift, by hand: return
    # inspection 240 + rush picking 10 + replacement picking 1170 used - 240 target = 930, and the
    # open duties so far: Thursday's Thu 09-20 660 + Fri 08-18 600, Friday's Fri 09-18 540.
    cells = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in out.splitlines() if "│" in line]
    rows = [row for row in cells if row[0] == "Склад"]  # the department summary, not the duties table
    assert rows == [["Склад", "10", "5", "5", "0", "50%", str(240 + 10 + 930 + 660 + 600 + 540)]], out


@pytest.mark.parametrize("command", [["--help"], ["case", "--help"]])
def test_help_lists_the_commands(command: list[str]) -> None:
    out = slaflow(*command).stdout
    assert "Usage" in out

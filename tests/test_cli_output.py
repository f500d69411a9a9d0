"""What the CLI prints: times in the company's zone (zone named), JSON in ISO 8601 with offset,
`case list --json`, `sweep` naming which cases fired what, `case show` with the whole history."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from slaflow.cli import main
from slaflow.commands import cases as case_commands

OPENED_AT = "2026-11-16T09:00:00+03:00"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    assert exited.value.code in (0, None), captured.err
    return captured.out


@pytest.fixture
def one_return(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COLUMNS", "200")
    # rich reads COLUMNS when a console is made; the commands' console may have been made by an
    # earlier test of this process (xdist runs files in any order), so widen it too.
    monkeypatch.setattr(case_commands.console, "_width", 200)
    run(["case", "open", "return", "--as", "ivanov", "-d", "customer=ООО Ромашка", "-d", "order=SO-9",
         "-d", "reason=broken", "--at", OPENED_AT], capsys)
    return sqlite_url


def test_case_list_json_has_iso_times_with_the_company_offset(
    one_return: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = json.loads(run(["case", "list", "--json", "--at", OPENED_AT], capsys))
    assert [(row["id"], row["type"], row["state"]) for row in rows] == [(1, "return", "inspection")]
    due = datetime.fromisoformat(rows[0]["due_at"])
    assert rows[0]["due_at"] == "2026-11-16T17:00:00+03:00" and due.utcoffset() is not None
    table = run(["case", "list", "--at", OPENED_AT], capsys)
    assert "2026-11-16 17:00 MSK" in table


def test_sweep_names_the_cases_and_what_fired_as_a_table_or_json(
    one_return: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = run(["sweep", "--at", "2026-11-16T16:00:00+03:00"], capsys)
    assert "sweep at 2026-11-16 16:00 MSK" in table
    assert any(line.split("│")[1:3] == [" 1    ", " warning "] or ("1" in line and "warning" in line)
               for line in table.splitlines() if "│" in line), table
    assert "fired: 1 warning; skipped 0, failed 0" in table
    assert "Counter" not in table and "{" not in table
    summary = json.loads(run(["sweep", "--json", "--at", "2026-11-17T12:00:00+03:00"], capsys))
    assert summary["at"] == "2026-11-17T12:00:00+03:00"
    assert {(t["case"], t["kind"], t["state"]) for t in summary["timers"]} >= {(1, "breach", "inspection")}
    assert summary["fired"]["breach"] == 1


def test_case_show_history_has_events_warnings_breaches_escalations_and_messages(
    one_return: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["sweep", "--at", "2026-11-16T16:00:00+03:00"], capsys)
    run(["sweep", "--at", "2026-11-17T12:00:00+03:00"], capsys)
    run(["sweep", "--at", "2026-11-20T12:00:00+03:00"], capsys)
    detail = json.loads(run(["case", "show", "1", "--json", "--at", "2026-11-20T12:00:00+03:00"], capsys))
    kinds = [row["kind"] for row in detail["history"]]
    assert kinds[0] == "event" and {"warning", "breach", "escalation", "message"} <= set(kinds), kinds
    stamps = [datetime.fromisoformat(row["at"]) for row in detail["history"]]
    assert stamps == sorted(stamps) and all(s.utcoffset() is not None for s in stamps)
    breach = next(row for row in detail["history"] if row["kind"] == "breach")
    assert breach["who"].startswith("warehouse") and "step deadline missed in inspection" in breach["what"]
    text = run(["case", "show", "1", "--at", "2026-11-20T12:00:00+03:00"], capsys)
    assert "history" in text and "escalation" in text and "message" in text and "MSK" in text


def test_a_read_of_an_empty_list_with_known_filters_is_fine(one_return: str, capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    assert json.loads(run(["case", "list", "--json", "--department", "marketing"], capsys)) == []


def test_help_answers_without_importing_the_heavy_parts(tmp_path: Path) -> None:
    """`slaflow --help` lists every command from the table, importing none of their modules."""
    import subprocess
    import sys

    code = ("import sys; from slaflow.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('prefect', 'fastapi', 'sqlalchemy', 'engine.cases', 'crm', 'pygal') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "HEAVY []" in out and "regulation" in out and "worker" in out


def test_a_command_that_opens_the_runtime_imports_no_http_client() -> None:
    """Every command loads the company, which wires CRM write-back; only a delivery needs the CRM
    API clients (httpx and, through it, pygments: ~0.1-0.2 s of each command's start)."""
    import subprocess
    import sys

    code = ("import sys; from runtime.assembly import Runtime; from runtime.company import load_company\n"
            "from runtime.settings import EXAMPLE_COMPANY\nload_company(EXAMPLE_COMPANY)\n"
            "print('HEAVY', [m for m in ('httpx', 'crm.api.http', 'crm.api.registry') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "HEAVY []" in out

"""No traceback for a user's mistake: every command, given bad input, prints one ``error:`` line
per problem on stderr and exits 2 (exit 1 is for slaflow's own bugs, with a hint to report them).

Most cases run ``slaflow.cli.main`` in this process (fast; an exception escaping it fails the
test just as a traceback would); a few run the installed entry point as a real subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from slaflow.cli import COMMANDS, main
from storage.db import normalise_url
from tests.conftest import PG_URL


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def assert_user_error(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), err
    for text_ in expected:
        assert text_ in err, err


BAD_INPUT = [
    (["case", "lst"], "No such command 'lst'"),
    (["case", "show"], "Missing argument 'CASE_ID'"),
    (["case", "show", "abc"], "Invalid value for 'CASE_ID'"),
    (["case", "list", "--opn"], "No such option: --opn"),
    (["case", "list", "--at", "2026-13-45"], "'2026-13-45' is not an ISO 8601 date and time"),
    (["case", "list", "--at", "2026-12-01T10:00"], "'2026-12-01T10:00' has no UTC offset"),
    (["case", "open", "return"], "Missing option '--as'"),
    (["case", "fire", "1", "approve", "--as", "popov", "-d", "novalue"], "must look like field=value"),
    (["case", "ack", "1", "--as", "popov", "--snooze", "soon"], "--snooze"),
    (["report", "--from", "01.11.2026"], "Invalid value for '--from'"),
    (["sla", "what-if", "--from", "2026-11-01", "--to", "2026-12-01T00:00Z"], "has no UTC offset"),
    (["sla", "rebuild", "--case", "x"], "Invalid value for '--case'"),
    (["sweep", "--at", "tomorrow"], "'tomorrow' is not an ISO 8601"),
    (["nosuch"], "No such command 'nosuch'"),
    (["init", "--departments", "sales"], "--departments needs --company"),
    (["init", "--company", "Acme", "--departments", "Sales Dept"], "lower_snake_case"),
    (["init", "--company", "Acme", "--departments", "sales", "--timezone", "Mars/Olympus"], "unknown time zone"),
    (["config", "validate", "/nonexistent/company.yaml"], "cannot read the file"),
    (["graph", "nosuch"], "unknown case type 'nosuch'"),
    (["case", "list", "--department", "logistcs"], "--department: unknown value 'logistcs'; known: accounting"),
    (["case", "list", "--type", "retrun"], "--type: unknown value 'retrun'; known:"),
    (["case", "list", "--type", "return", "--state", "shipped"], "--state: unknown value 'shipped'; known: awaiting"),
    (["outbox", "list", "--limit", "x"], "Invalid value for '--limit'"),
    (["inbox", "list", "--limit", "x"], "Invalid value for '--limit'"),
    (["serve", "--port", "x"], "Invalid value for '--port'"),
    (["worker", "--limit", "x"], "Invalid value for '--limit'"),
    (["up", "--prefect-port", "x"], "Invalid value for '--prefect-port'"),
    (["demo", "--out"], "Option '--out' requires an argument"),
]


@pytest.fixture
def db(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", sqlite_url)
    monkeypatch.chdir(tmp_path)
    return sqlite_url


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_a_mistake_is_one_error_line_and_exit_2(
    argv: list[str], expected: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(argv, capsys)
    assert_user_error(code, err, expected)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_refuses_an_unknown_option_in_one_line(
    name: str, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run([name, "--no-such-option"], capsys)
    assert_user_error(code, err, "No such option: --no-such-option")


def test_slaflow_alone_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([], capsys)
    assert code == 2 and "Usage: slaflow" in out + err and "Traceback" not in out + err


def test_a_missing_sqlite_database_is_named_and_never_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", f"sqlite:///{missing}")
    for argv in (["case", "show", "1"], ["case", "list"], ["sweep"], ["report"], ["outbox", "list"]):
        code, _, err = run(argv, capsys)
        assert_user_error(code, err, f"the database {missing} does not exist: run `slaflow init")
    assert not missing.exists()


def test_an_uninitialised_database_says_to_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    create_engine(f"sqlite:///{empty}").connect().close()  # an empty SQLite file
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", f"sqlite:///{empty}")
    code, _, err = run(["case", "show", "1"], capsys)
    assert_user_error(code, err, "is not initialised: run `slaflow init --database-url sqlite:///")
    code, out, err = run(["init"], capsys)
    assert code == 0 and "database ready" in out
    code, _, err = run(["case", "show", "1"], capsys)
    assert_user_error(code, err, "case 1 does not exist")


@pytest.mark.skipif(not PG_URL, reason="SLAFLOW_TEST_PG_URL is not set")
def test_a_missing_postgresql_database_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert PG_URL is not None
    url = normalise_url(PG_URL).rsplit("/", 1)[0] + "/slaflow_no_such_database"
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", url)
    code, _, err = run(["case", "list"], capsys)
    assert_user_error(code, err, "slaflow_no_such_database does not exist: create it")


def test_an_unreachable_database_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLAFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/slaflow")
    code, _, err = run(["case", "list"], capsys)
    assert_user_error(code, err, "cannot reach the database postgresql+psycopg://nobody@127.0.0.1:9/slaflow")


def test_without_a_company_file_commands_say_how_to_create_one(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLAFLOW_CONFIG")
    code, _, err = run(["case", "list"], capsys)
    assert_user_error(code, err, "no company configuration", "slaflow init --company NAME --departments")


def test_an_internal_error_is_exit_1_with_a_hint_to_report_it(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import engine.cases

    def broken(*_: object, **__: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(engine.cases, "list_cases", broken)
    code, _, err = run(["case", "list"], capsys)
    assert code == 1 and "internal error: KeyError" in err and "please report it" in err
    assert "Traceback" not in err


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "SLAFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    for argv in (["case", "show", "abc"], ["case", "list", "--at", "2026-12-01T10:00"], ["case", "show", "1"]):
        result = subprocess.run([sys.executable, "-m", "slaflow.cli", *argv], capture_output=True, text=True,
                                env=env, timeout=60, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "none.db").exists()


def test_times_are_naive_nowhere(sqlite_url: str, tmp_path: Path) -> None:
    """The engine's own guard: a naive instant is a user error (SlaflowError), not a ValueError crash."""
    from core.clock import ensure_utc
    from core.errors import SlaflowError

    naive = __import__("datetime").datetime(2026, 12, 1, 10, 0)
    with pytest.raises(SlaflowError, match="has no UTC offset"):
        ensure_utc(naive)
    with create_engine(normalise_url(sqlite_url)).connect() as connection:  # the fixture's file is migrated
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1

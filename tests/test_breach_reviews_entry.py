"""Breach reviews through their entry points (issue 19, point 7): the REST router, scoped like
every read, and the ``slaflow breach`` commands with the per-person export (CSV with a BOM, XLSX)."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from engine import cases
from engine.timers import sweep
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from slaflow.cli import main
from storage.models import Breach

RETURN = {"customer": "c", "order": "o", "reason": "r"}


def held_breach(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> int:
    """A return whose inspection popov holds (warehouse, due Monday 17:00), swept late at 18:00."""
    start = clock.now()
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return", data=RETURN, actor=company.actor("ivanov"),
                                  now=start).id
        cases.assign(session, company, case_id=case_id, person="popov", actor=company.actor("smirnov"), now=start)
    sweep(sessions, company, now=start + timedelta(hours=9), owner="s")
    with sessions() as session:
        return session.scalars(select(Breach.id)).one()


def test_the_rest_api_reviews_breaches_within_the_callers_scope(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, tmp_path: Path
) -> None:
    breach_id = held_breach(sessions, company, clock)
    now = clock.now() + timedelta(hours=25)
    director, head_of_sales, accountant = (token_header(p) for p in ("orlov", "kuznetsova", "morozova"))
    with serving(db_url, write_config(tmp_path), SimulatedClock(now), samples.SAMPLE_ENV) as client:
        base = f"/api/breaches/{breach_id}"
        assert client.get(f"{base}/history", headers=accountant).status_code == 404  # not her case: as if absent
        assert client.post(f"{base}/cause", headers=accountant, json={"cause": "workload"}).status_code == 404
        assert client.get("/api/breaches", headers=accountant).json() == []
        refused = client.post(f"{base}/cause", headers=head_of_sales, json={"cause": "workload"})
        assert refused.status_code == 403 and "popov" in refused.json()["detail"]
        bad = client.post(f"{base}/cause", headers=director, json={"cause": "sunspots"})
        assert bad.status_code == 422
        assert client.post(f"{base}/exemption/decision", headers=director, json={"approve": True}).status_code == 409
        recorded = client.post(f"{base}/cause", headers=director, json={"cause": "supplier", "note": "late truck"})
        assert (recorded.status_code, recorded.json()["cause"], recorded.json()["cause_by"]) == (200, "supplier",
                                                                                                 "orlov")
        assert client.post(f"{base}/exemption", headers=head_of_sales, json={"reason": "x"}).status_code == 403
        assert client.post(f"{base}/exemption", headers=director, json={"reason": "strike"}).status_code == 200
        assert client.post(f"{base}/exemption/decision", headers=head_of_sales,
                           json={"approve": True}).status_code == 403
        decided = client.post(f"{base}/exemption/decision", headers=director, json={"approve": True, "note": "ok"})
        assert decided.status_code == 200 and decided.json()["exemption"] == "approved"
        listed = client.get("/api/breaches", headers=head_of_sales, params={"exemption": "approved"}).json()
        assert [(row["id"], row["person"], row["exemption"]) for row in listed] == [(breach_id, "popov", "approved")]
        history = client.get(f"{base}/history", headers=head_of_sales).json()
        assert [(e["actor"], e["action"]) for e in history] == [
            ("orlov", "cause_recorded"), ("orlov", "exemption_requested"), ("orlov", "exemption_approved")]
        figures = {f["department"]: f for f in client.get("/api/sla/departments", headers=director).json()}
    assert (figures["warehouse"]["steps"], figures["warehouse"]["breached"], figures["warehouse"]["exempted"]) == (
        0, 0, 1)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def test_the_breach_commands_review_and_export_per_person(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    breach_id = held_breach(sessions, company, clock)
    at = (clock.now() + timedelta(hours=25)).isoformat()
    common = ["--database-url", db_url, "--config", str(EXAMPLE_COMPANY)]
    code, out, err = run(["breach", "cause", str(breach_id), "waiting_department", "--as", "popov", "--note",
                          "waited for purchasing", "--at", at, *common], capsys)
    assert code == 0, err
    assert "cause waiting_department" in out
    code, _, err = run(["breach", "exempt", str(breach_id), "--as", "smirnov", "--reason", "purchasing", "--at", at,
                        *common], capsys)
    assert code == 0, err
    code, _, err = run(["breach", "approve", str(breach_id), "--as", "smirnov", "--at", at, *common], capsys)
    assert code == 2 and err.startswith("error: ") and "may not decide" in err and "Traceback" not in err
    code, out, err = run(["breach", "approve", str(breach_id), "--as", "orlov", "--at", at, *common], capsys)
    assert code == 0 and "exemption approved" in out, err
    code, _, err = run(["breach", "cause", "999", "workload", "--as", "orlov", *common], capsys)
    assert (code, err.strip()) == (2, "error: breach 999 does not exist")
    code, out, err = run(["breach", "history", str(breach_id), "--as", "smirnov", *common], capsys)
    assert [[word.rstrip(":") for word in line.split()[3:5]] for line in out.splitlines()] == [
        ["popov", "cause_recorded"], ["smirnov", "exemption_requested"], ["orlov", "exemption_approved"]]
    out_dir = tmp_path / "export"
    code, out, err = run(["breach", "export", "--as", "orlov", "--from", "2026-11-16", "--to", "2026-11-22",
                          "--out", str(out_dir), "--locale", "en", "--at", at, *common], capsys)
    assert code == 0, err
    people_csv = (out_dir / "breaches-people.csv").read_bytes()
    assert people_csv.startswith(b"\xef\xbb\xbf")
    people = list(csv.DictReader(people_csv.decode("utf-8-sig").splitlines()))
    popov = next(row for row in people if row["person"] == "popov")
    assert (popov["department"], popov["steps"], popov["breached"], popov["exempted"]) == ("warehouse", "0", "0", "1")
    book = load_workbook(out_dir / "breaches.xlsx")
    assert book.sheetnames == ["people", "breaches"]
    rows = list(book["breaches"].iter_rows(values_only=True))
    header = list(rows[0])
    listed = dict(zip(header, rows[1], strict=True))
    assert (listed["breach_id"], listed["person"], listed["cause"], listed["exemption"]) == (
        breach_id, "popov", "waiting_department", "approved")
    assert len(rows) == 2
    code, _, err = run(["breach", "export", "--as", "orlov", "--from", "2026-11-16", "--to", "2026-11-22",
                        "--format", "pdf", "--out", str(out_dir), *common], capsys)
    assert code == 2 and "unknown export format pdf" in err

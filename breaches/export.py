"""The per-person export for a motivation scheme: for a period, each person's steps (met,
breached, running, exempted, compliance, minutes late, by the ledger's rules) and the list of
their breaches with cause and exemption, as CSV (UTF-8 with a BOM) and XLSX through the report
writers (reports.render, reports.xlsx)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from breaches.service import list_breaches
from core.errors import InvalidData
from org.actors import ReadScope
from org.chart import Company
from org.scope import case_filter
from reports.labels import Labels
from reports.render import check_locale, write_csv
from reports.scope import report_zone
from sla.ledger import clocks, person_tallies, step_where

FORMATS = ("csv", "xlsx")
FILES = {"people": "breaches-people.csv", "breaches": "breaches-list.csv", "xlsx": "breaches.xlsx"}
PEOPLE_HEADER = ["person", "person_name", "department", "department_name", "steps", "met", "breached", "running",
                 "exempted", "compliance", "late_minutes"]
BREACHES_HEADER = ["breach_id", "case_id", "person", "person_name", "department", "department_name", "kind",
                   "state", "deadline_at", "breached_at", "late_minutes", "cause", "cause_note", "cause_by",
                   "exemption", "exemption_reason", "requested_by", "decided_by", "decided_at"]


def person_rows(session: Session, company: Company, scope: ReadScope, *, since: datetime, until: datetime,
                now: datetime, locale: str) -> list[dict[str, Any]]:
    """One row per person and department of the steps started in ``[since, until)``."""
    t = Labels(company, locale, report_zone(company))
    where: list[ColumnElement[bool]] = [*step_where(since=since, until=until), case_filter(scope, clocks.c.case_id)]
    return [
        {"person": person or "", "person_name": t.person(person) if person else "",
         "department": fig.department, "department_name": t.department(fig.department),
         "steps": fig.steps, "met": fig.met, "breached": fig.breached, "running": fig.running,
         "exempted": fig.exempted, "compliance": fig.compliance, "late_minutes": round(fig.late_minutes, 2)}
        for person, fig in person_tallies(session, where, now)
    ]


def breach_rows(session: Session, company: Company, scope: ReadScope, *, since: datetime, until: datetime,
                locale: str) -> list[dict[str, Any]]:
    """Every breach whose deadline passed in ``[since, until)``, with its review (exempted ones too)."""
    t = Labels(company, locale, report_zone(company))
    rows = []
    for view in list_breaches(session, scope, since=since, until=until, limit=1_000_000):
        row = view.as_dict()
        rows.append({
            **{key: _plain(value) for key, value in row.items()},
            "breach_id": row["id"],
            "person": row["person"] or "",
            "person_name": t.person(row["person"]) if row["person"] else "",
            "department_name": t.department(row["department"]),
        })
    return rows


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def write_export(session: Session, company: Company, scope: ReadScope, *, since: datetime, until: datetime,
                 now: datetime, out_dir: Path, formats: list[str], locale: str) -> dict[str, Path]:
    """Write the export in ``formats`` (csv: two files; xlsx: one workbook with two sheets)."""
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise InvalidData(f"unknown export format {', '.join(unknown) or '(none)'}; use {', '.join(FORMATS)}")
    if until <= since:
        raise InvalidData(f"the period is empty: {since.isoformat()} is not before {until.isoformat()}")
    check_locale(locale)
    people = person_rows(session, company, scope, since=since, until=until, now=now, locale=locale)
    breaches = breach_rows(session, company, scope, since=since, until=until, locale=locale)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if "csv" in formats:
        for key, header, rows in (("people", PEOPLE_HEADER, people), ("breaches", BREACHES_HEADER, breaches)):
            written[key] = out_dir / FILES[key]
            write_csv(written[key], header, rows)
    if "xlsx" in formats:
        from reports.xlsx import write_xlsx  # the spreadsheet library is needed for XLSX only

        written["xlsx"] = write_xlsx(out_dir / FILES["xlsx"], {"people": (PEOPLE_HEADER, people),
                                                               "breaches": (BREACHES_HEADER, breaches)})
    return written

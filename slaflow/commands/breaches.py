"""``slaflow breach ...``: list breaches, record a cause, request and decide an exemption, show a
breach's audit, and export the per-person figures for a period. Registered by slaflow/cli.py's
``COMMANDS``. Each command acts and reads as ``--as`` (that person's read scope, org.actors)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from breaches.export import FORMATS, write_export
from breaches.service import (
    BreachView,
    decide_exemption,
    list_breaches,
    record_cause,
    request_exemption,
    review_events,
)
from core.vocabulary import BreachCause, ExemptionStatus
from org.actors import person_scope
from org.chart import Company
from reports.labels import LOCALES
from reports.scope import report_zone
from slaflow.cli_support import AtOption, ConfigOption, DbOption, JsonFlag, local_time, now_or, open_runtime, to_json

breach_app = typer.Typer(help="Breaches: causes, exemptions and the per-person export.", no_args_is_help=True)
console = Console(soft_wrap=True)

ActorOption = Annotated[str, typer.Option("--as", help="person (from the company config) who acts and reads")]
BreachId = Annotated[int, typer.Argument(min=1, max=2**31 - 1, help="breach id (from `slaflow breach list`)")]
NoteOption = Annotated[str | None, typer.Option("--note", help="a free-text note")]
DayOption = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="a day in head office time")]


def _period(company: Company, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime] | None:
    """Whole days in head office time, ``until`` included; None when neither is given."""
    if since is None and until is None:
        return None
    zone = report_zone(company)
    first: date = since.date() if since is not None else date(1970, 1, 1)
    last: date = until.date() if until is not None else date(2199, 12, 30)
    if first > last:
        raise typer.BadParameter(f"--from {first} is after --to {last}", param_hint="--from")
    return datetime.combine(first, time(), tzinfo=zone), datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)


def _say(view: BreachView, company: Company) -> None:
    row = view.as_dict()
    console.print(
        f"breach {row['id']} (case #{row['case_id']}, {row['department']}, {row['person'] or '-'}): "
        f"cause {row['cause'] or '-'}, exemption {row['exemption'] or '-'}",
        highlight=False, markup=False,
    )


@breach_app.command("list")
def list_command(
    person: ActorOption,
    since: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")] = None,
    until: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="last day, included")] = None,
    of: Annotated[str | None, typer.Option("--person", help="only breaches charged to this person")] = None,
    department: Annotated[str | None, typer.Option("--department", help="only this department's")] = None,
    exemption: Annotated[ExemptionStatus | None, typer.Option("--exemption", help="only in this state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 100,
    as_json: JsonFlag = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Breaches whose deadline passed in the period (that the person may read), with their review."""
    with open_runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        scope = person_scope(company, person)[1]
        period = _period(company, since, until)
        found = list_breaches(session, scope, since=period[0] if period else None,
                              until=period[1] if period else None, person=of, department=department,
                              exemption=exemption, limit=limit)
        rows = [view.as_dict() for view in found]
    zone = report_zone(company)
    if as_json:
        console.print(to_json(rows, zone), highlight=False, markup=False)
        return
    table = Table("id", "case", "department", "person", "deadline", "late (min)", "cause", "exemption")
    for row in rows:
        late = row["late_minutes"]
        table.add_row(str(row["id"]), f"#{row['case_id']}", row["department"], row["person"] or "-",
                      local_time(row["deadline_at"], zone), "-" if late is None else f"{late:.0f}",
                      row["cause"] or "-", row["exemption"] or "-")
    console.print(table)


@breach_app.command("cause")
def cause_command(
    breach_id: BreachId,
    cause: Annotated[BreachCause, typer.Argument(help="why the deadline was missed")],
    person: ActorOption,
    note: NoteOption = None,
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Record why a breach happened (the person charged, a head above, or the director)."""
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        view = record_cause(session, company, person_scope(company, person)[1], breach_id=breach_id,
                            actor=company.actor(person), cause=cause, note=note, now=now_or(at))
        _say(view, company)


@breach_app.command("exempt")
def exempt_command(
    breach_id: BreachId,
    person: ActorOption,
    reason: Annotated[str, typer.Option("--reason", help="why the breach should not count")],
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """A head asks the director to exempt a breach from compliance."""
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        view = request_exemption(session, company, person_scope(company, person)[1], breach_id=breach_id,
                                 actor=company.actor(person), reason=reason, now=now_or(at))
        _say(view, company)


def _decide(breach_id: int, person: str, note: str | None, at: datetime | None, database_url: str | None,
            config: Path | None, *, approve: bool) -> None:
    with open_runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        view = decide_exemption(session, company, person_scope(company, person)[1], breach_id=breach_id,
                                actor=company.actor(person), approve=approve, note=note, now=now_or(at))
        _say(view, company)


@breach_app.command("approve")
def approve_command(breach_id: BreachId, person: ActorOption, note: NoteOption = None, at: AtOption = None,
                    database_url: DbOption = None, config: ConfigOption = None) -> None:
    """The director approves a requested exemption: the breach leaves compliance (still listed)."""
    _decide(breach_id, person, note, at, database_url, config, approve=True)


@breach_app.command("reject")
def reject_command(breach_id: BreachId, person: ActorOption, note: NoteOption = None, at: AtOption = None,
                   database_url: DbOption = None, config: ConfigOption = None) -> None:
    """The director rejects a requested exemption: the breach keeps counting."""
    _decide(breach_id, person, note, at, database_url, config, approve=False)


@breach_app.command("history")
def history_command(breach_id: BreachId, person: ActorOption, database_url: DbOption = None,
                    config: ConfigOption = None) -> None:
    """Who recorded, requested and decided what about a breach, and when."""
    with open_runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        events = review_events(session, person_scope(company, person)[1], breach_id)
        zone = report_zone(company)
        for event in events:
            console.print(f"{local_time(event.at, zone)}  {event.actor}  {event.action}"
                          f"{' ' + event.cause if event.cause else ''}{': ' + event.note if event.note else ''}",
                          highlight=False, markup=False)


@breach_app.command("export")
def export_command(
    person: ActorOption,
    since: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")],
    until: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last day, included")],
    formats: Annotated[str, typer.Option("--format", help=f"comma-separated: {','.join(FORMATS)}")] = "csv,xlsx",
    out: Annotated[Path, typer.Option("--out", help="folder for the files")] = Path("slaflow-out/breaches"),
    locale: Annotated[str | None, typer.Option(help=f"{' | '.join(LOCALES)} (default: the company's)")] = None,
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Per-person figures (steps met, breached, exempted ...) and breaches for a period, CSV and XLSX."""
    with open_runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        period = _period(company, since, until)
        assert period is not None
        written = write_export(session, company, person_scope(company, person)[1], since=period[0],
                               until=period[1], now=now_or(at), out_dir=out,
                               formats=[name.strip() for name in formats.split(",") if name.strip()],
                               locale=locale or company.locale)
    for key, path in written.items():
        console.print(f"{key}: {path}", highlight=False, markup=False)

"""``slaflow leads ...`` and ``slaflow digest``: record and read leads, keep a head's request for
the weekly letter, send the letter or the daily digest on demand. Registered by slaflow/cli.py
(``app.add_typer(leads_app, name="leads")``, ``app.command("digest")(digest)``). The real time is
read only here (``SystemClock``) unless ``--at`` gives it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.clock import SystemClock, ensure_utc
from core.errors import InvalidData
from core.vocabulary import LeadStatus
from leads.letter import enqueue_lead_letters
from leads.service import (
    LeadFacts,
    check_lead_access,
    get_lead,
    lead_events,
    lead_view,
    list_leads,
    record_lead_event,
    set_feedback_request,
)
from org.chart import Company
from reports.digest import enqueue_daily_digests
from reports.scope import report_zone
from slaflow.cli_support import open_runtime as _runtime

leads_app = typer.Typer(help="Leads between marketing and sales, and the weekly lead letter.", no_args_is_help=True)
console = Console(soft_wrap=True)

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
AtOption = Annotated[
    datetime | None, typer.Option("--at", help="this instant (ISO 8601; without an offset: head office time)")
]
ActorOption = Annotated[str, typer.Option("--as", help="person (from the company config) who acts")]




def _moment(value: datetime, company: Company, option: str) -> datetime:
    """An instant from the command line; without an offset it is the head office's local time."""
    try:
        if value.tzinfo is None:
            value = value.replace(tzinfo=report_zone(company))
        return ensure_utc(value)
    except (OverflowError, ValueError):
        raise InvalidData(f"{option} {value.isoformat()}: not an instant slaflow can use") from None


def _now(at: datetime | None, company: Company) -> datetime:
    return _moment(at, company, "--at") if at is not None else SystemClock().now()


@leads_app.command("record")
def record(
    key: Annotated[str, typer.Argument(help="the lead's id in the CRM or your system")],
    status: Annotated[LeadStatus, typer.Argument(help="new, taken, qualified, reservation_paid or non_target")],
    person: ActorOption,
    source: Annotated[str, typer.Option(help="where the lead comes from (a CRM source or api)")] = "api",
    channel: Annotated[str | None, typer.Option(help="marketing channel")] = None,
    product_group: Annotated[str | None, typer.Option("--product-group", help="product group")] = None,
    customer: Annotated[str | None, typer.Option(help="customer name")] = None,
    url: Annotated[str | None, typer.Option(help="the lead's page")] = None,
    owner: Annotated[str | None, typer.Option(help="the person who holds the lead")] = None,
    reason: Annotated[str | None, typer.Option(help="why the lead is non-target")] = None,
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Record a lead's status (the first status about a key creates the lead)."""
    facts = LeadFacts(channel=channel, product_group=product_group, customer=customer, url=url, owner=owner,
                      reason=reason)
    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        now = _now(at, company)
        lead = record_lead_event(session, company, source=source, external_key=key, status=status, at=now,
                                 actor=company.actor(person), facts=facts, payload={"via": "cli"})
        view = lead_view(session, company, lead, now)
    console.print(f"lead {view['key']} ({view['source']}): {view['status']}; first response {view['first_response']}, "
                  f"qualification {view['qualification'] or '-'}", highlight=False, markup=False)


@leads_app.command("list")
def list_command(
    person: ActorOption,
    since: Annotated[datetime | None, typer.Option("--from", help="received at or after (ISO 8601 or a day)")] = None,
    until: Annotated[datetime | None, typer.Option("--to", help="received before (ISO 8601 or a day)")] = None,
    status: Annotated[LeadStatus | None, typer.Option(help="only this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Leads with their status and both SLAs."""
    table = Table("source", "key", "status", "received", "first response", "qualification", "group", "channel")
    with _runtime(database_url, config) as runtime, runtime.reads() as session:
        company = runtime.company
        now = _now(at, company)
        check_lead_access(company, company.actor(person))
        first = _moment(since, company, "--from") if since is not None else None
        last = _moment(until, company, "--to") if until is not None else None
        for lead in list_leads(session, since=first, until=last, status=status, limit=limit):
            view = lead_view(session, runtime.company, lead, now)
            table.add_row(view["source"], view["key"], view["status"], view["received_at"].isoformat(),
                          view["first_response"], view["qualification"] or "-", view["product_group"] or "-",
                          view["channel"] or "-")
    console.print(table)


@leads_app.command("show")
def show(
    source: Annotated[str, typer.Argument(help="the lead's source")],
    key: Annotated[str, typer.Argument(help="the lead's key")],
    person: ActorOption,
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """A lead: its times, SLAs, link, disputes and history."""
    with _runtime(database_url, config) as runtime, runtime.reads() as session:
        now = _now(at, runtime.company)
        check_lead_access(runtime.company, runtime.company.actor(person))
        lead = get_lead(session, source=source, key=key)
        view = lead_view(session, runtime.company, lead, now)
        history = [(e.at.isoformat(), e.from_status, e.to_status, e.actor) for e in lead_events(session, lead)]
    for name, value in view.items():
        if name != "disputes" and value is not None:
            console.print(f"{name}: {value.isoformat() if isinstance(value, datetime) else value}", markup=False,
                          highlight=False)
    for dispute in view["disputes"]:
        console.print(f"dispute: case {dispute['case_id']} ({dispute['state']})", markup=False, highlight=False)
    for when, old, new, actor in history:
        console.print(f"{when}: {old} -> {new} by {actor}", markup=False, highlight=False)


@leads_app.command("request")
def request(
    department: Annotated[str, typer.Argument(help="the sending head's department (sales or marketing)")],
    person: ActorOption,
    text: Annotated[str, typer.Option("--request", help="what you ask of the other department")],
    expected: Annotated[str, typer.Option("--expected", help="the result you expect")],
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Keep (or change) the request and expected result your weekly lead letter carries."""
    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        company = runtime.company
        set_feedback_request(session, company, actor=company.actor(person), department=department, request=text,
                             expected_result=expected, now=_now(at, company))
    console.print(f"the lead letter from {department} now asks: {text.strip()}", markup=False, highlight=False)


@leads_app.command("letter")
def letter(
    again: Annotated[bool, typer.Option(help="send even if this week's letters went out")] = False,
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Queue this week's lead letters (sales -> marketing and back) now, on demand."""
    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        written = enqueue_lead_letters(session, runtime.company, now=_now(at, runtime.company), again=again)
    console.print(f"lead letters queued: {written} message(s)" if written else
                  "this week's lead letters were already sent (use --again to send them again)", highlight=False)


def digest(
    at: AtOption = None,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Queue today's digest for each department head now (the daily-digest flow does it on schedule)."""
    with _runtime(database_url, config) as runtime, runtime.sessions.begin() as session:
        written = enqueue_daily_digests(session, runtime.company, now=_now(at, runtime.company))
    console.print(f"digests queued: {written} message(s)", highlight=False)

"""``slaflow notify`` and ``slaflow outbox``: test a channel, inspect and retry the outbox.

Registered by ``slaflow.cli``; this module must not import it (it imports us). Errors a user
can act on are `SlaflowError`s, which ``slaflow.cli.main`` prints as one line.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from core.clock import SystemClock, ensure_utc
from core.errors import SlaflowError
from core.vocabulary import OutboxStatus
from notifications import events
from notifications.outbox import dispatch_due
from notifications.outbox_admin import list_messages, retry
from notifications.settings import load_notification_settings
from notifications.transports import REGISTRY
from slaflow.cli_support import open_runtime as _runtime
from storage.models import DeliveryAttempt, OutboxMessage

notify_app = typer.Typer(help="Send notifications by hand.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and retry queued notifications.", no_args_is_help=True)
_ONE_OF = f"{OutboxStatus.PENDING}, {OutboxStatus.SENT} or {OutboxStatus.FAILED}"

console = Console()


@notify_app.callback()
def _notify() -> None:
    """Send notifications by hand (a callback keeps ``notify`` a group with one command)."""

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]
AtOption = Annotated[
    datetime | None, typer.Option("--at", help="act at this instant (ISO 8601 with offset) instead of now")
]




def _now(at: datetime | None) -> datetime:
    return ensure_utc(at) if at is not None else SystemClock().now()


@notify_app.command("test")
def notify_test(
    to: Annotated[str, typer.Option("--to", help="person id from the company config")],
    channel: Annotated[str, typer.Option("--channel", help=f"one of: {', '.join(REGISTRY)}")],
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Send a test message to a person through a channel now, via the outbox (so the attempt
    is recorded like any other)."""
    if channel not in REGISTRY:
        raise SlaflowError(f"unknown channel {channel!r}; channels: {', '.join(REGISTRY)}")
    with _runtime(database_url, config) as runtime:
        settings = load_notification_settings()
        now = SystemClock().now()
        with runtime.sessions.begin() as session:
            message_id = events.test_message(session, runtime.company, person=to, channel=channel, now=now)
        dispatch_due(runtime.sessions, runtime.company, now=now, owner="cli-test", settings=settings, only=[message_id])
        with runtime.reads() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            if message.status == OutboxStatus.SENT:
                console.print(f"sent test message {message_id} to {to} via {channel}")
                return
            console.print(f"[red]not delivered[/] (message {message_id}, {message.status}): {message.last_error}",
                          highlight=False)
        raise typer.Exit(1)


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option(help=f"only {_ONE_OF}")] = None,
    limit: Annotated[int, typer.Option(help="at most this many (newest first)")] = 50,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List outbox messages with their delivery state and last error."""
    if status is not None and status not in set(OutboxStatus):
        raise SlaflowError(f"--status must be {_ONE_OF}, not {status!r}")
    with _runtime(database_url, config) as runtime:
        table = Table("id", "kind", "case", "recipient", "channel", "status", "attempts", "next attempt", "last error")
        with runtime.reads() as session:
            for m in list_messages(session, status=status, limit=limit):
                table.add_row(str(m.id), m.kind + (f" L{m.level}" if m.level else ""), str(m.case_id or "-"),
                              m.recipient, m.channel, m.status, str(m.attempts),
                              f"{m.next_attempt_at:%Y-%m-%d %H:%M} UTC" if m.status == OutboxStatus.PENDING else "-",
                              (m.last_error or "")[:80])
        console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    message_id: Annotated[int | None, typer.Argument(help="message id")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="every failed message")] = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Queue failed messages again with a fresh attempt budget (sent messages are never re-sent)."""
    if (message_id is None) == (not all_failed):
        raise SlaflowError("give a message id or --all-failed (not both)")
    with _runtime(database_url, config) as runtime:
        with runtime.sessions.begin() as session:
            chosen = [message_id] if message_id is not None else []
            ids = retry(session, now=_now(at), ids=chosen, all_failed=all_failed)
        if message_id is not None and not ids:
            raise SlaflowError(f"message {message_id} does not exist or was already sent")
        console.print(f"queued again: {len(ids)} message(s)" + (f" ({', '.join(map(str, ids))})" if ids else ""))


@outbox_app.command("dispatch")
def outbox_dispatch(database_url: DbOption = None, config: ConfigOption = None, at: AtOption = None) -> None:
    """Deliver due messages once, without Prefect."""
    with _runtime(database_url, config) as runtime:
        result = dispatch_due(runtime.sessions, runtime.company, now=_now(at), owner="cli",
                              settings=load_notification_settings())
        console.print(f"claimed {result.claimed}: sent {result.sent}, retried {result.retried}, "
                      f"failed {result.failed}, released {result.released}")


@outbox_app.command("show")
def outbox_show(
    message_id: Annotated[int, typer.Argument(help="message id")],
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """One message with every delivery attempt."""
    with _runtime(database_url, config) as runtime, runtime.reads() as session:
        m = session.get(OutboxMessage, message_id)
        if m is None:
            raise SlaflowError(f"outbox message {message_id} does not exist")
        console.print(f"[bold]message {m.id}[/] {m.kind} to {m.recipient} via {m.channel} ({m.locale}): "
                      f"{m.status}, {m.attempts} attempt(s); key {m.dedupe_key}", highlight=False)
        table = Table("at", "ok", "permanent", "ms", "error")
        for a in session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == m.id)
                                 .order_by(DeliveryAttempt.id)):
            table.add_row(f"{a.at:%Y-%m-%d %H:%M:%S}", "yes" if a.ok else "no", "yes" if a.permanent else "",
                          f"{a.duration_ms:.0f}", a.error or "")
        console.print(table)

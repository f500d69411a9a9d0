"""``slaflow inbox ...`` and ``slaflow serve``: look at stored webhooks, re-process them, run the
HTTP app. Registered by slaflow/cli.py (``app.add_typer(inbox_app, name="inbox")``,
``app.command("serve")(serve)``)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from core.clock import SystemClock
from core.errors import SlaflowError
from core.vocabulary import InboxStatus
from crm.inbox import list_inbox
from crm.parking import expire_parked
from crm.processing import Processed, replay, replay_status
from slaflow.cli_support import open_runtime as _runtime
from storage.models import InboxEvent

inbox_app = typer.Typer(help="Stored CRM webhooks: list them, re-process them.", no_args_is_help=True)
crm_app = typer.Typer(help="CRM sources: check their secrets and API access.", no_args_is_help=True)
console = Console()

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]
ConfigOption = Annotated[Path | None, typer.Option("--config", envvar="SLAFLOW_CONFIG", help="company YAML")]




@inbox_app.command("list")
def inbox_list(
    status: Annotated[str | None, typer.Option(
        help="received, processed, unmatched, failed, rejected, parked or expired")] = None,
    source: Annotated[str | None, typer.Option(help="only this CRM")] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 50,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List stored webhooks, newest first."""
    if status is not None and status not in set(InboxStatus):
        raise SlaflowError(f"unknown status {status!r}; statuses: {', '.join(InboxStatus)}")
    table = Table("id", "source", "received", "status", "tries", "outcome / error")
    with _runtime(database_url, config) as runtime:
        with runtime.sessions.begin() as session:  # parked events whose time ran out show as expired
            expire_parked(session, SystemClock().now())
        with runtime.reads() as session:
            for row in list_inbox(session, status=status, source=source, limit=limit):
                shown = row.status
                if row.status == InboxStatus.PARKED and row.expires_at is not None:
                    shown = f"parked until {row.expires_at:%Y-%m-%d %H:%M}"
                table.add_row(str(row.id), row.source, f"{row.received_at:%Y-%m-%d %H:%M:%S}", shown,
                              str(row.attempts), row.last_error or _outcome(row.result))
    console.print(table)


@inbox_app.command("replay")
def inbox_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="inbox event ids")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="every failed event")] = False,
    unmatched: Annotated[bool, typer.Option("--unmatched", help="every unmatched event (after adding a rule)")] = False,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Process stored webhooks again with the current configuration (safe to repeat)."""
    if not ids and not failed and not unmatched:
        raise SlaflowError("name inbox event ids, or --failed, or --unmatched")
    now = SystemClock().now
    done: list[Processed] = []
    with _runtime(database_url, config) as runtime:
        with runtime.reads() as session:
            statuses = {i: session.scalar(select(InboxEvent.status).where(InboxEvent.id == i)) for i in ids or []}
        missing = [i for i, status in statuses.items() if status is None]
        rejected = [i for i, status in statuses.items() if status == InboxStatus.REJECTED]
        if missing:
            raise SlaflowError(f"no inbox event {', '.join(map(str, missing))}")
        if rejected:
            raise SlaflowError(f"inbox event {', '.join(map(str, rejected))} was rejected (unreadable body); "
                               "it cannot be processed")
        if ids:
            done += replay(runtime.sessions, runtime.company, ids, now)
        for status, wanted in ((InboxStatus.FAILED, failed), (InboxStatus.UNMATCHED, unmatched)):
            if wanted:
                done += replay_status(runtime.sessions, runtime.company, status, now)
    for item in done:
        outcome = item.last_error if item.status == InboxStatus.FAILED else _outcome(item.result)
        console.print(f"inbox event {item.id}: {item.status} — {outcome}", highlight=False)
    counts = {s: sum(1 for i in done if i.status == s) for s in sorted({i.status for i in done})}
    console.print(f"replayed {len(done)}: {json.dumps(counts)}")


@crm_app.command("check")
def crm_check(database_url: DbOption = None, config: ConfigOption = None) -> None:
    """Check every enabled source's accounts: webhook secrets present, the CRM's API answering."""
    import os

    from crm.api.registry import ApiRegistry
    from crm.check import check_accounts

    with _runtime(database_url, config) as runtime:
        registry = ApiRegistry(runtime.company, os.environ, budget_seconds=5.0, sessions=runtime.sessions)
        try:
            checks = check_accounts(runtime.company, os.environ, registry)
        finally:
            registry.close()
    table = Table("source", "account", "webhook secrets", "api")
    for item in checks:
        table.add_row(item.source, item.account, item.webhook, item.api)
    console.print(table)
    failing = [f"{c.source}/{c.account}" for c in checks if not c.ok]
    if failing:
        raise SlaflowError(f"{len(failing)} account(s) not ready: {', '.join(failing)}")


@inbox_app.command("work")
def inbox_work(database_url: DbOption = None, config: ConfigOption = None) -> None:
    """Process stored webhooks as they arrive, until stopped (``slaflow serve`` starts this beside
    the HTTP app, which wakes it after storing; alone, it looks every second)."""
    import logging
    import signal

    from crm.api.registry import ApiRegistry
    from crm.processor import Doorbell, InboxProcessor
    from crm.write_gate import WriteGate
    from storage.db import make_read_engine, session_factory

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if (parent := os.environ.get(PARENT_ENV, "")).isdigit():  # started by `slaflow serve`: end with it
        threading.Thread(target=_end_with_parent, args=(int(parent), stop), daemon=True).start()
    with _runtime(database_url, config) as runtime:
        url = runtime.settings.database_url
        apis = ApiRegistry(runtime.company, os.environ, budget_seconds=5.0, sessions=runtime.sessions)
        bell = Doorbell(url)
        reads = None
        if (gate := WriteGate.for_url(url)) is not None:
            gate.attach(runtime.engine)  # the HTTP app's stores go first at SQLite's write lock
            reads = make_read_engine(url)  # finding the rows to process takes neither the gate nor the lock
        try:
            InboxProcessor(runtime.sessions, runtime.company, SystemClock(), doorbell=bell, apis=apis,
                           sqlite=url.startswith("sqlite"),
                           reads=session_factory(reads) if reads is not None else None, gate=gate).run(stop)
        finally:
            bell.close()
            apis.close()
            if reads is not None:
                reads.dispose()


PARENT_ENV = "SLAFLOW_PROCESSOR_PARENT"
"""The pid of the `serve` that started this processor: if that process dies without stopping it
(``kill -9``), the processor ends too instead of running on unattended."""


def _end_with_parent(parent: int, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        if os.getppid() != parent:
            stop.set()


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    access_log: Annotated[bool, typer.Option(help="log every request")] = True,
    processor: Annotated[bool, typer.Option(
        help="process webhooks in a process of their own (--no-processor: in the HTTP process)")] = True,
    database_url: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the HTTP app (webhooks and REST API) with uvicorn, and the inbox processor beside it.

    For several worker processes: ``SLAFLOW_INBOX_PROCESSOR=process uvicorn api.app:app_from_env
    --factory --workers N`` and one ``slaflow inbox work``."""
    import subprocess
    import sys

    import uvicorn

    from api.app import create_app, freeze_startup_objects
    from crm.processor import ProcessorLink

    with _runtime(database_url, config) as runtime:
        child = None
        if processor:
            env = {**os.environ, "SLAFLOW_DATABASE_URL": runtime.settings.database_url, PARENT_ENV: str(os.getpid())}
            if config is not None:
                env["SLAFLOW_CONFIG"] = str(config)
            child = subprocess.Popen([sys.executable, "-m", "slaflow.commands.crm", "work"], env=env)
            app = create_app(runtime, SystemClock(), processor=ProcessorLink.for_url(runtime.settings.database_url))
        else:
            app = create_app(runtime, SystemClock())
        freeze_startup_objects()
        try:
            uvicorn.run(app, host=host, port=port, access_log=access_log, proxy_headers=True, log_level="info")
        finally:
            if child is not None:
                child.terminate()
                child.wait(30)


def _outcome(result: dict[str, object] | None) -> str:
    if not result:
        return "-"
    actions = result.get("actions")
    if not isinstance(actions, list) or not actions:
        return "no rule matched"
    return "; ".join(
        f"{a.get('rule')}: {a.get('outcome')}" + (f" case {a['case_id']}" if a.get("case_id") else "")
        + (f" ({a['reason']})" if a.get("outcome") == "parked" and a.get("reason") else "")
        for a in actions if isinstance(a, dict)
    )


if __name__ == "__main__":  # the processor child of `slaflow serve`
    inbox_app()

"""``slaflow backup`` and ``slaflow restore``: the commands over storage.backup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.errors import SlaflowError
from runtime.assembly import Runtime
from storage.backup import BackupError
from storage.backup import backup as take_backup
from storage.backup import restore as restore_backup

console = Console(soft_wrap=True)
DbOption = Annotated[str | None, typer.Option("--database-url", envvar="SLAFLOW_DATABASE_URL", help="SQLAlchemy URL")]


def backup(
    destination: Annotated[Path, typer.Argument(help="file to write (SQLite file, or a pg_dump custom-format dump)")],
    overwrite: Annotated[bool, typer.Option(help="replace the file if it exists")] = False,
    database_url: DbOption = None,
) -> None:
    """Write a consistent backup of the database while the service runs (SQLite's online backup
    API; on PostgreSQL pg_dump)."""
    url = Runtime.from_env(database_url=database_url).settings.database_url
    try:
        done = take_backup(url, destination, overwrite=overwrite)
    except BackupError as exc:
        raise SlaflowError(str(exc)) from None
    console.print(f"backup written: {done.path} ({done.bytes:,} bytes, {done.kind})")


def restore(
    source: Annotated[Path, typer.Argument(help="a file written by `slaflow backup`")],
    yes: Annotated[
        bool, typer.Option("--yes", help="do not ask (every record now in the database is replaced)")
    ] = False,
    database_url: DbOption = None,
) -> None:
    """Replace the database's content with a backup, then upgrade its schema. Check it with
    `slaflow sla rebuild` afterwards."""
    url = Runtime.from_env(database_url=database_url).settings.database_url
    if not yes:
        typer.confirm(f"Replace every record in {url} with {source}?", abort=True)
    try:
        done = restore_backup(url, source)
    except BackupError as exc:
        raise SlaflowError(str(exc)) from None
    console.print(f"restored from {done.path} ({done.kind}); check with: slaflow sla rebuild")

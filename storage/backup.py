"""Backups of the whole database, taken while the service runs, and their restore.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot while
writers continue; the copy is written next to the destination and renamed into place, so a
half-written backup never carries the final name. Restore copies the backup into the database
file through the same API (the file keeps its inode; running services see the restored data).

PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot, taken in one repeatable-read
transaction) and ``pg_restore --clean --if-exists --single-transaction`` (all or nothing). Both
tools must be on PATH and be at least the server's major version.

A restore then upgrades the schema to the newest migration (a backup may be older)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import migrate, normalise_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore could not be made; the message says why (nothing was changed)."""


@dataclass(frozen=True)
class BackupDone:
    path: Path
    bytes: int
    kind: str
    """``sqlite`` or ``pg_dump``."""


def backup(database_url: str, destination: Path, *, overwrite: bool = False) -> BackupDone:
    """Write a consistent copy of the database to ``destination``."""
    destination = destination.expanduser()
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} exists; choose another name or pass --overwrite")
    if not destination.parent.is_dir():
        raise BackupError(f"the folder {destination.parent} does not exist")
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        if _is_sqlite(database_url):
            kind = "sqlite"
            _sqlite_backup(_sqlite_file(database_url, must_exist=True), partial)
        else:
            kind = "pg_dump"
            url, env = _libpq(database_url)
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", url], env)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(destination, destination.stat().st_size, kind)


def restore(database_url: str, source: Path) -> BackupDone:
    """Replace the database's content with the backup's, then upgrade the schema."""
    source = source.expanduser()
    try:
        with source.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {source}: {exc.strerror or exc}") from None
    if _is_sqlite(database_url):
        if not head.startswith(SQLITE_MAGIC):
            raise BackupError(f"{source} is not a SQLite backup (restore a PostgreSQL dump into PostgreSQL)")
        _check_sqlite_backup(source)
        _sqlite_restore(source, _sqlite_file(database_url, must_exist=False))
        kind = "sqlite"
    else:
        if not head.startswith(PG_DUMP_MAGIC):
            raise BackupError(f"{source} is not a pg_dump custom-format backup (made by `slaflow backup`)")
        url, env = _libpq(database_url)
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--exit-on-error", f"--dbname={url}", str(source)], env)
        kind = "pg_dump"
    migrate(database_url)
    return BackupDone(source, source.stat().st_size, kind)


def _is_sqlite(database_url: str) -> bool:
    return normalise_url(database_url).startswith("sqlite")


def _sqlite_file(database_url: str, *, must_exist: bool) -> Path:
    database = make_url(normalise_url(database_url)).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore into")
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"the database file {path} does not exist")
    return path


def _sqlite_backup(source: Path, destination: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(destination)
    try:
        src.backup(dst)  # all pages in one step: a consistent snapshot
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup failed: {exc}") from None
    finally:
        dst.close()
        src.close()


def _check_sqlite_backup(source: Path) -> None:
    try:
        connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            has_schema = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} cannot be read as a SQLite database: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"{source} is damaged (SQLite quick_check: {verdict})")
    if not has_schema:
        raise BackupError(f"{source} is not a slaflow database (no alembic_version table)")


def _sqlite_restore(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)  # takes the target's write lock; other connections see the result after
    except sqlite3.Error as exc:
        raise BackupError(f"restoring into {target} failed: {exc}") from None
    finally:
        dst.close()
        src.close()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH (install the PostgreSQL client tools of the server's version)")
    return found


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq understands it (no ``+psycopg``), the password in PGPASSWORD rather than
    on the command line (where ``ps`` shows it)."""
    url = make_url(normalise_url(database_url))
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False, env=env)
    except OSError as exc:
        raise BackupError(f"{Path(command[0]).name} could not run: {exc}") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {lines[-1] if lines else f'exit {done.returncode}'}")

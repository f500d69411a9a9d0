"""Is the database there, reachable and initialised? Checked before any command reads it.

A read must never create an empty SQLite file, and a missing table must never surface as a
200-line traceback: each case is one sentence saying what to run (``slaflow init``).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from core.errors import DatabaseNotReady
from storage.db import MIGRATIONS, normalise_url

_REVISION = re.compile(r'^(down_)?revision\s*(?::[^=]*)?=\s*["\']?([\w-]+|None)["\']?', re.MULTILINE)


def shown(url: str) -> str:
    """The URL without its password, as it may be printed."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except Exception:
        return "<the database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for in-memory SQLite)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def head_revision() -> str | None:
    """The newest migration, read from the migration files (importing Alembic is slow)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for down, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def init_hint(url: str) -> str:
    return f"run `slaflow init --database-url {shown(url)}`"


def check_database(url: str, engine: Engine) -> None:
    """Raise DatabaseNotReady unless the database exists, answers and has the current schema."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise DatabaseNotReady(f"the database {path} does not exist: {init_hint(url)} to create it")
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                raise DatabaseNotReady(f"the database {shown(url)} is not initialised: {init_hint(url)}")
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        raise DatabaseNotReady(_unreachable(url, exc)) from None
    head = head_revision()
    if version is None:
        raise DatabaseNotReady(f"the database {shown(url)} is not initialised: {init_hint(url)}")
    if head is not None and version != head:
        raise DatabaseNotReady(
            f"the database {shown(url)} has schema version {version}, this slaflow needs {head}: {init_hint(url)}"
        )


def _unreachable(url: str, exc: DBAPIError) -> str:
    reason = _reason(exc)
    if "does not exist" in reason and "database" in reason:
        name = make_url(normalise_url(url)).database
        return (
            f"the database {shown(url)} does not exist: create it (e.g. `createdb {name}`), "
            f"then {init_hint(url)}"
        )
    return f"cannot reach the database {shown(url)}: {reason}"


def _reason(exc: DBAPIError) -> str:
    lines = [line.strip() for line in str(exc.orig).splitlines() if line.strip()]
    for line in lines:  # libpq puts the useful part after "FATAL:" / "connection failed:"
        if "FATAL:" in line:
            return line.split("FATAL:", 1)[1].strip()
    return lines[-1] if lines else type(exc.orig).__name__


def user_error(exc: BaseException) -> DatabaseNotReady | None:
    """A database error raised in the middle of a command, told as a user-facing error."""
    if isinstance(exc, OperationalError | ProgrammingError):
        reason = _reason(exc)
        if "no such table" in reason or "does not exist" in reason:
            return DatabaseNotReady(f"the database is not initialised ({reason}): run `slaflow init`")
        if isinstance(exc, OperationalError):
            return DatabaseNotReady(f"database error: {reason}")
    return None

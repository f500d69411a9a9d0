"""The Prefect server that ``slaflow up`` starts: its database and its logging.

A Prefect server on SQLite is for a light load: with several workers it logs ``database is
locked`` while marking runs late. So when slaflow's own database is PostgreSQL, the server gets
a PostgreSQL database of its own on the same server (``<name>_prefect``, created if missing).
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from flows._support import MALLOC_ARENAS

QUIET_SERVER = {
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",  # no access log, no per-loop INFO lines
    "PREFECT_LOGGING_LEVEL": "INFO",
}
"""Readable logs: the server says only what goes wrong; workers and flow runs say what they do."""

LEAN_SERVER = {
    "MALLOC_ARENA_MAX": str(MALLOC_ARENAS),
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "30",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "60",
    "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "30",
    "PREFECT_SERVER_SERVICES_CLEANUP_RECONCILER_LOOP_SECONDS": "30",
}
"""The server's threads share two malloc arenas (see `flows._support.MALLOC_ARENAS`), and its
loop services that wake every 5-20 s wake every 30-60 s: idle, the server was most of the
set-up's CPU (`bench/live.py` trace by role). What that moves: a run is marked Late up to 30 s
later (the workers cancel stale Late runs every 30 s anyway), a new deployment's schedule is
picked up within 30 s; slaflow uses no pauses, and a stuck Cancelling run is cleaned up within a
minute."""
LEAN_POSTGRES = {
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE": "2",
    "PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW": "3",
}
"""On PostgreSQL the server keeps 2 connections open instead of 5: each idle backend holds 10-20
MB; a busy moment opens up to 3 more for as long as it lasts (the pool's overflow; Prefect's 10
held 250 MB of backends at the end of a 10,000-timer burst: `bench/live.py`)."""


def prefect_database_for(slaflow_url: str) -> str | None:
    """The Prefect server's database URL (``postgresql+asyncpg``) beside slaflow's PostgreSQL
    database, created if missing; None when slaflow is on SQLite (the server then keeps its
    default SQLite file under PREFECT_HOME)."""
    url = make_url(slaflow_url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return None
    name = f"{url.database}_prefect"
    _create_database(url, name)
    prefect_url: URL = url.set(drivername="postgresql+asyncpg", database=name)
    return prefect_url.render_as_string(hide_password=False)


def _create_database(url: URL, name: str) -> None:
    import psycopg
    from psycopg import sql

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

"""PostgreSQL connections are pinged at checkout only after resting (`storage.faults.ping_when_idle`):
a connection killed while it rested is replaced without an error; one killed right after its last
use fails its next statement once, as a disconnect, and the pool then reconnects. The time a
connection rested is set on its pool record (no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from storage.db import make_engine, normalise_url
from storage.faults import _LAST_CHECKIN, PING_IDLE_AFTER
from tests.conftest import PG_URL


@pytest.fixture
def admin() -> Iterator[Engine]:
    assert PG_URL
    engine = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _rested(engine: Engine, seconds: float) -> None:
    """Every connection the engine takes back is recorded as having rested ``seconds`` at its
    next checkout (listens after the engine's own checkin stamp)."""

    @event.listens_for(engine, "checkin")
    def _age(dbapi_connection: Any, record: Any) -> None:
        if _LAST_CHECKIN in record.info:
            record.info[_LAST_CHECKIN] -= seconds


def _backend(engine: Engine) -> int:
    with engine.begin() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()


def test_a_connection_killed_while_it_rested_is_replaced_at_checkout(pg_database: str, admin: Engine) -> None:
    engine = make_engine(pg_database)
    _rested(engine, 10 * PING_IDLE_AFTER)
    try:
        first = _backend(engine)
        _kill(admin, first)
        second = _backend(engine)  # no error: the ping found it dead, the pool connected again
        assert second != first
        assert isinstance(engine.pool, QueuePool) and engine.pool.checkedin() == 1  # the dead one is gone
    finally:
        engine.dispose()


def test_a_connection_killed_right_after_its_use_fails_once_then_the_pool_reconnects(
    pg_database: str, admin: Engine
) -> None:
    engine = make_engine(pg_database)
    _rested(engine, -10 * PING_IDLE_AFTER)  # as if used a moment ago, however slow this machine is
    try:
        first = _backend(engine)
        _kill(admin, first)
        with pytest.raises(DBAPIError) as failed:  # not pinged: the statement meets the dead connection
            _backend(engine)
        assert failed.value.connection_invalidated
        assert _backend(engine) != first
    finally:
        engine.dispose()

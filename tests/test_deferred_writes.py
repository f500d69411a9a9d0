"""storage.deferred: writes queued with `Prepared.later` are sent before anything that could see
them (a prepared read, an ORM or Core statement, a savepoint, the commit), dropped with a rollback,
fail the transaction when they fail, and run their row-count checks; on SQLite they run at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.deferred import QUEUED
from storage.models import CaseTypeVersion, table
from storage.prepared import Prepared, prepared_insert

_versions = table(CaseTypeVersion)
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INSERT_VERSION = prepared_insert(_versions, ("fingerprint", "name", "definition", "created_at"))
RENAME = Prepared(update(_versions).where(_versions.c.name == bindparam("b_from")).values(name=bindparam("b_to")))
COUNT_NAMED = Prepared(select(func.count()).select_from(_versions).where(_versions.c.name == bindparam("b_name")))


def _version(fingerprint: str, name: str | None = "return") -> dict[str, object]:
    return {"fingerprint": fingerprint, "name": name, "definition": {}, "created_at": AT}


def _queued(session: Session) -> int:
    held = session.connection().info.get(QUEUED)
    return 0 if held is None else len(held[1])


def _stored(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(CaseTypeVersion.fingerprint)))


@pytest.fixture
def pipelined(sessions: sessionmaker[Session]) -> Iterator[bool]:
    """Whether writes wait (PostgreSQL) or run at once (SQLite)."""
    with sessions() as session:
        yield session.get_bind().dialect.name == "postgresql"


def test_a_read_sees_the_writes_queued_before_it(sessions: sessionmaker[Session], pipelined: bool) -> None:
    with sessions.begin() as session:
        INSERT_VERSION.later_many(session, [_version("a"), _version("b"), _version("c", "other")])
        RENAME.later(session, {"b_from": "return", "b_to": "renamed"})
        assert _queued(session) == (2 if pipelined else 0)
        assert COUNT_NAMED.scalar(session, {"b_name": "renamed"}) == 2  # a prepared read: sent with the queue
        assert _queued(session) == 0
        INSERT_VERSION.later(session, _version("d"))
        assert session.scalar(select(func.count()).select_from(CaseTypeVersion)) == 4  # an ORM read
        INSERT_VERSION.later(session, _version("e"))
        assert session.execute(text("select count(*) from case_type_versions")).scalar() == 5  # raw SQL
    assert _stored(sessions) == ["a", "b", "c", "d", "e"]


def test_the_commit_sends_what_waits_and_a_rollback_drops_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        INSERT_VERSION.later(session, _version("kept"))  # nothing reads it: the commit sends it
    with pytest.raises(RuntimeError), sessions.begin() as session:
        INSERT_VERSION.later(session, _version("dropped"))
        raise RuntimeError("the caller fails")
    with sessions.begin() as session:  # the same pooled connection: nothing left over is sent
        INSERT_VERSION.later(session, _version("next"))
    assert _stored(sessions) == ["kept", "next"]


def test_a_savepoint_keeps_what_was_queued_before_it_and_undoes_what_was_queued_in_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        INSERT_VERSION.later(session, _version("before"))
        savepoint = session.begin_nested()
        INSERT_VERSION.later(session, _version("inside"))
        savepoint.rollback()
        with session.begin_nested():
            INSERT_VERSION.later(session, _version("released"))
    assert _stored(sessions) == ["before", "released"]


def test_a_queued_write_that_fails_fails_the_transaction_and_stores_nothing(
    sessions: sessionmaker[Session], pipelined: bool
) -> None:
    with sessions.begin() as session:
        INSERT_VERSION.later(session, _version("stored"))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        INSERT_VERSION.later(session, _version("new"))
        INSERT_VERSION.later(session, _version("stored"))  # the primary key exists
        INSERT_VERSION.later_many(session, [_version("more")])
    with pytest.raises(IntegrityError), sessions.begin() as session:  # failing with the read it waited for
        INSERT_VERSION.later_many(session, [_version("x"), _version("nameless", None)])  # NOT NULL
        COUNT_NAMED.scalar(session, {"b_name": "return"})
    assert _stored(sessions) == ["stored"]


def test_a_row_count_check_runs_when_the_write_is_sent(sessions: sessionmaker[Session], pipelined: bool) -> None:
    counts: list[int] = []

    def check(count: int) -> None:
        counts.append(count)
        if count != 2:
            raise LookupError(f"expected 2 rows, changed {count}")

    with sessions.begin() as session:
        INSERT_VERSION.later_many(session, [_version("a"), _version("b")])
        RENAME.later(session, {"b_from": "return", "b_to": "renamed"}, check=check)
        assert counts == ([] if pipelined else [2])
    assert counts == [2]
    with pytest.raises(LookupError, match="changed 0"), sessions.begin() as session:
        INSERT_VERSION.later(session, _version("undone"))
        RENAME.later(session, {"b_from": "none such", "b_to": "x"}, check=check)  # the commit's flush raises
    assert _stored(sessions) == ["a", "b"]  # the transaction rolled back


def test_each_check_gets_its_own_row_count_among_writes_nobody_reads(
    sessions: sessionmaker[Session], pipelined: bool
) -> None:
    """(The writes nobody reads share one cursor in the pipeline: a checked one must not.)"""
    counts: list[tuple[str, int]] = []
    with sessions.begin() as session:
        INSERT_VERSION.later_many(session, [_version("a"), _version("b"), _version("c", "other")])
        RENAME.later(session, {"b_from": "return", "b_to": "first"}, check=lambda n: counts.append(("first", n)))
        INSERT_VERSION.later_many(session, [_version("d"), _version("e"), _version("f")])
        INSERT_VERSION.later(session, _version("g", "other"))
        RENAME.later(session, {"b_from": "other", "b_to": "second"}, check=lambda n: counts.append(("second", n)))
        INSERT_VERSION.later(session, _version("h"))
        assert COUNT_NAMED.scalar(session, {"b_name": "second"}) == 2
    assert counts == [("first", 2), ("second", 2)]
    assert _stored(sessions) == ["a", "b", "c", "d", "e", "f", "g", "h"]


def test_writes_wait_only_on_postgresql_and_only_inside_a_transaction(
    sessions: sessionmaker[Session], pipelined: bool
) -> None:
    with sessions.begin() as session:
        INSERT_VERSION.later(session, _version("a"))
        driver = session.connection().connection.dbapi_connection
        assert isinstance(driver, psycopg.Connection) == pipelined
        assert _queued(session) == (1 if pipelined else 0)

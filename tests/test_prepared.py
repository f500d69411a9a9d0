"""storage.prepared: the hot statements' thin path gives what ``Connection.execute`` gives (types,
literals, rowcounts, RETURNING), shares the session's transaction, and fails the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.vocabulary import TimerKind, TimerStatus
from storage.models import Case, CaseTypeVersion, Timer, table
from storage.models.base import UtcDateTime
from storage.prepared import Prepared, one_of, prepared_insert, sqlite_utc_datetime, sqlite_utc_text

_cases, _timers = table(Case), table(Timer)
AT = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)  # the night Europe/Moscow does not move, Paris does

CASE = ("case_type", "definition_fingerprint", "external_source", "external_key", "state", "data", "requester",
        "performer", "owner_department", "owner_role", "owner_person", "due_at", "version", "opened_at", "updated_at",
        "closed_at")
INSERT_CASE = prepared_insert(_cases, CASE, returning="id")
LOAD = Prepared(select(_cases).where(_cases.c.id == bindparam("b_id")))
TIMER = ("case_id", "clock_id", "kind", "level", "trigger", "state", "due_at", "status", "fired_at", "lease_until",
         "lease_owner", "attempts", "last_error")
INSERT_TIMERS = prepared_insert(_timers, TIMER)
PENDING_WARNINGS = Prepared(  # literals of the statement's own: kind, status, LIMIT
    select(_timers.c.id, _timers.c.due_at)
    .where(_timers.c.case_id == bindparam("b_case"), _timers.c.kind == TimerKind.WARNING,
           _timers.c.status == TimerStatus.PENDING)
    .order_by(_timers.c.due_at)
    .limit(2)
)
CANCEL = Prepared(update(_timers).where(_timers.c.case_id == bindparam("b_case")).values(status=TimerStatus.CANCELLED))
LISTED = Prepared({dialect: select(_timers.c.id).where(listed).order_by(_timers.c.id)
                   for dialect, listed in one_of(_timers.c.id, "b_ids").items()})
VERSION = ("fingerprint", "name", "definition", "created_at")
INSERT_VERSION_ONCE = prepared_insert(table(CaseTypeVersion), VERSION, unless_exists=("fingerprint",))


def _case_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "case_type": "return", "definition_fingerprint": "f1", "external_source": None, "external_key": None,
        "state": "inspection", "data": {"order": "A-1", "lines": [1, 2.5, None], "ru": "возврат", "big": 2**70},
        "requester": "sales", "performer": "warehouse", "owner_department": "warehouse", "owner_role": None,
        "owner_person": None, "due_at": AT + timedelta(hours=8), "version": 1, "opened_at": AT, "updated_at": AT,
        "closed_at": None,
    }
    return {**row, **changes}


def _timer_row(case_id: int, kind: TimerKind, due: datetime) -> dict[str, object]:
    return {"case_id": case_id, "clock_id": None, "kind": kind, "level": 0, "trigger": None, "state": "inspection",
            "due_at": due, "status": TimerStatus.PENDING, "fired_at": None, "lease_until": None, "lease_owner": None,
            "attempts": 0, "last_error": None}


def _with_version(session: Session) -> None:
    INSERT_VERSION_ONCE.execute(session, {"fingerprint": "f1", "name": "return", "definition": {}, "created_at": AT})


def test_a_row_reads_back_as_the_orm_reads_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _with_version(session)
        case_id = INSERT_CASE.scalar(session, _case_row())
    with sessions.begin() as session:
        fast = LOAD.first(session, {"b_id": case_id})
        orm = session.get(Case, case_id)
        assert orm is not None
        for column in CASE:
            assert getattr(fast, column) == getattr(orm, column), column
        assert fast.opened_at.tzinfo is not None and fast.opened_at == AT  # aware UTC, microseconds kept
        assert fast.data["big"] == 2**70 and isinstance(fast.data["big"], int)
        assert LOAD.first(session, {"b_id": case_id + 1000}) is None


def test_literals_limits_rowcounts_and_many_rows(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _with_version(session)
        case_id = INSERT_CASE.scalar(session, _case_row())
        INSERT_TIMERS.execute_many(session, [
            _timer_row(case_id, TimerKind.WARNING, AT + timedelta(minutes=3)),
            _timer_row(case_id, TimerKind.BREACH, AT + timedelta(minutes=1)),
            _timer_row(case_id, TimerKind.WARNING, AT + timedelta(minutes=2)),
            _timer_row(case_id, TimerKind.WARNING, AT + timedelta(minutes=9)),
        ])
        warnings = PENDING_WARNINGS.all(session, {"b_case": case_id})
        assert [row.due_at for row in warnings] == [AT + timedelta(minutes=2), AT + timedelta(minutes=3)]
        assert CANCEL.execute(session, {"b_case": case_id}) == 4
        assert PENDING_WARNINGS.all(session, {"b_case": case_id}) == []
        assert INSERT_VERSION_ONCE.execute(session, {"fingerprint": "f1", "name": "x", "definition": {},
                                                     "created_at": AT}) == 0  # already there: nothing, no error


def test_it_shares_the_sessions_transaction(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), sessions.begin() as session:
        _with_version(session)
        INSERT_CASE.scalar(session, _case_row())
        raise RuntimeError("the caller fails after the statement")
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(_cases)) == 0
        assert session.scalar(select(func.count()).select_from(table(CaseTypeVersion))) == 0


def test_a_refused_row_fails_as_sqlalchemy_says_and_keeps_what_was_stored(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _with_version(session)
        kept = INSERT_CASE.scalar(session, _case_row())
    with pytest.raises(IntegrityError), sessions.begin() as session:  # a vocabulary CHECK (migration 0009)
        INSERT_TIMERS.execute_many(session, [_timer_row(kept, TimerKind.WARNING, AT),
                                             {**_timer_row(kept, TimerKind.WARNING, AT), "status": "bogus"}])
    with pytest.raises(IntegrityError), sessions.begin() as session:  # no such case type version
        INSERT_CASE.scalar(session, _case_row(definition_fingerprint="missing"))
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(_timers)) == 0
        assert [row.id for row in session.execute(select(_cases.c.id))] == [kept]


def test_what_the_thin_path_cannot_do_is_refused_when_compiled(sessions: sessionmaker[Session]) -> None:
    expanding = Prepared(select(_cases.c.id).where(_cases.c.id.in_(bindparam("ids", expanding=True))))
    with sessions.begin() as session, pytest.raises(TypeError, match="IN lists"):
        expanding.all(session, {"ids": [1, 2]})


def test_an_insert_unless_exists_returns_the_new_id_and_nothing_for_a_known_row(
    sessions: sessionmaker[Session],
) -> None:
    once = prepared_insert(table(CaseTypeVersion), VERSION, returning="fingerprint", unless_exists=("fingerprint",))
    row = {"fingerprint": "f2", "name": "return", "definition": {"a": 1}, "created_at": AT}
    with sessions.begin() as session:
        assert once.scalar(session, row) == "f2"
        assert once.scalar(session, {**row, "name": "other"}) is None
    with sessions.begin() as session:
        stored = session.get(CaseTypeVersion, "f2")
        assert stored is not None and stored.name == "return"
@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(
    # hypothesis takes naive bounds and attaches one of ``timezones``
    min_value=datetime(1000, 1, 2),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Moscow"), ZoneInfo("America/St_Johns")]),
))
def test_the_one_step_sqlite_datetime_text_is_what_sqlalchemy_writes(moment: datetime) -> None:
    dialect = sqlite.dialect()
    two_steps = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert two_steps is not None
    assert sqlite_utc_text(moment) == two_steps(moment)
    with pytest.raises(ValueError, match="naive"):
        sqlite_utc_text(moment.replace(tzinfo=None))


def test_one_of_selects_exactly_the_listed_ids(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _with_version(session)
        case_id = INSERT_CASE.scalar(session, _case_row())
        INSERT_TIMERS.execute_many(session, [_timer_row(case_id, TimerKind.WARNING, AT) for _ in range(6)])
        ids = list(session.scalars(select(Timer.id).order_by(Timer.id)))
        for listed in ([], [ids[0]], ids[1:4], [ids[5], ids[2], ids[5]], [*ids, 10**9]):
            assert [row.id for row in LISTED.all(session, {"b_ids": listed})] == sorted(set(listed) & set(ids))


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(
    min_value=datetime(1000, 1, 2),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Moscow"), ZoneInfo("America/St_Johns")]),
), stored_aware=st.booleans())
def test_the_one_step_sqlite_datetime_read_is_what_sqlalchemy_reads(moment: datetime, stored_aware: bool) -> None:
    dialect = sqlite.dialect()
    two_steps = UtcDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert two_steps is not None
    # what the thin path writes, and a text with an offset (a row written by hand)
    text = moment.isoformat(" ") if stored_aware else sqlite_utc_text(moment)
    assert text is not None
    read = sqlite_utc_datetime(text)
    assert read == two_steps(text) == moment.astimezone(UTC) and read is not None and read.tzinfo is UTC
    assert sqlite_utc_datetime(None) is None is two_steps(None)

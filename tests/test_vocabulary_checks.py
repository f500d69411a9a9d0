"""Columns holding a closed vocabulary (core.vocabulary) refuse any other value, in the database
itself; and the migration that added those constraints keeps every row on SQLite, where it copies
tables that other tables reference."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from core.vocabulary import TimerKind, TimerStatus
from storage.db import alembic_config, make_engine
from storage.models import Case, CaseTypeVersion, Timer, table

AT = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)


def _a_case(conn: Any) -> int:
    conn.execute(insert(table(CaseTypeVersion)).values(fingerprint="f" * 32, name="t", definition={}, created_at=AT))
    return int(conn.execute(
        insert(table(Case)).values(case_type="t", definition_fingerprint="f" * 32, state="new", data={},
                                   requester="sales", performer="stock", version=1, opened_at=AT, updated_at=AT)
        .returning(table(Case).c.id)
    ).scalar_one())


def _timer(case_id: int, **values: Any) -> dict[str, Any]:
    return {"case_id": case_id, "kind": TimerKind.WARNING, "level": 0, "state": "new", "due_at": AT,
            "status": TimerStatus.PENDING, "attempts": 0, **values}


def test_a_timer_of_an_unknown_kind_or_status_is_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        case_id = _a_case(conn)
        conn.execute(insert(table(Timer)).values(**_timer(case_id)))  # a known kind is stored
    for bad in ({"kind": "bogus"}, {"status": "done"}):
        with pytest.raises(IntegrityError, match="ck_timers_"), engine.begin() as conn:
            conn.execute(insert(table(Timer)).values(**_timer(case_id, **bad)))
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(table(Timer))) == 1


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        ("UPDATE outbox_messages SET status = 'lost'", "ck_outbox_messages_status"),
        ("UPDATE inbox_events SET status = 'lost'", "ck_inbox_events_status"),
        ("UPDATE leads SET status = 'won'", "ck_leads_status"),
        ("INSERT INTO breach_review_events (breach_id, at, actor, action) VALUES (1, '2026-01-01', 'a', 'x')",
         "ck_breach_review_events_action"),
    ],
)
def test_other_vocabularies_are_checked_on_sqlite(sqlite_url: str, statement: str, constraint: str) -> None:
    """SQLite checks CHECK constraints before foreign keys, so an empty table is enough for an
    INSERT; an UPDATE needs a row, so one is stored raw first where needed."""
    engine = make_engine(sqlite_url)
    seed = {
        "outbox_messages": "INSERT INTO outbox_messages (dedupe_key, kind, level, recipient, channel, locale, context,"
                           " urgent, status, created_at, next_attempt_at, attempts)"
                           " VALUES ('k', 'test', 0, 'p', 'email', 'ru', '{}', 0, 'pending', :at, :at, 0)",
        "inbox_events": "INSERT INTO inbox_events (source, idempotency_key, received_at, headers, body, status,"
                        " attempts)"
                        " VALUES ('generic', 'k', :at, '{}', '', 'received', 0)",
        "leads": "INSERT INTO leads (source, external_key, status, received_at, first_response_due_at, updated_at,"
                 " version) VALUES ('api', 'k', 'new', :at, :at, :at, 1)",
    }
    try:
        with engine.begin() as conn:
            for table_name, sql in seed.items():
                if table_name in statement:
                    conn.execute(text(sql), {"at": "2026-11-16 06:00:00"})
        with pytest.raises(IntegrityError, match=constraint), engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_the_migration_keeps_the_rows_that_reference_a_copied_table(tmp_path: Path) -> None:
    """0009 copies outbox_messages and leads on SQLite (batch mode): their delivery attempts and
    lead events (ON DELETE CASCADE) must survive, and the downgrade must work too."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0008")
    engine = make_engine(url)
    at = "2026-11-16 06:00:00"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO outbox_messages (id, dedupe_key, kind, level, recipient, channel, locale,"
                          " context, urgent, status, created_at, next_attempt_at, attempts)"
                          " VALUES (1, 'k', 'test', 0, 'p', 'email', 'ru', '{}', 0, 'sent', :at, :at, 1)"), {"at": at})
        conn.execute(text("INSERT INTO delivery_attempts (message_id, at, ok, permanent, duration_ms)"
                          " VALUES (1, :at, 1, 0, 1.0)"), {"at": at})
        conn.execute(text("INSERT INTO leads (id, source, external_key, status, received_at, first_response_due_at,"
                          " updated_at, version) VALUES (1, 'api', 'k', 'new', :at, :at, :at, 1)"), {"at": at})
        conn.execute(text("INSERT INTO lead_events (lead_id, at, to_status, actor, source, payload)"
                          " VALUES (1, :at, 'new', 'a', 'api', '{}')"), {"at": at})
    engine.dispose()

    command.upgrade(config, "head")
    command.downgrade(config, "0008")
    command.upgrade(config, "head")

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM delivery_attempts")) == 1
            assert conn.scalar(text("SELECT count(*) FROM lead_events")) == 1
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            assert conn.scalar(text("PRAGMA foreign_keys")) == 1  # the application's connections keep them on
    finally:
        engine.dispose()

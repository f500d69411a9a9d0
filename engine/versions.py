"""The case-type definitions and business calendars a case ran under, by fingerprint.

A case keeps the definition it was opened under and each clock the calendar it started on, so a
changed configuration never silently rewrites running cases and `slaflow sla rebuild` can repeat
the arithmetic exactly. Both registries are append-only tables keyed by content hash.

Registering is an ``INSERT ... ON CONFLICT DO NOTHING`` inside the caller's transaction, once per
transaction and fingerprint; a clock's calendar is registered only when its insert finds the
version missing (`sla.clock_store.start`, the check rides on that insert). Nothing outside the
transaction remembers what is stored, so a
database that was emptied or recreated under a running process (a test resetting its database)
gets its versions again; only loaded definitions are kept, by fingerprint (content-addressed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, SessionTransaction

from core.errors import SlaflowError
from org.chart import Company
from sla.calendar import BusinessCalendar
from sla.ledger import stored_calendar
from state_machines.schema import CaseTypeDef
from storage.models import CalendarVersion, CaseTypeVersion, table
from storage.prepared import Prepared, prepared_insert

_definitions = table(CaseTypeVersion)
_calendars = table(CalendarVersion)
_INSERT = {
    _definitions.name: prepared_insert(_definitions, ("fingerprint", "name", "definition", "created_at"),
                                       unless_exists=("fingerprint",)),
    _calendars.name: prepared_insert(_calendars, ("fingerprint", "name", "config", "created_at"),
                                     unless_exists=("fingerprint",)),
}
_STORED = {
    table.name: Prepared(select(table.c.fingerprint).where(table.c.fingerprint == bindparam("b_fp")))
    for table in (_definitions, _calendars)
}
"""Looked up before inserting: the row to insert is a whole definition (kilobytes of JSON), and it
is almost always stored already."""
_LOAD_DEFINITION = select(_definitions.c.definition).where(_definitions.c.fingerprint == bindparam("b_fp"))

_REGISTERED = "engine.versions.registered"
_lock = threading.Lock()
_loaded_definitions: dict[str, CaseTypeDef] = {}


def register_definition(session: Session, definition: CaseTypeDef, now: datetime) -> str:
    fingerprint = definition.fingerprint
    _register(
        session,
        _definitions.name,
        fingerprint,
        lambda: {
            "fingerprint": fingerprint,
            "name": definition.name,
            "definition": definition.model_dump(mode="json"),
            "created_at": now,
        },
    )
    return fingerprint


def register_calendar(session: Session, calendar: BusinessCalendar, now: datetime) -> str:
    _register(
        session,
        _calendars.name,
        calendar.fingerprint,
        lambda: {
            "fingerprint": calendar.fingerprint,
            "name": calendar.name,
            "config": calendar.config.model_dump(mode="json"),
            "created_at": now,
        },
    )
    return calendar.fingerprint


def definition_for(session: Session, company: Company, case_type: str, fingerprint: str) -> CaseTypeDef:
    """The definition a case was opened under (the company's current one if unchanged)."""
    current = company.case_types.get(case_type)
    if current is not None and current.fingerprint == fingerprint:
        return current
    found = _loaded_definitions.get(fingerprint)
    if found is None:
        body = session.connection().execute(_LOAD_DEFINITION, {"b_fp": fingerprint}).scalar()
        if body is None:
            raise SlaflowError(f"case type {case_type!r} version {fingerprint} is not stored")
        found = CaseTypeDef.model_validate(body)
        with _lock:
            _loaded_definitions[fingerprint] = found
    return found


def calendar_for(session: Session, company: Company, name: str, fingerprint: str) -> BusinessCalendar:
    """The calendar version a clock started on (the company's current one if unchanged)."""
    current = company.calendars.get(name)
    if current is not None and current.fingerprint == fingerprint:
        return current
    try:
        return stored_calendar(session, name, fingerprint)
    except LookupError as exc:
        raise SlaflowError(str(exc)) from None


def _register(session: Session, table: str, fingerprint: str, row: Callable[[], dict[str, Any]]) -> None:
    done: set[tuple[str, str]] = session.info.setdefault(_REGISTERED, set())
    if (table, fingerprint) in done:
        return
    if _STORED[table].first(session, {"b_fp": fingerprint}) is None:
        _INSERT[table].execute(session, row())
    done.add((table, fingerprint))


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: a new one registers again
        session.info.pop(_REGISTERED, None)

"""The case-type definitions and business calendars a case ran under, by fingerprint.

A case keeps the definition it was opened under and each clock the calendar it started on, so a
changed configuration never silently rewrites running cases and `slaflow sla rebuild` can repeat
the arithmetic exactly. Both registries are append-only tables keyed by content hash.

Registering is an ``INSERT ... ON CONFLICT DO NOTHING`` inside the caller's transaction; a
process-wide set remembers what is known to be stored so the hot path skips the statement. It is
only updated after a commit (a rolled-back registration is forgotten).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from core.errors import SlaflowError
from org.chart import Company
from sla.calendar import BusinessCalendar
from sla.ledger import stored_calendar
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef
from storage.db import insert_ignoring_duplicates
from storage.models import CalendarVersion, CaseTypeVersion, table

_definitions = table(CaseTypeVersion)
_calendars = table(CalendarVersion)
_INSERT = {table.name: insert_ignoring_duplicates(table, "fingerprint") for table in (_definitions, _calendars)}
_LOAD_DEFINITION = select(_definitions.c.definition).where(_definitions.c.fingerprint == bindparam("b_fp"))

_PENDING = "engine.versions.pending"
_lock = threading.Lock()
_stored: set[tuple[str, str, str]] = set()
"""(database URL, table, fingerprint) known to be committed."""
_loaded_definitions: dict[str, CaseTypeDef] = {}


def register_definition(session: Session, definition: CaseTypeDef, now: datetime) -> str:
    fingerprint = machine_for(definition).fingerprint
    _register(
        session,
        _definitions.name,
        fingerprint,
        {
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
        {
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
    if current is not None and machine_for(current).fingerprint == fingerprint:
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


def _register(session: Session, table: str, fingerprint: str, row: dict[str, Any]) -> None:
    bind = session.get_bind()
    key = (str(bind.engine.url), table, fingerprint)
    if key in _stored:
        return
    pending: set[tuple[str, str, str]] = session.info.setdefault(_PENDING, set())
    if key in pending:
        return
    session.connection().execute(_INSERT[table][bind.dialect.name], row)
    pending.add(key)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        with _lock:
            _stored.update(pending)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)

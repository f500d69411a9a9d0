"""The case engine: open a case, fire a trigger, assign an owner, replay the event log.

Every function works inside the caller's transaction (``session``) and validates everything
before writing anything, so a rejected request changes nothing. Decisions come from the case
type's `transitions` machine; the state change, the event row, the clocks and the timers are
then written together and become visible only when the caller commits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from slaflow import clocks
from slaflow.clock import ensure_utc
from slaflow.company import Actor, Company
from slaflow.errors import (
    CaseNotFound,
    ConflictError,
    DuplicateCase,
    IllegalTransition,
    InvalidData,
    MissingFields,
    NotPermitted,
    SlaflowError,
)
from state_machines.machine import definition_fingerprint, machine_for
from state_machines.schema import CaseTypeDef
from storage.models import Case, CaseEvent, CaseParticipant, CaseTypeVersion

OPEN, ASSIGN = "open", "assign"
"""Event triggers that are not state-machine triggers."""


def open_case(
    session: Session,
    company: Company,
    *,
    case_type: str,
    data: Mapping[str, Any],
    actor: Actor,
    now: datetime,
    source: str = "api",
    external_source: str | None = None,
    external_key: str | None = None,
) -> Case:
    now = ensure_utc(now)
    definition = company.case_type(case_type)
    data = _plain_json(data, "case data")
    allowed = definition.open_allowed or [definition.requester]
    if not actor.may(allowed):
        raise NotPermitted(actor.name, f"open a {case_type!r} case", allowed)
    missing = [name for name in definition.open_requires if _blank(data.get(name))]
    if missing:
        raise MissingFields(f"opening a {case_type!r} case", missing)
    if external_key is not None:
        source_name = external_source or source
        existing = session.scalar(
            select(Case.id).where(Case.external_source == source_name, Case.external_key == external_key)
        )
        if existing is not None:
            raise DuplicateCase(source_name, external_key, existing)
    fingerprint = _remember_definition(session, definition, now)
    case = Case(
        case_type=case_type, definition_fingerprint=fingerprint, state=definition.initial, data=data,
        requester=definition.requester, performer=definition.performer, version=1, opened_at=now,
        updated_at=now, external_source=(external_source or source) if external_key else None,
        external_key=external_key,
    )
    session.add(case)
    try:
        session.flush()
    except IntegrityError:
        raise DuplicateCase(external_source or source, external_key or "", -1) from None
    session.add(
        CaseEvent(case_id=case.id, seq=1, at=now, actor=actor.name, trigger=OPEN, from_state=None,
                  to_state=definition.initial, payload=data, source=source)
    )
    for department, role in ((definition.requester, "requester"), (definition.performer, "performer")):
        _join(session, case, department, role, now)
    clocks.start_case_clock(session, company, case, definition, now)
    _enter(session, company, case, definition, 1, now)
    session.flush()
    return case


def fire(
    session: Session,
    company: Company,
    *,
    case_id: int,
    trigger: str,
    actor: Actor,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    source: str = "api",
) -> Case:
    """Apply ``trigger`` to a case. Raises a specific `SlaflowError` and changes nothing if the
    trigger is not allowed from the current state, by this actor, or without required fields."""
    now = ensure_utc(now)
    payload = _plain_json(payload or {}, "payload")
    case = _load_for_update(session, case_id)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(case.id, expected_version, case.version)
    definition = definition_of(session, company, case)
    machine = machine_for(definition)
    dest = machine.next_state(trigger, case.state)
    rule = machine.rule(trigger, case.state)
    if dest is None or rule is None:
        raise IllegalTransition(case.id, case.state, trigger, machine.triggers(case.state))
    if not actor.may(rule.allowed):
        raise NotPermitted(actor.name, f"fire {trigger!r} on case {case.id}", rule.allowed)
    missing = [name for name in rule.requires if _blank(payload.get(name))]
    if missing:
        raise MissingFields(f"trigger {trigger!r}", missing)

    seq = case.version + 1
    clocks.leave_state(session, company, case, now)
    session.add(
        CaseEvent(case_id=case.id, seq=seq, at=now, actor=actor.name, trigger=trigger, from_state=case.state,
                  to_state=dest, payload=payload, source=source)
    )
    case.state = dest
    case.data = {**case.data, **payload}
    case.owner_person = None
    case.version = seq
    case.updated_at = now
    _enter(session, company, case, definition, seq, now)
    _flush(session, case, seq - 1)
    return case


def assign(
    session: Session,
    company: Company,
    *,
    case_id: int,
    person: str,
    actor: Actor,
    now: datetime,
    expected_version: int | None = None,
    source: str = "api",
) -> Case:
    """Name the person who holds the current step (a member of the owning department)."""
    now = ensure_utc(now)
    case = _load_for_update(session, case_id)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(case.id, expected_version, case.version)
    if case.owner_department is None:
        raise SlaflowError(f"case {case.id} is {case.state!r}: a closed case has no owner to assign")
    members = company.members(case.owner_department)
    if person not in members:
        raise InvalidData(f"{person!r} is not a member of {case.owner_department!r}; members: {', '.join(members)}")
    allowed = [case.owner_department, f"{case.owner_department}/head"]
    if not actor.may(allowed):
        raise NotPermitted(actor.name, f"assign case {case.id}", allowed)
    seq = case.version + 1
    session.add(
        CaseEvent(case_id=case.id, seq=seq, at=now, actor=actor.name, trigger=ASSIGN, from_state=case.state,
                  to_state=case.state, payload={"person": person}, source=source)
    )
    case.owner_person = person
    case.version = seq
    case.updated_at = now
    clock = clocks.current_step_clock(session, case)
    if clock is not None:
        clock.person = person
    _flush(session, case, seq - 1)
    return case


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def list_cases(
    session: Session,
    *,
    case_type: str | None = None,
    department: str | None = None,
    open_only: bool = False,
    limit: int = 100,
) -> list[Case]:
    query = select(Case).order_by(Case.id).limit(limit)
    if case_type:
        query = query.where(Case.case_type == case_type)
    if department:
        query = query.where(Case.id.in_(select(CaseParticipant.case_id).where(CaseParticipant.department == department)))
    if open_only:
        query = query.where(Case.closed_at.is_(None))
    return list(session.scalars(query))


@dataclass(frozen=True)
class CaseSnapshot:
    """What the event log determines about a case; replay must rebuild exactly this."""

    state: str
    data: dict[str, Any]
    owner_department: str | None
    owner_role: str | None
    owner_person: str | None
    version: int
    closed_at: datetime | None
    participants: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, case: Case) -> CaseSnapshot:
        return cls(
            state=case.state, data=dict(case.data), owner_department=case.owner_department,
            owner_role=case.owner_role, owner_person=case.owner_person, version=case.version,
            closed_at=case.closed_at, participants=frozenset(p.department for p in case.participants),
        )


def replay(definition: CaseTypeDef, events: Iterable[CaseEvent]) -> CaseSnapshot:
    """Fold a case's event log into its state, checking each step against the machine."""
    machine = machine_for(definition)
    state: str | None = None
    data: dict[str, Any] = {}
    person: str | None = None
    version = 0
    closed_at: datetime | None = None
    participants = {definition.requester, definition.performer}
    for event in events:
        if event.seq != version + 1:
            raise SlaflowError(f"event log has a gap: expected seq {version + 1}, found {event.seq}")
        if event.trigger == OPEN:
            state, data = event.to_state, dict(event.payload)
        elif event.trigger == ASSIGN:
            person = event.payload["person"]
        else:
            if state is None or machine.next_state(event.trigger, state) != event.to_state:
                raise SlaflowError(f"event {event.seq} ({event.trigger}: {state} -> {event.to_state}) is not legal")
            state, data, person = event.to_state, {**data, **event.payload}, None
        assert state is not None
        target = definition.states[state]
        if target.department:
            participants.add(target.department)
        if target.terminal and event.trigger != ASSIGN:
            closed_at = event.at
        version = event.seq
    if state is None:
        raise SlaflowError("an empty event log does not describe a case")
    final = definition.states[state]
    return CaseSnapshot(
        state=state, data=data, owner_department=final.department, owner_role=final.role, owner_person=person,
        version=version, closed_at=closed_at, participants=frozenset(participants),
    )


_definitions_lock = threading.Lock()
_definitions: dict[str, CaseTypeDef] = {}


def definition_of(session: Session, company: Company, case: Case) -> CaseTypeDef:
    """The definition a case was opened under (a changed config does not rewrite open cases)."""
    current = company.case_types.get(case.case_type)
    if current is not None and _fingerprint(current) == case.definition_fingerprint:
        return current
    cached = _definitions.get(case.definition_fingerprint)
    if cached is None:
        row = session.get(CaseTypeVersion, case.definition_fingerprint)
        if row is None:
            raise SlaflowError(f"case {case.id}: its definition {case.definition_fingerprint} is missing")
        cached = CaseTypeDef.model_validate(row.definition)
        with _definitions_lock:
            _definitions[case.definition_fingerprint] = cached
    return cached


def _fingerprint(definition: CaseTypeDef) -> str:
    return machine_for(definition).fingerprint


def _remember_definition(session: Session, definition: CaseTypeDef, now: datetime) -> str:
    fingerprint = _fingerprint(definition)
    if session.get(CaseTypeVersion, fingerprint) is None:
        session.add(
            CaseTypeVersion(fingerprint=fingerprint, name=definition.name,
                            definition=definition.model_dump(mode="json"), created_at=now)
        )
        session.flush()
    return fingerprint


def _enter(session: Session, company: Company, case: Case, definition: CaseTypeDef, seq: int, now: datetime) -> None:
    clocks.enter_state(session, company, case, definition, seq, now)
    if case.owner_department is not None:
        _join(session, case, case.owner_department, "owner", now)


def _join(session: Session, case: Case, department: str, role: str, now: datetime) -> None:
    if all(p.department != department for p in case.participants):
        case.participants.append(CaseParticipant(case_id=case.id, department=department, role=role, since=now))


def _load_for_update(session: Session, case_id: int) -> Case:
    # FOR UPDATE makes concurrent triggers on PostgreSQL queue on the row; SQLite already
    # serialises writers with BEGIN IMMEDIATE (see storage.db).
    case = session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def _flush(session: Session, case: Case, seen_version: int) -> None:
    try:
        session.flush()
    except (StaleDataError, IntegrityError):
        actual = session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case.id)) or -1
        raise ConflictError(case.id, seen_version, actual) from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0) or (
        isinstance(value, str) and not value.strip()
    )


def _plain_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidData(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"{what} is not plain JSON: {exc}") from None

"""The case engine: open a case, fire a trigger, assign an owner, replay the event log.

Every function works inside the caller's transaction (``session``) and validates everything
before writing anything, so a refused request changes nothing. Decisions come from the case
type's `transitions` machine; the state change, the event row, the clocks and the timers are
then written together and become visible only when the caller commits.

Writes use statements built once at import (see `engine.clocks` for why); reads for people
(`engine.views`) use the ORM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.errors import (
    CaseNotFound,
    ConflictError,
    DuplicateCase,
    IllegalTransition,
    InvalidData,
    MissingFields,
    NotPermitted,
    SlaflowError,
)
from engine import case_hooks, clocks, versions
from org.chart import Actor, Company
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef
from storage.db import insert_ignoring_duplicates
from storage.models import Case, CaseEvent, CaseParticipant, table

OPEN, ASSIGN, ACKNOWLEDGE, SNOOZE, COMMENT, ATTACH = "open", "assign", "acknowledge", "snooze", "comment", "attach"
"""Event triggers that are not state-machine triggers (all but open keep the state)."""
MAX_COMMENT = 4000
_MENTION = re.compile(r"@([a-z][a-z0-9_]*)")

_cases = table(Case)
_events = table(CaseEvent)
_participants = table(CaseParticipant)

_LOAD_FOR_UPDATE = select(_cases).where(_cases.c.id == bindparam("b_case_id")).with_for_update()
_FIND_EXTERNAL = select(_cases.c.id).where(
    _cases.c.external_source == bindparam("b_source"), _cases.c.external_key == bindparam("b_key")
)
_INSERT_CASE = insert(_cases).returning(_cases.c.id)
_INSERT_EVENT = insert(_events)
_MOVE_CASE = (
    update(_cases)
    .where(_cases.c.id == bindparam("b_case_id"), _cases.c.version == bindparam("b_seen_version"))
    .values(
        state=bindparam("b_state"),
        data=bindparam("b_data"),
        owner_department=bindparam("b_owner_department"),
        owner_role=bindparam("b_owner_role"),
        owner_person=None,
        due_at=bindparam("b_due_at"),
        closed_at=bindparam("b_closed_at"),
        version=bindparam("b_version"),
        updated_at=bindparam("b_now"),
    )
)
_ASSIGN_CASE = (
    update(_cases)
    .where(_cases.c.id == bindparam("b_case_id"), _cases.c.version == bindparam("b_seen_version"))
    .values(owner_person=bindparam("b_person"), version=bindparam("b_version"), updated_at=bindparam("b_now"))
)
_JOIN = insert_ignoring_duplicates(_participants, "case_id", "department")
_TOUCH_CASE = (
    update(_cases)
    .where(_cases.c.id == bindparam("b_case_id"), _cases.c.version == bindparam("b_seen_version"))
    .values(version=bindparam("b_version"), updated_at=bindparam("b_now"))
)
_SET_STEP = (
    update(_cases)
    .where(_cases.c.id == bindparam("b_case_id"))
    .values(
        owner_department=bindparam("b_owner_department"),
        owner_role=bindparam("b_owner_role"),
        due_at=bindparam("b_due_at"),
    )
)


@dataclass(frozen=True)
class CaseRecord:
    """A case as the engine left it (the result of open, fire and assign)."""

    id: int
    case_type: str
    state: str
    version: int
    data: dict[str, Any]
    requester: str
    performer: str
    owner_department: str | None
    owner_role: str | None
    owner_person: str | None
    due_at: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    definition_fingerprint: str

    @classmethod
    def of(cls, row: Row[Any]) -> CaseRecord:
        return cls(
            id=row.id,
            case_type=row.case_type,
            state=row.state,
            version=row.version,
            data=dict(row.data),
            requester=row.requester,
            performer=row.performer,
            owner_department=row.owner_department,
            owner_role=row.owner_role,
            owner_person=row.owner_person,
            due_at=row.due_at,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            definition_fingerprint=row.definition_fingerprint,
        )


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
) -> CaseRecord:
    now = ensure_utc(now)
    definition = company.case_type(case_type)
    data = _plain_json(data, "case data")
    allowed = definition.open_allowed or [definition.requester]
    if not actor.may(allowed):
        raise NotPermitted(actor.name, f"open a {case_type!r} case", allowed)
    missing = [name for name in definition.open_requires if _blank(data.get(name))]
    if missing:
        raise MissingFields(f"opening a {case_type!r} case", missing)
    origin = (external_source or source) if external_key is not None else None
    if external_key is not None:
        existing = session.connection().execute(_FIND_EXTERNAL, {"b_source": origin, "b_key": external_key}).scalar()
        if existing is not None:
            raise DuplicateCase(str(origin), external_key, existing)
    fingerprint = versions.register_definition(session, definition, now)
    row = {
        "case_type": case_type,
        "definition_fingerprint": fingerprint,
        "external_source": origin,
        "external_key": external_key,
        "state": definition.initial,
        "data": data,
        "requester": definition.requester,
        "performer": definition.performer,
        "owner_department": None,
        "owner_role": None,
        "owner_person": None,
        "due_at": None,
        "version": 1,
        "opened_at": now,
        "updated_at": now,
        "closed_at": None,
    }
    if external_key is None:
        case_id = session.connection().execute(_INSERT_CASE, row).scalar_one()
    else:
        try:
            with session.begin_nested():  # a concurrent duplicate fails here, not the caller's transaction
                case_id = session.connection().execute(_INSERT_CASE, row).scalar_one()
        except IntegrityError:
            existing = (
                session.connection().execute(_FIND_EXTERNAL, {"b_source": origin, "b_key": external_key}).scalar()
            )
            raise DuplicateCase(str(origin), external_key, existing or -1) from None
    _append_event(
        session,
        case_id=case_id,
        seq=1,
        at=now,
        actor=actor.name,
        trigger=OPEN,
        from_state=None,
        to_state=definition.initial,
        payload=data,
        source=source,
    )
    for department, role in ((definition.requester, "requester"), (definition.performer, "performer")):
        _join(session, case_id, department, role, now)
    clocks.start_case_clock(session, company, case_id=case_id, definition=definition, now=now, data=data)
    step = clocks.enter_state(
        session,
        company,
        case_id=case_id,
        definition=definition,
        state_name=definition.initial,
        data=data,
        owner_person=None,
        event_seq=1,
        now=now,
    )
    session.connection().execute(
        _SET_STEP,
        {
            "b_case_id": case_id,
            "b_owner_department": step.owner_department,
            "b_owner_role": step.owner_role,
            "b_due_at": step.due_at,
        },
    )
    _join_owner(session, case_id, definition, step.owner_department, now)
    record = CaseRecord(
        id=case_id,
        case_type=case_type,
        state=definition.initial,
        version=1,
        data=data,
        requester=definition.requester,
        performer=definition.performer,
        owner_department=step.owner_department,
        owner_role=step.owner_role,
        owner_person=None,
        due_at=step.due_at,
        opened_at=now,
        closed_at=None,
        definition_fingerprint=fingerprint,
    )
    from notifications import events as notify  # imported on first write: reads start faster
    notify.case_opened(session, company, record, now=now)
    return record


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
) -> CaseRecord:
    """Apply ``trigger`` to a case. Raises a specific `SlaflowError` and changes nothing if the
    trigger is not allowed from the current state, by this actor, or without required fields."""
    now = ensure_utc(now)
    payload = _plain_json(payload or {}, "payload")
    case = load(session, case_id)
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
    if not actor.replaying:  # the case type's feature may check the payload (duties: figures, their age)
        payload = case_hooks.checked_payload(company, case.case_type, case.data, trigger, payload, now)

    seq = case.version + 1
    data = {**case.data, **payload}
    leaving, entering = definition.states[case.state], definition.states[dest]
    hand_off = entering.on_behalf_of == case.state  # the owner now waits on another department
    returning = leaving.on_behalf_of is not None and leaving.on_behalf_of == dest
    clocks.leave_state(
        session,
        company,
        case_id=case.id,
        state_name=case.state,
        now=now,
        waiting_on=entering.department if hand_off else None,
    )
    if leaving.on_behalf_of is not None and not returning:
        clocks.stop_suspended(session, company, case_id=case.id, state_name=leaving.on_behalf_of, now=now)
    _append_event(
        session,
        case_id=case.id,
        seq=seq,
        at=now,
        actor=actor.name,
        trigger=trigger,
        from_state=case.state,
        to_state=dest,
        payload=payload,
        source=source,
    )
    step = clocks.enter_state(
        session,
        company,
        case_id=case.id,
        definition=definition,
        state_name=dest,
        data=data,
        owner_person=None,
        event_seq=seq,
        now=now,
        was_paused=leaving.paused,
        resume=returning,
    )
    moved = session.connection().execute(
        _MOVE_CASE,
        {
            "b_case_id": case.id,
            "b_seen_version": case.version,
            "b_state": dest,
            "b_data": data,
            "b_owner_department": step.owner_department,
            "b_owner_role": step.owner_role,
            "b_due_at": step.due_at,
            "b_closed_at": step.closed_at,
            "b_version": seq,
            "b_now": now,
        },
    )
    _require_one(session, moved.rowcount, case)
    _join_owner(session, case.id, definition, step.owner_department, now)
    record = replace(
        case,
        state=dest,
        version=seq,
        data=data,
        owner_department=step.owner_department,
        owner_role=step.owner_role,
        owner_person=None,
        due_at=step.due_at,
        closed_at=step.closed_at,
    )
    from notifications import events as notify  # imported on first write: reads start faster

    if step.closed_at is not None:
        notify.case_resolved(session, company, record, now=now)
    else:
        notify.case_moved(session, company, record, now=now)
    return record


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
) -> CaseRecord:
    """Name the person who holds the current step (a member of the owning department)."""
    now = ensure_utc(now)
    case = load(session, case_id)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(case.id, expected_version, case.version)
    if case.owner_department is None:
        raise SlaflowError(f"case {case.id} is {case.state!r}: a closed case has no owner to assign")
    members = company.members(case.owner_department)
    if person not in members:
        raise InvalidData(f"{person!r} is not a member of {case.owner_department!r}; members: {', '.join(members)}")
    allowed = [case.owner_department, f"{case.owner_department}/head", "system"]
    if not actor.may(allowed):
        raise NotPermitted(actor.name, f"assign case {case.id}", allowed[:2])
    seq = _record_in_place(
        session,
        case,
        actor=actor,
        trigger=ASSIGN,
        payload={"person": person},
        now=now,
        source=source,
        update=_ASSIGN_CASE,
        values={"b_person": person},
    )
    clocks.assign_step(session, case_id=case.id, person=person)
    record = replace(case, version=seq, owner_person=person)
    from notifications import events as notify  # imported on first write: reads start faster
    notify.case_assigned(session, company, record, person=person, now=now)
    return record


def acknowledge(
    session: Session,
    company: Company,
    *,
    case_id: int,
    actor: Actor,
    now: datetime,
    snooze_minutes: float | None = None,
    source: str = "api",
) -> CaseRecord:
    """Someone in the escalation chain of the current step says "seen": acknowledging stops the
    remaining escalation levels of this step; snoozing holds them for ``snooze_minutes`` of the
    owning department's business time. Both are events in the log."""
    now = ensure_utc(now)
    case = load(session, case_id)
    if case.owner_department is None:
        raise SlaflowError(f"case {case.id} is {case.state!r}: a closed case has nothing to acknowledge")
    department = case.owner_department
    chain = {
        company.head_of(department),
        company.manager_of(company.head_of(department)),
        company.config.company.director,
    }
    if not (actor.may([department]) or actor.person in chain):
        raise NotPermitted(
            actor.name, f"acknowledge case {case.id}", [department, "its head, their manager, the director"]
        )
    if snooze_minutes is not None and not 0 < snooze_minutes <= 5 * 24 * 60:
        raise InvalidData("snooze between 1 minute and 5 days of business time")
    trigger, payload = (ACKNOWLEDGE, {}) if snooze_minutes is None else (SNOOZE, {"minutes": snooze_minutes})
    seq = _record_in_place(
        session,
        case,
        actor=actor,
        trigger=trigger,
        payload=payload,
        now=now,
        source=source,
        update=_TOUCH_CASE,
        values={},
    )
    clocks.hold_escalation(session, company, case_id=case.id, now=now, snooze_minutes=snooze_minutes)
    return replace(case, version=seq)


def comment(
    session: Session,
    company: Company,
    *,
    case_id: int,
    actor: Actor,
    text: str,
    now: datetime,
    source: str = "api",
) -> CaseRecord:
    """A note on the case from a person; ``@person`` names of the org chart in it are notified.
    Whether the person may read the case is the entry point's check (``org.scope``)."""
    now = ensure_utc(now)
    text = text.strip()
    if not text or len(text) > MAX_COMMENT:
        raise InvalidData(f"a comment has 1 to {MAX_COMMENT} characters")
    if actor.person is None and not actor.replaying:
        raise NotPermitted(actor.name, f"comment on case {case_id}", ["a person of the org chart"])
    case = load(session, case_id)
    mentions = sorted({name for name in _MENTION.findall(text) if name in company.config.people} - {actor.name})
    seq = _record_in_place(session, case, actor=actor, trigger=COMMENT, payload={"text": text, "mentions": mentions},
                           now=now, source=source, update=_TOUCH_CASE, values={})
    record = replace(case, version=seq)
    if mentions:
        from notifications import events as notify  # imported on first write: reads start faster
        notify.mentioned(session, company, record, author=actor.name, people=mentions, text=text, now=now)
    return record


def attach(
    session: Session,
    company: Company,
    *,
    case_id: int,
    actor: Actor,
    file: Mapping[str, Any],
    now: datetime,
    source: str = "api",
) -> CaseRecord:
    """Record that a person attached a file (name, media type, size, sha256). The bytes are the
    entry point's to store durably *before* this event commits (``api.workplace.files``)."""
    now = ensure_utc(now)
    if actor.person is None and not actor.replaying:
        raise NotPermitted(actor.name, f"attach a file to case {case_id}", ["a person of the org chart"])
    payload = {key: file[key] for key in ("name", "type", "size", "sha256")}
    case = load(session, case_id)
    seq = _record_in_place(session, case, actor=actor, trigger=ATTACH, payload=payload, now=now, source=source,
                           update=_TOUCH_CASE, values={})
    return replace(case, version=seq)


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
    state: str | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[Case]:
    """Cases by id; ``where`` is the caller's read scope (``org.scope.case_filter``)."""
    query = select(Case).order_by(Case.id).limit(limit)
    if where is not None:
        query = query.where(where)
    if case_type:
        query = query.where(Case.case_type == case_type)
    if state:
        query = query.where(Case.state == state)
    if department:
        query = query.where(
            Case.id.in_(select(CaseParticipant.case_id).where(CaseParticipant.department == department))
        )
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
            state=case.state,
            data=dict(case.data),
            owner_department=case.owner_department,
            owner_role=case.owner_role,
            owner_person=case.owner_person,
            version=case.version,
            closed_at=case.closed_at,
            participants=frozenset(p.department for p in case.participants),
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
        elif event.trigger in (ACKNOWLEDGE, SNOOZE, COMMENT, ATTACH):
            pass  # the state and owner stay; only the escalation timers change (or nothing)
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
        state=state,
        data=data,
        owner_department=final.department,
        owner_role=final.role,
        owner_person=person,
        version=version,
        closed_at=closed_at,
        participants=frozenset(participants),
    )


def definition_of(session: Session, company: Company, case: Case | CaseRecord) -> CaseTypeDef:
    """The definition the case was opened under."""
    return versions.definition_for(session, company, case.case_type, case.definition_fingerprint)


def _record_in_place(
    session: Session,
    case: CaseRecord,
    *,
    actor: Actor,
    trigger: str,
    payload: dict[str, Any],
    now: datetime,
    source: str,
    update: Any,
    values: dict[str, Any],
) -> int:
    """An event that keeps the state (assign, acknowledge, snooze, comment, attach): append it and bump the
    version, refusing if someone else changed the case first. Returns the new version."""
    seq = case.version + 1
    _append_event(
        session,
        case_id=case.id,
        seq=seq,
        at=now,
        actor=actor.name,
        trigger=trigger,
        from_state=case.state,
        to_state=case.state,
        payload=payload,
        source=source,
    )
    moved = session.connection().execute(
        update, {"b_case_id": case.id, "b_seen_version": case.version, "b_version": seq, "b_now": now, **values}
    )
    _require_one(session, moved.rowcount, case)
    return seq


def _append_event(session: Session, **row: Any) -> None:
    """The one way a case's history grows: one append-only row per change."""
    session.connection().execute(_INSERT_EVENT, row)


def _join_owner(session: Session, case_id: int, definition: CaseTypeDef, department: str | None, now: datetime) -> None:
    if department is not None and department not in (definition.requester, definition.performer):
        _join(session, case_id, department, "owner", now)  # requester and performer joined at opening


def _join(session: Session, case_id: int, department: str, role: str, now: datetime) -> None:
    """Add a participant unless the department already is one (no read of the collection)."""
    session.connection().execute(
        _JOIN[session.get_bind().dialect.name],
        {"case_id": case_id, "department": department, "role": role, "since": now},
    )


def load(session: Session, case_id: int) -> CaseRecord:
    """The case, locked for this transaction (FOR UPDATE makes concurrent writers on PostgreSQL
    queue on the row; SQLite already serialises writers with BEGIN IMMEDIATE, see storage.db)."""
    row = session.connection().execute(_LOAD_FOR_UPDATE, {"b_case_id": case_id}).first()
    if row is None:
        raise CaseNotFound(case_id)
    return CaseRecord.of(row)


def _require_one(session: Session, rowcount: int, case: CaseRecord) -> None:
    """The version check in the UPDATE failed: someone else moved the case first."""
    if rowcount != 1:
        actual = session.scalar(select(func.max(CaseEvent.seq)).where(CaseEvent.case_id == case.id)) or -1
        raise ConflictError(case.id, case.version, actual)


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str | list | dict) and len(value) == 0)
        or (isinstance(value, str) and not value.strip())
    )


def _plain_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidData(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"{what} is not plain JSON: {exc}") from None

"""The case engine: open a case, fire a trigger, assign an owner, acknowledge, comment, attach.

Every function works inside the caller's transaction (``session``) and validates everything
before writing anything, so a refused request changes nothing. Decisions come from the case
type's `transitions` machine; the state change, the event row, the clocks and the timers are
then written together and become visible only when the caller commits.

Writes use statements built once at import (`engine.records`; see `engine.clocks` for why);
reads for people (`engine.views`) use the ORM. What happened is emitted as `engine.events` for
the features to hear; replaying the event log is `engine.replay`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from core.clock import ensure_utc
from core.errors import (
    CaseNotFound,
    ConflictError,
    IllegalTransition,
    InvalidData,
    MissingFields,
    NotPermitted,
    SlaflowError,
)
from engine import case_hooks, clocks, records, versions
from engine import events as ev
from org.chart import Actor, Company
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef
from storage.models import Case, CaseParticipant

OPEN, ASSIGN, ACKNOWLEDGE, SNOOZE, COMMENT, ATTACH = "open", "assign", "acknowledge", "snooze", "comment", "attach"
"""Event triggers that are not state-machine triggers (all but open keep the state)."""
MAX_COMMENT = 4000
_MENTION = re.compile(r"@([a-z][a-z0-9_]*)")

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
) -> records.CaseRecord:
    now = ensure_utc(now)
    definition = company.case_type(case_type)
    data = records.plain_json(data, "case data")
    allowed = definition.open_allowed or [definition.requester]
    if not actor.may(allowed):
        raise NotPermitted(actor.name, f"open a {case_type!r} case", allowed)
    missing = [name for name in definition.open_requires if records.blank(data.get(name))]
    if missing:
        raise MissingFields(f"opening a {case_type!r} case", missing)
    origin = (external_source or source) if external_key is not None else None
    if external_key is not None:
        records.refuse_duplicate(session, str(origin), external_key)
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
    case_id = records.insert_case(session, row)
    records.append_event(session, case_id=case_id, seq=1, at=now, actor=actor.name, trigger=OPEN, from_state=None,
                         to_state=definition.initial, payload=data, source=source)
    records.join_parties(session, case_id, definition, now)
    clocks.start_case_clock(session, company, case_id=case_id, definition=definition, now=now, data=data)
    step = clocks.enter_state(
        session, company, case_id=case_id, definition=definition, state_name=definition.initial, data=data,
        owner_person=None, event_seq=1, now=now, requester=definition.requester, opened_at=now,
    )
    records.set_step(session, case_id, owner_department=step.owner_department, owner_role=step.owner_role,
                     due_at=step.due_at)
    records.join_owner(session, case_id, definition, step.owner_department, now)
    record = records.CaseRecord(
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
    _hold(session, company, record, definition, now)
    ev.emit(session, company, ev.CaseOpened(record, now))
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
) -> records.CaseRecord:
    """Apply ``trigger`` to a case. Raises a specific `SlaflowError` and changes nothing if the
    trigger is not allowed from the current state, by this actor, or without required fields."""
    now = ensure_utc(now)
    payload = records.plain_json(payload or {}, "payload")
    case = records.load(session, case_id)
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
    missing = [name for name in rule.requires if records.blank(payload.get(name))]
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
    records.append_event(session, case_id=case.id, seq=seq, at=now, actor=actor.name, trigger=trigger,
                         from_state=case.state, to_state=dest, payload=payload, source=source)
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
        requester=case.requester, opened_at=case.opened_at,
        was_paused=leaving.paused,
        resume=returning,
    )
    records.move_case(session, case, state=dest, data=data, version=seq, now=now,
                      owner_department=step.owner_department, owner_role=step.owner_role, due_at=step.due_at,
                      closed_at=step.closed_at)
    records.join_owner(session, case.id, definition, step.owner_department, now)
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
    if step.closed_at is not None:
        ev.emit(session, company, ev.CaseResolved(record, now, source))
    else:
        _hold(session, company, record, definition, now)
        ev.emit(session, company, ev.StepEntered(record, now, source))
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
) -> records.CaseRecord:
    """Name the person who holds the current step (a member of the owning department)."""
    now = ensure_utc(now)
    case = records.load(session, case_id)
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
    seq = records.record_in_place(
        session,
        case,
        actor=actor,
        trigger=ASSIGN,
        payload={"person": person},
        now=now,
        source=source,
        update=records.ASSIGN_CASE,
        values={"b_person": person},
    )
    clocks.assign_step(session, case_id=case.id, person=person)
    record = replace(case, version=seq, owner_person=person)
    ev.emit(session, company, ev.CaseAssigned(record, now, person=person))
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
) -> records.CaseRecord:
    """Someone in the escalation chain of the current step says "seen": acknowledging stops the
    remaining escalation levels of this step; snoozing holds them for ``snooze_minutes`` of the
    owning department's business time. Both are events in the log."""
    now = ensure_utc(now)
    case = records.load(session, case_id)
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
    seq = records.record_in_place(
        session,
        case,
        actor=actor,
        trigger=trigger,
        payload=payload,
        now=now,
        source=source,
        update=records.TOUCH_CASE,
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
) -> records.CaseRecord:
    """A note on the case from a person; ``@person`` names of the org chart in it are notified.
    Whether the person may read the case is the entry point's check (``org.scope``)."""
    now = ensure_utc(now)
    text = text.strip()
    if not text or len(text) > MAX_COMMENT:
        raise InvalidData(f"a comment has 1 to {MAX_COMMENT} characters")
    if actor.person is None and not actor.replaying:
        raise NotPermitted(actor.name, f"comment on case {case_id}", ["a person of the org chart"])
    case = records.load(session, case_id)
    mentions = sorted({name for name in _MENTION.findall(text) if name in company.config.people} - {actor.name})
    seq = records.record_in_place(session, case, actor=actor, trigger=COMMENT,
                                  payload={"text": text, "mentions": mentions}, now=now, source=source,
                                  update=records.TOUCH_CASE, values={})
    record = replace(case, version=seq)
    if mentions:
        ev.emit(session, company, ev.Mentioned(record, now, author=actor.name, people=mentions, text=text))
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
) -> records.CaseRecord:
    """Record that a person attached a file (name, media type, size, sha256). The bytes are the
    entry point's to store durably *before* this event commits (``api.workplace.files``)."""
    now = ensure_utc(now)
    if actor.person is None and not actor.replaying:
        raise NotPermitted(actor.name, f"attach a file to case {case_id}", ["a person of the org chart"])
    payload = {key: file[key] for key in ("name", "type", "size", "sha256")}
    case = records.load(session, case_id)
    seq = records.record_in_place(session, case, actor=actor, trigger=ATTACH, payload=payload, now=now,
                                  source=source, update=records.TOUCH_CASE, values={})
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


def _hold(session: Session, company: Company, case: records.CaseRecord, definition: CaseTypeDef, now: datetime) -> None:
    """The step just entered releases itself after a while (``auto``): say so (engine.events)."""
    state = definition.states[case.state]
    if state.auto is not None:
        department = state.department or definition.performer
        hold = ev.HoldStarted(case, now, state=case.state, department=department, after_minutes=state.auto.after,
                              trigger=state.auto.trigger)
        ev.emit(session, company, hold)


def definition_of(session: Session, company: Company, case: Case | records.CaseRecord) -> CaseTypeDef:
    """The definition the case was opened under."""
    return versions.definition_for(session, company, case.case_type, case.definition_fingerprint)

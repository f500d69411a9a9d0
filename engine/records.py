"""A case's row and its history, as the engine writes them: the statements (built once at import,
see `engine.clocks` for why), `CaseRecord`, and the writes every command shares (append an
event, bump the version under the optimistic check, join a department).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from math import isfinite
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from core.errors import CaseNotFound, ConflictError, DuplicateCase, InvalidData
from core.vocabulary import ParticipantRole
from org.chart import Actor
from state_machines.schema import CaseTypeDef
from storage.models import Case, CaseEvent, CaseParticipant, table
from storage.prepared import Prepared, prepared_insert

_cases = table(Case)
_events = table(CaseEvent)
_participants = table(CaseParticipant)

LOAD_FOR_UPDATE = Prepared(select(_cases).where(_cases.c.id == bindparam("b_case_id")).with_for_update())
FIND_EXTERNAL = Prepared(select(_cases.c.id).where(
    _cases.c.external_source == bindparam("b_source"), _cases.c.external_key == bindparam("b_key")
))
_CASE_COLUMNS = (
    "case_type", "definition_fingerprint", "external_source", "external_key", "state", "data", "requester",
    "performer", "owner_department", "owner_role", "owner_person", "due_at", "version", "opened_at", "updated_at",
    "closed_at",
)
INSERT_CASE = prepared_insert(
    _cases,
    _CASE_COLUMNS,
    returning="id",
)
INSERT_LINKED_CASE = prepared_insert(
    _cases,
    _CASE_COLUMNS,
    returning="id",
    unless_exists=("external_source", "external_key"),
)
"""A case linked to a CRM record: no row comes back when that record has its case already."""
INSERT_EVENT = prepared_insert(
    _events, ("case_id", "seq", "at", "actor", "trigger", "from_state", "to_state", "payload", "source")
)
MOVE_CASE = Prepared(
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
ASSIGN_CASE = Prepared(
    update(_cases)
    .where(_cases.c.id == bindparam("b_case_id"), _cases.c.version == bindparam("b_seen_version"))
    .values(owner_person=bindparam("b_person"), version=bindparam("b_version"), updated_at=bindparam("b_now"))
)
JOIN = prepared_insert(
    _participants, ("case_id", "department", "role", "since"), unless_exists=("case_id", "department")
)
TOUCH_CASE = Prepared(
    update(_cases)
    .where(_cases.c.id == bindparam("b_case_id"), _cases.c.version == bindparam("b_seen_version"))
    .values(version=bindparam("b_version"), updated_at=bindparam("b_now"))
)
LAST_SEQ = Prepared(select(func.max(_events.c.seq)).where(_events.c.case_id == bindparam("b_case_id")))
"""Prepared, so the version check may run while the session commits (`storage.deferred`)."""
SET_STEP = Prepared(
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
    def of(cls, row: Any) -> CaseRecord:
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


def refuse_duplicate(session: Session, origin: str, external_key: str) -> None:
    """A case linked to (origin, external_key) exists already: refuse before writing anything."""
    existing = FIND_EXTERNAL.scalar(session, {"b_source": origin, "b_key": external_key})
    if existing is not None:
        raise DuplicateCase(origin, external_key, existing)


def insert_case(session: Session, row: dict[str, Any]) -> int:
    """Insert the case row; return its id. A linked case (``external_key``) whose CRM record got
    its case meanwhile (a concurrent duplicate) is `DuplicateCase`, and the caller's transaction
    goes on: ``ON CONFLICT DO NOTHING`` rather than a savepoint around the insert, which cost
    two statements a case (~18 % of a CRM case's opening CPU, bench/webhooks.py's floor)."""
    if row["external_key"] is None:
        return int(INSERT_CASE.scalar(session, row))
    inserted = INSERT_LINKED_CASE.scalar(session, row)
    if inserted is None:
        origin, key = row["external_source"], row["external_key"]
        existing = FIND_EXTERNAL.scalar(session, {"b_source": origin, "b_key": key})
        raise DuplicateCase(str(origin), key, existing or -1)
    return int(inserted)


def set_step(
    session: Session, case_id: int, *, owner_department: str | None, owner_role: str | None, due_at: datetime | None
) -> None:
    """The step a just-opened case entered (its version stays 1)."""
    SET_STEP.later(session, {"b_case_id": case_id, "b_owner_department": owner_department,
                                            "b_owner_role": owner_role, "b_due_at": due_at})


def move_case(
    session: Session, case: CaseRecord, *, state: str, data: dict[str, Any], version: int, now: datetime,
    owner_department: str | None, owner_role: str | None, due_at: datetime | None, closed_at: datetime | None,
) -> None:
    """The case in its new state (nobody holds the new step yet), refused if someone else moved it first."""
    MOVE_CASE.later(session, {
        "b_case_id": case.id, "b_seen_version": case.version, "b_state": state, "b_data": data,
        "b_owner_department": owner_department, "b_owner_role": owner_role, "b_due_at": due_at,
        "b_closed_at": closed_at, "b_version": version, "b_now": now,
    }, check=lambda moved: require_one(session, moved, case))


def record_in_place(
    session: Session,
    case: CaseRecord,
    *,
    actor: Actor,
    trigger: str,
    payload: dict[str, Any],
    now: datetime,
    source: str,
    update: Prepared,
    values: dict[str, Any],
) -> int:
    """An event that keeps the state (assign, acknowledge, snooze, comment, attach): append it and bump the
    version, refusing if someone else changed the case first. Returns the new version."""
    seq = case.version + 1
    append_event(
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
    update.later(
        session,
        {"b_case_id": case.id, "b_seen_version": case.version, "b_version": seq, "b_now": now, **values},
        check=lambda moved: require_one(session, moved, case),
    )
    return seq


def append_event(session: Session, **row: Any) -> None:
    """The one way a case's history grows: one append-only row per change."""
    INSERT_EVENT.later(session, row)


def join_parties(session: Session, case_id: int, definition: CaseTypeDef, now: datetime) -> None:
    """The case's requester and performer, at opening."""
    join(session, case_id, definition.requester, ParticipantRole.REQUESTER, now)
    join(session, case_id, definition.performer, ParticipantRole.PERFORMER, now)


def join_owner(session: Session, case_id: int, definition: CaseTypeDef, department: str | None, now: datetime) -> None:
    if department is not None and department not in (definition.requester, definition.performer):
        join(session, case_id, department, ParticipantRole.OWNER, now)  # requester and performer joined at opening


def join(session: Session, case_id: int, department: str, role: ParticipantRole, now: datetime) -> None:
    """Add a participant unless the department already is one (no read of the collection)."""
    JOIN.later(session, {"case_id": case_id, "department": department, "role": role, "since": now})


def load(session: Session, case_id: int) -> CaseRecord:
    """The case, locked for this transaction (FOR UPDATE makes concurrent writers on PostgreSQL
    queue on the row; SQLite already serialises writers with BEGIN IMMEDIATE, see storage.db)."""
    row = LOAD_FOR_UPDATE.first(session, {"b_case_id": case_id})
    if row is None:
        raise CaseNotFound(case_id)
    return CaseRecord.of(row)


def require_one(session: Session, rowcount: int, case: CaseRecord) -> None:
    """The version check in the UPDATE failed: someone else moved the case first. (On PostgreSQL
    the check runs when the UPDATE is sent, with the transaction's next statement or its commit:
    `storage.deferred`; the case row is locked since `load`, so it holds in practice.)"""
    if rowcount != 1:
        actual = LAST_SEQ.scalar(session, {"b_case_id": case.id}) or -1
        raise ConflictError(case.id, case.version, actual)


def blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str | list | dict) and len(value) == 0)
        or (isinstance(value, str) and not value.strip())
    )


def plain_json(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``value`` as JSON would give it back (a copy), or `InvalidData` if it is not plain JSON."""
    if not isinstance(value, Mapping):
        raise InvalidData(f"{what} must be a JSON object, got {type(value).__name__}")
    if all(type(key) is str and _flat(item) for key, item in value.items()):
        return dict(value)  # the usual payload: what the round trip below would return, without it
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"{what} is not plain JSON: {exc}") from None


def _flat(value: Any) -> bool:
    """A value JSON gives back unchanged: a string, an integer, a boolean, null or a finite float
    (exactly those types: a subclass, such as an enum member, comes back as its base type)."""
    kind = type(value)
    return kind is str or kind is int or kind is bool or value is None or (kind is float and isfinite(value))

"""Replay: fold a case's event log into what it determines (`CaseSnapshot`), checking every
step against the case type's machine; the stored case must equal it (``engine.rebuild``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import SlaflowError
from engine.cases import ACKNOWLEDGE, ASSIGN, ATTACH, COMMENT, OPEN, SNOOZE
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef
from storage.models import Case, CaseEvent


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

"""Breach reviews over REST: list breaches, record a cause, request and decide an exemption, read
a breach's audit. Every read and write is scoped by the caller's read scope (org.scope) through
breaches.service; who may do what is checked there too (403), and a decision that does not
fit where the exemption stands is a 409."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentPrincipal
from api.schemas import MAX_ID, ErrorBody
from api.state import app_state
from breaches.service import (
    MAX_NOTE,
    decide_exemption,
    list_breaches,
    record_cause,
    request_exemption,
    review_events,
)
from core.errors import InvalidData
from core.vocabulary import BreachCause, ExemptionStatus

router = APIRouter(prefix="/api/breaches", tags=["breaches"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)}
BreachId = Annotated[int, Path(ge=1, le=MAX_ID, description="breach id")]
EARLIEST, LATEST = datetime.fromisoformat("1970-01-01T00:00:00+00:00"), datetime.fromisoformat("2200-01-01T00:00+00:00")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CauseIn(_Strict):
    cause: BreachCause
    note: str | None = Field(None, max_length=MAX_NOTE)


class ExemptionIn(_Strict):
    reason: str = Field(min_length=1, max_length=MAX_NOTE)


class DecisionIn(_Strict):
    approve: bool
    note: str | None = Field(None, max_length=MAX_NOTE)


class BreachOut(BaseModel):
    id: int
    case_id: int
    kind: str
    department: str
    person: str | None
    state: str | None
    deadline_at: datetime
    breached_at: datetime
    late_minutes: float | None
    cause: BreachCause | None
    cause_note: str | None
    cause_by: str | None
    cause_at: datetime | None
    exemption: ExemptionStatus | None = Field(description="approved: shown, but left out of compliance")
    exemption_reason: str | None
    requested_by: str | None
    requested_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


class ReviewEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    cause: str | None
    note: str | None


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidData(f"{name} {moment.isoformat()} has no UTC offset; give one, e.g. 2026-12-01T00:00+03:00")
    if not EARLIEST <= moment < LATEST:
        raise InvalidData(f"{name} {moment.isoformat()} is outside 1970-2200")
    return moment


@router.get("", response_model=list[BreachOut], responses=ERRORS)
def breaches(
    request: Request,
    principal: CurrentPrincipal,
    since: Annotated[datetime | None, Query(alias="from", description="deadline at or after (with offset)")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="deadline before (with offset)")] = None,
    person: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    exemption: ExemptionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 500,
) -> list[dict[str, Any]]:
    """Breaches of the cases the caller may read, exempted ones included (marked)."""
    state = app_state(request)
    with state.reads() as session:
        found = list_breaches(session, principal.scope, since=_aware(since, "from"), until=_aware(until, "to"),
                              person=person, department=department, exemption=exemption, limit=limit)
        return [view.as_dict() for view in found]


@router.get("/{breach_id}/history", response_model=list[ReviewEventOut], responses=ERRORS)
def history(breach_id: BreachId, request: Request, principal: CurrentPrincipal) -> list[Any]:
    state = app_state(request)
    with state.reads() as session:
        return [ReviewEventOut.model_validate(event, from_attributes=True)
                for event in review_events(session, principal.scope, breach_id)]


@router.post("/{breach_id}/cause", response_model=BreachOut, responses=ERRORS)
def cause(breach_id: BreachId, body: CauseIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The person charged (or a head above, or the director) records why the deadline was missed."""
    state = app_state(request)
    with state.sessions.begin() as session:
        return record_cause(session, state.company, principal.scope, breach_id=breach_id, actor=principal.actor,
                            cause=body.cause, note=body.note, now=state.clock.now()).as_dict()


@router.post("/{breach_id}/exemption", response_model=BreachOut, responses=ERRORS)
def exemption_request(
    breach_id: BreachId, body: ExemptionIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """A head of the breach's department (or above) asks the director to exempt it."""
    state = app_state(request)
    with state.sessions.begin() as session:
        return request_exemption(session, state.company, principal.scope, breach_id=breach_id,
                                 actor=principal.actor, reason=body.reason, now=state.clock.now()).as_dict()


@router.post("/{breach_id}/exemption/decision", response_model=BreachOut, responses=ERRORS)
def exemption_decision(
    breach_id: BreachId, body: DecisionIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """The director approves or rejects a requested exemption."""
    state = app_state(request)
    with state.sessions.begin() as session:
        return decide_exemption(session, state.company, principal.scope, breach_id=breach_id,
                                actor=principal.actor, approve=body.approve, note=body.note,
                                now=state.clock.now()).as_dict()

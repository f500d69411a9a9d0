"""Following a case over REST: the caller (a person) follows or stops following a case they may
read, and reads who follows it (notifications.watchers). Scoped like every case read (org.scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from api.auth import CurrentPrincipal
from api.schemas import MAX_ID, ErrorBody
from api.state import app_state
from core.errors import InvalidData
from notifications.watchers import follow, watchers
from org.actors import Principal
from org.scope import require_readable

router = APIRouter(prefix="/api/cases", tags=["cases"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)}
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="case id")]


class Watchers(BaseModel):
    case_id: int
    watchers: list[str]
    """Person ids: the person who opened the case first (unless they stopped following)."""


def _person(principal: Principal) -> str:
    if principal.person is None:
        raise InvalidData("only a person can follow a case; this token belongs to an integration")
    return principal.person


@router.get("/{case_id}/watchers", response_model=Watchers, responses=ERRORS)
def list_watchers(case_id: CaseId, request: Request, principal: CurrentPrincipal) -> Watchers:
    state = app_state(request)
    with state.reads() as session:
        require_readable(session, principal.scope, case_id)
        return Watchers(case_id=case_id, watchers=watchers(session, state.company, case_id))


@router.put("/{case_id}/watchers/me", response_model=Watchers, responses=ERRORS)
def follow_case(case_id: CaseId, request: Request, principal: CurrentPrincipal) -> Watchers:
    """Follow the case: hear of its step changes, its outcome and a hold about to expire."""
    state = app_state(request)
    with state.sessions.begin() as session:
        found = follow(session, state.company, principal.scope, case_id=case_id, person=_person(principal),
                       now=state.clock.now())
    return Watchers(case_id=case_id, watchers=found)


@router.delete("/{case_id}/watchers/me", response_model=Watchers, responses=ERRORS)
def unfollow_case(case_id: CaseId, request: Request, principal: CurrentPrincipal) -> Watchers:
    """Stop following the case (also the person who opened it)."""
    state = app_state(request)
    with state.sessions.begin() as session:
        found = follow(session, state.company, principal.scope, case_id=case_id, person=_person(principal),
                       now=state.clock.now(), following=False)
    return Watchers(case_id=case_id, watchers=found)

"""The REST API for people and other systems: list, read, open and move cases; SLA figures.

Routers are thin: each calls one engine service in one transaction; the engine enforces who may
do what (from the case-type definitions) and its errors become 403/404/409/422 answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from api.auth import CurrentPrincipal
from api.schemas import (
    MAX_ID,
    AcknowledgeEscalation,
    AssignCase,
    CaseDetail,
    CaseRow,
    DepartmentFigures,
    ErrorBody,
    FireTrigger,
    OpenCase,
)
from api.state import app_state
from engine import cases
from engine.clocks import promise_warning
from engine.filters import check_case_filters
from engine.views import case_detail, case_row
from org.scope import case_filter, require_readable
from sla.compliance import Tally
from sla.ledger import step_where, tallies
from storage.models import Case, SlaClock

router = APIRouter(prefix="/api", tags=["cases"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="case id")]


@router.get("/cases", response_model=list[CaseRow], responses=ERRORS)
def list_cases(
    request: Request,
    principal: CurrentPrincipal,
    type: Annotated[str | None, Query(max_length=64, description="only this case type")] = None,
    department: Annotated[str | None, Query(max_length=64, description="only cases it takes part in")] = None,
    open: Annotated[bool, Query(description="only open cases")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    state = app_state(request)
    check_case_filters(state.company, case_type=type, department=department)  # a typo is a 422, not []
    now = state.clock.now()
    with state.reads() as session:
        found = cases.list_cases(session, case_type=type, department=department, open_only=open, limit=limit,
                                 where=case_filter(principal.scope, Case.id))
        return [case_row(session, state.company, case, now) for case in found]


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=ERRORS)
def get_case(case_id: CaseId, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """A case with its clocks (business time used, deadlines) and its history."""
    state = app_state(request)
    with state.reads() as session:
        require_readable(session, principal.scope, case_id)
        return case_detail(session, state.company, cases.get_case(session, case_id), state.clock.now())


@router.post("/cases", response_model=CaseDetail, status_code=201, responses=ERRORS)
def open_case(body: OpenCase, request: Request, response: Response, principal: CurrentPrincipal) -> dict[str, Any]:
    """Open a case. A promise to the customer (rush delivery's ``deliver_by``) that leaves less
    business time than the SLA gives is opened all the same, with an ``X-Slaflow-Warning`` header."""
    state = app_state(request)
    now = state.clock.now()
    with state.sessions.begin() as session:
        opened = cases.open_case(session, state.company, case_type=body.type, data=body.data,
                                 actor=principal.actor, now=now, source="api", external_key=body.external_key)
        warning = promise_warning(state.company, state.company.case_type(opened.case_type), opened.data, now)
        if warning:
            response.headers["X-Slaflow-Warning"] = warning
        return case_detail(session, state.company, cases.get_case(session, opened.id), now)


@router.post("/cases/{case_id}/fire", response_model=CaseDetail, responses=ERRORS)
def fire_trigger(case_id: CaseId, body: FireTrigger, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Fire a trigger; 409 if ``expected_version`` is stale or the trigger is not allowed now."""
    state = app_state(request)
    now = state.clock.now()
    with state.sessions.begin() as session:
        require_readable(session, principal.scope, case_id)
        cases.fire(session, state.company, case_id=case_id, trigger=body.trigger, actor=principal.actor, now=now,
                   payload=body.payload, expected_version=body.expected_version, source="api")
        return case_detail(session, state.company, cases.get_case(session, case_id), now)


@router.post("/cases/{case_id}/assign", response_model=CaseDetail, responses=ERRORS)
def assign_case(case_id: CaseId, body: AssignCase, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """Name the person who holds the current step."""
    state = app_state(request)
    now = state.clock.now()
    with state.sessions.begin() as session:
        require_readable(session, principal.scope, case_id)
        cases.assign(session, state.company, case_id=case_id, person=body.person, actor=principal.actor, now=now,
                     expected_version=body.expected_version, source="api")
        return case_detail(session, state.company, cases.get_case(session, case_id), now)


@router.post("/cases/{case_id}/acknowledge", response_model=CaseDetail, responses=ERRORS)
def acknowledge_case(
    case_id: CaseId, body: AcknowledgeEscalation, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Someone in the escalation chain acknowledges (no further levels) or snoozes the step."""
    state = app_state(request)
    now = state.clock.now()
    with state.sessions.begin() as session:
        require_readable(session, principal.scope, case_id)
        cases.acknowledge(session, state.company, case_id=case_id, actor=principal.actor, now=now,
                          snooze_minutes=body.snooze_minutes, source="api")
        return case_detail(session, state.company, cases.get_case(session, case_id), now)


@router.get("/sla/departments", response_model=list[DepartmentFigures], responses=ERRORS, tags=["sla"])
def department_figures(request: Request, principal: CurrentPrincipal) -> list[DepartmentFigures]:
    """Steps per department (every visit of a state with a target), each met, breached or running
    at the app clock's now, as the reports count them (`sla.ledger`), of the cases the caller may read."""
    state = app_state(request)
    where = [*step_where(), case_filter(principal.scope, SlaClock.case_id)]
    with state.reads() as session:
        found = {row.department: row for row in tallies(session, where, state.clock.now())}
    departments = [*state.company.config.departments, *sorted(set(found) - set(state.company.config.departments))]
    return [
        DepartmentFigures.model_validate(found.get(dept, Tally(dept)), from_attributes=True) for dept in departments
    ]

"""Engine errors as HTTP answers: the message says what was wrong and what is allowed."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from slaflow.errors import (
    CaseNotFound,
    ConflictError,
    DuplicateCase,
    IllegalTransition,
    MissingFields,
    NotPermitted,
    SlaflowError,
)
from slaflow.leads.service import LeadNotFound, LeadStatusRefused

STATUS: list[tuple[type[SlaflowError], int]] = [
    (CaseNotFound, 404),
    (ConflictError, 409),
    (DuplicateCase, 409),
    (IllegalTransition, 409),
    (NotPermitted, 403),
    (LeadNotFound, 404),
    (LeadStatusRefused, 409),
]
"""Anything else a user can act on (missing fields, invalid data, unknown type or person) is 422."""


def status_of(exc: SlaflowError) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 422)


async def slaflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SlaflowError)
    body: dict[str, object] = {"detail": str(exc), "error": type(exc).__name__}
    if isinstance(exc, IllegalTransition | NotPermitted):
        body["allowed"] = exc.allowed
    if isinstance(exc, MissingFields):
        body["missing"] = exc.missing
    if isinstance(exc, DuplicateCase):
        body["case_id"] = exc.case_id
    return JSONResponse(body, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(SlaflowError, slaflow_error)

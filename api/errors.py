"""Engine errors as HTTP answers: the message says what was wrong and what is allowed."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from breaches.service import BreachNotFound, ReviewRefused
from core.errors import (
    CaseNotFound,
    ConflictError,
    DuplicateCase,
    IllegalTransition,
    MissingFields,
    NotPermitted,
    SlaflowError,
)
from leads.service import LeadNotFound, LeadStatusRefused
from storage.faults import UNAVAILABLE, describe

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
"""What a 503 asks the client to wait: storage faults are usually short (a restart, a failover)."""

STATUS: list[tuple[type[SlaflowError], int]] = [
    (CaseNotFound, 404),
    (ConflictError, 409),
    (DuplicateCase, 409),
    (IllegalTransition, 409),
    (NotPermitted, 403),
    (LeadNotFound, 404),
    (LeadStatusRefused, 409),
    (BreachNotFound, 404),
    (ReviewRefused, 409),
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


async def storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database could not take the request: nothing was acknowledged, so the client retries.
    One log line (no traceback: the fault is the storage's, and a burst would flood the log)."""
    reason = describe(exc)
    log.error("storage unavailable, answered 503 to %s %s: %s", request.method, request.url.path, reason)
    return JSONResponse(
        {"detail": f"the database is unavailable ({reason}); nothing was changed, please retry",
         "error": "StorageUnavailable"},
        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(SlaflowError, slaflow_error)
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, storage_unavailable)

"""Health for load balancers and orchestrators (no token: they ask).

``/health/live``: the process answers (restart it if not). ``/health/ready``: the database is
reachable and takes a durable write now (on SQLite: the file is present and is the one the
connections write to); send traffic only then. ``/health`` is the readiness check under its
first name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas import Health
from api.state import app_state
from storage.faults import probe_writable

router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=Health)
def live(request: Request) -> Health:
    """The process is up and answering (no database work)."""
    return Health(status="ok", database="not checked", inbox_backlog=app_state(request).pipeline.backlog)


@router.get("/health/ready", response_model=Health, responses={503: {"model": Health}})
def ready(request: Request) -> Any:
    """Is the database reachable and writable? 503 (with Retry-After) if not."""
    state = app_state(request)
    with state.sessions() as session:
        engine = session.get_bind()
    problem = probe_writable(engine.engine)
    if problem is not None:
        body = Health(status="unavailable", database=problem, inbox_backlog=state.pipeline.backlog)
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return Health(status="ok", database="ok", inbox_backlog=state.pipeline.backlog)


router.add_api_route("/health", ready, methods=["GET"], response_model=Health, responses={503: {"model": Health}},
                     summary="Readiness (the first name of /health/ready)")

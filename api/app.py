"""The FastAPI app. ``create_app`` checks the CRM config and reads its secrets at start-up, so a
missing secret or a rule naming an unknown trigger stops the server before it takes traffic."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import dashboard, errors, leads, rest, webhooks
from api.state import AppState
from crm.config import SecretError, check_against
from crm.pipeline import InboxPipeline
from slaflow.clock import Clock, SystemClock
from slaflow.errors import ConfigError
from slaflow.runtime import Runtime


def create_app(
    runtime: Runtime, clock: Clock | None = None, *, environ: Mapping[str, str] | None = None,
    process: bool = True,
) -> FastAPI:
    """The HTTP app over ``runtime``'s database and company. ``environ`` (default: the process
    environment) holds the webhook secrets; ``process=False`` stores webhooks without processing
    them (another process does, e.g. the Prefect flow)."""
    clock = clock or SystemClock()
    company = runtime.company
    crm = company.config.crm
    problems = check_against(crm, company)
    if problems:
        raise ConfigError(f"{company.source}: " + f"\n{company.source}: ".join(problems))
    try:
        secrets = crm.resolve_secrets(os.environ if environ is None else environ)
    except SecretError as exc:
        raise ConfigError(f"{company.source}: {exc}") from None
    pipeline = InboxPipeline(runtime.sessions, company, clock, process=process)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pipeline.start()
        try:
            yield
        finally:
            pipeline.stop()

    app = FastAPI(
        title="slaflow",
        version="0.1.0",
        summary="SLA workflow engine: CRM webhooks in, cases between departments out.",
        lifespan=lifespan,
    )
    app.state.slaflow = AppState(
        company=company, clock=clock, sessions=runtime.sessions, pipeline=pipeline, sources=crm.sources.enabled(),
        secrets=secrets, tokens={token.sha256: token for token in crm.api_tokens},
    )
    errors.install(app)
    app.include_router(webhooks.router)
    app.include_router(rest.router)
    app.include_router(rest.health_router)
    app.include_router(leads.router)
    app.include_router(dashboard.router)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn api.app:app_from_env --factory`` (several workers): settings from SLAFLOW_*."""
    app = create_app(Runtime.from_env())
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Hide everything loaded at start-up from the cyclic garbage collector (``gc.freeze``): its
    full collections otherwise walk that whole heap and stall every request in flight (p99
    94 ms -> 12 ms in bench/webhooks.py). For server processes only."""
    gc.collect()
    gc.freeze()

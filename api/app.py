"""The FastAPI app. ``create_app`` checks the CRM config and reads its secrets at start-up, so a
missing secret or a rule naming an unknown trigger stops the server before it takes traffic."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import auth, breaches, dashboard, errors, health, leads, me, openapi, rest, watchers, webhooks
from api.limits import BodyLimitMiddleware, BodyLimits
from api.state import AppState
from api.workplace import web as workplace
from core.clock import Clock, SystemClock
from core.errors import ConfigError
from crm.api.registry import ApiRegistry
from crm.config import check_against, crm_config
from crm.pipeline import InboxPipeline
from crm.processor import PROCESSOR_ENV, ProcessorLink
from crm.redaction import redact_access_log
from runtime.assembly import Runtime

log = logging.getLogger(__name__)


def create_app(
    runtime: Runtime, clock: Clock | None = None, *, environ: Mapping[str, str] | None = None,
    process: bool = True, processor: ProcessorLink | None = None,
) -> FastAPI:
    """The HTTP app over ``runtime``'s database and company. ``environ`` (default: the process
    environment) holds the webhook secrets; ``process=False`` stores webhooks without processing
    them (another process does, e.g. the Prefect flow); ``processor``: the processor process
    (``slaflow inbox work``) does, woken after each commit."""
    clock = clock or SystemClock()
    company = runtime.company
    crm = crm_config(company)
    problems = check_against(crm, company)
    if problems:
        raise ConfigError(f"{company.source}: " + f"\n{company.source}: ".join(problems))
    secrets, unavailable = crm.resolve_available(os.environ if environ is None else environ)
    for source, reason in unavailable.items():  # one line each; the source answers 503 saying why
        log.warning("webhook source %s is disabled: %s", source, reason)
    # The pipeline thread also stores incoming webhooks: a rate-limited CRM may hold it 5 s at most;
    # longer, the row is failed and the process-inbox flow (or `inbox replay --failed`) retries it.
    apis = ApiRegistry(company, os.environ if environ is None else environ, budget_seconds=5.0,
                       sessions=runtime.sessions)
    pipeline = InboxPipeline(runtime.sessions, company, clock, process=process and processor is None, apis=apis,
                             on_stored=processor.doorbell.ring if processor else None,
                             store_gate=processor.gate if processor else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_access_log()  # after uvicorn configured its loggers
        pipeline.start()
        try:
            yield
        finally:
            pipeline.stop()
            apis.close()

    app = FastAPI(
        title="slaflow",
        version="0.1.0",
        summary="SLA workflow engine: CRM webhooks in, cases between departments out.",
        lifespan=lifespan,
    )
    app.state.slaflow = AppState(
        company=company, clock=clock, sessions=runtime.sessions, reads=runtime.reads, pipeline=pipeline,
        sources={name: cfg for name, cfg in crm.sources.enabled().items() if name in secrets},
        secrets=secrets, unavailable=unavailable,
    )
    auth.install(app, runtime, os.environ if environ is None else environ)  # sign-in, sessions, rate limits
    app.include_router(me.router)
    errors.install(app)
    openapi.install(app, company)
    settings = runtime.settings
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(settings.max_body_bytes, settings.body_limits))
    app.include_router(webhooks.router)
    app.include_router(rest.router)
    app.include_router(health.router)
    app.include_router(leads.router)
    app.include_router(breaches.router)
    app.include_router(watchers.router)
    app.include_router(dashboard.router)
    workplace.install(app, settings, os.environ if environ is None else environ)  # the workplace (issue #16)
    return app


def app_from_env() -> FastAPI:
    """For ``uvicorn api.app:app_from_env --factory`` (several workers): settings from SLAFLOW_*.
    With ``SLAFLOW_INBOX_PROCESSOR=process`` the app only stores webhooks and wakes the processor
    process (``slaflow inbox work``, started beside it); otherwise each worker processes what it stored."""
    runtime = Runtime.from_env()
    if os.environ.get(PROCESSOR_ENV) == "process":
        app = create_app(runtime, processor=ProcessorLink.for_url(runtime.settings.database_url))
    else:
        app = create_app(runtime)
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Hide everything loaded at start-up from the cyclic garbage collector (``gc.freeze``): its
    full collections otherwise walk that whole heap and stall every request in flight (p99
    94 ms -> 12 ms in bench/webhooks.py). For server processes only."""
    gc.collect()
    gc.freeze()

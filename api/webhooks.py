"""``POST /webhooks/{source}``: authenticate, validate, store with an idempotency key, answer.

Processing happens after the answer, in the inbox pipeline; its outcome is at
``GET /webhooks/events/{id}``. A request that fails authentication is answered 401 and logged
without any secret; one that authenticates but cannot be read is kept as ``rejected`` and
answered 400/422 naming the problem."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api.auth import AdminPrincipal
from api.schemas import MAX_ID, ErrorBody, InboxEventRead, InboxEventRow, WebhookAccepted
from api.state import AppState, app_state
from core.vocabulary import InboxStatus
from crm.adapters import ADAPTERS, Adapter, WebhookRequest
from crm.adapters.base import body_hash, fit_key
from crm.errors import AuthFailed, WebhookRejected
from crm.events import CrmEvent
from crm.inbox import InboxRecord, StoredEvent, body_text, list_inbox
from crm.pipeline import PipelineStopped
from storage.faults import is_unavailable
from storage.models import InboxEvent

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "description": "the CRM's webhook body, as the CRM sends it",
        "content": {"application/json": {"schema": {}},
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/webhooks/{source}",
    response_model=WebhookAccepted,
    responses={200: {"description": "stored; Salesforce is answered with its SOAP acknowledgement instead",
                     "content": {"text/xml": {"schema": {"type": "string"}}}},
               400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody},
               413: {"model": ErrorBody}, 422: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    openapi_extra=_BODY_DOC,
    summary="Receive a CRM webhook (bitrix24, amocrm, hubspot, pipedrive, salesforce, zoho, generic)",
)
async def receive_webhook(source: str, request: Request) -> Any:
    state = app_state(request)
    config = state.sources.get(source)
    if source in state.unavailable:
        # Configured but its secrets are missing: 503 so the CRM keeps retrying until it is fixed.
        return JSONResponse({"detail": f"webhook source {source!r} is disabled: {state.unavailable[source]}",
                             "error": "SourceUnavailable"}, status_code=503, headers={"Retry-After": "300"})
    if config is None:
        raise HTTPException(404, f"unknown or disabled webhook source {source!r}; enabled: {sorted(state.sources)}")
    body = await request.body()  # at most the route's limit: api.limits refuses more, unread
    adapter = ADAPTERS[source]
    incoming = WebhookRequest(method=request.method, url=str(request.url), headers=request.headers,
                              query=request.query_params, body=body)
    now = state.clock.now()
    try:
        account = adapter.authenticate_any(incoming, config, state.secrets[source], now)
    except WebhookRejected as exc:
        client = request.client.host if request.client else "?"
        log.warning("webhook %s from %s refused (%s): %s", source, client, exc.status, exc)
        challenge = {"WWW-Authenticate": 'Basic realm="slaflow"'} if source == "pipedrive" else None
        return _refusal(exc, 401 if isinstance(exc, AuthFailed) else exc.status, headers=challenge)
    try:
        events = adapter.parse(body, config)
    except WebhookRejected as exc:
        log.warning("webhook %s refused (%s): %s", source, exc.status, exc)
        record = _record(adapter, incoming, source, now, account, "rejected:" + body_hash(body), None)
        stored = await _store(state, replace(record, status=InboxStatus.REJECTED, last_error=str(exc)[:2000]))
        return _refusal(exc, exc.status, inbox_id=stored.id)
    key = adapter.idempotency_key(incoming, events)  # two accounts' deliveries never collide
    key = key if account == "default" else fit_key(f"{account}/{key}")
    stored = await _store(state, _record(adapter, incoming, source, now, account, key, events))
    acknowledgement = adapter.acknowledgement()
    if acknowledgement is not None:  # the answer the CRM expects (Salesforce: a SOAP <Ack>)
        return Response(acknowledgement[0], media_type=acknowledgement[1],
                        headers={"X-Slaflow-Inbox-Id": str(stored.id)})
    return JSONResponse({"id": stored.id, "status": stored.status, "duplicate": stored.duplicate,
                         "result": stored.result})


@router.get("/webhooks/events/{event_id}", response_model=InboxEventRead, responses={404: {"model": ErrorBody}})
def get_inbox_event(
    event_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request, admin: AdminPrincipal
) -> InboxEventRead:
    """A stored webhook and what processing did with it."""
    with app_state(request).reads() as session:
        row = session.get(InboxEvent, event_id)
        if row is None:
            raise HTTPException(404, f"inbox event {event_id} does not exist")
        return InboxEventRead.model_validate(row, from_attributes=True)


@router.get("/webhooks/events", response_model=list[InboxEventRow])
def list_inbox_events(
    request: Request,
    admin: AdminPrincipal,
    status: Annotated[str | None, Query(max_length=16)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[InboxEventRow]:
    """Stored webhooks, newest first (e.g. ``?status=failed``)."""
    with app_state(request).reads() as session:
        rows = list_inbox(session, status=status, source=source, limit=limit)
        return [InboxEventRow.model_validate(row, from_attributes=True) for row in rows]


def _record(adapter: Adapter, incoming: WebhookRequest, source: str, now: Any, account: str, key: str,
            events: list[CrmEvent] | None) -> InboxRecord:
    headers = {name: incoming.headers[name] for name in adapter.stored_headers if name in incoming.headers}
    stored = adapter.redact(incoming.body)
    text, raw = body_text(stored)
    return InboxRecord(source=source, idempotency_key=key, received_at=now,
                       content_type=incoming.headers.get("content-type"), headers=headers, body=text, raw_body=raw,
                       account=account, events=events if stored == incoming.body else None)


async def _store(state: AppState, record: InboxRecord) -> StoredEvent:
    try:
        return await state.pipeline.submit(record)
    except PipelineStopped as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from None
    except Exception as exc:
        if is_unavailable(exc):
            raise  # api.errors answers 503 with Retry-After and logs one line
        log.exception("webhook %s: could not store the request", record.source)
        raise HTTPException(503, "the request could not be stored; please retry",
                            headers={"Retry-After": "5"}) from None


def _refusal(
    exc: Exception, status: int, *, inbox_id: int | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"detail": str(exc), "error": type(exc).__name__}
    if inbox_id is not None:
        body["inbox_id"] = inbox_id
    return JSONResponse(body, status_code=status, headers=headers)

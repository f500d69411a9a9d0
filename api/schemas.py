"""Request and response bodies of the HTTP API (they are also its OpenAPI schema)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_ID = 2**31 - 1


def _no_nul(value: Any, where: str = "value") -> Any:
    """PostgreSQL cannot store NUL in JSON text; refuse it here with a clear 422 instead."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"{where} contains a NUL character")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, "a key")
            _no_nul(item, f"field {key!r}")
    if isinstance(value, list):
        for item in value:
            _no_nul(item, where)
    return value


NO_NUL: dict[str, Any] = {"pattern": r"^[^\x00]*$"}
"""JSON Schema for the NUL refusal of `_no_nul` (kept as schema only: the validator's message is clearer)."""
PLAIN_OBJECT: dict[str, Any] = {"propertyNames": NO_NUL,
                                "additionalProperties": {"$ref": "#/components/schemas/PlainValue"}}
"""JSON Schema of a fields object: any JSON without NUL in keys or strings (``PlainValue`` is in api.openapi)."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenCase(_Body):
    type: str = Field(min_length=1, max_length=64, description="case type name", json_schema_extra=NO_NUL)
    data: dict[str, Any] = Field(default_factory=dict, description="case fields", json_schema_extra=PLAIN_OBJECT)
    external_key: str | None = Field(None, min_length=1, max_length=255, json_schema_extra=NO_NUL,
                                     description="key of the record in your system (a second open is refused)")

    check_plain = field_validator("data", "external_key", "type")(lambda v: _no_nul(v))


class FireTrigger(_Body):
    trigger: str = Field(min_length=1, max_length=64, json_schema_extra=NO_NUL)
    payload: dict[str, Any] = Field(default_factory=dict, json_schema_extra=PLAIN_OBJECT)
    expected_version: int | None = Field(None, ge=1, le=MAX_ID,
                                         description="refuse (409) if the case changed since this version")

    check_plain = field_validator("payload", "trigger")(lambda v: _no_nul(v))


class AssignCase(_Body):
    person: str = Field(min_length=1, max_length=64, json_schema_extra=NO_NUL)
    expected_version: int | None = Field(None, ge=1, le=MAX_ID)

    check_plain = field_validator("person")(lambda v: _no_nul(v))


class AcknowledgeEscalation(_Body):
    """Stop the current step's remaining escalation levels, or hold them for ``snooze_minutes``
    of the owning department's business time."""

    snooze_minutes: float | None = Field(None, gt=0, le=5 * 24 * 60)


class RemainingMinutes(BaseModel):
    business_minutes: float
    wall_minutes: float


class CaseRow(BaseModel):
    id: int
    type: str
    state: str
    owner: str | None
    due_at: datetime | None
    remaining: str | None
    remaining_minutes: RemainingMinutes | None
    version: int
    opened_at: datetime
    closed_at: datetime | None


class ClockRead(BaseModel):
    kind: str
    state: str | None
    department: str
    person: str | None
    status: str
    started_at: datetime
    deadline_at: datetime | None
    stopped_at: datetime | None
    target_minutes: float | None
    used_minutes: float
    running: bool


class EventRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    seq: int
    at: datetime
    actor: str
    trigger: str
    from_: str | None = Field(alias="from")
    to: str
    payload: dict[str, Any]
    source: str


class CaseDetail(CaseRow):
    data: dict[str, Any]
    participants: list[str]
    external: str | None
    clocks: list[ClockRead]
    events: list[EventRead]


class DepartmentFigures(BaseModel):
    """met + breached + running == steps (the README's SLA rules); exempted steps beside them."""

    department: str
    steps: int = Field(description="visits of states with a target the department owned")
    met: int
    breached: int = Field(description="stopped late, or open past the deadline")
    running: int = Field(description="open and not late")
    paused: int = Field(description="of the running: waiting on another department's step")
    late_minutes: float = Field(description="business minutes past the deadlines of the breached steps, so far")
    compliance: float | None = Field(description="met / (met + breached); null when none is decided")
    exempted: int = Field(0, description="steps whose breach the director exempted: not in the figures above")


class Health(BaseModel):
    status: str
    database: str
    inbox_backlog: int = Field(description="stored webhooks waiting for processing in this process")


class WebhookAccepted(BaseModel):
    id: int = Field(description="inbox event id (the first one, for a redelivery)")
    status: str = Field(description="received, processed, unmatched or failed")
    duplicate: bool
    result: dict[str, Any] | None = None


class InboxEventRead(BaseModel):
    id: int
    source: str
    idempotency_key: str
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None
    result: dict[str, Any] | None
    content_type: str | None
    headers: dict[str, Any]
    body: str
    account: str | None = None
    """The source's account the request authenticated with."""
    expires_at: datetime | None = None
    """For a parked event: when it stops waiting for its case."""
    body_base64: str | None = None
    """The exact bytes, when ``body`` (text) cannot hold them (not UTF-8, or NUL)."""

    @model_validator(mode="before")
    @classmethod
    def _raw_body(cls, value: Any) -> Any:
        raw = getattr(value, "raw_body", None)
        if isinstance(raw, bytes):
            return {**{k: getattr(value, k) for k in cls.model_fields if hasattr(value, k)},
                    "body_base64": base64.b64encode(raw).decode()}
        return value


class InboxEventRow(BaseModel):
    id: int
    source: str
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None


class ErrorBody(BaseModel):
    detail: str
    error: str | None = None
    allowed: list[str] | None = None
    missing: list[str] | None = None
    case_id: int | None = None
    inbox_id: int | None = Field(None, description="where a refused but authenticated webhook was kept")

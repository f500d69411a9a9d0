"""The published OpenAPI describes every answer an operation can give, in one place.

Routers document what is particular to them; the answers that come from the app's edges are added
here to every operation they can reach: 400 where a body is parsed, 401 (and 429, repeated failed
tokens) where a token is checked, 413 where a body is read (api.limits), 503 where the database is
used (api.errors), 404 where a path names a record, and 422 in both of its shapes (the engine's
refusal, whose ``detail`` is a string, and request validation, whose ``detail`` is a list). Links
between operations let a client (and schemathesis' stateful tests) follow a created case or
webhook to its other operations. ``OpenCase`` is spelled out per case type with its required fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from api.schemas import NO_NUL, PLAIN_OBJECT, ErrorBody
from crm.config import crm_config
from org.chart import Company

NOT_CHECKED_FOR_STORAGE = {"/health/live"}
"""Operations that never touch the database."""


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class ValidationErrorBody(BaseModel):
    """FastAPI's answer to a request that does not match the schema: one entry per problem."""

    detail: list[ValidationIssue]


PLAIN_VALUE: dict[str, Any] = {
    "description": "any JSON value without a NUL character (PostgreSQL cannot store one)",
    "anyOf": [{"type": "string", **NO_NUL}, {"type": "number"}, {"type": "boolean"}, {"type": "null"},
              {"type": "array", "items": {"$ref": "#/components/schemas/PlainValue"}},
              {"type": "object", **PLAIN_OBJECT}],
}
_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_STANDARD: dict[str, tuple[str, dict[str, Any] | None]] = {
    "400": ("the body cannot be read (not UTF-8, or not the declared content type)", None),
    "401": ("no valid bearer token (or webhook signature)", None),
    "404": ("the record named in the path does not exist", None),
    "413": ("the body is larger than the route's limit (refused before it is read)", None),
    "429": ("too many failed attempts from this address or for this account; retry later", _RETRY_AFTER),
    "503": ("the database cannot take the request now; nothing was changed, retry later", _RETRY_AFTER),
}

LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    ("/api/cases", "post", "201"): {
        "GetCase": {"operationId": "get_case_api_cases__case_id__get",
                    "parameters": {"case_id": "$response.body#/id"}},
        "FireTrigger": {"operationId": "fire_trigger_api_cases__case_id__fire_post",
                        "parameters": {"case_id": "$response.body#/id"}},
        "AssignCase": {"operationId": "assign_case_api_cases__case_id__assign_post",
                       "parameters": {"case_id": "$response.body#/id"}},
        "AcknowledgeCase": {"operationId": "acknowledge_case_api_cases__case_id__acknowledge_post",
                            "parameters": {"case_id": "$response.body#/id"}},
    },
    ("/api/cases/{case_id}/fire", "post", "200"): {
        "GetCase": {"operationId": "get_case_api_cases__case_id__get",
                    "parameters": {"case_id": "$response.body#/id"}},
    },
    ("/webhooks/{source}", "post", "200"): {
        "GetInboxEvent": {"operationId": "get_inbox_event_webhooks_events__event_id__get",
                          "parameters": {"event_id": "$response.body#/id"}},
    },
}


def install(app: FastAPI, company: Company) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document(generate(), company)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(schema: dict[str, Any], company: Company) -> dict[str, Any]:
    """Add the edge answers and links to a generated schema (in place), and spell out per case
    type what opening one needs (the company's own types and required fields)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "OpenCase" in components:
        components["OpenCase"] = open_case_schema(company, components["OpenCase"])
    components.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    validation = ValidationErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(validation.pop("$defs", {}))
    components["ValidationErrorBody"] = validation
    components["PlainValue"] = PLAIN_VALUE
    sources = sorted(crm_config(company).sources.enabled())
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _document_operation(path, method, operation)
            for parameter in operation.get("parameters", []):
                if (path, parameter["name"]) == ("/webhooks/{source}", "source") and sources:
                    parameter["schema"] = {"type": "string", "enum": sources, "title": "Source"}
    return schema


def open_case_schema(company: Company, generated: dict[str, Any]) -> dict[str, Any]:
    """``OpenCase`` as one variant per case type, each with the fields its first step requires."""
    key = generated["properties"]["external_key"]
    variants = []
    for name, definition in sorted(company.case_types.items()):
        required = list(definition.open_requires)
        variants.append({
            "type": "object", "title": f"Open a {name} case", "additionalProperties": False, "required": ["type"],
            "properties": {
                "type": {"const": name},
                "data": {"type": "object", "required": required, "properties": dict.fromkeys(required, _FIELD),
                         **PLAIN_OBJECT},
                "external_key": key,
            },
        })
    return {"title": "OpenCase", "description": generated.get("description", "a case to open"), "oneOf": variants}


_FIELD = {
    "description": "a value that is not blank: the engine refuses null, an empty or all-blank text, an empty "
                   "list or object (`engine.records.blank`); a number is as good as text (CRMs send order numbers)",
    "anyOf": [{"type": "string", "pattern": r"^[^\x00]*[^\x00\s][^\x00]*$"}, {"type": "number"}, {"type": "boolean"},
              {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/PlainValue"}},
              {"type": "object", "minProperties": 1, **PLAIN_OBJECT}],
}
"""A required field, as the engine checks it. Documented once as text of at most 200 characters,
which the engine never enforced: schemathesis' negative cases (a number for ``customer``) were
accepted about once in 35 runs of the link-following test."""


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    wanted = set()
    if operation.get("security"):
        wanted |= {"401", "429"}
    if "requestBody" in operation:
        wanted |= {"400", "413", "422"}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        wanted |= {"404", "422"}
    if operation.get("parameters"):
        wanted.add("422")
    if path not in NOT_CHECKED_FOR_STORAGE:
        wanted.add("503")
    for status in sorted(wanted):
        if status == "422":
            continue
        description, headers = _STANDARD[status]
        answer = responses.setdefault(status, {"description": description})
        answer.setdefault("content", {"application/json": {"schema": _ERROR}})
        if headers:
            answer.setdefault("headers", headers)
    if "422" in wanted or "422" in responses:
        answer = responses.setdefault("422", {"description": "the request is not valid"})
        answer["content"] = {"application/json": {"schema": {"anyOf": [
            _ERROR, {"$ref": "#/components/schemas/ValidationErrorBody"}]}}}
    for (link_path, link_method, status), links in LINKS.items():
        if (path, method) == (link_path, link_method) and status in responses:
            responses[status]["links"] = links

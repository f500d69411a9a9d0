"""Per CRM: read a record (enrichment) and write a comment or fields onto it (write-back), as each
vendor's REST API documents it.

- Bitrix24: ``crm.<entity>.get`` / ``crm.timeline.comment.add`` / ``crm.<entity>.update`` through
  an incoming webhook (``<portal>/rest/<user>/<code>/<method>.json``); errors come as
  ``{"error": ..., "error_description": ...}``, the rate limit as 503 ``QUERY_LIMIT_EXCEEDED``.
- HubSpot: CRM objects API v3 (``/crm/v3/objects/<type>/<id>?properties=...``), notes created
  with an association to the record (HubSpot-defined association types), ``PATCH`` for fields.
- amoCRM: API v4 (``/api/v4/leads/<id>``, ``/api/v4/leads/<id>/notes``, ``PATCH /api/v4/leads/<id>``),
  a long-lived token as Bearer.
- Pipedrive: deals API v2 (``/api/v2/deals/<id>``, ``PATCH`` for custom fields) and notes
  (``POST /api/v1/notes``), the API token in ``x-api-token``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from crm.api.http import CrmApiError, CrmHttp
from crm.api.tokens import Tokens, TokenStore


@dataclass(frozen=True)
class Record:
    """A CRM record as read back: its stage and pipeline (normalised) and every field."""

    stage: str | None
    pipeline: str | None
    fields: dict[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class VendorApi(ABC):
    def __init__(self, http: CrmHttp, tokens: TokenStore | None = None, source: str = "", account: str = "") -> None:
        self.http = http
        self.tokens = tokens or TokenStore()
        self.source, self.account = source, account

    @property
    def base(self) -> str:
        return self.http.access.url.rstrip("/")

    @abstractmethod
    def ping(self) -> str:
        """A cheap authenticated call (``slaflow crm check``): what the CRM says about the account."""

    @abstractmethod
    def fetch(self, kind: str, entity_id: str, properties: list[str]) -> Record:
        """The record (``properties``: field names the rules ask for, where the API needs them)."""

    @abstractmethod
    def comment(self, kind: str, entity_id: str, text: str, now: datetime) -> None:
        """A timeline comment / note on the record."""

    @abstractmethod
    def update_fields(self, kind: str, entity_id: str, fields: dict[str, Any]) -> None:
        """Set fields of the record (e.g. an "SLA status" custom field)."""


class Bitrix24Api(VendorApi):
    """Through an incoming webhook (``token`` is its code), or as an app (OAuth): with
    ``client_id``, ``client_secret`` and ``token`` the app's refresh token, an access token is
    bought at ``token_url`` (``https://oauth.bitrix.info/oauth/token/``) and again when Bitrix24
    answers ``expired_token``; Bitrix24 replaces the refresh token at every refresh, so the new one
    is stored (`TokenStore`) before it is used."""

    _STAGE = {"deal": "STAGE_ID", "lead": "STATUS_ID", "quote": "STATUS_ID"}
    _access: str | None = None

    @property
    def _app(self) -> bool:
        return self.http.access.client_id is not None

    def _url(self, method: str) -> str:
        if self._app:
            return f"{self.base}/{method}.json"
        return f"{self.base}/{self.http.token}/{method}.json"

    @staticmethod
    def _error(response: httpx.Response) -> str | None:
        body = response.json() if response.content else {}
        if isinstance(body, dict) and "error" in body:
            return f"{body['error']}: {body.get('error_description', '')}".strip()
        return None if isinstance(body, dict) and "result" in body else "no result in the answer"

    def _call(self, method: str, payload: dict[str, Any]) -> httpx.Response:
        if not self._app:
            return self.http.call("POST", self._url(method), what=method, json=payload, ok=self._error)
        for attempt in (0, 1):
            access = self._access or self._stored_access() or self._refresh()
            try:
                return self.http.call("POST", self._url(method), what=method, json=payload, ok=self._error,
                                      params={"auth": access})
            except CrmApiError as exc:
                if exc.status != 401 or attempt:
                    raise
                self._access = None  # expired_token / invalid_token: buy another, once
                self.tokens.save(self.source, self.account, Tokens(None, self._refresh_token()))
        raise AssertionError("unreachable")

    def _stored_access(self) -> str | None:
        stored = self.tokens.load(self.source, self.account)
        self._access = stored.access_token if stored is not None else None
        return self._access

    def _refresh_token(self) -> str:
        stored = self.tokens.load(self.source, self.account)
        return stored.refresh_token if stored is not None else self.http.token

    def _refresh(self) -> str:
        access = self.http.access
        url = access.token_url or "https://oauth.bitrix.info/oauth/token/"
        for attempt in (0, 1):
            used = self._refresh_token()
            try:
                body = self.http.call("GET", url, what="oauth refresh", params={
                    "grant_type": "refresh_token", "client_id": access.client_id,
                    "client_secret": self.http.client_secret, "refresh_token": used}).json()
            except CrmApiError as exc:
                if exc.status not in (400, 401):
                    raise
                body = {"error": f"HTTP {exc.status}"}
            if "access_token" in body and "refresh_token" in body:
                self.tokens.save(self.source, self.account, Tokens(body["access_token"], body["refresh_token"]))
                self._access = str(body["access_token"])
                return self._access
            if attempt == 0 and self._refresh_token() != used:
                continue  # another process refreshed meanwhile: use the token it stored
            raise CrmApiError(f"bitrix24 oauth refresh refused ({body.get('error', 'no token')}): authorise the "
                              "app again and set its new refresh token", permanent=True)
        raise AssertionError("unreachable")

    def ping(self) -> str:
        fields = self._call("crm.deal.fields", {})
        return f"crm.deal.fields: {len(fields.json()['result'])} fields"

    def fetch(self, kind: str, entity_id: str, properties: list[str]) -> Record:
        response = self._call(f"crm.{kind}.get", {"id": entity_id})
        result = response.json()["result"]
        if not isinstance(result, dict):
            raise CrmApiError(f"bitrix24 crm.{kind}.get: the result is not a record", permanent=True)
        fields = dict(result)
        fields.setdefault("amount", result.get("OPPORTUNITY"))
        fields.setdefault("responsible", result.get("ASSIGNED_BY_ID"))
        return Record(stage=_text(result.get(self._STAGE.get(kind, "STAGE_ID"))),
                      pipeline=_text(result.get("CATEGORY_ID")), fields=fields)

    def comment(self, kind: str, entity_id: str, text: str, now: datetime) -> None:
        self._call("crm.timeline.comment.add", {"fields": {
            "ENTITY_ID": int(entity_id) if entity_id.isdigit() else entity_id, "ENTITY_TYPE": kind, "COMMENT": text}})

    def update_fields(self, kind: str, entity_id: str, fields: dict[str, Any]) -> None:
        self._call(f"crm.{kind}.update", {"id": entity_id, "fields": fields})


class HubSpotApi(VendorApi):
    _PLURAL = {"deal": "deals", "contact": "contacts", "company": "companies", "ticket": "tickets", "lead": "leads"}
    _DEFAULT_PROPERTIES = {
        "deal": ["dealname", "dealstage", "pipeline", "amount", "closedate", "hubspot_owner_id"],
        "ticket": ["subject", "hs_pipeline", "hs_pipeline_stage", "hubspot_owner_id"],
        "contact": ["email", "firstname", "lastname", "lifecyclestage", "hs_lead_status", "hubspot_owner_id"],
        "company": ["name", "domain", "lifecyclestage", "hubspot_owner_id"],
    }
    _STAGE = {"deal": ("dealstage", "pipeline"), "ticket": ("hs_pipeline_stage", "hs_pipeline")}
    NOTE_ASSOCIATION = {"contact": 202, "company": 190, "deal": 214, "ticket": 228}
    """HubSpot-defined association type ids, note -> record."""

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.http.token}"}

    def _plural(self, kind: str) -> str:
        return self._PLURAL.get(kind, kind)

    def ping(self) -> str:
        self.http.call("GET", f"{self.base}/crm/v3/objects/deals", what="GET deals", headers=self._headers(),
                       params={"limit": "1"})
        return "crm/v3/objects/deals readable"

    def fetch(self, kind: str, entity_id: str, properties: list[str]) -> Record:
        wanted = sorted({*self._DEFAULT_PROPERTIES.get(kind, []), *properties})
        response = self.http.call("GET", f"{self.base}/crm/v3/objects/{self._plural(kind)}/{entity_id}",
                                  what=f"GET {kind}", headers=self._headers(),
                                  params={"properties": ",".join(wanted), "archived": "false"})
        props = dict(response.json().get("properties") or {})
        stage_key, pipeline_key = self._STAGE.get(kind, ("", ""))
        props.setdefault("responsible", props.get("hubspot_owner_id"))
        return Record(stage=_text(props.get(stage_key)), pipeline=_text(props.get(pipeline_key)), fields=props)

    def comment(self, kind: str, entity_id: str, text: str, now: datetime) -> None:
        note: dict[str, Any] = {"properties": {"hs_timestamp": now.isoformat().replace("+00:00", "Z"),
                                               "hs_note_body": text}}
        association = self.NOTE_ASSOCIATION.get(kind)
        if association is None:
            raise CrmApiError(f"hubspot: notes cannot be associated with {kind!r} records", permanent=True)
        note["associations"] = [{"to": {"id": entity_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": association}]}]
        self.http.call("POST", f"{self.base}/crm/v3/objects/notes", what="POST note", headers=self._headers(),
                       json=note)

    def update_fields(self, kind: str, entity_id: str, fields: dict[str, Any]) -> None:
        self.http.call("PATCH", f"{self.base}/crm/v3/objects/{self._plural(kind)}/{entity_id}", what=f"PATCH {kind}",
                       headers=self._headers(), json={"properties": fields})


class AmoCrmApi(VendorApi):
    _PLURAL = {"lead": "leads", "contact": "contacts", "company": "companies", "customer": "customers"}

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.http.token}"}

    def ping(self) -> str:
        account = self.http.call("GET", f"{self.base}/api/v4/account", what="GET account", headers=self._headers())
        return f"account {account.json().get('subdomain') or account.json().get('name')}"

    def fetch(self, kind: str, entity_id: str, properties: list[str]) -> Record:
        response = self.http.call("GET", f"{self.base}/api/v4/{self._PLURAL.get(kind, kind)}/{entity_id}",
                                  what=f"GET {kind}", headers=self._headers())
        if response.status_code == 204:  # amoCRM answers 204 No Content for a record it does not have
            raise CrmApiError(f"amocrm GET {kind}: record {entity_id} does not exist", permanent=True, status=204)
        body = response.json()
        fields: dict[str, Any] = {k: v for k, v in body.items() if isinstance(v, str | int | float | bool)}
        for custom in body.get("custom_fields_values") or []:
            values = [v.get("value") for v in custom.get("values") or [] if isinstance(v, dict)]
            value: Any = values[0] if len(values) == 1 else values
            fields[f"cf_{custom.get('field_id')}"] = value
            if custom.get("field_name"):
                fields[str(custom["field_name"])] = value
        fields.setdefault("amount", body.get("price"))
        fields.setdefault("responsible", body.get("responsible_user_id"))
        return Record(stage=_text(body.get("status_id")), pipeline=_text(body.get("pipeline_id")), fields=fields)

    def comment(self, kind: str, entity_id: str, text: str, now: datetime) -> None:
        self.http.call("POST", f"{self.base}/api/v4/{self._PLURAL.get(kind, kind)}/{entity_id}/notes",
                       what="POST note", headers=self._headers(),
                       json=[{"note_type": "common", "params": {"text": text}}])

    def update_fields(self, kind: str, entity_id: str, fields: dict[str, Any]) -> None:
        values = [{"field_id": int(k) if str(k).isdigit() else k, "values": [{"value": v}]} for k, v in fields.items()]
        self.http.call("PATCH", f"{self.base}/api/v4/{self._PLURAL.get(kind, kind)}/{entity_id}",
                       what=f"PATCH {kind}", headers=self._headers(), json={"custom_fields_values": values})


class PipedriveApi(VendorApi):
    _NOTE_KEY = {"deal": "deal_id", "lead": "lead_id", "person": "person_id", "organization": "org_id"}

    def _headers(self) -> dict[str, str]:
        return {"x-api-token": self.http.token}

    @staticmethod
    def _success(response: httpx.Response) -> str | None:
        body = response.json()
        return None if isinstance(body, dict) and body.get("success") is True else f"unsuccessful: {body!r:.200}"

    def ping(self) -> str:
        me = self.http.call("GET", f"{self.base}/api/v1/users/me", what="GET users/me", headers=self._headers(),
                            ok=self._success)
        return f"company {me.json()['data'].get('company_name')}"

    def fetch(self, kind: str, entity_id: str, properties: list[str]) -> Record:
        plural = {"person": "persons", "organization": "organizations"}.get(kind, f"{kind}s")
        response = self.http.call("GET", f"{self.base}/api/v2/{plural}/{entity_id}", what=f"GET {kind}",
                                  headers=self._headers(), ok=self._success)
        data = response.json()["data"] or {}
        fields: dict[str, Any] = {k: v for k, v in data.items() if isinstance(v, str | int | float | bool)}
        for key, value in (data.get("custom_fields") or {}).items():
            fields[key] = value.get("value") if isinstance(value, dict) and "value" in value else value
        fields.setdefault("amount", data.get("value"))
        fields.setdefault("responsible", data.get("owner_id"))
        return Record(stage=_text(data.get("stage_id")), pipeline=_text(data.get("pipeline_id")), fields=fields)

    def comment(self, kind: str, entity_id: str, text: str, now: datetime) -> None:
        key = self._NOTE_KEY.get(kind)
        if key is None:
            raise CrmApiError(f"pipedrive: notes cannot be attached to {kind!r} records", permanent=True)
        self.http.call("POST", f"{self.base}/api/v1/notes", what="POST note", headers=self._headers(),
                       json={"content": text, key: entity_id if kind == "lead" else int(entity_id)}, ok=self._success)

    def update_fields(self, kind: str, entity_id: str, fields: dict[str, Any]) -> None:
        self.http.call("PATCH", f"{self.base}/api/v2/{kind}s/{entity_id}", what=f"PATCH {kind}",
                       headers=self._headers(), json={"custom_fields": fields}, ok=self._success)


class ZohoApi(VendorApi):
    """Zoho CRM API v2 with OAuth: the configured refresh token buys an access token (an hour),
    bought again when Zoho answers 401 ``INVALID_TOKEN``."""

    _STAGE = {"Deals": "Stage", "Leads": "Lead_Status", "Cases": "Status"}
    _access: str | None = None

    def _module(self, kind: str) -> str:
        return {"opportunity": "Deals", "sales_order": "Sales_Orders"}.get(kind, kind.capitalize() + "s")

    def _refresh(self) -> str:
        access = self.http.access
        if not (access.token_url and access.client_id and self.http.client_secret):
            raise CrmApiError("zoho: api needs client_id, client_secret and token_url", permanent=True)
        response = self.http.call("POST", access.token_url, what="token refresh", params={
            "refresh_token": self.http.token, "client_id": access.client_id,
            "client_secret": self.http.client_secret, "grant_type": "refresh_token"},
            ok=lambda r: None if "access_token" in r.json() else f"no access token: {r.json().get('error')}")
        self._access = str(response.json()["access_token"])
        return self._access

    def _call(self, method: str, path: str, *, what: str, json: Any = None) -> httpx.Response:
        for attempt in (0, 1):
            token = self._access or self._refresh()
            try:
                return self.http.call(method, f"{self.base}{path}", what=what, json=json,
                                      headers={"Authorization": f"Zoho-oauthtoken {token}"})
            except CrmApiError as exc:
                if exc.status != 401 or attempt:
                    raise
                self._access = None  # expired: buy another and try once more
        raise AssertionError("unreachable")

    def ping(self) -> str:
        org = self._call("GET", "/crm/v2/org", what="GET org").json()["org"][0]
        return f"org {org.get('company_name')}"

    def fetch(self, kind: str, entity_id: str, properties: list[str]) -> Record:
        module = self._module(kind)
        response = self._call("GET", f"/crm/v2/{module}/{entity_id}", what=f"GET {module}")
        if response.status_code == 204:
            raise CrmApiError(f"zoho GET {module}: record {entity_id} does not exist", permanent=True, status=204)
        [data] = response.json()["data"]
        fields: dict[str, Any] = {}
        for key, value in data.items():
            fields[key] = value.get("name", value.get("id")) if isinstance(value, dict) else value
        fields.setdefault("amount", data.get("Amount"))
        owner = data.get("Owner")
        fields.setdefault("responsible", owner.get("id") if isinstance(owner, dict) else owner)
        return Record(stage=_text(fields.get(self._STAGE.get(module, "Stage"))),
                      pipeline=_text(fields.get("Pipeline")), fields=fields)

    def comment(self, kind: str, entity_id: str, text: str, now: datetime) -> None:
        module = self._module(kind)
        self._call("POST", f"/crm/v2/{module}/{entity_id}/Notes", what="POST note",
                   json={"data": [{"Note_Title": "SLA", "Note_Content": text}]})

    def update_fields(self, kind: str, entity_id: str, fields: dict[str, Any]) -> None:
        module = self._module(kind)
        self._call("PUT", f"/crm/v2/{module}/{entity_id}", what=f"PUT {module}", json={"data": [fields]})


VENDORS: dict[str, type[VendorApi]] = {
    "bitrix24": Bitrix24Api, "hubspot": HubSpotApi, "amocrm": AmoCrmApi, "pipedrive": PipedriveApi, "zoho": ZohoApi,
}

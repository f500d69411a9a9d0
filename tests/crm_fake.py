"""One local HTTP server that answers as the CRMs' REST APIs document it (Bitrix24 incoming
webhooks, HubSpot CRM objects v3 and notes, amoCRM API v4, Pipedrive API v2 and notes): records
to read, notes and field updates it remembers, its auth checks and errors, and scripted failures
(rate limits, outages) answered before the normal answer. A CRM's servers are the one boundary
the tests fake."""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKENS = {"bitrix24": "k9xq2w7r1t5y3u8i", "hubspot": "pat-eu1-5f0c2e1a", "amocrm": "amo-longlived-7c1d",
          "pipedrive": "pd-api-token-94e2", "zoho": "1000.refresh.5d1e", "zoho_client_secret": "zoho-client-77",
          "bitrix24_app_secret": "ZeKyeYIgy2NsHZqs", "bitrix24_refresh": "952f2c69006e9f06-r0"}
B24_APP_CLIENT_ID = "local.6667fc928a50a9.70414732"
"""The API credentials the fake accepts (tests put them in the environment as the config says)."""

RATE_LIMITS: dict[str, tuple[int, dict[str, str], Any]] = {
    "bitrix24": (503, {}, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
    "hubspot": (429, {"Retry-After": "1"}, {"status": "error", "message": "You have reached your secondly limit.",
                                            "errorType": "RATE_LIMIT", "correlationId": "6a7d1e7c",
                                            "policyName": "SECONDLY"}),
    "amocrm": (429, {"Retry-After": "1"}, {"title": "Too Many Requests", "status": 429}),
    "pipedrive": (429, {"Retry-After": "2", "x-ratelimit-remaining": "0"},
                  {"success": False, "error": "Request over limit", "errorCode": 429}),
    "zoho": (429, {"Retry-After": "1"}, {"code": "TOO_MANY_REQUESTS", "details": {},
                                         "message": "too many requests", "status": "error"}),
}
"""How each vendor documents its rate-limit answer."""


@dataclass
class FakeCrm:
    url: str = ""
    records: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    """(vendor, kind, id) -> the record as the vendor's API returns it."""
    notes: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    script: deque[tuple[str, int, dict[str, str], Any]] = field(default_factory=deque)
    """(path substring, status, headers, body): answered, in order, by requests whose path matches."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(9001))
    zoho_access: str = "1000.access.first"
    """The Zoho access token currently valid (a test changes it to expire the one handed out)."""
    zoho_refreshes: int = 0
    b24_access: str = ""
    b24_refresh: str = TOKENS["bitrix24_refresh"]
    """The Bitrix24 app's one valid refresh token: each refresh replaces it."""
    b24_refreshes: int = 0

    def fail(self, path_part: str, vendor_or_status: str | int, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with the vendor's rate limit or a bare status."""
        for _ in range(times):
            if isinstance(vendor_or_status, str):
                status, headers, body = RATE_LIMITS[vendor_or_status]
            else:
                status, headers, body = vendor_or_status, {}, {"error": "internal", "message": "Internal Server Error"}
            self.script.append((path_part, status, headers, body))

    def fail_with(self, path_part: str, status: int, headers: dict[str, str], body: Any) -> None:
        self.script.append((path_part, status, headers, body))

    def answer(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: Any) -> tuple[int, dict[str, str], Any]:
        self.requests.append((method, path))
        for item in list(self.script):
            if item[0] in path:
                self.script.remove(item)
                return item[1], item[2], item[3]
        if path == "/oauth/token/":
            return self._bitrix24_oauth(query)
        if re.fullmatch(r"/rest/[a-z.]+\.json", path):
            if query.get("auth") != [self.b24_access] or not self.b24_access:
                return 401, {}, {"error": "expired_token",
                                 "error_description": "The access token provided has expired."}
            return self._bitrix24(f"/rest/1/{TOKENS['bitrix24']}/{path[6:]}", query, body)
        if path.startswith("/rest/"):
            return self._bitrix24(path, query, body)
        if path.startswith("/crm/v3/"):
            return self._hubspot(method, path, query, headers, body)
        if path.startswith("/api/v4/"):
            return self._amocrm(method, path, headers, body)
        if path.startswith(("/api/v2/", "/api/v1/")):
            return self._pipedrive(method, path, headers, body)
        if path == "/oauth/v2/token" or path.startswith("/crm/v2/"):
            return self._zoho(method, path, query, headers, body)
        return 404, {}, {"error": "no such route"}

    def _bitrix24_oauth(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        ok = (query.get("grant_type") == ["refresh_token"] and query.get("client_id") == [B24_APP_CLIENT_ID]
              and query.get("client_secret") == [TOKENS["bitrix24_app_secret"]]
              and query.get("refresh_token") == [self.b24_refresh])
        if not ok:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid grant"}
        self.b24_refreshes += 1
        self.b24_access = f"6b2e0667006e9f06-a{self.b24_refreshes}"
        self.b24_refresh = f"952f2c69006e9f06-r{self.b24_refreshes}"
        return 200, {}, {"access_token": self.b24_access, "expires": 1794812400, "expires_in": 3600,
                         "scope": "crm", "domain": "oauth.bitrix.info", "server_endpoint": "https://oauth.bitrix.info/rest/",
                         "status": "L", "client_endpoint": f"{self.url}/rest/", "member_id": "a223c6b3710f85df",
                         "user_id": 1, "refresh_token": self.b24_refresh}

    def _bitrix24(self, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, dict[str, str], Any]:
        match = re.fullmatch(r"/rest/(\d+)/([^/]+)/([a-z.]+)\.json", path)
        if match is None or match[2] != TOKENS["bitrix24"]:
            return 401, {}, {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
        method = match[3]
        args: dict[str, Any] = body if isinstance(body, dict) else {k: v[0] for k, v in query.items()}
        timing = {"start": 1794808800.1, "finish": 1794808800.2, "duration": 0.1}
        if method == "crm.deal.fields":
            return 200, {}, {"result": {"ID": {"type": "integer"}, "TITLE": {"type": "string"},
                                        "STAGE_ID": {"type": "crm_status"}}, "time": timing}
        get = re.fullmatch(r"crm\.(\w+)\.get", method)
        if get:
            record = self.records.get(("bitrix24", get[1], str(args.get("id"))))
            if record is None:
                return 400, {}, {"error": "NOT_FOUND", "error_description": "Not found"}
            return 200, {}, {"result": record, "time": timing}
        if method == "crm.timeline.comment.add":
            fields: dict[str, Any] = args.get("fields") or {}
            if not fields.get("COMMENT"):
                return 400, {}, {"error": "ERROR_ARGUMENT", "error_description": "Comment is empty"}
            self.notes.append({"vendor": "bitrix24", "kind": fields["ENTITY_TYPE"], "id": str(fields["ENTITY_ID"]),
                               "text": fields["COMMENT"]})
            return 200, {}, {"result": next(self._ids), "time": timing}
        update = re.fullmatch(r"crm\.(\w+)\.update", method)
        if update:
            self.updates.append({"vendor": "bitrix24", "kind": update[1], "id": str(args.get("id")),
                                 "fields": args.get("fields")})
            return 200, {}, {"result": True, "time": timing}
        return 400, {}, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def _hubspot(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                 body: Any) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {TOKENS['hubspot']}":
            return 401, {}, {"status": "error", "message": "Authentication credentials not found.",
                             "category": "INVALID_AUTHENTICATION"}
        if path == "/crm/v3/objects/deals":
            return 200, {}, {"results": [], "paging": None}
        if method == "POST" and path == "/crm/v3/objects/notes":
            [association] = body["associations"]
            type_id = association["types"][0]["associationTypeId"]
            self.notes.append({"vendor": "hubspot", "kind": {214: "deal", 202: "contact", 190: "company",
                                                             228: "ticket"}[type_id],
                               "id": str(association["to"]["id"]), "text": body["properties"]["hs_note_body"]})
            return 201, {}, {"id": str(next(self._ids)), "properties": body["properties"], "archived": False}
        match = re.fullmatch(r"/crm/v3/objects/(\w+)/(\d+)", path)
        if match is None:
            return 404, {}, {"status": "error", "message": "Not found", "category": "OBJECT_NOT_FOUND"}
        kind = {"deals": "deal", "contacts": "contact", "companies": "company", "tickets": "ticket"}[match[1]]
        record = self.records.get(("hubspot", kind, match[2]))
        if record is None:
            return 404, {}, {"status": "error", "message": "Object not found.  objectId are usually numeric.",
                             "category": "OBJECT_NOT_FOUND"}
        if method == "PATCH":
            self.updates.append({"vendor": "hubspot", "kind": kind, "id": match[2], "fields": body["properties"]})
            return 200, {}, {"id": match[2], "properties": body["properties"]}
        wanted = (query.get("properties") or [""])[0].split(",")
        properties = {k: v for k, v in record.items() if k in wanted or k == "hs_object_id"}
        return 200, {}, {"id": match[2], "properties": properties, "archived": False,
                         "createdAt": "2026-11-16T06:00:00Z", "updatedAt": "2026-11-16T06:00:00Z"}

    def _amocrm(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {TOKENS['amocrm']}":
            return 401, {}, {"title": "Unauthorized", "type": "https://httpstatus.es/401", "status": 401,
                             "detail": "Неверный логин или пароль"}
        if path == "/api/v4/account":
            return 200, {}, {"id": 29715442, "name": "Север", "subdomain": "sever", "country": "RU"}
        notes = re.fullmatch(r"/api/v4/leads/(\d+)/notes", path)
        if notes and method == "POST":
            for note in body:
                self.notes.append({"vendor": "amocrm", "kind": "lead", "id": notes[1], "text": note["params"]["text"]})
            return 200, {}, {"_embedded": {"notes": [{"id": next(self._ids), "entity_id": int(notes[1])}]}}
        match = re.fullmatch(r"/api/v4/leads/(\d+)", path)
        if match is None:
            return 404, {}, {"title": "Not Found", "status": 404}
        if method == "PATCH":
            self.updates.append({"vendor": "amocrm", "kind": "lead", "id": match[1], "fields": body})
            return 200, {}, {"id": int(match[1])}
        record = self.records.get(("amocrm", "lead", match[1]))
        return (200, {}, record) if record is not None else (204, {}, None)

    def _pipedrive(self, method: str, path: str, headers: dict[str, str],
                   body: Any) -> tuple[int, dict[str, str], Any]:
        if headers.get("x-api-token") != TOKENS["pipedrive"]:
            return 401, {}, {"success": False, "error": "unauthorized access", "errorCode": 401}
        if path == "/api/v1/users/me":
            return 200, {}, {"success": True, "data": {"id": 18487521, "company_name": "Север", "name": "Ivanov"}}
        if path == "/api/v1/notes" and method == "POST":
            kind = next(k for k in ("deal_id", "lead_id", "person_id", "org_id") if k in body)
            self.notes.append({"vendor": "pipedrive", "kind": kind[:-3].replace("org", "organization"),
                               "id": str(body[kind]), "text": body["content"]})
            return 201, {}, {"success": True, "data": {"id": next(self._ids), "content": body["content"]}}
        match = re.fullmatch(r"/api/v2/deals/(\d+)", path)
        record = self.records.get(("pipedrive", "deal", match[1])) if match else None
        if match is None or record is None:
            return 404, {}, {"success": False, "error": "Deal not found", "errorCode": 404}
        if method == "PATCH":
            self.updates.append({"vendor": "pipedrive", "kind": "deal", "id": match[1], "fields": body})
            return 200, {}, {"success": True, "data": record}
        return 200, {}, {"success": True, "data": record}

    def _zoho(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
              body: Any) -> tuple[int, dict[str, str], Any]:
        if path == "/oauth/v2/token":
            ok = (query.get("refresh_token") == [TOKENS["zoho"]] and query.get("client_id") == ["1000.CLIENTID"]
                  and query.get("client_secret") == [TOKENS["zoho_client_secret"]])
            if not ok:
                return 200, {}, {"error": "invalid_code"}  # Zoho answers a bad refresh with 200 and an error
            self.zoho_refreshes += 1
            self.zoho_access = f"1000.access.{self.zoho_refreshes}"
            return 200, {}, {"access_token": self.zoho_access, "api_domain": self.url, "token_type": "Bearer",
                             "expires_in": 3600}
        if headers.get("authorization") != f"Zoho-oauthtoken {self.zoho_access}":
            return 401, {}, {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token",
                             "status": "error"}
        if path == "/crm/v2/org":
            return 200, {}, {"org": [{"company_name": "Север", "id": "4150868000000225013"}]}
        notes = re.fullmatch(r"/crm/v2/(\w+)/(\d+)/Notes", path)
        if notes and method == "POST":
            for note in body["data"]:
                self.notes.append({"vendor": "zoho", "kind": notes[1][:-1].lower(), "id": notes[2],
                                   "text": note["Note_Content"]})
            return 201, {}, {"data": [{"code": "SUCCESS", "details": {"id": str(next(self._ids))},
                                       "message": "record added", "status": "success"}]}
        match = re.fullmatch(r"/crm/v2/(\w+)/(\d+)", path)
        if match is None:
            return 400, {}, {"code": "INVALID_URL_PATTERN", "message": "Please check if the URL trying to access "
                             "is a correct one", "status": "error"}
        kind = match[1][:-1].lower()
        if method == "PUT":
            self.updates.append({"vendor": "zoho", "kind": kind, "id": match[2], "fields": body["data"][0]})
            return 200, {}, {"data": [{"code": "SUCCESS", "details": {"id": match[2]}, "status": "success"}]}
        record = self.records.get(("zoho", kind, match[2]))
        return (200, {}, {"data": [record]}) if record is not None else (204, {}, None)

    def notes_on(self, vendor: str, kind: str, entity_id: str) -> list[str]:
        return [n["text"] for n in self.notes if (n["vendor"], n["kind"], n["id"]) == (vendor, kind, entity_id)]


def _handler(fake: FakeCrm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, answer = fake.answer(self.command, parts.path, parse_qs(parts.query), headers, body)
            payload = b"" if answer is None else json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@pytest.fixture
def fake_crm() -> Iterator[FakeCrm]:
    fake = FakeCrm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

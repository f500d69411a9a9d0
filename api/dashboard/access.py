"""Who is looking at the dashboard: a person signed in through a server-side session (password
or OpenID Connect, ``api.sessions``), or a script sending ``Authorization: Bearer`` as to the API.
The cookie never holds a token or anything else that grants access by itself."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse

from api.auth import auth_context, principal_from_bearer
from api.state import app_state
from org.actors import Principal

HOME = "/dashboard"
LOGIN = "/dashboard/login"


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    csrf: str | None
    """The session's CSRF token for forms (None for a bearer-token script)."""


def viewer(request: Request) -> Viewer | None:
    """The viewer, or None without a valid session. A bearer header that is present but unknown
    is refused with 401 (429 after too many), as by the API: a script wants an answer, not a form."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return Viewer(principal_from_bearer(request, token.strip() if scheme.lower() == "bearer" else ""), None)
    signed = auth_context(request).store.current(request, app_state(request).clock.now())
    return None if signed is None else Viewer(signed.principal, signed.csrf)


def to_login(request: Request) -> RedirectResponse:
    """Send a browser without a session to the login form, remembering where it was going."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = {"next": target, **({"lang": request.query_params["lang"]} if "lang" in request.query_params else {})}
    return RedirectResponse(f"{LOGIN}?{urlencode(query)}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a dashboard path of this site (no scheme, no host, no ``//``): the login form must not
    become an open redirect."""
    if not target:
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or target.startswith("//"):
        return HOME
    if parts.path != HOME and not parts.path.startswith(HOME + "/"):
        return HOME
    return target

"""Who may look at the dashboard: anyone holding an API token (``crm.api_tokens``), the same
credential as the REST API. A browser cannot send a bearer header on a plain link, so the login
form (POST, never a URL: a token in a query string ends up in access logs and browser history)
stores the token in an HttpOnly, SameSite=Strict session cookie scoped to ``/dashboard``.
Scripts may send ``Authorization: Bearer`` instead, as to the API."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from api.auth import actor_for, token_hash
from api.state import app_state
from slaflow.company import Actor

COOKIE = "slaflow_dashboard"
HOME = "/dashboard"
LOGIN = "/dashboard/login"


def actor_for_token(request: Request, token: str | None) -> Actor | None:
    state = app_state(request)
    known = state.tokens.get(token_hash(token)) if token else None
    return None if known is None else actor_for(known, state.company)


def viewer(request: Request) -> Actor | None:
    """The person (or integration) behind the request, or None when it carries no valid cookie.
    A bearer header that is present but unknown is refused with 401, as by the API: a script
    sending it wants an answer, not a login form."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        actor = actor_for_token(request, token.strip()) if scheme.lower() == "bearer" else None
        if actor is None:
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        return actor
    return actor_for_token(request, request.cookies.get(COOKIE))


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


def start_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=HOME,
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path=HOME, httponly=True, samesite="strict")

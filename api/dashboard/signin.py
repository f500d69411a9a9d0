"""Signing in and out of the dashboard: a password form, an invitation link that sets the
password, and OpenID Connect. Every form carries a CSRF token (the session's, or before sign-in
a signed double-submit value) and cross-origin POSTs are refused by their Origin. Failed
sign-ins are limited per address and per account (429 with Retry-After)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import auth_context, client_address, token_limits
from api.dashboard import access
from api.dashboard.routes import Lang, _labels, _page
from api.oidc import COOKIE as OIDC_COOKIE
from api.oidc import PENDING_SECONDS, OidcFailed
from api.ratelimit import Limit, TooManyFailures
from api.sessions import PATH, check_csrf, check_origin
from api.state import app_state
from core.vocabulary import SignInMethod
from org.accounts import InvitationInvalid, accept_invitation, check_password, invitation_person, person_by_email
from org.config import auth_config
from org.passwords import WeakPassword
from state_machines.values import label_text

router = APIRouter(tags=["dashboard"], include_in_schema=False)
"""Included by the dashboard router (prefix ``/dashboard``)."""
Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


def _with_login_token(request: Request, lang: str | None, template: str, *, status: int = 200,
                      headers: dict[str, str] | None = None, **context: Any) -> Response:
    """A page with a pre-sign-in form: its CSRF value is also kept in a signed cookie."""
    carrier = Response()
    csrf = auth_context(request).store.login_token(request, carrier)
    page = _page(request, _labels(request, lang), template, None, status=status, form_csrf=csrf, **context)
    for cookie in carrier.headers.getlist("set-cookie"):
        page.headers.append("set-cookie", cookie)
    page.headers.update(headers or {})
    return page


def _login_page(request: Request, lang: str | None, target: str, *, status: int = 200, error: str | None = None,
                headers: dict[str, str] | None = None) -> Response:
    company, context = app_state(request).company, auth_context(request)
    t = _labels(request, lang)
    oidc = context.oidc
    return _with_login_token(
        request, lang, "login.html.j2", status=status, headers=headers, next=target, error=error,
        password=auth_config(company).password,
        oidc_label=None if oidc is None else label_text(oidc.settings.label, t.locale),
        oidc_start=f"{access.HOME}/oidc/start?{urlencode({'next': target, 'lang': t.locale})}",
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, lang: Lang = None, next: Annotated[str, Query(max_length=2048)] = "") -> Response:
    return _login_page(request, lang, access.safe_next(next))


def _login_limits(request: Request, account: str) -> list[Limit]:
    settings = auth_context(request).settings
    window = timedelta(minutes=settings.failure_window_minutes)
    return [Limit(f"login-address:{client_address(request)}", settings.login_failures_per_address, window),
            Limit(f"login-account:{account}", settings.login_failures_per_account, window)]


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
    lang: Lang = None,
) -> Response:
    """Check the password; a session starts and the browser goes where it was going. A wrong
    name or password gets the form again (401), too many get 429 with Retry-After."""
    check_origin(request)
    context, state = auth_context(request), app_state(request)
    context.store.check_login_token(request, csrf)
    target = access.safe_next(next)
    t = _labels(request, lang)
    if not auth_config(state.company).password:
        raise HTTPException(403, "password sign-in is switched off (auth.password: false)")
    name = username.strip()
    person = name if name in state.company.config.people else person_by_email(state.company, name)
    limits = _login_limits(request, person or name.lower())
    now = state.clock.now()
    try:
        context.limiter.check(limits, now)
    except TooManyFailures as exc:
        return _login_page(request, lang, target, status=429, error=t("login_too_many", seconds=exc.retry_after),
                           headers=dict(exc.headers or {}))
    with state.reads() as session:
        ok = person is not None and check_password(session, state.company, person, password)
    if not ok or person is None:
        context.limiter.fail(limits, now)
        return _login_page(request, lang, target, status=401, error=t("login_failed"))
    response = RedirectResponse(target, status_code=303)
    context.store.start(request, response, person, SignInMethod.PASSWORD, now)
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "", lang: Lang = None) -> Response:
    """End the session: the server-side row is revoked, so the cookie is worthless even if kept."""
    check_origin(request)
    context, now = auth_context(request), app_state(request).clock.now()
    signed = context.store.current(request, now)
    if signed is not None:
        check_csrf(signed, csrf)
    response = RedirectResponse(access.LOGIN + (f"?{urlencode({'lang': lang})}" if lang else ""), status_code=303)
    context.store.end(request, response, signed, now)
    return response


# -- invitations ------------------------------------------------------------------------------


def _invitation(request: Request, token: str) -> str | None:
    """Whose invitation; None (and a counted failure) for an unknown, used or expired one."""
    state, context = app_state(request), auth_context(request)
    now = state.clock.now()
    limits = token_limits(request)
    context.limiter.check(limits, now, ask_database=False)
    try:
        with state.reads() as session:
            return invitation_person(session, token, now)
    except InvitationInvalid:
        context.limiter.fail(limits, now)  # after the read transaction ended (SQLite has one writer)
        return None


@router.get("/invite/{token}", response_class=HTMLResponse)
def invitation_form(request: Request, token: Token, lang: Lang = None) -> Response:
    person = _invitation(request, token)
    if person is None:
        return _page(request, _labels(request, lang), "message.html.j2", None, status=404,
                     message=_labels(request, lang)("invite_invalid"))
    return _with_login_token(request, lang, "invite.html.j2", person=person, token=token, error=None)


@router.post("/invite/{token}", response_class=HTMLResponse)
def accept(
    request: Request,
    token: Token,
    password: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    lang: Lang = None,
) -> Response:
    """Set the password (the invitation is used up) and sign the person in."""
    check_origin(request)
    context, state = auth_context(request), app_state(request)
    context.store.check_login_token(request, csrf)
    t = _labels(request, lang)
    person = _invitation(request, token)
    if person is None:
        return _page(request, t, "message.html.j2", None, status=404, message=_labels(request, lang)("invite_invalid"))
    if password != repeat:
        return _with_login_token(request, lang, "invite.html.j2", status=422, person=person, token=token,
                                 error=t("invite_mismatch"))
    now = state.clock.now()
    try:
        with state.sessions.begin() as session:
            accept_invitation(session, state.company, token, password, now=now)
    except WeakPassword as exc:
        return _with_login_token(request, lang, "invite.html.j2", status=422, person=person, token=token,
                                 error=str(exc))
    response = RedirectResponse(access.HOME + (f"?{urlencode({'lang': lang})}" if lang else ""), status_code=303)
    context.store.start(request, response, person, SignInMethod.PASSWORD, now)
    return response


# -- OpenID Connect -----------------------------------------------------------------------------


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/oidc/start")
def oidc_start(request: Request, lang: Lang = None, next: Annotated[str, Query(max_length=2048)] = "") -> Response:
    """Send the browser to the provider; the pending sign-in is kept in a signed cookie."""
    context = auth_context(request)
    if context.oidc is None:
        raise HTTPException(404, "OpenID Connect is not configured (auth.oidc in the company file)")
    try:
        url, cookie = context.oidc.start(_callback_url(request), access.safe_next(next))
    except OidcFailed as exc:
        return _page(request, _labels(request, lang), "message.html.j2", None, status=502, message=str(exc))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(OIDC_COOKIE, cookie, max_age=PENDING_SECONDS, path=f"{PATH}/oidc", httponly=True,
                        samesite="lax", secure=context.store.secure(request))
    return response


@router.get("/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    state: Annotated[str, Query(max_length=512)] = "",
    code: Annotated[str, Query(max_length=4096)] = "",
    error: Annotated[str, Query(max_length=256)] = "",
    iss: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    """The provider sends the browser back here with a code; the e-mail in the checked ID token
    names the person of the org chart."""
    context, app = auth_context(request), app_state(request)
    t = _labels(request, None)
    if context.oidc is None:
        raise HTTPException(404, "OpenID Connect is not configured (auth.oidc in the company file)")
    now = app.clock.now()
    limits = token_limits(request)
    context.limiter.check(limits, now, ask_database=False)
    try:
        if error:
            raise OidcFailed(f"the provider refused the sign-in: {error}")
        if iss is not None and iss.rstrip("/") != context.oidc.settings.issuer:  # RFC 9207 mix-up defence
            raise OidcFailed(f"the sign-in answer came from {iss}, not from {context.oidc.settings.issuer}")
        pending = context.oidc.pending(request.cookies.get(OIDC_COOKIE), state)
        email = context.oidc.finish(_callback_url(request), pending, code, now)
    except OidcFailed as exc:
        context.limiter.fail(limits, now)
        return _page(request, t, "message.html.j2", None, status=401, message=str(exc))
    person = person_by_email(app.company, email)
    if person is None:
        return _page(request, t, "message.html.j2", None, status=403, message=t("oidc_unknown", email=email))
    response = RedirectResponse(pending.next, status_code=303)
    response.delete_cookie(OIDC_COOKIE, path=f"{PATH}/oidc", httponly=True, samesite="lax",
                           secure=context.store.secure(request))
    context.store.start(request, response, person, SignInMethod.OIDC, now)
    return response

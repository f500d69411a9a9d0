"""Who is asking: bearer tokens (people and integrations, ``org.tokens``) for the API, signed
sessions (``api.sessions``) for the dashboard, and the rate limits on failed attempts. The app
calls ``install`` once; routers declare ``CurrentPrincipal`` (or ``AdminPrincipal``) and pass
``principal.scope`` to ``org.scope``: that is the one place where reads are scoped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from api.auth_settings import AuthSettings, auth_settings
from api.oidc import OidcClient
from api.ratelimit import FailureLimiter, Limit
from api.sessions import SessionStore, server_key
from api.state import app_state
from core.errors import ConfigError
from crm.config import crm_config
from org.actors import Principal
from org.chart import Actor
from org.config import oidc_settings
from org.tokens import find_token, record_token_use
from runtime.assembly import Runtime

bearer = HTTPBearer(auto_error=False, description="an API token (`slaflow token create`)")


@dataclass
class AuthContext:
    settings: AuthSettings
    limiter: FailureLimiter
    store: SessionStore
    oidc: OidcClient | None


def install(app: FastAPI, runtime: Runtime, environ: Mapping[str, str]) -> None:
    """Read the auth settings and the OIDC client secret, make the session signer."""
    from core.clock import SystemClock

    settings = auth_settings(environ)
    try:
        secret = settings.signing_secret() or server_key(runtime.sessions, "session", SystemClock().now())
    except SQLAlchemyError as exc:
        raise ConfigError(f"{runtime.settings.database_url}: cannot read the session key ({type(exc).__name__}); "
                          "is the database initialised? run `slaflow init`") from None
    oidc = oidc_settings(runtime.company, environ)
    app.state.auth = AuthContext(
        settings=settings,
        limiter=FailureLimiter(runtime.sessions),
        store=SessionStore(runtime.sessions, runtime.company, settings, secret, reads=runtime.reads),
        oidc=None if oidc is None else OidcClient(oidc, secret),
    )


def auth_context(request: Request) -> AuthContext:
    context = request.app.state.auth
    assert isinstance(context, AuthContext)
    return context


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy: run uvicorn with --proxy-headers and
    --forwarded-allow-ips so this is the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


def token_limits(request: Request) -> list[Limit]:
    settings = auth_context(request).settings
    window = timedelta(minutes=settings.failure_window_minutes)
    return [Limit(f"token-address:{client_address(request)}", settings.token_failures_per_address, window)]


def principal_from_bearer(request: Request, token: str) -> Principal:
    """The principal behind a bearer token; 401 for an unknown one, 429 once an address has
    failed too often (before the token is even looked up)."""
    state, context = app_state(request), auth_context(request)
    now = state.clock.now()
    limits = token_limits(request)
    context.limiter.check(limits, now, ask_database=False)
    principal = None
    if token:
        with state.reads() as session:
            principal, stale = find_token(session, state.company, token, now=now,
                                          configured=crm_config(state.company).api_tokens)
        if stale is not None:
            with state.sessions.begin() as session:
                record_token_use(session, stale, now)
    if principal is None:
        context.limiter.fail(limits, now)
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return principal


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The principal behind the request's bearer token (401 without one)."""
    if credentials is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return principal_from_bearer(request, credentials.credentials)


def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this needs an admin (`slaflow user admin NAME`, or an integration token "
                                 "made with --admin)")
    return principal


def current_actor(principal: Annotated[Principal, Depends(current_principal)]) -> Actor:
    return principal.actor


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
CurrentActor = Annotated[Actor, Depends(current_actor)]

"""Bearer tokens: each maps to a person (acting with their department memberships) or to an
integration with configured memberships. Only SHA-256 hashes of tokens are configured."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.state import app_state
from crm.config import ApiToken
from slaflow.company import Actor, Company

bearer = HTTPBearer(auto_error=False, description="an API token from crm.api_tokens (configured as its SHA-256)")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_for(token: ApiToken, company: Company) -> Actor:
    if token.person is not None:
        return company.actor(token.person)
    pairs = frozenset((dept, role) for dept, _, role in (m.partition("/") for m in token.memberships))
    return Actor(name=f"api:{token.name}", memberships=pairs)


def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    """The actor behind the request's bearer token (401 without a known token)."""
    state = app_state(request)
    token = state.tokens.get(token_hash(credentials.credentials)) if credentials else None
    if token is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return actor_for(token, state.company)


CurrentActor = Annotated[Actor, Depends(current_actor)]

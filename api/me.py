"""``GET /api/me``: who the caller is and what they may read, as the app sees it. The coming
workplace starts from here (whose queue, which departments), and it lets an integration check
its token's scope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal
from api.schemas import ErrorBody
from org.actors import Role

router = APIRouter(prefix="/api", tags=["access"])


class Me(BaseModel):
    name: str = Field(description="person id, or api:<token name> for an integration")
    person: str | None
    roles: list[Role]
    memberships: list[str] = Field(description="department/role pairs the caller acts with")
    reads_everything: bool
    reads_departments: list[str] = Field(description="cases these departments take part in are readable")
    via: str = Field(description="how the caller proved who they are, e.g. token:NAME")


@router.get("/me", response_model=Me, responses={401: {"model": ErrorBody}, 429: {"model": ErrorBody}})
def me(principal: CurrentPrincipal) -> Any:
    return Me(
        name=principal.actor.name,
        person=principal.person,
        roles=sorted(principal.roles),
        memberships=sorted(f"{dept}/{role}" for dept, role in principal.actor.memberships),
        reads_everything=principal.scope.everything,
        reads_departments=sorted(principal.scope.departments),
        via=principal.via,
    )

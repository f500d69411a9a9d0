"""The lead API: record what happened to a lead (a CRM without a webhook adapter, a form on the
website, a call centre), read leads with their SLAs and disputes, the funnel, and each head's
request for the weekly letter. Thin: each route calls one service of ``leads`` in one
transaction; who may do what is decided there (sales and marketing, their heads' managers, the
director)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from api.auth import CurrentActor
from api.schemas import ErrorBody
from api.state import app_state
from core.errors import InvalidData
from core.vocabulary import LeadStatus
from leads.service import (
    LeadFacts,
    check_lead_access,
    get_lead,
    lead_events,
    lead_view,
    list_leads,
    record_lead_event,
    set_feedback_request,
)
from reports.leads import lead_funnel
from reports.scope import report_zone

router = APIRouter(prefix="/api/leads", tags=["leads"])
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)}
MAX_SPAN = timedelta(days=366)
EARLIEST, LATEST = datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _in_range(moment: datetime) -> datetime:
    """Refuse instants no lead can have (and that time-zone arithmetic cannot represent)."""
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"{moment.isoformat()} is outside {EARLIEST.year}-{LATEST.year}")
    return moment


Moment = Annotated[
    AwareDatetime,
    AfterValidator(_in_range),
    # The documented range, so a client (and schemathesis) knows what is refused before sending it.
    WithJsonSchema({"type": "string", "format": "date-time",
                    "pattern": r"^(197[1-9]|19[89][0-9]|20[0-9][0-9]|21[0-8][0-9])-"}),
]
Text = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
LongText = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadEventIn(_Body):
    """What happened to a lead. The first event about a key creates the lead."""

    key: Text = Field(description="the lead's id in your system")
    source: str = Field("api", min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    status: LeadStatus
    at: Moment | None = Field(None, description="when it happened (default: now); never in the future")
    channel: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")] | None = None
    product_group: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")] | None = None
    customer: Text | None = None
    url: LongText | None = None
    owner: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")] | None = None
    reason: LongText | None = Field(None, description="required for non_target")


class LeadOut(BaseModel):
    id: int
    source: str
    key: str
    status: LeadStatus
    channel: str | None
    product_group: str | None
    customer: str | None
    owner: str | None
    url: str | None
    received_at: datetime
    taken_at: datetime | None
    qualified_at: datetime | None
    reservation_paid_at: datetime | None
    non_target_at: datetime | None
    non_target_reason: str | None
    first_response_due_at: datetime
    first_response: str | None
    qualification_due_at: datetime | None
    qualification: str | None
    disputes: list[dict[str, Any]]
    events: list[dict[str, Any]] = []


class FeedbackIn(_Body):
    request: LongText
    expected_result: LongText


class FeedbackOut(BaseModel):
    department: str
    request: str
    expected_result: str
    updated_at: datetime
    updated_by: str


@router.post("/events", response_model=LeadOut, responses=ERRORS)
def record_event(body: LeadEventIn, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """Record a lead's status (with the facts known about it); 409 if it would move backwards."""
    state = app_state(request)
    now = state.clock.now()
    at = body.at or now
    if at > now + timedelta(minutes=5):
        raise InvalidData(f"'at' {at.isoformat()} is in the future")
    facts = LeadFacts(channel=body.channel, product_group=body.product_group, customer=body.customer,
                      url=body.url, owner=body.owner, reason=body.reason)
    with state.sessions.begin() as session:
        lead = record_lead_event(session, state.company, source=body.source, external_key=body.key,
                                 status=body.status, at=at, actor=actor, facts=facts, payload={"via": "api"})
        return lead_view(session, state.company, lead, now)


@router.get("", response_model=list[LeadOut], responses=ERRORS)
def leads(
    request: Request,
    actor: CurrentActor,
    since: Annotated[Moment | None, Query(description="received at or after")] = None,
    until: Annotated[Moment | None, Query(description="received before")] = None,
    status: Annotated[LeadStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    state = app_state(request)
    check_lead_access(state.company, actor)
    now = state.clock.now()
    with state.reads() as session:
        found = list_leads(session, since=since, until=until, status=status, limit=limit)
        return [lead_view(session, state.company, lead, now) for lead in found]


@router.get("/funnel", responses=ERRORS)
def funnel(
    request: Request,
    actor: CurrentActor,
    since: Annotated[Moment, Query(description="first instant (received at or after)")],
    until: Annotated[Moment, Query(description="end (received before); at most a year after since")],
) -> dict[str, Any]:
    """Leads received in the period per ISO week and month (head office time), by product group and channel."""
    state = app_state(request)
    check_lead_access(state.company, actor)
    if not since < until <= since + MAX_SPAN:
        raise InvalidData("'until' must be after 'since' and at most a year later")
    with state.reads() as session:
        result = lead_funnel(session, since=since, until=until, tz=report_zone(state.company), now=state.clock.now())
    return result.to_dict()


@router.get("/{source}/{key}", response_model=LeadOut, responses=ERRORS)
def lead(
    request: Request,
    actor: CurrentActor,
    source: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[^\x00]*$")],
    key: Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]*$")],
) -> dict[str, Any]:
    """A lead with its SLAs, its disputes and every status it was given."""
    state = app_state(request)
    check_lead_access(state.company, actor)
    with state.reads() as session:
        found = get_lead(session, source=source, key=key)
        events = [
            {"at": e.at, "from": e.from_status, "to": e.to_status, "actor": e.actor, "source": e.source}
            for e in lead_events(session, found)
        ]
        return {**lead_view(session, state.company, found, state.clock.now()), "events": events}


@router.put("/feedback/{department}", response_model=FeedbackOut, responses=ERRORS)
def put_feedback(
    request: Request,
    actor: CurrentActor,
    body: FeedbackIn,
    department: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00]*$")],
) -> Any:
    """The head of sales or marketing sets what they ask of the other department and the result
    they expect; the weekly letter carries it until they change it."""
    state = app_state(request)
    with state.sessions.begin() as session:
        row = set_feedback_request(session, state.company, actor=actor, department=department, request=body.request,
                                   expected_result=body.expected_result, now=state.clock.now())
        return FeedbackOut(department=row.department, request=row.request, expected_result=row.expected_result,
                           updated_at=row.updated_at, updated_by=row.updated_by)


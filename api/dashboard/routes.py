"""The dashboard's pages. Thin, like the REST routers: read at the app clock's ``now`` in one
session, render a template. Kept out of the OpenAPI schema: these are HTML pages, not the API."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.dashboard import access, charts, data
from api.dashboard.leads import board_funnel
from api.dashboard.text import LOCALES, DashboardLabels, render
from api.schemas import MAX_ID
from api.state import app_state
from api.workplace.panel import action_panel
from core.errors import CaseNotFound
from org.chart import Actor
from reports.scope import report_zone
from state_machines.values import label_text

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
STYLESHEET = FilePath(__file__).resolve().parent.parent / "static" / "dashboard.css"

Lang = Annotated[Literal["ru", "en", "pl"] | None, Query(description="page language; default: the company's")]
PeriodKey = Annotated[Literal["week", "4w"], Query(description="compliance period: this week or the last 4 weeks")]
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
PageNumber = Annotated[
    int,
    Query(
        ge=1,
        le=data.OPEN_LIMIT // data.PAGE_SIZE,
        description="page of the open-case list (100 rows each, nearest deadline first)",
    ),
]


def _labels(request: Request, lang: str | None) -> DashboardLabels:
    company = app_state(request).company
    return DashboardLabels(company, lang or company.locale, report_zone(company))


def _page(
    request: Request,
    t: DashboardLabels,
    template: str,
    shown_to: access.Viewer | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render with what every page shows: the company, who is looking, language links."""
    company = app_state(request).company

    language = urlencode({"lang": t.locale})

    def link(path: str, **params: str) -> str:
        """A dashboard link that keeps the page language (called for every row of a list)."""
        return f"{path}?{urlencode({**params, 'lang': t.locale}) if params else language}"

    def switch(**params: str) -> str:
        """This page with some query parameters replaced."""
        return f"{request.url.path}?{urlencode({**request.query_params, **params})}"

    html = render(
        template,
        t=t,
        company_name=label_text(company.config.company.name, t.locale),
        viewer=None if shown_to is None else _name(t, shown_to.principal.actor),
        csrf=None if shown_to is None else shown_to.csrf,
        locales=LOCALES,
        link=link,
        switch=switch,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def _name(t: DashboardLabels, actor: Actor) -> str:
    return t.person(actor.person) if actor.person else actor.name


@router.get("", response_class=HTMLResponse)
def board(request: Request, lang: Lang = None, period: PeriodKey = "week", page: PageNumber = 1) -> Response:
    """Open cases by department with their remaining time, and compliance per department."""
    actor = access.viewer(request)
    if actor is None:
        return access.to_login(request)
    state = app_state(request)
    t = _labels(request, lang)
    with state.reads() as session:
        shown = data.board(session, state.company, state.clock.now(), period, reader=actor.principal.scope, page=page)
        funnel = board_funnel(session, state.company, actor.principal.actor, state.clock.now(), t.tz)
    figures = [row for row in shown.figures if row.compliance is not None]
    return _page(
        request,
        t,
        "board.html.j2",
        actor,
        board=shown,
        funnel=funnel,
        periods=list(data.PERIODS),
        page_size=data.PAGE_SIZE,
        compliance_svg=charts.compliance_chart(figures, t) if figures else None,
        trend_svg=charts.trend_chart(shown.trend, t) if any(w.compliance is not None for w in shown.trend) else None,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case(
    case_id: CaseId,
    request: Request,
    lang: Lang = None,
    done: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")] = None,
) -> Response:
    """One case: its timeline (states, pauses, breaches, messages), clocks and ledger, and what
    the viewer may do on it (the workplace's action panel)."""
    actor = access.viewer(request)
    if actor is None:
        return access.to_login(request)
    return case_response(request, case_id, lang, actor, done=done)


def case_response(
    request: Request, case_id: int, lang: str | None, actor: access.Viewer, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The case page (404 outside the viewer's scope); ``extra`` carries a form's problems or a
    conflict back to the page (api/workplace/actions.py)."""
    state = app_state(request)
    t = _labels(request, lang)
    now = state.clock.now()
    with state.reads() as session:
        try:
            page = data.case_page(session, state.company, case_id, now, reader=actor.principal.scope)
        except CaseNotFound:
            return _page(request, t, "not_found.html.j2", actor, status=404, case_id=case_id, now=now)
        detail = page.detail
        panel = action_panel(
            state.company,
            page.definition,
            case_id=case_id,
            case_type=detail["type"],
            state=detail["state"],
            version=detail["version"],
            owner_department=page.owner_department,
            owner_person=page.owner_person,
            status=page.status,
            actor=actor.principal.actor,
            locale=t.locale,
        )
        context: dict[str, Any] = {
            "problems": [],
            "values": {},
            "open_form": None,
            "done": None,
            "conflict": None,
            "refused": None,
            **extra,
            "files": [e["payload"] for e in detail["events"] if e["trigger"] == "attach"],
        }
        return _page(
            request, t, "case.html.j2", actor, status=status, page=page, case=detail, now=now, panel=panel, **context
        )


@router.get("/static/dashboard.css")
def stylesheet() -> FileResponse:
    """Served by the app itself: the machine has no internet access, so nothing comes from a CDN."""
    return FileResponse(STYLESHEET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

"""GET /dashboard/queue: the signed-in person's queue, with filters and search. The rows are also
served alone (``/dashboard/queue/rows``) so the page refreshes them every 30 s with htmx, which
the app serves itself (no CDN: the machine may have no internet)."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.dashboard import access
from api.dashboard.routes import Lang, _labels, _page
from api.dashboard.text import render
from api.state import app_state
from api.workplace.queue_data import QueueFilters, my_queue

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
HTMX = FilePath(__file__).resolve().parent.parent / "static" / "htmx.min.js"
REFRESH_SECONDS = 30

Within = Annotated[float | None, Query(ge=0, le=24 * 365, description="only steps breaching within N business hours")]
TypeName = Annotated[str | None, Query(max_length=64)]
StateName = Annotated[str | None, Query(max_length=64)]
Search = Annotated[str | None, Query(max_length=200)]


def _filters(
    request: Request, within: float | None, case_type: str | None, state: str | None, q: str | None
) -> QueueFilters:
    """Empty form fields mean "any"; an unknown type or state is a 400 naming the known ones."""
    company = app_state(request).company
    case_type, state, q = case_type or None, state or None, (q or "").strip() or None
    if case_type is not None and case_type not in company.case_types:
        raise HTTPException(400, f"unknown case type {case_type!r}; known: {', '.join(sorted(company.case_types))}")
    states = {name for d in company.case_types.values() for name in d.states}
    if state is not None and state not in states:
        raise HTTPException(400, f"unknown state {state!r}; known: {', '.join(sorted(states))}")
    return QueueFilters(within_hours=within, case_type=case_type, state=state, search=q)


def _rows(request: Request, filters: QueueFilters, viewer: access.Viewer) -> list[Any]:
    state = app_state(request)
    with state.reads() as session:
        return my_queue(session, state.company, viewer.principal, state.clock.now(), filters)


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    lang: Lang = None,
    within: Within = None,
    type: TypeName = None,
    state: StateName = None,
    q: Search = None,
) -> Response:
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    filters = _filters(request, within, type, state, q)
    t = _labels(request, lang)
    company = app_state(request).company
    return _page(
        request,
        t,
        "queue.html.j2",
        viewer,
        rows=_rows(request, filters, viewer),
        filters=filters,
        case_types=sorted(company.case_types),
        refresh=REFRESH_SECONDS,
        rows_url=f"/dashboard/queue/rows?{request.url.query}",
    )


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(
    request: Request,
    lang: Lang = None,
    within: Within = None,
    type: TypeName = None,
    state: StateName = None,
    q: Search = None,
) -> Response:
    """The rows alone, for the page's polling; 401 (not a redirect) once the session is gone."""
    viewer = access.viewer(request)
    if viewer is None:
        raise HTTPException(401, "the session has ended; sign in again")
    filters = _filters(request, within, type, state, q)
    t = _labels(request, lang)

    language = urlencode({"lang": t.locale})

    def link(path: str, **params: str) -> str:
        return f"{path}?{urlencode({**params, 'lang': t.locale}) if params else language}"

    html = render(
        "queue_rows.html.j2",
        t=t,
        rows=_rows(request, filters, viewer),
        link=link,
        refresh=REFRESH_SECONDS,
        rows_url=f"/dashboard/queue/rows?{request.url.query}",
    )
    return HTMLResponse(html)


@router.get("/static/htmx.min.js")
def htmx() -> FileResponse:
    """htmx 2.0.11 (npm ``htmx.org``, 0BSD licence), vendored in api/static."""
    return FileResponse(HTMX, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

"""Opening a case from a form: the case types the signed-in person may open (the engine's rule:
``open_allowed``, else members of the requesting department), each form generated from the
type's ``open_requires`` fields and checked on the server like the trigger forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.dashboard import access
from api.dashboard.routes import Lang, _labels, _page
from api.sessions import check_origin
from api.state import app_state
from api.workplace.forms import FormField, Problem, form_fields, validate
from core.errors import SlaflowError
from engine import cases
from org.chart import Actor, Company
from org.secrets import same

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
TypeName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


def openable(company: Company, actor: Actor) -> list[str]:
    return [name for name, d in company.case_types.items() if actor.may(d.open_allowed or [d.requester])]


def _form_page(request: Request, lang: str | None, viewer: access.Viewer, case_type: str | None, *,
               status: int = 200, problems: list[Problem] | None = None, values: dict[str, str] | None = None,
               refused: str | None = None) -> HTMLResponse:
    company = app_state(request).company
    t = _labels(request, lang)
    fields: list[FormField] = []
    if case_type is not None:
        fields = form_fields(company.case_type(case_type), list(company.case_type(case_type).open_requires), t.locale)
    return _page(request, t, "new_case.html.j2", viewer, status=status,
                 types=openable(company, viewer.principal.actor), case_type=case_type, fields=fields,
                 problems=problems or [], values=values or {}, refused=refused)


def _openable_type(request: Request, viewer: access.Viewer, case_type: str) -> None:
    if case_type not in openable(app_state(request).company, viewer.principal.actor):
        raise HTTPException(404, f"there is no case type {case_type!r} that you may open")


@router.get("/new", response_class=HTMLResponse)
def choose(request: Request, lang: Lang = None) -> Response:
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    return _form_page(request, lang, viewer, None)


@router.get("/new/{case_type}", response_class=HTMLResponse)
def form(case_type: TypeName, request: Request, lang: Lang = None) -> Response:
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    _openable_type(request, viewer, case_type)
    return _form_page(request, lang, viewer, case_type)


@router.post("/new/{case_type}")
async def open_case(case_type: TypeName, request: Request, lang: Lang = None) -> Response:
    check_origin(request)
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    submitted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if viewer.csrf is not None and not same(viewer.csrf, submitted.get("csrf", "")):
        raise HTTPException(403, "the form has expired or did not come from this site; reload the page and retry")
    _openable_type(request, viewer, case_type)
    state, t = app_state(request), _labels(request, lang)
    definition = state.company.case_type(case_type)
    data, problems = validate(form_fields(definition, list(definition.open_requires), t.locale), submitted)
    if problems:
        return _form_page(request, lang, viewer, case_type, status=422, problems=problems, values=submitted)
    try:
        with state.sessions.begin() as session:
            record: Any = cases.open_case(session, state.company, case_type=case_type, data=data,
                                          actor=viewer.principal.actor, now=state.clock.now(), source="dashboard")
    except SlaflowError as exc:
        return _form_page(request, lang, viewer, case_type, status=422, values=submitted, refused=str(exc))
    suffix = f"&lang={lang}" if lang else ""
    return RedirectResponse(f"/dashboard/cases/{record.id}?done=open{suffix}", status_code=303)

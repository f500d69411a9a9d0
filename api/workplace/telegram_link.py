"""The "Link Telegram" page (``/dashboard/telegram``): the signed-in person asks for a one-time
code (a POST, CSRF-checked: making a code is a change) and sends ``/start CODE`` to the bot, or
opens the deep link ``https://t.me/<bot>?start=CODE`` (``SLAFLOW_TELEGRAM_BOT_NAME``). The page
says whether their Telegram is linked and lets them unlink it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from api.dashboard import access
from api.dashboard.routes import Lang, _labels, _page
from api.sessions import check_origin
from api.state import app_state
from org.secrets import same
from org.telegram_links import CODE_MINUTES, chat_of, new_code, unlink

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)


def _render(request: Request, lang: str | None, viewer: access.Viewer, code: str | None = None) -> Response:
    t = _labels(request, lang)
    person = viewer.principal.person
    linked = False
    if person is not None:
        with app_state(request).reads() as session:
            linked = chat_of(session, person) is not None
    bot = request.app.state.telegram_bot_name
    return _page(request, t, "telegram_link.html.j2", viewer, person=person, linked=linked, code=code,
                 minutes=CODE_MINUTES, deep_link=f"https://t.me/{bot}?start={code}" if bot and code else None)


def _posted(request: Request, viewer: access.Viewer, csrf: str) -> str:
    check_origin(request)
    if viewer.csrf is None or not same(viewer.csrf, csrf):
        raise HTTPException(403, "the form has expired or did not come from this site; reload the page and retry")
    if viewer.principal.person is None:
        raise HTTPException(403, "only a person of the org chart can link Telegram")
    return viewer.principal.person


@router.get("/telegram", response_class=HTMLResponse)
def page(request: Request, lang: Lang = None) -> Response:
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    return _render(request, lang, viewer)


@router.post("/telegram/code", response_class=HTMLResponse)
async def code(request: Request, lang: Lang = None) -> Response:
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    person = _posted(request, viewer, str((await request.form()).get("csrf", "")))
    state = app_state(request)
    with state.sessions.begin() as session:
        made = new_code(session, state.company, person, now=state.clock.now())
    return _render(request, lang, viewer, made)


@router.post("/telegram/unlink", response_class=HTMLResponse)
async def remove(request: Request, lang: Lang = None) -> Response:
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    person = _posted(request, viewer, str((await request.form()).get("csrf", "")))
    with app_state(request).sessions.begin() as session:
        unlink(session, person)
    return _render(request, lang, viewer)

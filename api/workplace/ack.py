"""The page behind an e-mail's one-click "acknowledge" link (``notifications.ack_links``): GET
only shows what will happen (mail scanners open links), the button POSTs it with a pre-sign-in
CSRF value, and the engine acknowledges as the person the link was made for, if they still may."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import auth_context
from api.dashboard.routes import Lang, _labels
from api.dashboard.signin import _with_login_token
from api.sessions import check_origin
from api.state import app_state
from core.errors import SlaflowError, UnknownPerson
from engine import cases
from notifications.ack_links import AckLink, AckLinkInvalid, verify

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
Token = Annotated[str, Path(min_length=20, max_length=400, pattern=r"^[A-Za-z0-9_.-]+$")]


def _link(request: Request, token: str) -> AckLink:
    secret = request.app.state.workplace_ack_secret
    if not secret:
        raise AckLinkInvalid("one-click links are not enabled on this server")
    return verify(secret, token, app_state(request).clock.now())


def _answer(request: Request, lang: str | None, *, status: int, text: str, link: AckLink | None = None,
            confirm: bool = False) -> Response:
    return _with_login_token(request, lang, "ack.html.j2", status=status, text=text, ack=link, confirm=confirm)


@router.get("/ack/{token}", response_class=HTMLResponse)
def confirm(token: Token, request: Request, lang: Lang = None) -> Response:
    t = _labels(request, lang)
    try:
        link = _link(request, token)
    except AckLinkInvalid as exc:
        return _answer(request, lang, status=404, text=str(exc))
    person = t.person(link.person) if link.person in app_state(request).company.config.people else link.person
    return _answer(request, lang, status=200, link=link, confirm=True,
                   text=t("ack_confirm", id=link.case_id, person=person))


@router.post("/ack/{token}", response_class=HTMLResponse)
def acknowledge(token: Token, request: Request, csrf: Annotated[str, Form(max_length=128)] = "",
                lang: Lang = None) -> Response:
    check_origin(request)
    auth_context(request).store.check_login_token(request, csrf)
    state, t = app_state(request), _labels(request, lang)
    try:
        link = _link(request, token)
        actor = state.company.actor(link.person)
        with state.sessions.begin() as session:
            cases.acknowledge(session, state.company, case_id=link.case_id, actor=actor, now=state.clock.now(),
                              source="email")
    except AckLinkInvalid as exc:
        return _answer(request, lang, status=404, text=str(exc))
    except UnknownPerson:
        return _answer(request, lang, status=403, text="the person of this link is no longer in the org chart")
    except SlaflowError as exc:
        return _answer(request, lang, status=409, text=str(exc))
    return _answer(request, lang, status=200, link=link, text=t("ack_done", id=link.case_id))

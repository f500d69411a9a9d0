"""Acting on a case from its page: fire a trigger with its form, take or assign the step,
acknowledge or snooze an escalation. Each POST checks the Origin and the session's CSRF token,
that the case is readable (else 404, as for reading it), then calls the engine with the
signed-in person as actor in one transaction: the engine's own checks decide, so the page can
never allow more than the API. Success redirects to the case page (303, no re-POST on reload);
a form's problems, a refusal or a concurrent change re-render it with a clear message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dashboard import access
from api.dashboard.routes import CaseId, Lang, _labels, case_response
from api.sessions import check_origin
from api.state import app_state
from api.workplace.forms import form_fields, validate
from core.errors import CaseNotFound, ConflictError, IllegalTransition, NotPermitted, SlaflowError
from engine import cases, records
from org.scope import require_readable
from org.secrets import same
from state_machines.machine import machine_for
from storage.models import CaseEvent

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
TriggerName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
SOURCE = "dashboard"
"""The events' source: the case timeline tells acts from the page apart from API and CRM ones."""


async def _form(request: Request, viewer: access.Viewer) -> tuple[dict[str, str], int | None]:
    """The submitted fields (CSRF-checked) and the version the person saw."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if viewer.csrf is not None and not same(viewer.csrf, fields.get("csrf", "")):
        raise HTTPException(403, "the form has expired or did not come from this site; reload the page and retry")
    raw = fields.get("version", "")
    if raw and not raw.isdigit():
        raise HTTPException(400, "version must be a whole number (the case version the form was made from)")
    return fields, int(raw) if raw else None


def _changes_since(session: Session, case_id: int, seen: int) -> list[dict[str, Any]]:
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq > seen)
                             .order_by(CaseEvent.seq))
    return [{"at": e.at, "actor": e.actor, "trigger": e.trigger, "from": e.from_state, "to": e.to_state}
            for e in events]


async def _act(request: Request, case_id: int, lang: str | None, done: str,
               action: Callable[[Session, dict[str, str], int | None, access.Viewer], Any]) -> Response:
    """The common path of every action; ``action`` calls the engine inside the transaction."""
    check_origin(request)
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    fields, seen = await _form(request, viewer)
    state = app_state(request)
    try:
        with state.sessions.begin() as session:
            require_readable(session, viewer.principal.scope, case_id)
            action(session, fields, seen, viewer)
    except CaseNotFound:
        return case_response(request, case_id, lang, viewer)  # the not-found page, 404
    except _FormProblems as problems:
        return case_response(request, case_id, lang, viewer, status=422, problems=problems.found,
                             values=fields, open_form=done)
    except ConflictError as exc:
        with state.reads() as session:
            changes = _changes_since(session, case_id, exc.expected)
        return case_response(request, case_id, lang, viewer, status=409, conflict=changes)
    except (NotPermitted, IllegalTransition) as exc:
        return case_response(request, case_id, lang, viewer, status=403 if isinstance(exc, NotPermitted) else 409,
                             refused=str(exc))
    except SlaflowError as exc:
        return case_response(request, case_id, lang, viewer, status=422, refused=str(exc))
    query = urlencode({"done": done, **({"lang": lang} if lang else {})})
    return RedirectResponse(f"/dashboard/cases/{case_id}?{query}#actions", status_code=303)


class _FormProblems(Exception):
    def __init__(self, found: list[Any]) -> None:
        self.found = found


@router.post("/cases/{case_id}/fire/{trigger}")
async def fire(case_id: CaseId, trigger: TriggerName, request: Request, lang: Lang = None) -> Response:
    """Fire ``trigger`` with the fields its form asks for, typed and checked here first."""
    state, t = app_state(request), _labels(request, lang)

    def act(session: Session, fields: dict[str, str], seen: int | None, viewer: access.Viewer) -> None:
        case = records.load(session, case_id)
        definition = cases.definition_of(session, state.company, case)
        rule = machine_for(definition).rule(trigger, case.state)
        if rule is not None and viewer.principal.actor.may(rule.allowed):
            if seen is not None and seen != case.version:
                raise ConflictError(case_id, seen, case.version)
            current = state.company.case_types.get(case.case_type, definition)
            payload, problems = validate(form_fields(current, list(rule.requires), t.locale), fields)
            if problems:
                raise _FormProblems(problems)
        else:
            payload = {}  # the engine says why not (not allowed here, or not by this person)
        cases.fire(session, state.company, case_id=case_id, trigger=trigger, actor=viewer.principal.actor,
                   now=state.clock.now(), payload=payload, expected_version=seen, source=SOURCE)

    return await _act(request, case_id, lang, trigger, act)


@router.post("/cases/{case_id}/take")
async def take(case_id: CaseId, request: Request, lang: Lang = None) -> Response:
    state = app_state(request)

    def act(session: Session, fields: dict[str, str], seen: int | None, viewer: access.Viewer) -> None:
        person = viewer.principal.person
        if person is None:
            raise NotPermitted(viewer.principal.actor.name, f"take case {case_id}", ["a person of the org chart"])
        cases.assign(session, state.company, case_id=case_id, person=person, actor=viewer.principal.actor,
                     now=state.clock.now(), expected_version=seen, source=SOURCE)

    return await _act(request, case_id, lang, cases.ASSIGN, act)


@router.post("/cases/{case_id}/assign")
async def assign(case_id: CaseId, request: Request, lang: Lang = None) -> Response:
    state = app_state(request)

    def act(session: Session, fields: dict[str, str], seen: int | None, viewer: access.Viewer) -> None:
        cases.assign(session, state.company, case_id=case_id, person=fields.get("person", ""),
                     actor=viewer.principal.actor, now=state.clock.now(), expected_version=seen, source=SOURCE)

    return await _act(request, case_id, lang, cases.ASSIGN, act)


@router.post("/cases/{case_id}/acknowledge")
async def acknowledge(case_id: CaseId, request: Request, lang: Lang = None) -> Response:
    state = app_state(request)

    def act(session: Session, fields: dict[str, str], seen: int | None, viewer: access.Viewer) -> None:
        cases.acknowledge(session, state.company, case_id=case_id, actor=viewer.principal.actor,
                          now=state.clock.now(), source=SOURCE)

    return await _act(request, case_id, lang, cases.ACKNOWLEDGE, act)


@router.post("/cases/{case_id}/snooze")
async def snooze(case_id: CaseId, request: Request, lang: Lang = None) -> Response:
    state = app_state(request)

    def act(session: Session, fields: dict[str, str], seen: int | None, viewer: access.Viewer) -> None:
        raw = fields.get("minutes", "").strip()
        try:
            minutes = float(raw)
        except ValueError:
            raise _FormProblems([_minutes_problem(request, lang)]) from None
        cases.acknowledge(session, state.company, case_id=case_id, actor=viewer.principal.actor,
                          now=state.clock.now(), snooze_minutes=minutes, source=SOURCE)

    return await _act(request, case_id, lang, cases.SNOOZE, act)


@router.post("/cases/{case_id}/comment")
async def comment(case_id: CaseId, request: Request, lang: Lang = None) -> Response:
    """A comment; ``@person`` in it notifies that person (an outbox message, as every notice)."""
    state = app_state(request)

    def act(session: Session, fields: dict[str, str], seen: int | None, viewer: access.Viewer) -> None:
        if not fields.get("text", "").strip():
            from api.workplace.forms import Problem

            raise _FormProblems([Problem("field_required", _labels(request, lang)("comment"))])
        cases.comment(session, state.company, case_id=case_id, actor=viewer.principal.actor, text=fields["text"],
                      now=state.clock.now(), source=SOURCE)

    return await _act(request, case_id, lang, cases.COMMENT, act)


def _minutes_problem(request: Request, lang: str | None) -> Any:
    from api.workplace.forms import Problem

    return Problem("field_number", _labels(request, lang)("snooze"))

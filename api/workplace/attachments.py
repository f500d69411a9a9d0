"""Uploading a file to a case and downloading it again, within the person's read scope. The
upload path (``/dashboard/upload/``) has its own, larger body limit (settings ``body_limits``).

The upload answers 303 only after the store kept the file and the ``attach`` event committed. A
store that is down is a 503 case page with a plain sentence (and a log line for the operator);
nothing is recorded then. Downloads stream through the app after the scope check."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.dashboard import access
from api.dashboard.routes import CaseId, Lang, case_response
from api.sessions import check_origin
from api.state import app_state
from api.workplace.files import FileRefused, FileStore, StoreUnavailable
from core.errors import CaseNotFound, SlaflowError
from engine import cases
from org.scope import may_read
from org.secrets import same
from storage.models import CaseEvent

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


def store(request: Request) -> FileStore:
    found: FileStore = request.app.state.workplace_files
    return found


def _unavailable(exc: StoreUnavailable) -> None:
    log.error("attachment store unavailable: %s", exc.detail)


@router.post("/upload/{case_id}")
async def upload(case_id: CaseId, request: Request, lang: Lang = None) -> Response:
    check_origin(request)
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    async with request.form() as form:  # closes the spooled upload, whatever happens
        csrf = form.get("csrf")
        if viewer.csrf is not None and not (isinstance(csrf, str) and same(viewer.csrf, csrf)):
            raise HTTPException(403, "the form has expired or did not come from this site; reload the page and retry")
        state = app_state(request)
        with state.reads() as session:
            readable = may_read(session, viewer.principal.scope, case_id)
        if not readable:
            return case_response(request, case_id, lang, viewer)  # the not-found page, after the read ended
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return case_response(request, case_id, lang, viewer, status=422, refused="choose a file to attach")
        name, data = upload.filename, await upload.read(store(request).max_bytes + 1)
    try:
        stored = await run_in_threadpool(store(request).save, case_id, name, data)
        with state.sessions.begin() as session:
            cases.attach(session, state.company, case_id=case_id, actor=viewer.principal.actor, file=stored,
                         now=state.clock.now(), source="dashboard")
    except FileRefused as exc:
        return case_response(request, case_id, lang, viewer, status=422, refused=str(exc))
    except StoreUnavailable as exc:
        _unavailable(exc)
        return case_response(request, case_id, lang, viewer, status=503, refused=str(exc))
    except CaseNotFound:
        return case_response(request, case_id, lang, viewer)
    except SlaflowError as exc:
        return case_response(request, case_id, lang, viewer, status=422, refused=str(exc))
    suffix = f"&lang={lang}" if lang else ""
    return RedirectResponse(f"/dashboard/cases/{case_id}?done={cases.ATTACH}{suffix}#actions", status_code=303)


@router.get("/cases/{case_id}/files/{sha256}")
def download(case_id: CaseId, sha256: Sha, request: Request) -> Response:
    """The file as it was attached, never rendered inline by the browser (nosniff, attachment)."""
    viewer = access.viewer(request)
    if viewer is None:
        return access.to_login(request)
    state = app_state(request)
    with state.reads() as session:
        if not may_read(session, viewer.principal.scope, case_id):
            raise HTTPException(404, f"case {case_id} does not exist")
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.trigger == cases.ATTACH))
        found = next((e.payload for e in events if e.payload.get("sha256") == sha256), None)
    if found is None:
        raise HTTPException(404, "no such file on this case")
    try:
        pieces = store(request).open(case_id, sha256)
    except StoreUnavailable as exc:
        _unavailable(exc)
        raise HTTPException(503, str(exc)) from None
    if pieces is None:
        raise HTTPException(404, "no such file on this case")
    name = found["name"]
    quoted = quote(name)
    disposition = f'attachment; filename="{name}"' if quoted == name else f"attachment; filename*=utf-8''{quoted}"
    return StreamingResponse(pieces, media_type=found["type"], headers={
        "Content-Disposition": disposition, "Content-Length": str(found["size"]),
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"})

"""Uploading a file to a case and downloading it again, within the person's read scope. The
upload path (``/dashboard/upload/``) has its own, larger body limit (settings ``body_limits``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from api.dashboard import access
from api.dashboard.routes import CaseId, Lang, case_response
from api.sessions import check_origin
from api.state import app_state
from api.workplace.files import FileRefused, FileStore
from core.errors import CaseNotFound, SlaflowError
from engine import cases
from org.scope import may_read
from org.secrets import same
from storage.models import CaseEvent

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
Sha = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


def store(request: Request) -> FileStore:
    found = request.app.state.workplace_files
    assert isinstance(found, FileStore)
    return found


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
        with state.sessions() as session:
            readable = may_read(session, viewer.principal.scope, case_id)
        if not readable:
            return case_response(request, case_id, lang, viewer)  # the not-found page, after the read ended
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return case_response(request, case_id, lang, viewer, status=422, refused="choose a file to attach")
        name, data = upload.filename, await upload.read(store(request).max_bytes + 1)
    try:
        stored = store(request).save(case_id, name, data)
        with state.sessions.begin() as session:
            cases.attach(session, state.company, case_id=case_id, actor=viewer.principal.actor, file=stored,
                         now=state.clock.now(), source="dashboard")
    except FileRefused as exc:
        return case_response(request, case_id, lang, viewer, status=422, refused=str(exc))
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
    with state.sessions() as session:
        if not may_read(session, viewer.principal.scope, case_id):
            raise HTTPException(404, f"case {case_id} does not exist")
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.trigger == cases.ATTACH))
        found = next((e.payload for e in events if e.payload.get("sha256") == sha256), None)
    path = store(request).path(case_id, sha256)
    if found is None or not path.is_file():
        raise HTTPException(404, "no such file on this case")
    return FileResponse(path, media_type=found["type"], filename=found["name"],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"})

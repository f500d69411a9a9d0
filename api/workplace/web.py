"""The workplace's routes and its file store, installed by the app with one line."""

from fastapi import APIRouter, FastAPI

from api.workplace import actions, attachments, new_case, queue
from api.workplace.files import FileStore
from slaflow.settings import Settings

router = APIRouter()
router.include_router(queue.router)
router.include_router(actions.router)
router.include_router(attachments.router)
router.include_router(new_case.router)


def install(app: FastAPI, settings: Settings) -> None:
    app.state.workplace_files = FileStore(settings.data_dir, settings.attachment_max_bytes)
    app.include_router(router)

"""The workplace's routes and its file store, installed by the app with one line."""

from collections.abc import Mapping

from fastapi import APIRouter, FastAPI

from api import telegram
from api.workplace import ack, actions, attachments, new_case, queue, telegram_link
from api.workplace.files import FileStore, LocalFileStore
from api.workplace.s3_store import S3FileStore
from core.errors import ConfigError
from runtime.settings import Settings

router = APIRouter()
router.include_router(queue.router)
router.include_router(actions.router)
router.include_router(attachments.router)
router.include_router(new_case.router)
router.include_router(ack.router)
router.include_router(telegram_link.router)


def install(app: FastAPI, settings: Settings, environ: Mapping[str, str]) -> None:
    """``SLAFLOW_ACK_LINK_SECRET`` (as the notifications dispatcher reads it) checks e-mail links."""
    app.state.workplace_files = file_store(settings)
    app.state.workplace_ack_secret = environ.get("SLAFLOW_ACK_LINK_SECRET") or None
    app.include_router(router)
    app.state.telegram_bot_name = environ.get("SLAFLOW_TELEGRAM_BOT_NAME") or None
    telegram.install(app, environ)  # the bot's webhook: linking a chat, acting on a message's buttons


def file_store(settings: Settings) -> FileStore:
    """The store the settings choose (``SLAFLOW_ATTACHMENT_STORE``); a configuration mistake is
    one ``ConfigError`` at start-up."""
    if settings.attachment_store == "local":
        return LocalFileStore(settings.data_dir, settings.attachment_max_bytes)
    if not settings.s3_bucket:
        raise ConfigError("SLAFLOW_ATTACHMENT_STORE=s3 needs SLAFLOW_S3_BUCKET (the bucket attachments go to)")
    return S3FileStore.configured(settings)

"""The workplace's routes, registered by the app with one line."""

from fastapi import APIRouter

from api.workplace import actions, queue

router = APIRouter()
router.include_router(queue.router)
router.include_router(actions.router)

"""The managers' dashboard: server-rendered HTML pages over the same database and clock as the
REST API (open cases by department, compliance charts, a case's timeline), and signing in."""

from api.dashboard import signin
from api.dashboard.routes import router

router.include_router(signin.router, prefix="")

__all__ = ["router"]

"""The managers' dashboard: server-rendered HTML pages over the same database and clock as the
REST API (open cases by department, compliance charts, a case's timeline)."""

from api.dashboard.routes import router

__all__ = ["router"]

"""What the routers share: the runtime, the clock, the webhook pipeline and resolved secrets."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from crm.config import SourceConfig
from crm.pipeline import InboxPipeline
from org.chart import Company


@dataclass
class AppState:
    company: Company
    clock: Clock
    sessions: sessionmaker[Session]
    reads: sessionmaker[Session]
    """Sessions for what only reads: on SQLite they do not take the write lock
    (`runtime.assembly.Runtime.reads`); a write through one fails."""
    pipeline: InboxPipeline
    sources: dict[str, SourceConfig]
    """Enabled webhook sources."""
    secrets: dict[str, dict[str, dict[str, str]]]
    """Per source, per account, its secrets (read once at start-up)."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Configured sources that are disabled, with why (a secret is missing): answered 503."""


def app_state(request: Request) -> AppState:
    state = request.app.state.slaflow
    assert isinstance(state, AppState)
    return state

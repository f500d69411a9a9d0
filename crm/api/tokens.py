"""Where rotated OAuth tokens live: in the database when the caller has one (every process and
restart then uses the newest refresh token), else in memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock, SystemClock
from storage.models import CrmApiToken


@dataclass(frozen=True)
class Tokens:
    access_token: str | None
    refresh_token: str


class TokenStore:
    def __init__(self, sessions: sessionmaker[Session] | None = None, clock: Clock | None = None) -> None:
        self.sessions, self.clock = sessions, clock or SystemClock()
        self._memory: dict[tuple[str, str], Tokens] = {}
        self._lock = threading.Lock()

    def load(self, source: str, account: str) -> Tokens | None:
        if self.sessions is None:
            with self._lock:
                return self._memory.get((source, account))
        with self.sessions() as session:
            row = session.get(CrmApiToken, (source, account))
            return Tokens(row.access_token, row.refresh_token) if row is not None else None

    def save(self, source: str, account: str, tokens: Tokens) -> None:
        """Committed at once: a rotated refresh token must never be lost with a later rollback."""
        if self.sessions is None:
            with self._lock:
                self._memory[(source, account)] = tokens
            return
        stamp = self.clock.now()
        with self.sessions.begin() as session:
            row = session.get(CrmApiToken, (source, account), with_for_update=True)
            if row is None:
                session.add(CrmApiToken(source=source, account=account, access_token=tokens.access_token,
                                        refresh_token=tokens.refresh_token, updated_at=stamp))
            else:
                row.access_token, row.refresh_token, row.updated_at = (
                    tokens.access_token, tokens.refresh_token, stamp)

"""Rate limiting of failed sign-ins (per address and per account) and failed bearer tokens (per
address). Failures are rows in ``auth_failures``, so every server process counts the same ones;
each process also remembers which keys are blocked, so a blocked address is refused before any
database or hashing work."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import HTTPException
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuthFailure


@dataclass(frozen=True)
class Limit:
    key: str
    failures: int
    window: timedelta


class TooManyFailures(HTTPException):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"too many failed attempts; try again in {retry_after} s",
                         headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class FailureLimiter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._blocked: dict[str, datetime] = {}

    def check(self, limits: list[Limit], now: datetime, *, ask_database: bool = True) -> None:
        """Raise ``TooManyFailures`` if any key has used up its failures in its window."""
        waits = [self._blocked_for(limit.key, now) for limit in limits]
        if ask_database and not any(waits):
            with self._sessions() as session:
                waits = [self._wait(session, limit, now) for limit in limits]
        longest = max((w for w in waits if w), default=0)
        if longest:
            raise TooManyFailures(longest)

    def fail(self, limits: list[Limit], now: datetime) -> None:
        """Record one failure under every key; a key that reaches its limit is blocked here at once."""
        with self._sessions.begin() as session:
            for limit in limits:
                session.execute(delete(AuthFailure).where(AuthFailure.key == limit.key,
                                                          AuthFailure.at <= now - limit.window))
                session.add(AuthFailure(key=limit.key, at=now))
            session.flush()
            for limit in limits:
                self._wait(session, limit, now)

    def _blocked_for(self, key: str, now: datetime) -> int:
        until = self._blocked.get(key)
        if until is None:
            return 0
        if until <= now:
            del self._blocked[key]
            return 0
        return max(1, math.ceil((until - now).total_seconds()))

    def _wait(self, session: Session, limit: Limit, now: datetime) -> int:
        """Seconds until ``limit.key`` may try again (0: it may now); remembers a block."""
        recent = (select(AuthFailure.at).where(AuthFailure.key == limit.key, AuthFailure.at > now - limit.window)
                  .order_by(AuthFailure.at.desc()).limit(limit.failures).subquery())
        count, oldest = session.execute(select(func.count(), func.min(recent.c.at))).one()
        count = int(count)
        oldest = oldest if isinstance(oldest, datetime) else None
        if count < limit.failures or oldest is None:
            return 0
        until = oldest + limit.window
        self._blocked[limit.key] = until
        return max(1, math.ceil((until - now).total_seconds()))

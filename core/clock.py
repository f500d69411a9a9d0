"""The one clock seam. Logic takes ``now`` as a parameter; only entry points ask a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.errors import NaiveDatetime


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC. The only place slaflow reads the real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that moves only when told to: the demo and tests travel through a working week."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = ensure_utc(moment)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


def ensure_utc(moment: datetime) -> datetime:
    """Reject naive datetimes (their meaning depends on the machine) and normalise to UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetime(moment)
    return moment.astimezone(UTC)

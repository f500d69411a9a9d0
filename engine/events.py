"""What happens to a case, as facts the engine emits; features subscribe (notifications, CRM write-back).

The engine names no feature: it builds a frozen event and calls `emit`; the composition root
(``runtime.wiring``) says who listens, once per process, explicitly.

Subscribers run synchronously, in the emitting session and transaction, in the order they
subscribed. That is a choice, not an accident: what a subscriber writes (outbox rows) commits
or rolls back with the transition that caused it, so a transition acknowledged to its caller
never lacks its messages and a refused one sends none, with no second store of events to
replay and no extra round trip on the hot path (``bench/engine.py``). The price is that a
subscriber's bug fails the transition, as it did when the engine called notifications itself;
isolating it in a savepoint would lose the message unless the event were kept somewhere durable
for a retry, which needs a table of pending events (a schema change): left for when events are
also published after commit (Prefect events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from engine.records import CaseRecord
    from org.chart import Company


@dataclass(frozen=True)
class CaseEvent:
    """Something that happened to ``case`` (as the engine left it) at ``now``."""

    case: CaseRecord
    now: datetime

    @property
    def key(self) -> str:
        """The identity of the cause (subscribers derive their idempotency keys from it):
        re-emitting the same event yields the same key."""
        return f"case={self.case.id}|event={self.case.version}"


@dataclass(frozen=True)
class CaseOpened(CaseEvent):
    """A case exists (its initial step entered)."""

    @property
    def key(self) -> str:
        return f"case={self.case.id}"


@dataclass(frozen=True)
class StepEntered(CaseEvent):
    """A trigger moved the case into a new, non-terminal step; ``source`` is the moving event's
    (``"timer"`` when automatic), so subscribers need not read it back from the log."""

    source: str


@dataclass(frozen=True)
class CaseResolved(CaseEvent):
    """A trigger moved the case into a terminal state (``source``: as for `StepEntered`)."""

    source: str

    @property
    def key(self) -> str:
        return f"case={self.case.id}"


@dataclass(frozen=True)
class CaseAssigned(CaseEvent):
    """``person`` now holds the current step."""

    person: str


@dataclass(frozen=True)
class Mentioned(CaseEvent):
    """A comment by ``author`` names ``people`` (``@person``)."""

    author: str
    people: list[str]
    text: str


@dataclass(frozen=True)
class HoldStarted(CaseEvent):
    """The case entered ``state``, which releases itself (``trigger``) after ``after_minutes``
    of ``department``'s business time unless someone acts; see `engine.holds.schedule_notice`."""

    state: str
    department: str
    after_minutes: float
    trigger: str


@dataclass(frozen=True)
class HoldExpiring(CaseEvent):
    """A hold's notice timer fired: the hold releases itself at ``expires_at``."""

    expires_at: datetime

    @property
    def key(self) -> str:
        return f"case={self.case.id}|hold={self.expires_at.isoformat()}"


@dataclass(frozen=True)
class ClockEvent(CaseEvent):
    """Something that happened to one SLA clock of the case (``clock``: its row)."""

    clock: Row[Any]

    @property
    def key(self) -> str:
        return f"case={self.case.id}|clock={self.clock.id}"


@dataclass(frozen=True)
class StepWarned(ClockEvent):
    """The clock's deadline is near."""


@dataclass(frozen=True)
class StepBreached(ClockEvent):
    """The clock missed its deadline; ``breach`` is its row in the breach log."""

    breach: Row[Any]


@dataclass(frozen=True)
class Escalated(ClockEvent):
    """Level ``level`` of the step's escalation chain reached ``audience`` (audience specs,
    resolved by `org.audience`)."""

    level: int
    audience: list[str]


E = TypeVar("E", bound=CaseEvent)
Subscriber = Callable[["Session", "Company", E], None]
"""Runs in the emitting transaction; writes what it needs through ``session``."""

_subscribers: dict[type[CaseEvent], list[Callable[[Session, Company, Any], None]]] = {}


def subscribe(kind: type[E], subscriber: Subscriber[E]) -> None:
    """Call ``subscriber`` for every event of ``kind`` (exactly that class). Idempotent: the same
    function subscribed twice is called once."""
    listeners = _subscribers.setdefault(kind, [])
    if subscriber not in listeners:
        listeners.append(subscriber)


def unsubscribe(kind: type[E], subscriber: Subscriber[E]) -> None:
    listeners = _subscribers.get(kind, [])
    if subscriber in listeners:
        listeners.remove(subscriber)


def subscribers_of(kind: type[CaseEvent]) -> tuple[Callable[[Session, Company, Any], None], ...]:
    """Who listens to ``kind``, in calling order."""
    return tuple(_subscribers.get(kind, ()))


def emit(session: Session, company: Company, event: CaseEvent) -> None:
    """Hand ``event`` to its subscribers, in the caller's transaction (see the module docstring)."""
    for subscriber in _subscribers.get(type(event), ()):
        subscriber(session, company, event)

"""A case's whole history, read from its `engine.case_view.CaseView`, in two renderings: `history`
(the CLI's rows: events, what the SLA did to it and the messages that went out) and `timeline`
(the case page's entries: state visits with their step clocks, pauses, breaches, messages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import groupby
from typing import Any

from core.vocabulary import TimerKind
from engine.case_view import CaseView
from engine.clock_view import ClockView
from sla.model import ClockKind

SYSTEM = "system"
"""Who did what the SLA did (the ``who`` of a timer's row)."""


class HistoryKind(StrEnum):
    EVENT = "event"
    AUTO = TimerKind.AUTO.value
    WARNING = TimerKind.WARNING.value
    BREACH = TimerKind.BREACH.value
    ESCALATION = TimerKind.ESCALATION.value
    MESSAGE = "message"


HISTORY_ORDER = {kind: index for index, kind in enumerate(HistoryKind)}


def history(view: CaseView) -> list[dict[str, Any]]:
    """Rows ``{at, kind, who, what}``: ``kind`` is event, warning, breach, escalation, auto or message."""
    rows: list[dict[str, Any]] = [
        {
            "at": event.at,
            "kind": HistoryKind.EVENT.value,
            "who": event.actor,
            "what": f"{event.trigger}: {event.from_state or '-'} -> {event.to_state}",
        }
        for event in view.events
    ]
    for timer in view.fired:
        level = f" level {timer.level}" if timer.kind == TimerKind.ESCALATION else ""
        rows.append({
            "at": timer.fired_at,
            "kind": timer.kind,
            "who": SYSTEM,
            "what": f"{timer.kind}{level} in {timer.state}" + (f" ({timer.trigger})" if timer.trigger else ""),
        })
    for breach in sorted(view.breaches, key=lambda b: b.id):
        late = f", {breach.late_minutes:.0f} business min late" if breach.late_minutes is not None else ""
        rows.append({
            "at": breach.breached_at,
            "kind": HistoryKind.BREACH.value,
            "who": breach.department + (f" ({breach.person})" if breach.person else ""),
            "what": f"{breach.kind} deadline missed" + (f" in {breach.state}" if breach.state else "") + late,
        })
    for message in sorted(view.messages, key=lambda m: m.id):
        rows.append({
            "at": message.sent_at or message.created_at,
            "kind": HistoryKind.MESSAGE.value,
            "who": message.recipient,
            "what": f"{message.kind} via {message.channel}: {message.status}",
        })
    return sorted(rows, key=lambda row: (_key(row["at"]), HISTORY_ORDER.get(row["kind"], len(HISTORY_ORDER))))


def _key(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("inf")


class EntryKind(StrEnum):
    STATE = "state"
    PAUSE = "pause"
    BREACH = "breach"
    MESSAGES = "messages"


ENTRY_ORDER = {kind: index for index, kind in enumerate(EntryKind)}


@dataclass(frozen=True)
class Entry:
    """One line of the case page's timeline. ``item`` is the `EventView` (state), the
    ``ClockPause``, the ``Breach``, or the list of ``OutboxMessage`` sent together."""

    at: datetime
    kind: EntryKind
    item: Any
    clock: ClockView | None = None
    """For a state entry: the step clock that ran while the case was in that state; for a pause,
    the clock paused."""


def _state_clock(clocks: tuple[ClockView, ...], state: str, seq: int) -> ClockView | None:
    """The step clock of a state visit: the latest one for the state started at or before this
    event (a clock paused for a dependency resumes when the case comes back)."""
    found = [c for c in clocks if c.kind == ClockKind.STEP and c.state == state and c.event_seq <= seq]
    return found[-1] if found else None


def timeline(view: CaseView) -> list[Entry]:
    """Everything that happened to the case, oldest first; messages sent together (same kind,
    level and moment) form one entry."""
    entries = [
        Entry(event.at, EntryKind.STATE, event, _state_clock(view.clocks, event.to_state, event.seq))
        for event in view.events
    ]
    entries += [
        Entry(pause.started_at, EntryKind.PAUSE, pause, clock) for clock in view.clocks for pause in clock.pauses
    ]
    entries += [Entry(breach.breached_at, EntryKind.BREACH, breach) for breach in view.breaches]
    for (at, _, _), group in groupby(view.messages, key=lambda m: (m.created_at, m.kind, m.level)):
        entries.append(Entry(at, EntryKind.MESSAGES, list(group)))
    return sorted(entries, key=lambda entry: (entry.at, ENTRY_ORDER[entry.kind]))

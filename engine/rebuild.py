"""Clocks, breaches, pauses and timers are derived from the case event log: replaying a case's
events through the engine into a scratch database must reproduce exactly what is stored.

`rebuild` checks that (``slaflow sla rebuild``); `what_if` replays past cases under other
calendars or case-type targets and compares the figures that result (``slaflow sla what-if``).
Both are one mechanism: `replay_company` picks the configuration a case is replayed under and
`replay_case` applies its events with the engine code that wrote the records; the figures come
from the one ledger (`sla.ledger`), judged at the same instant on both sides, so a change that
changes nothing shows nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ensure_utc
from engine import case_hooks, cases, versions
from org.chart import Actor, Company
from sla import ledger
from sla.calendar import BusinessCalendar
from sla.compliance import Tally
from storage.db import make_engine, migrate, session_factory
from storage.models import Breach, Case, CaseEvent, CaseParticipant, ClockPause, SlaClock, Timer


@dataclass
class RebuildResult:
    checked: int = 0
    differences: dict[int, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences


@contextmanager
def scratch_database() -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite file that lives as long as the replay."""
    with tempfile.TemporaryDirectory(prefix="slaflow-replay-") as folder:
        url = f"sqlite:///{Path(folder) / 'replay.db'}"
        migrate(url)
        engine = make_engine(url)
        try:
            yield session_factory(engine)
        finally:
            engine.dispose()


def replay_case(target: sessionmaker[Session], company: Company, events: list[CaseEvent], case: Case) -> int:
    """Apply a case's events, in order, in one transaction each; return the new case id."""
    new_id = 0
    for event in events:
        actor = Actor.replay(event.actor)
        with target.begin() as session:
            if event.trigger == cases.OPEN:
                new_id = cases.open_case(
                    session,
                    company,
                    case_type=case.case_type,
                    data=event.payload,
                    actor=actor,
                    now=event.at,
                    source=event.source,
                    external_source=case.external_source,
                    external_key=case.external_key,
                ).id
            elif event.trigger == cases.ASSIGN:
                cases.assign(
                    session,
                    company,
                    case_id=new_id,
                    person=event.payload["person"],
                    actor=actor,
                    now=event.at,
                    source=event.source,
                )
            elif event.trigger == cases.ATTACH:
                cases.attach(session, company, case_id=new_id, actor=actor, file=event.payload, now=event.at,
                             source=event.source)
            elif event.trigger == cases.COMMENT:
                cases.comment(session, company, case_id=new_id, actor=actor, text=event.payload["text"],
                              now=event.at, source=event.source)
            elif event.trigger in (cases.ACKNOWLEDGE, cases.SNOOZE):
                cases.acknowledge(
                    session,
                    company,
                    case_id=new_id,
                    actor=actor,
                    now=event.at,
                    snooze_minutes=event.payload.get("minutes"),
                    source=event.source,
                )
            else:
                cases.fire(
                    session,
                    company,
                    case_id=new_id,
                    trigger=event.trigger,
                    actor=actor,
                    payload=event.payload,
                    now=event.at,
                    source=event.source,
                )
    return new_id


def company_as_run(session: Session, company: Company, case: Case) -> Company:
    """The company with the definition and calendar versions this case actually ran under."""
    definition = versions.definition_for(session, company, case.case_type, case.definition_fingerprint)
    calendars: dict[str, BusinessCalendar] = {}
    for name, fingerprint in session.execute(
        select(SlaClock.calendar, SlaClock.calendar_fingerprint).where(SlaClock.case_id == case.id).distinct()
    ):
        calendars[name] = versions.calendar_for(session, company, name, fingerprint)
    return company.with_versions(case_types={case.case_type: definition}, calendars=calendars)


def replay_company(session: Session, company: Company, case: Case, changed: Company | None = None) -> Company:
    """The configuration a stored case is replayed under: as it ran (``changed`` None: its stored
    definition and calendar versions), or ``changed`` as the case type's hooks see it (a duty
    occurrence's definition is built again from the changed duty)."""
    if changed is None:
        return company_as_run(session, company, case)
    return case_hooks.replay_company(changed, case.case_type, case.data)


def rebuild(
    sessions: sessionmaker[Session],
    company: Company,
    *,
    case_ids: list[int] | None = None,
    limit: int | None = None,
    scratch: sessionmaker[Session] | None = None,
) -> RebuildResult:
    """Replay stored cases (into ``scratch``, or a temporary database) and compare every derived
    record with what is stored."""
    if scratch is None:
        with scratch_database() as temporary:
            return rebuild(sessions, company, case_ids=case_ids, limit=limit, scratch=temporary)
    result = RebuildResult()
    with sessions() as session:
        query = select(Case).order_by(Case.id)
        if case_ids:
            query = query.where(Case.id.in_(case_ids))
        if limit:
            query = query.limit(limit)
        for case in session.scalars(query):
            new_id = replay_case(scratch, replay_company(session, company, case), list(case.events), case)
            with scratch() as replayed:
                stored, rebuilt = derived(session, case.id), derived(replayed, new_id)
            result.checked += 1
            differences = [
                f"{part}: stored {stored[part]!r} != rebuilt {rebuilt[part]!r}"
                for part in stored
                if stored[part] != rebuilt[part]
            ]
            if differences:
                result.differences[case.id] = differences
    return result


def derived(session: Session, case_id: int) -> dict[str, Any]:
    """Everything derived from a case's events, without database ids and without what only the
    sweeper decides: whether a still-running clock's breach is recorded yet, and a timer's
    status (fired, or cancelled when its state was left); which timers were scheduled, and when,
    is compared."""
    case = session.get(Case, case_id)
    assert case is not None
    clocks = list(session.scalars(select(SlaClock).where(SlaClock.case_id == case_id).order_by(SlaClock.id)))
    index = {clock.id: position for position, clock in enumerate(clocks)}
    return {
        "case": (
            case.state,
            case.data,
            case.owner_department,
            case.owner_role,
            case.owner_person,
            case.due_at,
            case.version,
            case.closed_at,
        ),
        "participants": sorted(
            session.scalars(select(CaseParticipant.department).where(CaseParticipant.case_id == case_id))
        ),
        "clocks": [
            (
                c.kind,
                c.state,
                c.event_seq,
                c.department,
                c.role,
                c.person,
                c.calendar_fingerprint,
                c.target_minutes,
                c.started_at,
                c.running_since,
                c.deadline_at,
                c.warn_at,
                round(c.used_minutes, 6),
                c.paused_since,
                c.stopped_at,
                c.status if c.stopped_at is not None else "open",
                c.requester,
                c.case_opened_at,
            )
            for c in clocks
        ],
        "breaches": sorted(
            [(index[b.clock_id], b.department, b.person, b.state, b.deadline_at, b.closed_at, round(b.late_minutes, 6))
            for b in session.scalars(select(Breach).where(Breach.case_id == case_id, Breach.closed_at.is_not(None)))
            if b.late_minutes is not None],
            key=none_first,
        ),
        "pauses": sorted(
            [(index[p.clock_id], p.started_at, p.ended_at, p.reason, p.waiting_on)
            for p in session.scalars(select(ClockPause).where(ClockPause.clock_id.in_(index)))],
            key=none_first,
        ),
        "timers": sorted(
            (t.kind, t.level, t.state, t.due_at, t.trigger or "")
            for t in session.scalars(select(Timer).where(Timer.case_id == case_id))
        ),
    }


def none_first(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    """A sort key for a record's fields where one may be None (an open pause's end, a breach
    nobody held): None sorts first, so two rows that tie up to it still compare."""
    return tuple((value is not None, value if value is not None else 0) for value in row)


@dataclass(frozen=True)
class WhatIf:
    cases: int
    skipped: dict[int, str]
    before: list[Tally]
    after: list[Tally]

    @property
    def differences(self) -> list[str]:
        """Departments whose figures differ, with both sides (empty when nothing changes)."""
        def key(row: Tally) -> tuple[int, int, int, int, float]:
            return (row.steps, row.met, row.breached, row.running, round(row.late_minutes, 6))

        before = {row.department: key(row) for row in self.before}
        after = {row.department: key(row) for row in self.after}
        return [
            f"{department}: {before.get(department)} -> {after.get(department)}"
            for department in sorted(before.keys() | after.keys())
            if before.get(department) != after.get(department)
        ]


def what_if(
    sessions: sessionmaker[Session],
    company: Company,
    changed: Company,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
) -> WhatIf:
    """Replay the cases opened in ``[since, until)`` as they ran and under ``changed`` (other
    calendars, case-type definitions or duties) and compare the per-department figures, both
    judged at ``now`` by the ledger. Nothing is swept: the event log already holds every move
    the sweeper made (automatic transitions, escalation reassignments), and the ledger decides
    breaches from time alone."""
    skipped: dict[int, str] = {}
    count = 0
    with scratch_database() as before, scratch_database() as after, sessions() as session:
        query = select(Case).where(Case.opened_at >= since, Case.opened_at < until).order_by(Case.id)
        for case in session.scalars(query):
            events = list(case.events)
            replay_case(before, replay_company(session, company, case), events, case)
            try:
                replay_case(after, replay_company(session, company, case, changed), events, case)
            except Exception as exc:  # a changed definition may refuse an old move; report, go on
                skipped[case.id] = f"{type(exc).__name__}: {exc}"
            count += 1
        figures = []
        for scratch in (before, after):
            with scratch() as replayed:
                figures.append(ledger.tallies(replayed, ledger.step_where(), ensure_utc(now)))
    return WhatIf(cases=count, skipped=skipped, before=figures[0], after=figures[1])

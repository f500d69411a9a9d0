"""Template variables, built when a message is produced, in the recipient's language.

A context is plain JSON (stored in ``OutboxMessage.context``): instants as ISO UTC strings,
shown in the recipient's time zone (``tz``) by the ``localtime`` filter; durations in business
minutes. Labels are resolved here, so a message reads the same whenever it is delivered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from engine.clock_view import clock_used
from state_machines.values import label_text

if TYPE_CHECKING:
    from sqlalchemy import Row
    from sqlalchemy.orm import Session

    from engine.records import CaseRecord
    from org.chart import Company
    from storage.models import Breach, Case, SlaClock

    CaseLike: TypeAlias = Case | CaseRecord
    """The engine passes its CaseRecord; readers may pass the ORM Case."""
    ClockLike: TypeAlias = SlaClock | Row[Any]
    """The engine passes ORM objects or Core rows; both have the columns as attributes."""
    BreachLike: TypeAlias = Breach | Row[Any]


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def base(company: Company, person: str, locale: str, tz: str) -> dict[str, Any]:
    """What every message has: who it is for, where, and from which company."""
    return {
        "company_name": label_text(company.config.company.name, locale),
        "recipient": {"id": person, "name": company.person_name(person, locale)},
        "locale": locale,
        "tz": tz,
    }


def person_name(company: Company, person: str | None, locale: str) -> str | None:
    if person is None or person not in company.config.people:
        return person
    return company.person_name(person, locale)


def department_name(company: Company, department: str | None, locale: str) -> str | None:
    if department is None or department not in company.config.departments:
        return department
    return company.department_name(department, locale)


def state_label(company: Company, case_type: str, state: str | None, locale: str) -> str | None:
    definition = company.case_types.get(case_type)
    if state is None or definition is None or state not in definition.states:
        return state
    return label_text(definition.states[state].label, locale)


def case_context(company: Company, case: CaseLike, locale: str) -> dict[str, Any]:
    definition = company.case_types.get(case.case_type)
    return {
        "id": case.id,
        "type": case.case_type,
        "type_label": label_text(definition.label, locale) if definition else case.case_type,
        "state": case.state,
        "state_label": state_label(company, case.case_type, case.state, locale),
        "owner_department_name": department_name(company, case.owner_department, locale),
        "owner_person_name": person_name(company, case.owner_person, locale),
        "requester_name": department_name(company, case.requester, locale),
        "performer_name": department_name(company, case.performer, locale),
        "data": dict(case.data),
        "opened_at": iso(case.opened_at),
        "due_at": iso(case.due_at),
        "closed_at": iso(case.closed_at),
    }


def used_once(session: Session, company: Company, clock: ClockLike, now: datetime) -> Callable[[], float]:
    """The business minutes ``clock`` has used by ``now`` (`engine.clock_view.clock_used`), counted
    at the first call and remembered: an event's messages all quote the same figure, so it is
    counted once per event, not once per recipient (it is most of a context's cost)."""
    counted: list[float] = []

    def used() -> float:
        if not counted:
            counted.append(clock_used(session, company, clock, now))  # type: ignore[arg-type]
        return counted[0]

    return used


def clock_context(
    session: Session, company: Company, case: CaseLike, clock: ClockLike, now: datetime, locale: str,
    used: float | None = None,
) -> dict[str, Any]:
    """The clock a warning, breach or escalation is about, with business minutes left at ``now``
    (negative once overdue), counted on the calendar version the clock runs on (``used``: those
    minutes when the caller counted them already, `used_once`)."""
    if used is None:
        used = clock_used(session, company, clock, now)  # type: ignore[arg-type]
    remaining = clock.target_minutes - used if clock.target_minutes is not None else None
    return {
        "kind": clock.kind,
        "state_label": state_label(company, case.case_type, clock.state, locale),
        "department_name": department_name(company, clock.department, locale),
        "person_name": person_name(company, clock.person, locale),
        "target_minutes": clock.target_minutes,
        "remaining_minutes": remaining,
        "deadline_at": iso(clock.deadline_at),
    }


def breach_context(
    session: Session, company: Company, clock: ClockLike, breach: BreachLike, now: datetime,
    used: float | None = None,
) -> dict[str, Any]:
    """The missed deadline; business minutes late so far (the breach row has them once closed;
    ``used``: as for `clock_context`)."""
    late = breach.late_minutes
    if late is None:  # still open: the business minutes used beyond the target so far
        if used is None:
            used = clock_used(session, company, clock, now)  # type: ignore[arg-type]
        late = max(used - (clock.target_minutes or 0.0), 0.0)
    return {"deadline_at": iso(breach.deadline_at), "breached_at": iso(breach.breached_at), "late_minutes": late}

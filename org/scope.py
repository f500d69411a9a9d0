"""Read scope as SQL. Every read of cases, clocks or figures served over HTTP goes through
``case_filter`` (a WHERE condition on a case-id column), so the database does the filtering:
nothing is loaded and then thrown away, which matters with a million cases.

A case outside the scope is reported exactly like a case that does not exist (``CaseNotFound``,
a 404), so a scope does not leak which case ids exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.orm import Session, aliased

from core.errors import CaseNotFound
from org.actors import ReadScope
from storage.models import Case, CaseParticipant, SlaClock


def case_filter(scope: ReadScope, case_id: Any) -> ColumnElement[bool]:
    """The condition that keeps only rows whose ``case_id`` column is a readable case.

    Correlated EXISTS look-ups, each on an index (the participants' primary key, clocks by
    person, the case's primary key): a query ordered and limited by its own index (the board's
    nearest deadlines, a page of ids) stops as soon as it has its rows, instead of first
    collecting every readable id (bench/scope.py)."""
    if scope.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if scope.departments:
        taking_part = aliased(CaseParticipant)
        conditions.append(exists().where(taking_part.case_id == case_id,
                                         taking_part.department.in_(sorted(scope.departments)))
                          .correlate_except(taking_part))
    if scope.person:
        held = aliased(SlaClock)
        conditions.append(exists().where(held.case_id == case_id, held.person == scope.person).correlate_except(held))
        holding = aliased(Case)
        conditions.append(exists().where(holding.id == case_id, holding.owner_person == scope.person)
                          .correlate_except(holding))
    return or_(*conditions) if conditions else false()


def may_read(session: Session, scope: ReadScope, case_id: int) -> bool:
    """Whether the case exists and is in the scope."""
    found = session.scalar(select(Case.id).where(Case.id == case_id, case_filter(scope, Case.id)))
    return found is not None


def require_readable(session: Session, scope: ReadScope, case_id: int) -> None:
    """Raise ``CaseNotFound`` (404) for a case that does not exist or is outside the scope."""
    if not may_read(session, scope, case_id):
        raise CaseNotFound(case_id)

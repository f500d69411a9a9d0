"""Read scope as SQL. Every read of cases, clocks or figures served over HTTP goes through
``case_filter`` (a WHERE condition on a case-id column), so the database does the filtering:
nothing is loaded and then thrown away, which matters with a million cases.

A case outside the scope is reported exactly like a case that does not exist (``CaseNotFound``,
a 404), so a scope does not leak which case ids exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session, aliased

from core.errors import CaseNotFound
from org.actors import ReadScope
from storage.models import Case, CaseParticipant, SlaClock

_TAKING_PART = aliased(CaseParticipant)
_HELD = aliased(SlaClock)
_HOLDING = aliased(Case)
"""Built once: SQLAlchemy memoizes an alias's adapted columns on the alias, and building them
again for a fresh alias on every request was half the case page's time (bench/dashboard.py).
Each look-up below is its own subquery, so one alias serves every use."""


def case_filter(scope: ReadScope, case_id: Any) -> ColumnElement[bool]:
    """The condition that keeps only rows whose ``case_id`` column is a readable case.

    Correlated look-ups, each on an index (the participants' primary key, clocks by person, the
    case's primary key): a query ordered and limited by its own index (the board's nearest
    deadlines, a page of ids) stops as soon as it has its rows, instead of first collecting
    every readable id (bench/scope.py, bench/dashboard.py)."""
    if scope.everything:
        return true()
    conditions: list[ColumnElement[bool]] = []
    if scope.departments:
        conditions.append(_found(_TAKING_PART, _TAKING_PART.case_id, _TAKING_PART.case_id == case_id,
                                 _TAKING_PART.department.in_(sorted(scope.departments))))
    if scope.person:
        conditions.append(_found(_HELD, _HELD.case_id, _HELD.case_id == case_id, _HELD.person == scope.person))
        conditions.append(_found(_HOLDING, _HOLDING.id, _HOLDING.id == case_id,
                                 _HOLDING.owner_person == scope.person))
    return or_(*conditions) if conditions else false()


def _found(alias: Any, column: Any, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether a row of ``alias`` matches: its (never NULL) ``column`` of the first matching row
    as a scalar subquery, not NULL.
    Not EXISTS: under OR, PostgreSQL runs an EXISTS as a hash of every matching row of the
    table (each participant of a department: a million rows), built before the first case is
    read; a scalar subquery is one index probe per case read, and a limited query reads few."""
    return select(column).where(*where).limit(1).correlate_except(alias).scalar_subquery().is_not(None)


def may_read(session: Session, scope: ReadScope, case_id: int) -> bool:
    """Whether the case exists and is in the scope."""
    found = session.scalar(select(Case.id).where(Case.id == case_id, case_filter(scope, Case.id)))
    return found is not None


def require_readable(session: Session, scope: ReadScope, case_id: int) -> None:
    """Raise ``CaseNotFound`` (404) for a case that does not exist or is outside the scope."""
    if not may_read(session, scope, case_id):
        raise CaseNotFound(case_id)

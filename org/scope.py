"""Read scope as SQL. Every read of cases, clocks or figures served over HTTP goes through
``case_filter`` (a WHERE condition on a case-id column), so the database does the filtering:
nothing is loaded and then thrown away, which matters with a million cases.

A case outside the scope is reported exactly like a case that does not exist (``CaseNotFound``,
a 404), so a scope does not leak which case ids exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, true, union
from sqlalchemy.orm import Session

from org.actors import ReadScope
from slaflow.errors import CaseNotFound
from storage.models import Case, CaseParticipant, SlaClock


def visible_case_ids(scope: ReadScope) -> Select[Any] | Any:
    """A SELECT of the ids of the cases ``scope`` may read (not for ``everything``)."""
    parts: list[Select[Any]] = []
    if scope.departments:
        parts.append(
            select(CaseParticipant.case_id).where(CaseParticipant.department.in_(sorted(scope.departments)))
        )
    if scope.person:
        parts.append(select(SlaClock.case_id).where(SlaClock.person == scope.person))
        parts.append(select(Case.id).where(Case.owner_person == scope.person))
    if not parts:
        return select(Case.id).where(false())
    return parts[0] if len(parts) == 1 else union(*parts)


def case_filter(scope: ReadScope, case_id: Any) -> ColumnElement[bool]:
    """The condition that keeps only rows whose ``case_id`` column is a readable case."""
    if scope.everything:
        return true()
    return case_id.in_(visible_case_ids(scope))  # type: ignore[no-any-return]


def may_read(session: Session, scope: ReadScope, case_id: int) -> bool:
    """Whether the case exists and is in the scope."""
    found = session.scalar(select(Case.id).where(Case.id == case_id, case_filter(scope, Case.id)))
    return found is not None


def require_readable(session: Session, scope: ReadScope, case_id: int) -> None:
    """Raise ``CaseNotFound`` (404) for a case that does not exist or is outside the scope."""
    if not may_read(session, scope, case_id):
        raise CaseNotFound(case_id)

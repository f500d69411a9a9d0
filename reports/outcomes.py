"""Outcome figures of a case type, counted by the outcome metrics the type declares
(``outcomes:``, `state_machines.parts.OutcomeDef`): no report names a type's states or triggers,
so a company that renames one in its YAML (and its declaration with it) keeps its figures."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from org.chart import Company
from reports.scope import Scope, sum_if
from state_machines.schema import CaseTypeDef
from storage.models import Case, CaseEvent

LEAD_DISPUTE = "lead_dispute"
"""The case type whose outcomes are the lead-quality figures."""
LEAD_OUTCOMES = ("accepted", "accepted_by_marketing", "accepted_on_arbitration", "kept", "withdrawn")
"""The outcome metrics a lead-dispute type declares, in `LeadFigures` order."""
NON_TARGET = "accepted"
"""The outcome metric that confirms a disputed lead is non-target."""

_cases = Case.__table__
_events = CaseEvent.__table__


@dataclass(frozen=True)
class LeadFigures:
    """Lead-quality disputes: sales says a lead is non-target, marketing accepts or rejects, the
    commercial director arbitrates a rejection. Each outcome counts the cases the type's
    declaration of that metric matches."""

    disputes: int = 0
    accepted: int = 0
    """The lead is non-target, directly or on arbitration."""
    accepted_by_marketing: int = 0
    """Accepted by marketing itself."""
    accepted_on_arbitration: int = 0
    """Accepted by the commercial director's ruling."""
    kept: int = 0
    """Rejected: the lead stays qualified."""
    withdrawn: int = 0
    open: int = 0
    disputed_leads: int = 0
    """Distinct leads sales disputed."""
    non_target_leads: int = 0
    """Distinct leads confirmed non-target (a dispute about them has the `NON_TARGET` outcome)."""

    @property
    def acceptance(self) -> float | None:
        """Share of decided disputes marketing lost (accepted / (accepted + kept))."""
        decided = self.accepted + self.kept
        return self.accepted / decided if decided else None


def outcome_condition(definition: CaseTypeDef, metric: str) -> ColumnElement[bool]:
    """The cases (rows of ``cases``) that count for ``metric`` as ``definition`` declares it: in one
    of its states and, when it names triggers, with one of them in the event log."""
    outcome = definition.outcome(metric)
    condition: ColumnElement[bool] = _cases.c.state.in_(outcome.states)
    if outcome.triggers:
        fired = exists().where(_events.c.case_id == _cases.c.id, _events.c.trigger.in_(outcome.triggers))
        condition = and_(condition, fired)
    return condition


def lead_figures(session: Session, company: Company, scope: Scope, *, case_type: str = LEAD_DISPUTE) -> LeadFigures:
    """Lead disputes opened in the period, by declared outcome, in one aggregate over the cases
    (an outcome's path comes from the event log). A company without the type has none."""
    definition = company.case_types.get(case_type)
    if definition is None:
        return LeadFigures()
    lead = _cases.c.data["lead_id"].as_string()
    non_target = outcome_condition(definition, NON_TARGET)
    query = select(
        func.count(),
        *(sum_if(outcome_condition(definition, metric)) for metric in LEAD_OUTCOMES),
        sum_if(_cases.c.closed_at.is_(None)),
        func.count(func.distinct(lead)),
        func.count(func.distinct(case((non_target, lead)))),
    ).where(_cases.c.case_type == case_type, _cases.c.opened_at >= scope.since, _cases.c.opened_at < scope.until)
    row = session.execute(query).one()
    return LeadFigures(*(int(value or 0) for value in row))

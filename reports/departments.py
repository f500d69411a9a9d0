"""The per-department report: step figures, time in state, whole-case figures and the ledger
merged by department."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from reports.cases import case_figures
from reports.ledger import LedgerCell, ledger
from reports.scope import Scope
from reports.steps import step_rows


@dataclass(frozen=True)
class DepartmentRow:
    """One line of the per-department report."""

    department: str
    steps: int = 0
    met: int = 0
    breached: int = 0
    running: int = 0
    late_minutes: float = 0.0
    exempted: int = 0
    """Steps whose breach the director exempted: shown, not in steps, met, breached or late."""
    median_minutes: float | None = None
    p90_minutes: float | None = None
    cases_requested: int = 0
    case_breaches: int = 0
    """Whole-case breaches of the cases this department requested (charged to it as requester)."""
    waiting_breaches: float = 0.0
    """The part of ``case_breaches`` other departments consumed (business minutes in their steps)."""
    ledger_cases: int = 0
    ledger_minutes: float = 0.0
    """Business minutes this department used on steps of the cases opened in the period."""

    @property
    def finished(self) -> int:
        """Steps whose outcome is decided: met, or breached (even while still running)."""
        return self.met + self.breached

    @property
    def compliance(self) -> float | None:
        return self.met / self.finished if self.finished else None

    @property
    def own_breaches(self) -> int:
        """Breaches caused by the department itself: its step breaches."""
        return self.breached


def department_rows(
    session: Session, scope: Scope, *, ledger_cells: list[LedgerCell] | None = None
) -> list[DepartmentRow]:
    """The per-department report: step figures with time in state, whole-case figures and the
    ledger merged by department (each from its own aggregate query; merging joins a few rows per
    department). Pass ``ledger_cells`` when the caller already has `ledger` for the scope."""
    rows: dict[str, dict[str, Any]] = {}

    def row(department: str) -> dict[str, Any]:
        return rows.setdefault(department, {"department": department})

    for fig, times in step_rows(session, scope):
        row(fig.department).update(
            steps=fig.steps,
            met=fig.met,
            breached=fig.breached,
            running=fig.running,
            late_minutes=fig.late_minutes,
            exempted=fig.exempted,
            median_minutes=times.median_minutes,
            p90_minutes=times.p90_minutes,
        )
    for whole in case_figures(session, scope):
        row(whole.department).update(cases_requested=whole.cases, case_breaches=whole.breached)
    for cell in ledger(session, scope) if ledger_cells is None else ledger_cells:
        if scope.department in (None, cell.department):
            consumer = row(cell.department)
            consumer["ledger_cases"] = consumer.get("ledger_cases", 0) + cell.cases
            consumer["ledger_minutes"] = consumer.get("ledger_minutes", 0.0) + cell.minutes
        if cell.department != cell.requester and scope.department in (None, cell.requester):
            requester = row(cell.requester)
            requester["waiting_breaches"] = requester.get("waiting_breaches", 0.0) + cell.breach_share
    return [DepartmentRow(**rows[name]) for name in sorted(rows)]

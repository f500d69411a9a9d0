"""The ledger and the per-department report under a department filter, on SQLite and PostgreSQL,
against the same report without it, on the random clocks of tests/test_report_ledger.py. The
ledger groups per requester and narrows another requester's cases to the filtered department's
steps (`reports.ledger._settled_minutes`); the whole-case figures read the open clocks apart
from the grouped ones (`sla.ledger.tallies`). A filter must only drop lines: the filtered
ledger is the unfiltered ledger's cells that name the department, and the department's line of
the report is the same with or without the filter."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from reports.departments import department_rows
from reports.ledger import ledger
from tests.test_report_ledger import SCOPE, _store, case_ids, drawn_cases

__all__ = ["case_ids"]  # the fixture, used by name

DEPARTMENTS = ("warehouse", "logistics", "sales", "marketing", "accounting")
"""Step departments, requesters, both (sales) and neither (accounting)."""


def _same(got: Any, expected: Any) -> None:
    """Dataclasses equal field by field, floats up to summation order."""
    for name, value in dataclasses.asdict(expected).items():
        if isinstance(value, float):
            assert getattr(got, name) == pytest.approx(value, rel=1e-12, abs=1e-9), name
        else:
            assert getattr(got, name) == value, name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=drawn_cases, department=st.sampled_from(DEPARTMENTS))
def test_a_department_filter_keeps_the_ledger_cells_and_the_report_line_of_the_department(
    sessions: sessionmaker[Session], case_ids: list[int], drawn: list[dict[str, Any]], department: str
) -> None:
    with sessions.begin() as session:
        _store(session, case_ids, drawn)
    filtered_scope = dataclasses.replace(SCOPE, department=department)
    with sessions() as session:
        every = {(cell.requester, cell.department): cell for cell in ledger(session, SCOPE)}
        filtered = {(cell.requester, cell.department): cell for cell in ledger(session, filtered_scope)}
        rows = {row.department: row for row in department_rows(session, SCOPE)}
        filtered_rows = {row.department: row for row in department_rows(session, filtered_scope)}
    assert set(filtered) == {key for key in every if department in key}
    for key, cell in filtered.items():
        _same(cell, every[key])
    assert list(filtered) == sorted(filtered)  # by requester, then department
    assert set(filtered_rows) <= {department}
    if department in rows:
        _same(filtered_rows[department], rows[department])
    else:
        assert department not in filtered_rows

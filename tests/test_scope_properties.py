"""The read scope's SQL (``org.scope.case_filter``) keeps exactly the cases the rule names, for
any scope: a property test against a plain-Python reading of the same rows, on both databases.
And the org-chart side: a head reads at least what their members read, and what is under them."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from engine import cases
from org.actors import ReadScope, departments_under, person_scope
from org.chart import Company
from org.scope import case_filter, may_read
from storage.models import Case, CaseParticipant, SlaClock

ORDER = {"customer": "ООО Ромашка", "order": "A-1"}
OPENED: list[tuple[str, dict[str, Any]]] = [
    ("return", {**ORDER, "reason": "брак"}),
    ("rush_delivery", {**ORDER, "deliver_by": "2026-11-18", "reason": "VIP"}),
    ("replacement", {**ORDER, "product": "P-1", "complaint": "скол"}),
    ("price_approval", {"customer": "ООО Ромашка", "deal": "D-1", "discount_pct": 12}),
    ("lead_dispute", {"lead_id": "L-1", "reason": "дубль"}),
    ("picking_error", {**ORDER, "problem": "не тот товар"}),
]


def populate(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> None:
    """Cases of every type, some moved on and some assigned to a person."""
    with sessions.begin() as session:
        for case_type, data in OPENED:
            definition = company.case_type(case_type)
            missing = {name: "x" for name in definition.open_requires if name not in data}
            cases.open_case(session, company, case_type=case_type, data={**data, **missing},
                            actor=company.actor("ivanov"), now=clock.now())
        cases.assign(session, company, case_id=1, person="volkova", actor=company.actor("smirnov"), now=clock.now())
        cases.fire(session, company, case_id=1, trigger="approve", actor=company.actor("popov"), now=clock.now(),
                   payload={"inspection_notes": "ok"})
        cases.assign(session, company, case_id=1, person="kozlov", actor=company.actor("lebedev"), now=clock.now())
        cases.assign(session, company, case_id=2, person="kozlov", actor=company.actor("lebedev"), now=clock.now())


def reference(session: Session, scope: ReadScope) -> set[int]:
    """The rule read plainly: every row loaded, the scope applied in Python."""
    every = set(session.scalars(select(Case.id)))
    if scope.everything:
        return every
    taking_part = {row.case_id for row in session.scalars(select(CaseParticipant))
                   if row.department in scope.departments}
    held = {row.case_id for row in session.scalars(select(SlaClock)) if scope.person and row.person == scope.person}
    holding = {case.id for case in session.scalars(select(Case)) if scope.person and case.owner_person == scope.person}
    return taking_part | held | holding


def test_the_sql_filter_keeps_exactly_the_cases_of_any_scope(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    populate(sessions, company, clock)
    people = sorted(company.config.people)
    departments = sorted(company.config.departments)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        everything=st.booleans(),
        chosen=st.frozensets(st.sampled_from(departments)),
        person=st.none() | st.sampled_from(people),
    )
    def check(everything: bool, chosen: frozenset[str], person: str | None) -> None:
        scope = ReadScope(everything=everything, departments=chosen, person=person)
        with sessions() as session:
            found = set(session.scalars(select(Case.id).where(case_filter(scope, Case.id))))
            assert found == reference(session, scope)
            assert {case_id for case_id in range(1, 9) if may_read(session, scope, case_id)} == found

    check()


def test_a_head_reads_what_their_members_read_and_the_departments_under_them(company: Company) -> None:
    for code, department in company.config.departments.items():
        _, head = person_scope(company, department.head)
        if head.everything:
            continue
        assert departments_under(company, code) <= head.departments
        for member in company.members(code):
            _, theirs = person_scope(company, member)
            assert theirs.everything or code in theirs.departments
    _, director = person_scope(company, company.config.company.director)
    assert director.everything

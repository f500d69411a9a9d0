"""Definition and calendar versions: content-addressed, cached on content (never on object
identity), and registered again by a database that was emptied under a running process."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import SlaflowError
from engine import case_hooks, cases
from org.chart import Company
from runtime.company import load_company
from runtime.settings import EXAMPLE_COMPANY
from state_machines import duty as duty_type
from state_machines.machine import machine_for
from storage.models import Base, CalendarVersion, CaseTypeVersion

RETURN_DATA = {"customer": "ООО Ромашка", "order": "SO-1", "reason": "broken"}


def _open(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> int:
    with sessions.begin() as session:
        return cases.open_case(
            session, company, case_type="return", data=RETURN_DATA, actor=company.actor("ivanov"), now=clock.now()
        ).id


def test_a_database_emptied_under_a_running_process_gets_its_versions_again(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open(sessions, company, clock)
    with sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    case_id = _open(sessions, company, clock)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(CaseTypeVersion)) == 1
        assert (session.scalar(select(func.count()).select_from(CalendarVersion)) or 0) >= 1
        assert cases.get_case(session, case_id).state == company.case_type("return").initial


def test_equal_definitions_share_a_machine_and_a_changed_copy_gets_its_own(company: Company) -> None:
    original = company.case_type("return")
    equal = type(original).model_validate(original.model_dump())
    assert equal is not original and machine_for(equal) is machine_for(original)
    original_fingerprint = original.fingerprint
    changed = original.model_copy(update={"target": (original.target or 0) + 60})
    assert changed.fingerprint != original_fingerprint
    assert machine_for(changed) is not machine_for(original)
    assert machine_for(changed).definition.target == changed.target
    assert original.model_copy().fingerprint == original_fingerprint


def test_composing_a_company_registers_the_duty_hooks_once(company: Company) -> None:
    load_company(EXAMPLE_COMPANY)  # composing again registers the same hooks again: no error

    class Other:
        def checked_payload(self, *args: Any) -> dict[str, Any]:
            return {}

        def replay_company(self, changed: Company, data: Any) -> Company:
            return changed

    with pytest.raises(SlaflowError, match="already has hooks"):
        case_hooks.register(duty_type.NAME, Other())

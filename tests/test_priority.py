"""Priority and customer tier drive targets through a rule table per case type, and rush
delivery's deadline is the earlier of its SLA and the promised ``deliver_by`` (issue 19, point 4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import serving, token_header, write_config
from core.clock import SimulatedClock
from crm import samples
from engine import cases
from engine.clocks import promise_warning
from org.chart import Company
from runtime.settings import EXAMPLE_COMPANY
from slaflow.cli import main
from state_machines.builtin import BUILTIN_TYPES
from storage.models import SlaClock

RUSH = {"customer": "c", "order": "o", "reason": "r"}


def clocks_of(sessions: sessionmaker[Session], company: Company, now: Any, **data: Any) -> dict[str, SlaClock]:
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="rush_delivery", data={**RUSH, **data},
                                  actor=company.actor("petrova"), now=now).id
        return {clock.kind: clock for clock in session.scalars(select(SlaClock).where(SlaClock.case_id == case_id))}


@pytest.mark.parametrize(("data", "step", "whole"), [
    ({}, 120, 1440),
    ({"priority": "high"}, 60, 720),
    ({"customer_tier": "key"}, 90, 1080),
    ({"priority": "high", "customer_tier": "key"}, 60, 720),  # the most urgent matching rule wins
    ({"priority": "low", "customer_tier": "small"}, 120, 1440),
])
def test_priority_and_tier_scale_the_step_and_whole_case_targets(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, data: dict[str, Any], step: float,
    whole: float,
) -> None:
    found = clocks_of(sessions, company, clock.now(), deliver_by="2027-06-01", **data)
    assert (found["step"].target_minutes, found["case"].target_minutes) == (step, whole)


def test_rush_delivery_is_due_at_the_earlier_of_its_sla_and_the_promise(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    now = clock.now()  # Monday 09:00 Moscow; sales works 09-13 and 14-18
    soon = clocks_of(sessions, company, now, deliver_by="2026-11-16T15:00:00+03:00")["case"]
    assert (soon.target_minutes, soon.deadline_at) == (300, now + timedelta(hours=6))  # 4 h + 1 h after lunch
    late = clocks_of(sessions, company, now, deliver_by="2026-12-31")["case"]
    assert late.target_minutes == 1440
    day = clocks_of(sessions, company, now, deliver_by="2026-11-17")["case"]  # a day: its midnight, Moscow time
    assert day.target_minutes == 480


def test_a_promise_that_business_time_cannot_keep_is_warned_about(company: Company, clock: SimulatedClock) -> None:
    rush = company.case_type("rush_delivery")
    now = clock.now()
    assert promise_warning(company, rush, {**RUSH, "deliver_by": "2026-12-31"}, now) is None
    tight = promise_warning(company, rush, {**RUSH, "deliver_by": "2026-11-16T15:00:00+03:00"}, now)
    assert tight is not None and "leaves 300 business minutes, less than the 1440" in tight
    past = promise_warning(company, rush, {**RUSH, "deliver_by": "2026-11-15"}, now)
    assert past is not None and "leaves no business time" in past
    assert promise_warning(company, rush, {**RUSH, "deliver_by": "when possible"}, now) is None


def test_case_open_prints_the_warning_and_still_opens(
    sqlite_url: str, clock: SimulatedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["case", "open", "rush_delivery", "--as", "petrova", "-d", "customer=c", "-d", "order=o", "-d",
              "reason=r", "-d", "deliver_by=2026-11-16T10:00:00+03:00", "--at", clock.now().isoformat(),
              "--database-url", sqlite_url, "--config", str(EXAMPLE_COMPANY)])
    captured = capsys.readouterr()
    assert exited.value.code in (0, None), captured.err
    assert "opened case 1" in captured.out
    assert captured.err.startswith("warning: deliver_by 2026-11-16T07:00:00+00:00 leaves 60 business minutes")


@given(st.dictionaries(st.sampled_from(["priority", "customer_tier", "x"]),
                       st.sampled_from(["high", "key", "low", "small"]), max_size=3))
def test_a_rule_table_never_makes_a_target_longer(data: dict[str, str]) -> None:
    for definition in BUILTIN_TYPES.values():
        for state in definition.states:
            written = definition.states[state].target_for(data)
            scaled = definition.step_target(state, data)
            assert (written is None and scaled is None) or (
                written is not None and scaled is not None and 0 < scaled <= written)


def test_the_api_opens_a_tight_promise_with_a_warning_header(
    db_url: str, clock: SimulatedClock, tmp_path: Path
) -> None:
    body = {"type": "rush_delivery", "data": {**RUSH, "deliver_by": "2026-11-16T10:00:00+03:00"}}
    with serving(db_url, write_config(tmp_path), SimulatedClock(clock.now()), samples.SAMPLE_ENV) as client:
        tight = client.post("/api/cases", json=body, headers=token_header("kuznetsova"))
        roomy = client.post("/api/cases", json={**body, "data": {**RUSH, "deliver_by": "2026-12-31"}},
                            headers=token_header("kuznetsova"))
    assert tight.status_code == 201 and "leaves 60 business minutes" in tight.headers["X-Slaflow-Warning"]
    assert roomy.status_code == 201 and "X-Slaflow-Warning" not in roomy.headers

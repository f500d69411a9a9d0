"""SLA clocks beyond a single step: dependency pauses between departments, pauses while the
customer answers, and calendar versions that a configuration change does not rewrite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_mapping
from core.clock import SimulatedClock
from engine import cases, records
from engine.views import case_detail
from org.chart import Company
from runtime.company import company_from_mapping
from storage.models import Breach, ClockPause, SlaClock, Timer

REPLACEMENT = {"customer": "c", "order": "o", "product": "p", "complaint": "x"}


def _fire(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, case_id: int, trigger: str,
          actor: str, **payload: Any) -> records.CaseRecord:
    with sessions.begin() as session:
        return cases.fire(session, company, case_id=case_id, trigger=trigger, actor=company.actor(actor),
                          payload=payload, now=clock.now())


def _replacement_in_picking(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> int:
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="replacement", data=REPLACEMENT,
                                  actor=company.actor("ivanov"), now=clock.now()).id
    _fire(sessions, company, clock, case_id, "confirm_defect", "nowak", cause="motor")  # Mon 09:00 Moscow
    return case_id


def test_a_dependency_pauses_the_waiting_department_and_resumes_it_with_the_time_left(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _replacement_in_picking(sessions, company, clock)  # picking: warehouse, 4h, 08-20 shift
    clock.advance(timedelta(hours=1))  # 10:00: warehouse used 60 of 240 minutes
    _fire(sessions, company, clock, case_id, "out_of_stock", "popov")
    with sessions() as session:
        picking = session.scalars(select(SlaClock).where(SlaClock.state == "picking")).one()
        supply = session.scalars(select(SlaClock).where(SlaClock.state == "awaiting_supply")).one()
        assert (picking.status, picking.used_minutes, picking.stopped_at) == ("paused", 60, None)
        assert (supply.status, supply.department) == ("running", "purchasing")
        [pause] = session.scalars(select(ClockPause).where(ClockPause.clock_id == picking.id)).all()
        assert (pause.reason, pause.waiting_on, pause.ended_at) == ("dependency", "purchasing", None)
    clock.advance(timedelta(days=1))  # purchasing takes a day: none of it is the warehouse's
    record = _fire(sessions, company, clock, case_id, "supplied", "egorov", supply_doc="PO-1")
    with sessions() as session:
        picking = session.scalars(select(SlaClock).where(SlaClock.state == "picking")).one()  # the same clock
        assert picking.status == "running" and picking.paused_since is None
        # Tuesday 10:00 Moscow + the 180 minutes it had left = 13:00 Moscow = 10:00 UTC.
        assert picking.deadline_at is not None and picking.deadline_at.isoformat() == "2026-11-17T10:00:00+00:00"
        assert record.due_at == picking.deadline_at
        pause = session.scalars(select(ClockPause).where(ClockPause.clock_id == picking.id)).one()
        assert pause.ended_at == clock.now()
        pending = session.scalars(select(Timer.due_at).where(Timer.state == "picking", Timer.status == "pending",
                                                             Timer.kind.in_(["warning", "breach"])))
        assert set(pending) == {picking.deadline_at, picking.warn_at}
    clock.advance(timedelta(hours=2))
    _fire(sessions, company, clock, case_id, "picked", "popov", pick_list="PL-1")
    with sessions() as session:
        picking = session.scalars(select(SlaClock).where(SlaClock.state == "picking")).one()
        assert (picking.status, picking.used_minutes) == ("met", 180)


def test_lateness_before_a_dependency_pause_still_counts(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _replacement_in_picking(sessions, company, clock)
    clock.advance(timedelta(hours=5))  # 14:00: an hour past the 13:00 deadline, already breached
    _fire(sessions, company, clock, case_id, "out_of_stock", "popov")
    clock.advance(timedelta(hours=3))
    _fire(sessions, company, clock, case_id, "supplied", "egorov", supply_doc="PO-1")
    clock.advance(timedelta(hours=1))
    _fire(sessions, company, clock, case_id, "picked", "popov", pick_list="PL-1")
    with sessions() as session:
        breach = session.scalars(select(Breach).where(Breach.state == "picking")).one()
        assert breach.late_minutes == 60 + 60  # 60 before the pause, 60 after it
        assert session.scalars(select(SlaClock.status).where(SlaClock.state == "picking")).one() == "breached"


def test_the_customer_pause_is_recorded_on_the_whole_case_clock(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return",
                                  data={"customer": "c", "order": "o", "reason": "r"}, actor=company.actor("ivanov"),
                                  now=clock.now()).id
    _fire(sessions, company, clock, case_id, "request_info", "popov", question="photos?")
    clock.advance(timedelta(hours=5))
    _fire(sessions, company, clock, case_id, "info_received", "ivanov", answer="sent")
    with sessions() as session:
        whole = session.scalars(select(SlaClock).where(SlaClock.kind == "case")).one()
        [pause] = session.scalars(select(ClockPause).where(ClockPause.clock_id == whole.id)).all()
        assert (pause.reason, pause.started_at, pause.ended_at) == (
            "paused_state", clock.now() - timedelta(hours=5), clock.now())


def _return_then_a_short_monday(sessions: sessionmaker[Session], company: Company,
                                clock: SimulatedClock) -> tuple[int, Company]:
    """A return opened Monday 09:00 (inspection in the warehouse, 08-20), and the company as it is
    once the warehouse's Mondays are cut to 08-10 from now on."""
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return",
                                  data={"customer": "c", "order": "o", "reason": "r"}, actor=company.actor("ivanov"),
                                  now=clock.now()).id
    raw = example_mapping()
    raw["calendars"]["msk_warehouse"]["weekly_hours"]["mon"] = [["08:00", "10:00"]]
    return case_id, company_from_mapping(raw)


def test_a_changed_calendar_does_not_rewrite_a_running_clock(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id, changed = _return_then_a_short_monday(sessions, company, clock)
    assert changed.calendars["msk_warehouse"].fingerprint != company.calendars["msk_warehouse"].fingerprint
    clock.advance(timedelta(hours=4))  # 13:00 Moscow on Monday
    with sessions() as session:
        detail = case_detail(session, changed, cases.get_case(session, case_id), now=clock.now())
        inspection = next(c for c in detail["clocks"] if c["state"] == "inspection")
        assert inspection["used_minutes"] == 240  # counted on the 08-20 calendar it started on, not 08-10
    _fire(sessions, changed, clock, case_id, "approve", "popov", inspection_notes="ok")
    with sessions() as session:
        inspection_clock = session.scalars(select(SlaClock).where(SlaClock.state == "inspection")).one()
        assert (inspection_clock.used_minutes, inspection_clock.status) == (240, "met")


def test_the_report_counts_an_open_case_time_left_as_the_case_page_does_after_a_calendar_change(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    from engine.clock_view import clock_used, remaining
    from reports.cases import open_cases

    case_id, changed = _return_then_a_short_monday(sessions, company, clock)
    clock.advance(timedelta(hours=2))  # 11:00 Moscow on Monday: 2 h of the 8 h inspection used
    with sessions() as session:
        [listed] = open_cases(session, changed, now=clock.now())
        step = session.scalars(select(SlaClock).where(SlaClock.case_id == case_id,
                                                      SlaClock.state == "inspection")).one()
        left = remaining(step, clock_used(session, changed, step, clock.now()), clock.now())
    assert left is not None and left.business_minutes == 360  # on the 08-20 calendar it started on
    assert listed.case_id == case_id and listed.remaining_minutes == left.business_minutes

"""Derived SLA records are reproducible from the event log (`slaflow sla rebuild`), and past
cases can be replayed under another calendar (`slaflow sla what-if`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from duties.opening import open_due_duties
from engine import cases
from engine.rebuild import derived, rebuild, what_if
from engine.timers import sweep
from org.chart import Company
from sla.calendar import BusinessCalendar
from storage.models import Breach, Case, ClockPause, SlaClock
from tests.random_history import OPEN_DATA, history_company
from tests.test_cli import slaflow

RETURN = {"customer": "c", "order": "o", "reason": "r"}


def _week(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> list[int]:
    """A return that breaches, a replacement that waits on purchasing, a customer pause."""
    def fire(case_id: int, trigger: str, actor: str, **payload: str) -> None:
        with sessions.begin() as session:
            cases.fire(session, company, case_id=case_id, trigger=trigger, actor=company.actor(actor),
                       payload=payload, now=clock.now())

    with sessions.begin() as session:
        late = cases.open_case(session, company, case_type="return", data=RETURN, actor=company.actor("ivanov"),
                               now=clock.now()).id
        waiting = cases.open_case(session, company, case_type="replacement", actor=company.actor("petrova"),
                                  data={"customer": "c", "order": "o", "product": "p", "complaint": "x"},
                                  now=clock.now()).id
    fire(waiting, "confirm_defect", "nowak", cause="batch")
    clock.advance(timedelta(hours=5))
    fire(waiting, "out_of_stock", "popov")
    fire(late, "request_info", "popov", question="photos?")
    clock.advance(timedelta(hours=20))
    sweep(sessions, company, now=clock.now(), owner="t")
    fire(late, "info_received", "ivanov", answer="here")
    fire(waiting, "supplied", "egorov", supply_doc="PO")
    with sessions.begin() as session:
        cases.assign(session, company, case_id=late, person="volkova", actor=company.actor("smirnov"),
                     now=clock.now())
    clock.advance(timedelta(hours=3))
    fire(late, "approve", "volkova", inspection_notes="ok")
    return [late, waiting]


def test_every_derived_record_is_rebuilt_exactly_from_the_event_log(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    ids = _week(sessions, company, clock)
    result = rebuild(sessions, company)
    assert result.checked == len(ids) and result.ok, result.differences


def test_a_breach_the_sweep_found_before_the_step_was_assigned_is_rebuilt_exactly(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """The falsifying history of the what-if property: the warehouse's stock figures (due 09:00
    Moscow) are opened late, a sweep records the breach while nobody holds the step, the head
    then assigns it and the storekeeper delivers. The replay has no sweep, so it records the
    breach at the delivery; both must name the person who held the late step."""
    week_start = clock.now() - timedelta(hours=9)
    clock.advance(timedelta(minutes=173))  # 11:53 Moscow
    with sessions.begin() as session:
        open_due_duties(session, company, now=clock.now(), since=week_start)
    with sessions() as session:
        case_id = session.scalars(select(Case.id).where(Case.external_key.startswith("stock_on_hand:"))).one()
    assert sweep(sessions, company, now=clock.now(), owner="t").fired["breach"] >= 1
    with sessions.begin() as session:
        cases.assign(session, company, case_id=case_id, person="volkova", actor=company.actor("smirnov"),
                     now=clock.now())
        cases.fire(session, company, case_id=case_id, trigger="deliver", actor=company.actor("volkova"),
                   payload={"figures": "sku-1: 120"}, now=clock.now())
    with sessions() as session:
        breach = session.scalars(select(Breach).where(Breach.case_id == case_id)).one()
    assert (breach.person, breach.detected_at, breach.closed_at, breach.late_minutes) == (
        "volkova", clock.now(), clock.now(), 173.0)
    result = rebuild(sessions, company)
    assert result.ok, result.differences


def test_a_breach_the_escalation_handed_to_the_head_is_rebuilt_exactly(
    sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    """The same race through the sweeper alone: one sweep records the margin check's breach
    (morozova holds it) and then fires the level that hands the step to the head; the replay
    applies that assign event first and records the breach at the stop."""
    company = history_company()  # its margin check escalates to the head after 1h
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="price_approval", actor=company.actor("ivanov"),
                                  data=dict(OPEN_DATA["price_approval"]), now=clock.now()).id
        cases.assign(session, company, case_id=case_id, person="morozova", actor=company.actor("novikova"),
                     now=clock.now())
    clock.advance(timedelta(hours=7))
    assert sweep(sessions, company, now=clock.now(), owner="t").fired["escalation"] >= 1
    with sessions.begin() as session:
        cases.fire(session, company, case_id=case_id, trigger="margin_ok", actor=company.actor("novikova"),
                   payload={"margin_pct": "5"}, now=clock.now())
    with sessions() as session:
        assert session.scalars(select(Breach.person).where(Breach.case_id == case_id)).one() == "novikova"
    result = rebuild(sessions, company)
    assert result.ok, result.differences


def test_a_tampered_clock_is_reported_against_its_case(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    late, _ = _week(sessions, company, clock)
    with sessions.begin() as session:
        session.execute(update(SlaClock).where(SlaClock.case_id == late, SlaClock.state == "inspection")
                        .values(used_minutes=1.0))
    result = rebuild(sessions, company)
    assert list(result.differences) == [late]
    assert any(line.startswith("clocks: stored") for line in result.differences[late])


def test_the_command_exits_nonzero_when_records_differ(tmp_path: Path, company: Company) -> None:
    db = tmp_path / "cli.db"
    slaflow("init", db=db)
    slaflow("case", "open", "return", "--as", "ivanov", "-d", "customer=c", "-d", "order=o", "-d", "reason=r",
            "--at", "2026-11-16T09:00:00+03:00", db=db)
    assert "1 cases replayed from their event logs: every clock" in slaflow("sla", "rebuild", db=db).stdout
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("update sla_clocks set target_minutes = 1 where kind = 'step'")
    failed = slaflow("sla", "rebuild", db=db, check=False)
    assert failed.returncode == 1 and "1 of 1 cases differ from their event log" in failed.stderr


def test_a_later_shift_would_have_saved_the_warehouse_its_breach(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return", data=RETURN, actor=company.actor("ivanov"),
                                  now=clock.now()).id  # Monday 09:00 Moscow; 8h on the 08-20 shift -> 17:00
    clock.advance(timedelta(hours=9))  # approved at 18:00: an hour late
    with sessions.begin() as session:
        cases.fire(session, company, case_id=case_id, trigger="approve", actor=company.actor("popov"),
                   payload={"inspection_notes": "ok"}, now=clock.now())
    later_shift = BusinessCalendar.from_mapping(
        {"tz": "Europe/Moscow", "weekly_hours": {d: [["10:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
         "holidays_country": "RU"}, name="msk_warehouse")
    result = what_if(sessions, company, company.with_versions(calendars={"msk_warehouse": later_shift}),
                     since=clock.now() - timedelta(days=1), until=clock.now(), now=clock.now())
    before = {row.department: row for row in result.before}
    after = {row.department: row for row in result.after}
    assert (before["warehouse"].breached, after["warehouse"].breached) == (1, 0)  # 10:00 + 8h = 18:00: on time
    assert result.cases == 1 and result.skipped == {}


def test_an_open_pause_that_ties_with_a_closed_one_is_compared_without_error(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """Two pauses of one clock starting at the same instant, one still open: sorting them used to
    compare the open one's missing end with a datetime and raise."""
    with sessions.begin() as session:
        case_id = cases.open_case(session, company, case_type="return", data=RETURN, actor=company.actor("ivanov"),
                                  now=clock.now()).id
        clock_id = session.scalars(select(SlaClock.id).where(SlaClock.case_id == case_id)).first()
        assert clock_id is not None
        started = clock.now()
        session.add_all([
            ClockPause(clock_id=clock_id, started_at=started, ended_at=None, reason="dependency", waiting_on=None),
            ClockPause(clock_id=clock_id, started_at=started, ended_at=started + timedelta(hours=1),
                       reason="dependency", waiting_on="purchasing"),
        ])
    with sessions() as session:
        pauses = derived(session, case_id)["pauses"]
    assert [pause[2] for pause in pauses] == [None, started + timedelta(hours=1)]

"""Recurring information duties: the config, when they fall due (real RU calendars), the ``duty``
case opened for each occurrence through the real engine and sweeper, and the freshness figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import MissingFields, NotPermitted, SlaflowError
from duties.config import DutyConfig, duty_problems
from duties.freshness import freshness
from duties.opening import deliver_duty, open_due_duties
from duties.schedule import deadline_minutes, occurrence_definition, occurrences
from engine import cases
from engine.timers import sweep
from org.chart import Company
from state_machines.duty import DEFINITION
from state_machines.machine import machine_for
from storage.models import Breach, Case, SlaClock

EXAMPLE = Path(__file__).resolve().parent.parent / "runtime" / "examples" / "company.yaml"
MSK, EKB, WAW = ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Yekaterinburg"), ZoneInfo("Europe/Warsaw")


def _raw() -> list[dict[str, Any]]:
    return list(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["duties"])


DUTIES = {duty.name: duty for duty in (DutyConfig.model_validate(raw) for raw in _raw())}


def _duty(name: str, **changes: Any) -> DutyConfig:
    raw = next(raw for raw in _raw() if raw["name"] == name)
    return DutyConfig.model_validate({**raw, **changes})


def msk(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK).astimezone(UTC)


# --------------------------------------------------------------------------- config


def test_the_example_duties_are_valid_and_name_only_what_the_company_has(company: Company) -> None:
    assert sorted(DUTIES) == ["customer_payments", "deliveries_confirmed", "stock_on_hand", "supply_forecast"]
    assert {duty.requester for duty in DUTIES.values()} == {"sales"}
    assert duty_problems(company.config, list(DUTIES.values())) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deadline": {"at": "10:00", "business": "1h"}}, "exactly one"),
        ({"deadline": {}}, "exactly one"),
        ({"deadline": {"at": 600}}, "quote times"),
        ({"deadline": {"at": "25:00"}}, "HH:MM"),
        ({"schedule": {"cron": "0 9 * *", "tz": "Europe/Moscow"}}, "five-field"),
        ({"schedule": {"cron": "0 99 * * 1", "tz": "Europe/Moscow"}}, "not a cron"),
        ({"schedule": {"cron": "0 9 * * 1", "tz": "Moscow"}}, "IANA"),
        ({"notify": ["everyone"]}, "not an audience"),
        ({"surprise": True}, "Extra inputs"),
    ],
)
def test_it_rejects_a_malformed_duty_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _duty("supply_forecast", **change)


def test_it_reports_duties_that_name_what_the_company_lacks(company: Company) -> None:
    broken = [
        _duty("customer_payments", department="finance", notify=["person:nobody"]),
        _duty("stock_on_hand", role="forklift", schedule={"working_days": "moon_base"}),
        _duty("stock_on_hand", schedule={"cron": "0 9 * * 1", "tz": "UTC", "calendar": "moon_base"}),
    ]
    assert duty_problems(company.config, broken) == [
        "duties[0].department: 'finance' is not in departments",
        "duties[0].notify: 'person:nobody' names nobody in the company config",
        "duties[1].schedule.working_days: 'moon_base' is not in calendars",
        "duties[1].role: nobody in 'warehouse' has the role 'forklift'",
        "duties[2].name: 'stock_on_hand' is used by an earlier duty",
        "duties[2].schedule.calendar: 'moon_base' is not in calendars",
    ]


# --------------------------------------------------------------------------- occurrences


def test_a_working_day_duty_skips_the_russian_new_year_holidays(company: Company) -> None:
    found = occurrences(DUTIES["customer_payments"], company, msk(2025, 12, 29, 0, 0), msk(2026, 1, 13, 23, 0))
    assert found == [msk(2025, 12, 29, 9, 0), msk(2025, 12, 30, 9, 0), msk(2026, 1, 12, 9, 0), msk(2026, 1, 13, 9, 0)]


def test_the_six_day_warehouse_owes_stock_on_its_own_working_saturday(company: Company) -> None:
    found = occurrences(DUTIES["stock_on_hand"], company, msk(2026, 1, 1, 0, 0), msk(2026, 1, 12, 23, 0))
    assert [moment.astimezone(MSK).date().day for moment in found] == [10, 12]
    assert all(moment.astimezone(MSK).hour == 8 for moment in found)


def test_a_working_day_duty_falls_due_in_its_calendars_own_time_zone(company: Company) -> None:
    duty = DUTIES["deliveries_confirmed"]
    [monday] = occurrences(duty, company, msk(2026, 11, 16, 0, 0), msk(2026, 11, 16, 23, 0))
    assert monday == datetime(2026, 11, 16, 8, 0, tzinfo=EKB)
    assert deadline_minutes(duty, company, monday) == 180  # 08:00 -> 11:00 Yekaterinburg


def test_a_working_day_schedule_may_name_the_local_time(company: Company) -> None:
    duty = _duty("customer_payments", schedule={"working_days": "msk_office", "at": "15:30"})
    assert occurrences(duty, company, msk(2026, 11, 16, 0, 0), msk(2026, 11, 17, 23, 0)) == [
        msk(2026, 11, 16, 15, 30),
        msk(2026, 11, 17, 15, 30),
    ]
    # 15:30 Monday -> 10:00 Tuesday: 2h30 on Monday, 1h on Tuesday.
    assert deadline_minutes(duty, company, msk(2026, 11, 16, 15, 30)) == 210


def test_a_cron_duty_skips_days_off_of_its_calendar_and_only_those(company: Company) -> None:
    duty = DUTIES["supply_forecast"]
    window = (msk(2025, 12, 22, 10, 0), msk(2026, 1, 19, 9, 0))
    assert occurrences(duty, company, *window) == [
        msk(2025, 12, 29, 9, 0),
        msk(2026, 1, 12, 9, 0),
        msk(2026, 1, 19, 9, 0),
    ]
    literal = _duty("supply_forecast", schedule={"cron": "0 9 * * 1", "tz": "Europe/Moscow"})
    assert msk(2026, 1, 5, 9, 0) in occurrences(literal, company, *window)


def test_a_fixed_time_deadline_on_a_day_off_moves_to_the_first_working_day(company: Company) -> None:
    literal = _duty("supply_forecast", schedule={"cron": "0 9 * * 1", "tz": "Europe/Moscow"})
    holiday_monday = msk(2026, 1, 5, 9, 0)
    minutes = deadline_minutes(literal, company, holiday_monday)
    assert minutes == 180
    deadline = company.calendar_of("purchasing").add_business_minutes(holiday_monday, minutes)
    assert deadline == msk(2026, 1, 12, 12, 0)


def test_a_cron_duty_keeps_its_local_hour_across_a_summer_time_change(company: Company) -> None:
    duty = _duty("supply_forecast", schedule={"cron": "0 9 * * 1", "tz": "Europe/Warsaw"})
    found = occurrences(duty, company, datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 4, tzinfo=UTC))
    assert [moment.astimezone(WAW).hour for moment in found] == [9, 9]
    assert [moment.hour for moment in found] == [8, 7]  # UTC+1 on 23 March, UTC+2 on 30 March


def test_occurrences_cover_the_window_after_its_start_up_to_and_including_its_end(company: Company) -> None:
    duty = DUTIES["customer_payments"]
    nine = msk(2026, 11, 17, 9, 0)
    assert occurrences(duty, company, nine, nine + timedelta(hours=1)) == []
    assert occurrences(duty, company, nine - timedelta(hours=1), nine) == [nine]
    assert occurrences(duty, company, nine, nine) == []


def test_a_business_time_deadline_is_taken_as_written(company: Company) -> None:
    duty = _duty("stock_on_hand", deadline={"business": "1h30m"})
    assert deadline_minutes(duty, company, msk(2026, 11, 16, 8, 0)) == 90


# --------------------------------------------------------------------------- the engine


def _open_window(
    sessions: sessionmaker[Session], company: Company, since: datetime, now: datetime, *names: str
) -> list[int]:
    duties = [DUTIES[name] for name in names] if names else list(DUTIES.values())
    with sessions.begin() as session:
        return open_due_duties(session, company, now=now, since=since, duties=duties)


def _fire(
    sessions: sessionmaker[Session],
    company: Company,
    case_id: int,
    trigger: str,
    actor: str,
    at: datetime,
    **payload: Any,
) -> None:
    with sessions.begin() as session:
        cases.fire(
            session, company, case_id=case_id, trigger=trigger, actor=company.actor(actor), now=at, payload=payload
        )


def _by_duty(sessions: sessionmaker[Session]) -> dict[str, list[Case]]:
    found: dict[str, list[Case]] = {}
    with sessions() as session:
        for case in session.scalars(select(Case).order_by(Case.opened_at, Case.id)):
            found.setdefault(case.data["duty"], []).append(case)
            session.expunge(case)
    return found


def test_opening_due_duties_is_idempotent(sessions: sessionmaker[Session], company: Company) -> None:
    monday = msk(2026, 11, 16, 0, 0)
    first = _open_window(sessions, company, monday, msk(2026, 11, 16, 12, 0))
    assert len(first) == 4  # Monday: all four, the weekly forecast included
    assert _open_window(sessions, company, monday, msk(2026, 11, 16, 12, 0)) == []
    tuesday = _open_window(sessions, company, monday, msk(2026, 11, 17, 12, 0))
    assert len(tuesday) == 3  # the overlapping window opens only Tuesday's three
    with sessions() as session:
        keys = set(session.scalars(select(Case.external_key).where(Case.external_source == "duty")))
    assert len(keys) == 7
    assert "customer_payments:2026-11-17T06:00:00+00:00" in keys


def test_each_occurrence_is_owned_by_the_owing_department_with_its_own_deadline(
    sessions: sessionmaker[Session], company: Company
) -> None:
    _open_window(sessions, company, msk(2026, 11, 16, 0, 0), msk(2026, 11, 16, 12, 0))
    found = {name: cases_[0] for name, cases_ in _by_duty(sessions).items()}
    expected = {
        "customer_payments": ("accounting", "accountant", msk(2026, 11, 16, 9, 0), msk(2026, 11, 16, 10, 0)),
        "supply_forecast": ("purchasing", "buyer", msk(2026, 11, 16, 9, 0), msk(2026, 11, 16, 12, 0)),
        "stock_on_hand": ("warehouse", "storekeeper", msk(2026, 11, 16, 8, 0), msk(2026, 11, 16, 9, 0)),
        "deliveries_confirmed": ("logistics", "dispatcher", msk(2026, 11, 16, 6, 0), msk(2026, 11, 16, 9, 0)),
    }
    for name, (department, role, opened, due) in expected.items():
        case = found[name]
        assert (case.case_type, case.state, case.requester, case.performer) == ("duty", "due", "sales", department)
        assert (case.owner_department, case.owner_role, case.opened_at, case.due_at) == (department, role, opened, due)
    assert found["customer_payments"].data["notify"] == ["kuznetsova", "ivanov", "petrova"]
    assert found["customer_payments"].data["deadline_minutes"] == 60


def test_a_delivered_duty_is_met_and_a_missed_one_breaches(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # clock: Monday 16 November 2026, 09:00 Moscow.
    _open_window(
        sessions, company, clock.now() - timedelta(hours=12), clock.now(), "customer_payments", "stock_on_hand"
    )
    found = _by_duty(sessions)
    payments, stock = found["customer_payments"][0].id, found["stock_on_hand"][0].id

    clock.advance(timedelta(minutes=40))
    with pytest.raises(MissingFields, match="link"):
        _fire(sessions, company, payments, "deliver", "morozova", clock.now())
    with pytest.raises(NotPermitted):
        _fire(sessions, company, payments, "deliver", "popov", clock.now(), link="https://erp/pay.xlsx")
    _fire(sessions, company, payments, "deliver", "morozova", clock.now(), link="https://erp/pay.xlsx")

    clock.set(msk(2026, 11, 16, 10, 30))
    result = sweep(sessions, company, now=clock.now(), owner="test")
    assert result.fired["breach"] == 1
    with sessions() as session:
        clocks = session.execute(select(SlaClock.case_id, SlaClock.status).where(SlaClock.kind == "step"))
        statuses = {row.case_id: row.status for row in clocks}
        breaches = [
            tuple(row) for row in session.execute(select(Breach.case_id, Breach.department, Breach.deadline_at))
        ]
        delivered = session.get(Case, payments)
        assert delivered is not None and delivered.state == "delivered"
    assert statuses == {payments: "met", stock: "breached"}
    assert breaches == [(stock, "warehouse", msk(2026, 11, 16, 9, 0))]


def test_only_the_requesters_head_may_waive_an_occurrence(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open_window(sessions, company, clock.now() - timedelta(hours=1), clock.now(), "customer_payments")
    [case] = _by_duty(sessions)["customer_payments"]
    with pytest.raises(NotPermitted, match="sales/head"):
        _fire(sessions, company, case.id, "waive", "ivanov", clock.now(), reason="bank holiday")
    _fire(sessions, company, case.id, "waive", "kuznetsova", clock.now(), reason="bank holiday")
    assert _by_duty(sessions)["customer_payments"][0].state == "waived"


def test_a_duty_is_delivered_by_name_without_knowing_the_case(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    _open_window(sessions, company, msk(2026, 11, 16, 0, 0), msk(2026, 11, 17, 9, 0), "stock_on_hand")
    with sessions.begin() as session:
        first = deliver_duty(
            session,
            company,
            duty="stock_on_hand",
            actor=company.actor("popov"),
            now=msk(2026, 11, 17, 8, 30),
            payload={"figures": {"sku-1": 120}},
        )
        second = deliver_duty(
            session,
            company,
            duty="stock_on_hand",
            actor=company.actor("volkova"),
            now=msk(2026, 11, 17, 8, 31),
            payload={"figures": {"sku-1": 118}},
        )
    assert first.opened_at < second.opened_at  # the oldest open occurrence first
    assert (first.state, second.state) == ("delivered", "delivered")
    with sessions.begin() as session, pytest.raises(SlaflowError, match="no open occurrence"):
        deliver_duty(
            session,
            company,
            duty="stock_on_hand",
            actor=company.actor("popov"),
            now=msk(2026, 11, 17, 8, 32),
            payload={"figures": {}},
        )


def test_nobody_can_open_a_duty_case_by_hand(company: Company) -> None:
    assert DEFINITION.open_allowed == ["system"]
    machine = machine_for(DEFINITION)
    assert machine.triggers("due") == ["deliver", "waive"]
    assert machine.triggers("delivered") == machine.triggers("waived") == []


# --------------------------------------------------------------------------- freshness


def test_freshness_figures_match_a_week_worked_out_by_hand(sessions: sessionmaker[Session], company: Company) -> None:
    """Week of 16 November 2026 (no holidays), read on Friday at 12:00 Moscow.

    customer_payments (due 10:00): Mon 09:30 on time; Tue 10:30 late 30; Wed swept at 10:30, then
    delivered 11:00, late 60; Thu 09:59 on time; Fri not delivered, 120 late so far.
    -> 5 occurrences, 4 delivered, 2 on time, 3 late, rate 2/5, median 60, worst 120, overdue.
    stock_on_hand (due 09:00): Tue waived at 10:00 (not judged), the other four on time; Sat not yet due.
    """
    since, friday_noon = msk(2026, 11, 16, 0, 0), msk(2026, 11, 20, 12, 0)
    _open_window(sessions, company, since, friday_noon, "customer_payments", "stock_on_hand")
    pay = [case.id for case in _by_duty(sessions)["customer_payments"]]
    stock = [case.id for case in _by_duty(sessions)["stock_on_hand"]]
    link, figures = {"link": "https://erp/pay.xlsx"}, {"figures": {"sku-1": 7}}
    _fire(sessions, company, stock[0], "deliver", "popov", msk(2026, 11, 16, 8, 30), **figures)
    _fire(sessions, company, pay[0], "deliver", "morozova", msk(2026, 11, 16, 9, 30), **link)
    _fire(sessions, company, stock[1], "waive", "kuznetsova", msk(2026, 11, 17, 10, 0), reason="inventory day")
    _fire(sessions, company, pay[1], "deliver", "morozova", msk(2026, 11, 17, 10, 30), **link)
    _fire(sessions, company, stock[2], "deliver", "popov", msk(2026, 11, 18, 8, 10), **figures)
    assert sweep(sessions, company, now=msk(2026, 11, 18, 10, 30), owner="test").fired["breach"] == 1
    _fire(sessions, company, pay[2], "deliver", "novikova", msk(2026, 11, 18, 11, 0), **link)
    _fire(sessions, company, stock[3], "deliver", "volkova", msk(2026, 11, 19, 8, 20), **figures)
    _fire(sessions, company, pay[3], "deliver", "morozova", msk(2026, 11, 19, 9, 59), **link)
    _fire(sessions, company, stock[4], "deliver", "popov", msk(2026, 11, 20, 8, 55), **figures)

    with sessions() as session:
        rows = {
            row.duty: row
            for row in freshness(
                session,
                company,
                now=friday_noon,
                since=since,
                duties=[DUTIES["customer_payments"], DUTIES["stock_on_hand"]],
            )
        }
    payments = rows["customer_payments"]
    assert (payments.department, payments.occurrences, payments.delivered, payments.on_time) == ("accounting", 5, 4, 2)
    assert (payments.late, payments.waived, payments.pending) == (3, 0, 0)
    assert payments.on_time_rate == pytest.approx(2 / 5)
    assert (payments.median_late_minutes, payments.worst_late_minutes) == (60, 120)
    assert (payments.current_state, payments.delivered_today) == ("overdue", False)
    assert payments.latest_occurrence == msk(2026, 11, 20, 9, 0)
    stock_row = rows["stock_on_hand"]
    assert (stock_row.department, stock_row.occurrences, stock_row.delivered, stock_row.on_time) == (
        "warehouse",
        5,
        4,
        4,
    )
    assert (stock_row.late, stock_row.waived, stock_row.on_time_rate) == (0, 1, 1.0)
    assert (stock_row.median_late_minutes, stock_row.worst_late_minutes) == (None, None)
    assert (stock_row.current_state, stock_row.delivered_today) == ("delivered", True)


def test_freshness_lists_a_configured_duty_before_its_first_occurrence(
    sessions: sessionmaker[Session], company: Company
) -> None:
    with sessions() as session:
        [row] = freshness(
            session,
            company,
            now=msk(2026, 11, 16, 7, 0),
            since=msk(2026, 11, 16, 0, 0),
            duties=[DUTIES["supply_forecast"]],
        )
    assert (row.duty, row.department, row.occurrences, row.on_time_rate, row.current_state) == (
        "supply_forecast",
        "purchasing",
        0,
        None,
        None,
    )


def test_occurrences_with_the_same_target_share_one_definition() -> None:
    """The engine caches a machine per definition object; one object per (duty, target) keeps
    that cache from growing with every occurrence."""
    duty = DUTIES["customer_payments"]
    assert occurrence_definition(duty, 60) is occurrence_definition(duty, 60.0)
    assert occurrence_definition(duty, 60).states["due"].target == 60
    assert occurrence_definition(duty, 90).states["due"].department == "accounting"

"""Report queries against a small dataset built through the real engine (open, fire, sweep) on
SQLite and PostgreSQL, with every expected number computed by hand below.

Calendars of the example company (all times below are Moscow time, UTC+3):
- office (sales, accounting, marketing, commercial): Mon-Fri 09-13, 14-18;
- warehouse: Mon-Sat 08-20 without a break;
- logistics (Yekaterinburg, UTC+5): Mon-Fri 08-12, 13-17 local = 06-10, 11-15 Moscow.

The week of 16 Nov 2026 (ISO 2026-W47) has no Russian holidays, nor has the next (W48).

Cases (minutes are business minutes of the step owner's calendar; T = target):

A  return, opened Mon 16 09:00, closed Mon 17:00 (whole case 420 of 2400: met)
   inspection  warehouse  Mon 09:00-10:00                          60 of 480  met
   collection  logistics  Mon 10:00-16:00 (EKB 12-18: 13-17)      240 of 960  met
   refund      accounting Mon 16:00-17:00                          60 of 480  met
B  return, opened Mon 09:00, closed Wed 12:00 (whole 1080 of 2400: met)
   inspection  warehouse  Mon 09:00-11:00                         120 met
   collection  logistics  Mon 11:00-Tue 10:00 (EKB Mon 13-17, Tue 08-12) 480 of 960 met
   refund      accounting Tue 10:00-Wed 12:00 (180+240+180)       600 of 480  breached,
               deadline Wed 10:00, 120 late
R  rush_delivery, opened Mon 09:00, closed Thu 19 12:00: whole 480+480+480+180 = 1620 of 1440,
   breached (deadline Wed 18:00, 180 late)
   slot_confirmation logistics Mon 09:00-11:00 (EKB 11-13: 11-12)  60 of 120 met
   picking     warehouse  Mon 11:00-14:00                         180 of 120  breached, 60 late
   delivery    logistics  Mon 14:00-Tue 12:00 (EKB Mon 16-17, Tue 08-12, 13-14) 360 of 480 met
   confirmation sales     Tue 12:00-Thu 12:00 (60+240+480+180)    960 of 240  breached,
               deadline Tue 17:00, late 60+480+180 = 720
P  price_approval, opened Mon 09:00, closed Tue 09:30: whole 480+30 = 510 of 480, breached
   (deadline Mon 18:00, 30 late)
   margin_check accounting Mon 09:00-15:00 (240+60)               300 of 240  breached, 60 late
   approval    commercial Mon 15:00-Tue 09:30 (180+30)            210 of 240  met
L1 lead LD-1, opened Mon 10:00: review (marketing) 10:00-12:00 = 120, accepted by marketing
L2 lead LD-2, opened Mon 10:00: review 10:00-13:00 = 180, rejected; arbitration (commercial)
   Mon 13:00-Tue 10:00 (240+60) = 300, ruled for sales: accepted on arbitration
L3 lead LD-3, opened Mon 10:00: review 10:00-11:00 = 60, rejected; arbitration Mon 11:00-16:00
   (120+120) = 240, ruled for marketing: kept
L4 lead LD-2 again, opened Tue 17 10:00, still in review at the end: the sweeper breaches the
   review (deadline Wed 10:00) and the whole case (1440 from Tue 10:00: Fri 20 10:00); both run on
N  return, opened Mon 23 09:00 (W48): inspection 09:00-10:30 = 90 met; collection running
   since 10:30 (EKB 12:30, lunch: counts from 13:00), due Wed 25 10:00 Moscow

The report runs at NOW = Mon 23 Nov 12:00 for the period W47 + W48.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import InvalidData
from engine import cases
from engine.timers import sweep
from org.chart import Company
from reports.cases import open_cases
from reports.departments import department_rows
from reports.ledger import case_ledger, late_cases, ledger
from reports.outcomes import LeadFigures, lead_figures
from reports.report import build_report
from reports.scope import Scope, report_zone, step_filter
from reports.steps import time_in_state
from reports.trend import weekly_trend
from storage.models import SlaClock

MSK = ZoneInfo("Europe/Moscow")


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK)


SINCE, UNTIL, NOW = msk(16, 0), msk(30, 0), msk(23, 12)
RETURN = {"customer": "ООО Ромашка", "order": "SO-1", "reason": "broken"}
RUSH = {"customer": "ИП Сидоренко", "order": "SO-2", "deliver_by": "2026-11-27", "reason": "key account"}
# (deliver_by after the SLA: the whole-case deadline stays the 24 h target; an earlier promise would cut it)
PRICE = {"customer": "ТД Восток", "deal": "DL-1", "discount_pct": 12}

SCRIPT: list[tuple[datetime, str, str, str, dict[str, Any]]] = [
    (msk(16, 9), "A", "open:return", "ivanov", RETURN),
    (msk(16, 9), "B", "open:return", "ivanov", RETURN),
    (msk(16, 9), "R", "open:rush_delivery", "petrova", RUSH),
    (msk(16, 9), "P", "open:price_approval", "ivanov", PRICE),
    (msk(16, 10), "A", "approve", "popov", {"inspection_notes": "ok"}),
    (msk(16, 10), "L1", "open:lead_dispute", "petrova", {"lead_id": "LD-1", "reason": "a student"}),
    (msk(16, 10), "L2", "open:lead_dispute", "petrova", {"lead_id": "LD-2", "reason": "no budget"}),
    (msk(16, 10), "L3", "open:lead_dispute", "petrova", {"lead_id": "LD-3", "reason": "a competitor"}),
    (msk(16, 11), "B", "approve", "popov", {"inspection_notes": "ok"}),
    (msk(16, 11), "R", "confirm_slot", "kozlov", {"slot": "Tue 10:00"}),
    (msk(16, 11), "L3", "reject", "sidorov", {"justification": "a real company"}),
    (msk(16, 12), "L1", "accept", "sidorov", {}),
    (msk(16, 13), "L2", "reject", "sidorov", {"justification": "budget confirmed"}),
    (msk(16, 14), "R", "picked", "volkova", {"pick_list": "PL-1"}),
    (msk(16, 15), "P", "margin_ok", "morozova", {"margin_pct": 18}),
    (msk(16, 16), "A", "collected", "kozlov", {"waybill": "WB-1"}),
    (msk(16, 16), "L3", "rule_for_marketing", "orlov", {"decision": "a qualified lead"}),
    (msk(16, 17), "A", "refunded", "morozova", {"document": "CN-1"}),
    (msk(17, 9, 30), "P", "approve", "orlov", {}),
    (msk(17, 10), "B", "collected", "kozlov", {"waybill": "WB-2"}),
    (msk(17, 10), "L2", "rule_for_sales", "orlov", {"decision": "no budget, not a lead"}),
    (msk(17, 10), "L4", "open:lead_dispute", "petrova", {"lead_id": "LD-2", "reason": "still no budget"}),
    (msk(17, 12), "R", "delivered", "kozlov", {"waybill": "WB-3"}),
    (msk(18, 12), "B", "refunded", "morozova", {"document": "CN-2"}),
    (msk(19, 12), "R", "confirmed", "petrova", {}),
    (msk(23, 9), "N", "open:return", "ivanov", RETURN),
    (msk(23, 10, 30), "N", "approve", "popov", {"inspection_notes": "ok"}),
]


def build_dataset(sessions: sessionmaker[Session], company: Company) -> dict[str, int]:
    """Play SCRIPT through the engine, sweeping before every move as the worker would, and sweep
    once more at NOW. Returns the case ids by label."""
    clock = SimulatedClock(SCRIPT[0][0])
    ids: dict[str, int] = {}
    for when, label, trigger, actor, data in SCRIPT:
        clock.set(when)
        sweep(sessions, company, now=clock.now(), owner="test")
        with sessions.begin() as session:
            if trigger.startswith("open:"):
                ids[label] = cases.open_case(
                    session,
                    company,
                    case_type=trigger.removeprefix("open:"),
                    data=data,
                    actor=company.actor(actor),
                    now=clock.now(),
                ).id
            else:
                cases.fire(
                    session,
                    company,
                    case_id=ids[label],
                    trigger=trigger,
                    actor=company.actor(actor),
                    payload=data,
                    now=clock.now(),
                )
    clock.set(NOW)
    sweep(sessions, company, now=clock.now(), owner="test")
    return ids


@pytest.fixture
def dataset(sessions: sessionmaker[Session], company: Company) -> dict[str, int]:
    return build_dataset(sessions, company)


SCOPE = Scope(SINCE, UNTIL, now=NOW)


def _by_department(rows: list[Any]) -> dict[str, Any]:
    return {row.department: row for row in rows}


def test_it_counts_steps_met_breached_and_compliance_per_department(
    sessions: sessionmaker[Session], dataset: dict[str, int]
) -> None:
    with sessions() as session:
        rows = _by_department(department_rows(session, SCOPE))
    # department: (steps, met, breached, running, business minutes late)
    # warehouse: inspections A, B, N met; R picking breached 60 late.
    # logistics: A, B collections and R slot, R delivery met; N collection running.
    # accounting: A refund met; B refund (120 late) and P margin check (60 late) breached.
    # commercial: P approval, L2 and L3 arbitration met.
    # marketing: L1-L3 reviews met; L4 review breached and still open: late by the time used so
    #   far, Tue 17 10:00 to Mon 23 12:00 = 420 + 3 x 480 + 180 = 2040 of 480, 1560 late.
    # sales: R confirmation breached, 720 late.
    expected = {
        "accounting": (3, 1, 2, 0, 180.0),
        "commercial": (3, 3, 0, 0, 0.0),
        "logistics": (5, 4, 0, 1, 0.0),
        "marketing": (4, 3, 1, 0, 1560.0),
        "sales": (1, 0, 1, 0, 720.0),
        "warehouse": (4, 3, 1, 0, 60.0),
    }
    assert {d: (r.steps, r.met, r.breached, r.running, r.late_minutes) for d, r in rows.items()} == expected
    assert rows["accounting"].compliance == pytest.approx(1 / 3)
    assert rows["logistics"].compliance == 1.0
    assert rows["marketing"].compliance == 0.75  # the running breached review counts as finished
    assert rows["sales"].compliance == 0.0
    assert rows["warehouse"].compliance == 0.75


def test_it_computes_median_and_p90_of_business_time_in_state_like_percentile_cont(
    sessions: sessionmaker[Session], dataset: dict[str, int]
) -> None:
    with sessions() as session:
        times = _by_department(time_in_state(session, SCOPE))
        dialect = session.get_bind().dialect.name
        native = {}
        if dialect == "postgresql":
            native = {
                row[0]: (row[1], row[2])
                for row in session.execute(
                    select(
                        SlaClock.department,
                        func.percentile_cont(0.5).within_group(SlaClock.used_minutes),
                        func.percentile_cont(0.9).within_group(SlaClock.used_minutes),
                    )
                    .where(*step_filter(SCOPE), SlaClock.stopped_at.is_not(None))
                    .group_by(SlaClock.department)
                )
            }
    # Finished (stopped) steps only; percentile_cont: position h = p * (n - 1), interpolated.
    # warehouse [60, 90, 120, 180]: median h=1.5 -> 90 + .5*30 = 105; p90 h=2.7 -> 120 + .7*60 = 162
    # logistics [60, 240, 360, 480] (N's collection still runs): 240 + .5*120 = 300; 360 + .7*120 = 444
    # accounting [60, 300, 600]: h=1 -> 300; h=1.8 -> 300 + .8*300 = 540
    # commercial [210, 240, 300]: 240; 240 + .8*60 = 288
    # marketing [60, 120, 180] (L4 runs): 120; 120 + .8*60 = 168
    # sales [960]: 960; 960
    expected = {
        "warehouse": (4, 105.0, 162.0),
        "logistics": (4, 300.0, 444.0),
        "accounting": (3, 300.0, 540.0),
        "commercial": (3, 240.0, 288.0),
        "marketing": (3, 120.0, 168.0),
        "sales": (1, 960.0, 960.0),
    }
    assert set(times) == set(expected)
    for department, (finished, median, p90) in expected.items():
        got = times[department]
        assert (got.finished, got.median_minutes, got.p90_minutes) == (
            finished,
            pytest.approx(median),
            pytest.approx(p90),
        )
        if native:
            assert native[department] == (pytest.approx(median), pytest.approx(p90))
    assert dialect == "sqlite" or set(native) == set(expected)


def test_it_charges_each_department_the_business_minutes_it_used_in_the_cases_of_the_period(
    sessions: sessionmaker[Session], dataset: dict[str, int]
) -> None:
    with sessions() as session:
        cells = {(c.requester, c.department): (c.cases, c.minutes) for c in ledger(session, SCOPE)}
        rows = _by_department(department_rows(session, SCOPE))
        ledger_of_r = case_ledger(session, dataset["R"], NOW)
    # Every case type here is requested by sales. Open steps count the time used up to NOW.
    # warehouse A 60 + B 120 + R 180 + N 90; logistics A 240 + B 480 + R 60+360 + N 60 (open since
    # 10:30, the Yekaterinburg lunch until 11:00 Moscow, then 11-12); accounting A 60 + B 600 +
    # P 300; commercial P 210 + L2 300 + L3 240; marketing L1 120 + L2 180 + L3 60 + L4 2040
    # (open, see above); sales R 960.
    assert cells == {
        ("sales", "warehouse"): (4, 450.0),
        ("sales", "logistics"): (4, 1200.0),
        ("sales", "accounting"): (3, 960.0),
        ("sales", "commercial"): (3, 750.0),
        ("sales", "marketing"): (4, 2400.0),
        ("sales", "sales"): (1, 960.0),
    }
    assert rows["logistics"].ledger_minutes == 1200.0 and rows["logistics"].ledger_cases == 4
    assert ledger_of_r == {"sales": 960.0, "logistics": 420.0, "warehouse": 180.0}
    assert list(ledger_of_r) == ["sales", "logistics", "warehouse"]  # largest first


def test_it_splits_breaches_into_own_and_waiting_on_other_departments(
    sessions: sessionmaker[Session], dataset: dict[str, int]
) -> None:
    with sessions() as session:
        rows = _by_department(department_rows(session, SCOPE))
        shares = {(c.requester, c.department): c.breach_share for c in ledger(session, SCOPE)}
    sales = rows["sales"]
    # Sales requested 9 cases (A, B, R, P, L1-L4, N); whole-case breaches: R, P, and L4 (by the
    # sweeper, still open). Own: its one step breach (R's confirmation).
    assert (sales.cases_requested, sales.case_breaches, sales.own_breaches) == (9, 3, 1)
    # Waiting: R used 1560 minutes, 180 warehouse + 420 logistics = 600 of them not sales' ->
    # 600/1560 = 5/13; P used 510, all accounting (300) and commercial (210) -> 1; L4's only
    # step is still open and used 2040 minutes so far, all marketing's -> 1. Total 2 + 5/13.
    assert sales.waiting_breaches == pytest.approx(2 + 5 / 13)
    assert shares[("sales", "sales")] == pytest.approx(960 / 1560)
    assert shares[("sales", "warehouse")] == pytest.approx(180 / 1560)
    assert shares[("sales", "accounting")] == pytest.approx(300 / 510)
    assert shares[("sales", "marketing")] == 1.0
    assert rows["warehouse"].case_breaches == 0 and rows["warehouse"].waiting_breaches == 0.0


def test_it_lists_late_cases_latest_first_and_open_cases_nearest_their_deadline(
    sessions: sessionmaker[Session], company: Company, dataset: dict[str, int]
) -> None:
    with sessions() as session:
        late = late_cases(session, SCOPE)
        due = open_cases(session, company, now=NOW)
    # Whole-case lateness: L4 still open, 2040 used of 1440 so far -> 600 (the worst breach is
    # the current one); R 180 (Thu 09-12), P 30 (Tue 09:00-09:30).
    assert [(c.case_id, c.late_minutes) for c in late] == [
        (dataset["L4"], 600.0),
        (dataset["R"], 180.0),
        (dataset["P"], 30.0),
    ]
    assert late[2].minutes == {"accounting": 300.0, "commercial": 210.0}
    assert late[0].minutes == {"marketing": 2040.0} and late[0].shares == {"marketing": 1.0}
    # L4's review was due Wed 18 10:00: until Mon 23 12:00 the office worked Wed 420 + Thu 480
    # + Fri 480 + Mon 180 = 1560 minutes past it. N's collection is due Wed 25 12:00 EKB; from
    # Mon 14:00 EKB that is Mon 180 + Tue 480 + Wed 240 = 900 minutes away.
    assert [(c.case_id, c.department, c.remaining_minutes) for c in due] == [
        (dataset["L4"], "marketing", -1560.0),
        (dataset["N"], "logistics", 900.0),
    ]
    assert due[1].due_at == msk(25, 10)


def test_it_counts_steps_met_and_breached_per_iso_week_in_moscow_time(
    sessions: sessionmaker[Session], company: Company, dataset: dict[str, int]
) -> None:
    with sessions() as session:
        trend = weekly_trend(session, SCOPE, report_zone(company))
    # W47: 20 timed steps minus N's two = 18; met 3+4+1+3+3+0 - N's inspection = 13 (warehouse A, B;
    # logistics 4; accounting 1; commercial 3; marketing 3); breached 1+2+1+1 = 5.
    # W48: N's inspection (met) and collection (running).
    assert [(w.week, w.start.isoformat(), w.steps, w.met, w.breached) for w in trend] == [
        ("2026-W47", "2026-11-16", 18, 13, 5),
        ("2026-W48", "2026-11-23", 2, 1, 0),
    ]
    assert trend[0].compliance == pytest.approx(13 / 18)


def test_it_counts_lead_disputes_by_outcome_and_distinct_leads(
    sessions: sessionmaker[Session], company: Company, dataset: dict[str, int]
) -> None:
    with sessions() as session:
        leads = lead_figures(session, company, SCOPE)
        first_week = lead_figures(session, company, Scope(SINCE, msk(17, 0)))
    # L1 accepted by marketing, L2 accepted on arbitration, L3 kept, L4 open. Leads disputed:
    # LD-1, LD-2 (twice), LD-3 = 3; confirmed non-target: LD-1, LD-2 = 2.
    assert leads == LeadFigures(
        disputes=4,
        accepted=2,
        accepted_by_marketing=1,
        accepted_on_arbitration=1,
        kept=1,
        withdrawn=0,
        open=1,
        disputed_leads=3,
        non_target_leads=2,
    )
    assert leads.acceptance == pytest.approx(2 / 3)
    assert first_week.disputes == 3 and first_week.open == 0  # L4 was opened on Tuesday


def test_it_narrows_every_section_to_one_department_or_case_type(
    sessions: sessionmaker[Session], company: Company, dataset: dict[str, int]
) -> None:
    with sessions() as session:
        warehouse = build_report(session, company, since=SINCE, until=UNTIL, department="warehouse", now=NOW)
        returns = build_report(session, company, since=SINCE, until=UNTIL, case_type="return", now=NOW)
        with pytest.raises(InvalidData, match="unknown department 'warehous'"):
            build_report(session, company, since=SINCE, until=UNTIL, department="warehous")
    assert [row.department for row in warehouse.departments] == ["warehouse"]
    assert {(c.requester, c.department) for c in warehouse.ledger} == {("sales", "warehouse")}
    assert warehouse.open_cases == [] and sum(w.steps for w in warehouse.trend) == 4
    # Returns A, B, N: warehouse inspections [60, 90, 120] -> median 90, p90 90 + .8*30 = 114;
    # no return breached its whole case; the lead section is left out.
    row = _by_department(returns.departments)["warehouse"]
    assert (row.steps, row.median_minutes, row.p90_minutes) == (3, 90.0, pytest.approx(114.0))
    assert [c.case_id for c in returns.open_cases] == [dataset["N"]]
    assert returns.late_cases == [] and returns.leads is None


def test_it_gives_the_demo_its_department_figures(
    sessions: sessionmaker[Session], dataset: dict[str, int]
) -> None:
    from reports.steps import department_figures

    with sessions() as session:
        everything = {f.department: f for f in department_figures(session, now=NOW)}
        second_week = department_figures(session, since=msk(23, 0), now=NOW)
    assert (everything["warehouse"].steps, everything["warehouse"].breached) == (4, 1)
    assert everything["accounting"].late_minutes == 180.0
    assert [(f.department, f.steps, f.running) for f in second_week] == [("logistics", 1, 1), ("warehouse", 1, 0)]

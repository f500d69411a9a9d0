"""Breach reasons and exemptions (issue 19, point 7): the owner records a cause, a head asks for
an exemption, the director decides; each step audited; an approved exemption leaves compliance in
every figure (report, REST API) but the breach stays listed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import serving, token_header, write_config
from breaches.service import (
    BreachNotFound,
    ReviewRefused,
    decide_exemption,
    list_breaches,
    record_cause,
    request_exemption,
    review_events,
)
from core.clock import SimulatedClock
from core.errors import InvalidData, NotPermitted
from core.vocabulary import BreachCause, ExemptionStatus
from crm import samples
from engine import cases
from engine.timers import sweep
from org.actors import person_scope
from org.chart import Company
from reports.render import table_text
from reports.report import build_report
from storage.models import Breach

RETURN = {"customer": "c", "order": "o", "reason": "r"}


def scope(company: Company, person: str):  # type: ignore[no-untyped-def]
    return person_scope(company, person)[1]


def a_breach(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> int:
    """A return whose inspection (warehouse, due Monday 17:00) is swept late at 18:00."""
    start = clock.now()
    with sessions.begin() as session:
        cases.open_case(session, company, case_type="return", data=RETURN, actor=company.actor("ivanov"), now=start)
    sweep(sessions, company, now=start + timedelta(hours=9), owner="s")
    with sessions() as session:
        return session.scalars(select(Breach.id)).one()


def figures(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock) -> tuple[int, ...]:
    start = clock.now()
    with sessions() as session:
        report = build_report(session, company, since=start - timedelta(hours=9), until=start + timedelta(days=7),
                              now=start + timedelta(hours=25))
    row = next(row for row in report.departments if row.department == "warehouse")
    assert row.met + row.breached + row.running == row.steps
    totals = report.totals  # the weekly trend counts by the same rule as the department rows
    assert (sum(w.steps for w in report.trend), sum(w.met for w in report.trend),
            sum(w.breached for w in report.trend)) == (totals.steps, totals.met, totals.breached)
    assert ("Exempted" in table_text(report, company, locale="en")) == bool(totals.exempted)
    return row.steps, row.met, row.breached, row.running, row.exempted, int(row.late_minutes)


def test_an_approved_exemption_leaves_compliance_everywhere_but_the_breach_stays_listed(
    db_url: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, tmp_path: Path
) -> None:
    breach_id = a_breach(sessions, company, clock)
    at = clock.now() + timedelta(hours=10)
    assert figures(sessions, company, clock) == (1, 0, 1, 0, 0, 300)
    with sessions.begin() as session:
        record_cause(session, company, scope(company, "smirnov"), breach_id=breach_id, actor=company.actor("smirnov"),
                     cause=BreachCause.SUPPLIER, note="the carrier came late", now=at)
        request_exemption(session, company, scope(company, "smirnov"), breach_id=breach_id,
                          actor=company.actor("smirnov"), reason="carrier strike", now=at + timedelta(minutes=1))
    assert figures(sessions, company, clock) == (1, 0, 1, 0, 0, 300)  # requested is not yet exempted
    with sessions.begin() as session:
        decide_exemption(session, company, scope(company, "orlov"), breach_id=breach_id, actor=company.actor("orlov"),
                         approve=True, note="agreed", now=at + timedelta(minutes=2))
    assert figures(sessions, company, clock) == (0, 0, 0, 0, 1, 0)
    with sessions() as session:
        listed = list_breaches(session, scope(company, "smirnov"))
        audit = review_events(session, scope(company, "orlov"), breach_id)
    assert [(v.breach.id, v.review.exemption if v.review else None, v.review.cause if v.review else None)
            for v in listed] == [(breach_id, "approved", "supplier")]
    assert [(e.actor, e.action, e.at - at) for e in audit] == [
        ("smirnov", "cause_recorded", timedelta(0)),
        ("smirnov", "exemption_requested", timedelta(minutes=1)),
        ("orlov", "exemption_approved", timedelta(minutes=2)),
    ]
    with serving(db_url, write_config(tmp_path), SimulatedClock(clock.now() + timedelta(hours=25)),
                 samples.SAMPLE_ENV) as client:
        rows = {f["department"]: f for f in client.get("/api/sla/departments",
                                                       headers=token_header("kuznetsova")).json()}
    assert (rows["warehouse"]["steps"], rows["warehouse"]["breached"], rows["warehouse"]["exempted"]) == (0, 0, 1)


def test_a_rejected_exemption_still_counts_and_a_new_request_may_follow(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    breach_id = a_breach(sessions, company, clock)
    at = clock.now() + timedelta(hours=10)
    with sessions.begin() as session:
        request_exemption(session, company, scope(company, "smirnov"), breach_id=breach_id,
                          actor=company.actor("smirnov"), reason="r", now=at)
        with pytest.raises(ReviewRefused, match="already requested"):
            request_exemption(session, company, scope(company, "smirnov"), breach_id=breach_id,
                              actor=company.actor("smirnov"), reason="again", now=at)
        decide_exemption(session, company, scope(company, "orlov"), breach_id=breach_id, actor=company.actor("orlov"),
                         approve=False, note=None, now=at)
        with pytest.raises(ReviewRefused, match="it is rejected"):
            decide_exemption(session, company, scope(company, "orlov"), breach_id=breach_id,
                             actor=company.actor("orlov"), approve=True, note=None, now=at)
    assert figures(sessions, company, clock) == (1, 0, 1, 0, 0, 300)
    with sessions.begin() as session:
        view = request_exemption(session, company, scope(company, "smirnov"), breach_id=breach_id,
                                 actor=company.actor("smirnov"), reason="new facts", now=at)
    assert view.review is not None and view.review.exemption == ExemptionStatus.REQUESTED


def test_only_the_owner_a_head_above_and_the_director_act_and_outsiders_do_not_see_the_breach(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    breach_id = a_breach(sessions, company, clock)
    at = clock.now() + timedelta(hours=10)
    with sessions.begin() as session:
        with pytest.raises(NotPermitted, match="record the cause"):
            record_cause(session, company, scope(company, "ivanov"), breach_id=breach_id,
                         actor=company.actor("ivanov"), cause=BreachCause.WORKLOAD, note=None, now=at)
        with pytest.raises(NotPermitted, match="request an exemption"):
            request_exemption(session, company, scope(company, "kuznetsova"), breach_id=breach_id,
                              actor=company.actor("kuznetsova"), reason="r", now=at)
        with pytest.raises(NotPermitted, match="decide the exemption"):
            decide_exemption(session, company, scope(company, "smirnov"), breach_id=breach_id,
                             actor=company.actor("smirnov"), approve=True, note=None, now=at)
        with pytest.raises(ReviewRefused, match="never requested"):
            decide_exemption(session, company, scope(company, "orlov"), breach_id=breach_id,
                             actor=company.actor("orlov"), approve=True, note=None, now=at)
        with pytest.raises(InvalidData, match="the note is required"):
            record_cause(session, company, scope(company, "smirnov"), breach_id=breach_id,
                         actor=company.actor("smirnov"), cause=BreachCause.OTHER, note="  ", now=at)
        with pytest.raises(BreachNotFound):
            record_cause(session, company, scope(company, "pavlova"), breach_id=breach_id,
                         actor=company.actor("pavlova"), cause=BreachCause.WORKLOAD, note=None, now=at)
        assert list_breaches(session, scope(company, "pavlova")) == []

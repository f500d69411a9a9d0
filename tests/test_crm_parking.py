"""Out-of-order CRM events on SQLite and PostgreSQL: a trigger that arrives before its case is
parked and applied when the case opens; one whose case never appears expires with its reason."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.testing import example_config, write_config
from core.clock import SimulatedClock
from core.vocabulary import InboxStatus
from crm.parking import expire_parked
from crm.processing import process_inbox_event, process_inbox_events
from org.chart import Company
from runtime.company import company_from_mapping
from slaflow.commands.crm import inbox_app
from storage.models import Case, InboxEvent
from tests.test_crm_processing import LOST, RESERVE, amo


def test_it_parks_a_trigger_that_arrives_before_its_case_and_applies_it_when_the_case_opens(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    early = process_inbox_event(sessions, company, amo(sessions, clock, LOST, key="lost"), clock.now())
    assert early is not None and early.status == InboxStatus.PARKED and early.result is not None
    [parked] = early.result["actions"]
    assert (parked["outcome"], parked["trigger"], parked["reason"]) == (
        "parked", "cancel", "no case is linked to lead:25399013 yet")
    with sessions() as session:
        assert session.scalars(select(Case)).all() == []
        row = session.get(InboxEvent, early.id)
        assert row is not None and row.expires_at == clock.now() + timedelta(days=1)

    clock.advance(timedelta(minutes=5))
    opened = process_inbox_event(sessions, company, amo(sessions, clock, RESERVE, key="reserve"), clock.now())
    assert opened is not None and opened.status == InboxStatus.PROCESSED and opened.result is not None
    assert opened.result["actions"][0]["applied_parked"] == [early.id]
    with sessions() as session:
        case = session.scalars(select(Case)).one()
        row = session.get(InboxEvent, early.id)
        assert case.state == "cancelled" and case.data["reason"] == "сделка закрыта в amoCRM как нереализованная"
        assert row is not None and row.status == InboxStatus.PROCESSED
        assert row.expires_at is None and row.result is not None
        [applied] = row.result["actions"]
        assert (applied["outcome"], applied["case_id"], applied["applied_late"]) == ("fired", case.id, True)
    # Nothing is applied twice: the parked row is done, and expiring finds nothing.
    with sessions.begin() as session:
        assert expire_parked(session, clock.now() + timedelta(days=30)) == []


def test_it_expires_a_parked_trigger_whose_case_never_appears_with_the_reason_in_the_inbox_list(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, db_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    early = process_inbox_event(sessions, company, amo(sessions, clock, LOST, key="lost"), clock.now())
    assert early is not None and early.status == InboxStatus.PARKED
    with sessions.begin() as session:
        assert expire_parked(session, clock.now() + timedelta(hours=23)) == []
    with sessions.begin() as session:
        assert expire_parked(session, clock.now() + timedelta(days=1)) == [early.id]
    with sessions() as session:
        row = session.get(InboxEvent, early.id)
        assert row is not None and row.status == InboxStatus.EXPIRED
        assert row.last_error is not None and "no linked case appeared for cancel on lead:25399013" in row.last_error
    # The case opening later does not resurrect an expired trigger.
    process_inbox_event(sessions, company, amo(sessions, clock, RESERVE, key="reserve"), clock.now())
    with sessions() as session:
        assert session.scalars(select(Case.state)).one() == "approval"
    monkeypatch.setattr("slaflow.commands.crm.console", Console(width=400))
    listed = CliRunner().invoke(inbox_app, ["list", "--status", "expired", "--database-url", db_url,
                                            "--config", str(write_config(tmp_path))])
    assert listed.exit_code == 0, listed.output
    assert re.search(rf"│ {early.id}\s+│ amocrm\s+│[^│]+│ expired\s+│", listed.output), listed.output
    assert "no linked case appeared for cancel on lead:25399013 (reservation)" in listed.output


def test_it_opens_the_case_even_when_a_parked_trigger_is_refused_and_marks_that_trigger_failed(
    sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    raw = example_config()
    for rule in raw["crm"]["rules"]:
        if rule.get("name") == "amocrm-lost-cancels-reservation":
            rule.pop("values")  # cancel requires a reason the CRM event does not carry
    company = company_from_mapping(raw)
    early = process_inbox_event(sessions, company, amo(sessions, clock, LOST, key="lost"), clock.now())
    assert early is not None and early.status == InboxStatus.PARKED
    opened = process_inbox_event(sessions, company, amo(sessions, clock, RESERVE, key="reserve"), clock.now())
    assert opened is not None and opened.status == InboxStatus.PROCESSED
    with sessions() as session:
        assert session.scalars(select(Case.state)).one() == "approval"
        row = session.get(InboxEvent, early.id)
        assert row is not None and row.status == InboxStatus.FAILED
        assert row.last_error is not None and "MissingFields" in row.last_error and "reason" in row.last_error


def test_a_batch_applies_a_trigger_it_parked_itself_when_a_later_row_of_the_batch_opens_the_case(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # The batch looks the parked rows up once; the row it parks itself must still be found.
    early, opening, other = (amo(sessions, clock, LOST, key="lost"), amo(sessions, clock, RESERVE, key="reserve"),
                             amo(sessions, clock, {**RESERVE, "id": 25399014}, key="other"))
    outcomes = {p.id: p for p in process_inbox_events(sessions, company, [early, opening, other], clock.now())}
    assert outcomes[early].status == InboxStatus.PARKED  # as the batch saw it, before the case opened
    opened = outcomes[opening].result
    assert opened is not None and opened["actions"][0]["applied_parked"] == [early]
    other_result = outcomes[other].result
    assert other_result is not None and "applied_parked" not in other_result["actions"][0]
    with sessions() as session:
        states = dict(session.execute(select(Case.external_key, Case.state)).tuples().all())
        assert states == {"lead:25399013:reservation": "cancelled", "lead:25399014:reservation": "approval"}
        row = session.get(InboxEvent, early)
        assert row is not None and row.status == InboxStatus.PROCESSED and row.expires_at is None
        assert [(r.status, r.attempts) for r in session.scalars(
            select(InboxEvent).where(InboxEvent.id.in_([opening, other])).order_by(InboxEvent.id))] == [
            (InboxStatus.PROCESSED, 1), (InboxStatus.PROCESSED, 1)]


def test_a_batch_applies_a_trigger_parked_by_an_earlier_batch(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    early = amo(sessions, clock, LOST, key="lost")
    first = process_inbox_events(sessions, company, [early, amo(sessions, clock, {**RESERVE, "id": 1}, key="a")],
                                 clock.now())
    assert [p.status for p in first] == [InboxStatus.PARKED, InboxStatus.PROCESSED]
    opening = amo(sessions, clock, RESERVE, key="reserve")
    second = process_inbox_events(sessions, company, [opening, amo(sessions, clock, {**RESERVE, "id": 2}, key="b")],
                                  clock.now())
    result = second[0].result
    assert result is not None and result["actions"][0]["applied_parked"] == [early]
    with sessions() as session:
        assert session.scalars(select(Case.state).where(Case.external_key == "lead:25399013:reservation")).one() == (
            "cancelled")

"""Processing stored webhooks into cases, on SQLite and PostgreSQL: one transaction per inbox
event, idempotent, safe when two workers race, failures recorded and fixed by a replay."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.testing import example_config
from core.clock import SimulatedClock
from core.vocabulary import InboxStatus
from crm import samples
from crm.inbox import InboxRecord, pending_inbox_ids, store, store_many
from crm.processing import process_inbox_event, process_inbox_events, replay_status
from org.chart import Company
from runtime.company import company_from_mapping
from storage.models import Case, InboxEvent

RESERVE = {"id": 25399013, "status_id": 43315792, "pipeline_id": 4740529, "old_status_id": 43315795,
           "last_modified": 1794808790, "custom_fields": [(1, "Компания", "ООО Ромашка"), (2, "Товары", "40 паллет")]}
LOST = {"id": 25399013, "status_id": 143, "pipeline_id": 4740529, "old_status_id": 43315792,
        "last_modified": 1794808900}


def stored(sessions: sessionmaker[Session], clock: SimulatedClock, source: str, body: bytes, key: str) -> int:
    with sessions.begin() as session:
        return store(session, InboxRecord(source=source, idempotency_key=key, received_at=clock.now(),
                                          content_type="application/x-www-form-urlencoded", headers={},
                                          body=body.decode())).id


def amo(sessions: sessionmaker[Session], clock: SimulatedClock, *leads: dict[str, Any], key: str = "k1") -> int:
    body, _ = samples.amocrm_lead("status", list(leads))
    return stored(sessions, clock, "amocrm", body, key)


def cases_of(sessions: sessionmaker[Session]) -> list[Case]:
    with sessions() as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def test_it_opens_a_case_linked_to_the_crm_entity_in_the_same_transaction_as_the_status(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    inbox_id = amo(sessions, clock, RESERVE)
    done = process_inbox_event(sessions, company, inbox_id, clock.now())
    assert done is not None and done.status == InboxStatus.PROCESSED and done.attempts == 1
    [case] = cases_of(sessions)
    assert (case.case_type, case.state, case.external_source, case.external_key) == (
        "reservation", "approval", "amocrm", "lead:25399013:reservation")
    assert case.data == {"customer": "ООО Ромашка", "deal": "25399013", "items": "40 паллет"}
    assert done.result is not None
    assert done.result["actions"] == [{"rule": "amocrm-reserve-stock", "action": "open", "case_type": "reservation",
                                       "entity": "lead:25399013", "outcome": "opened", "case_id": case.id,
                                       "state": "approval"}]
    with sessions() as session:
        assert session.get(InboxEvent, inbox_id).processed_at == clock.now()  # type: ignore[union-attr]


def test_it_processes_an_event_once_however_often_it_is_asked(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    inbox_id = amo(sessions, clock, RESERVE)
    first = process_inbox_event(sessions, company, inbox_id, clock.now())
    again = process_inbox_event(sessions, company, inbox_id, clock.now() + timedelta(minutes=1))
    assert first == again and len(cases_of(sessions)) == 1


def test_it_lets_two_workers_race_on_one_event_and_opens_one_case(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    inbox_id = amo(sessions, clock, RESERVE)
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def worker() -> None:
        start.wait()
        outcomes.append(process_inbox_event(sessions, company, inbox_id, clock.now()))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [o.status for o in outcomes] == [InboxStatus.PROCESSED, InboxStatus.PROCESSED]
    assert len(cases_of(sessions)) == 1 and {o.attempts for o in outcomes} == {1}


def test_it_keeps_events_no_rule_matches_as_unmatched(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    inbox_id = amo(sessions, clock, {**RESERVE, "status_id": 555})
    done = process_inbox_event(sessions, company, inbox_id, clock.now())
    assert done is not None and done.status == InboxStatus.UNMATCHED and done.result is not None
    assert done.result["actions"] == [] and done.result["events"][0]["new_stage"] == "555"
    assert cases_of(sessions) == []


def test_it_fires_the_trigger_on_the_case_linked_to_the_entity_and_tolerates_the_crm_repeating_itself(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    process_inbox_event(sessions, company, amo(sessions, clock, RESERVE), clock.now())
    clock.advance(timedelta(hours=1))
    lost = process_inbox_event(sessions, company, amo(sessions, clock, LOST, key="k2"), clock.now())
    [case] = cases_of(sessions)
    assert lost is not None and lost.status == InboxStatus.PROCESSED and case.state == "cancelled"
    assert case.data["reason"] == "сделка закрыта в amoCRM как нереализованная"
    again = process_inbox_event(sessions, company, amo(sessions, clock, LOST, key="k3"), clock.now())
    assert again is not None and again.status == InboxStatus.PROCESSED and again.result is not None
    assert again.result["actions"][0]["outcome"] == "skipped"  # the case is closed: nothing to move


def test_it_reports_the_existing_case_when_a_redelivery_under_another_key_would_open_it_again(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    process_inbox_event(sessions, company, amo(sessions, clock, RESERVE), clock.now())
    again = process_inbox_event(sessions, company, amo(sessions, clock, RESERVE, key="other"), clock.now())
    assert again is not None and again.status == InboxStatus.PROCESSED and again.result is not None
    assert again.result["actions"][0]["outcome"] == "exists"
    assert again.result["actions"][0]["case_id"] == cases_of(sessions)[0].id and len(cases_of(sessions)) == 1


def test_it_records_a_failure_changes_nothing_and_a_replay_after_fixing_the_config_succeeds(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    # The integration actor may not open reservations (sales opens them): the second lead of the
    # same request fails, so the first lead's case must not be opened either.
    config = example_config()
    config["crm"]["sources"]["amocrm"]["memberships"] = ["warehouse/storekeeper"]
    misconfigured = company_from_mapping(config)
    inbox_id = amo(sessions, clock, RESERVE, {**RESERVE, "id": 25399014})
    failed = process_inbox_event(sessions, misconfigured, inbox_id, clock.now())
    assert failed is not None and failed.status == InboxStatus.FAILED and failed.attempts == 1
    assert failed.last_error is not None and failed.last_error.startswith("NotPermitted: crm:amocrm may not open")
    assert cases_of(sessions) == []
    with sessions() as session:
        assert pending_inbox_ids(session, 10) == [inbox_id]
    [replayed] = replay_status(sessions, company, InboxStatus.FAILED, clock.now)
    assert (replayed.id, replayed.status, replayed.attempts, replayed.last_error) == (
        inbox_id, InboxStatus.PROCESSED, 2, None)
    assert sorted(str(c.external_key) for c in cases_of(sessions)) == [
        "lead:25399013:reservation", "lead:25399014:reservation"]


def test_a_batch_processes_its_good_events_once_whatever_one_bad_event_does(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    done_before = amo(sessions, clock, RESERVE, key="before")
    process_inbox_event(sessions, company, done_before, clock.now())
    good = amo(sessions, clock, {**RESERVE, "id": 25399014}, key="good")
    bad = stored(sessions, clock, "amocrm", b"account%5Bsubdomain%5D=sever", "bad")
    same_lead = amo(sessions, clock, {**RESERVE, "id": 25399014, "last_modified": 1794808799}, key="same")
    # fails inside the batch's transaction (no items to reserve): the batch is redone row by row
    no_items = amo(sessions, clock, {**RESERVE, "id": 25399016, "custom_fields": [(1, "Компания", "ООО")]}, key="x")
    later = amo(sessions, clock, {**RESERVE, "id": 25399015}, key="later")
    ids = [done_before, good, bad, same_lead, no_items, later, 999_999]
    outcomes = {p.id: p for p in process_inbox_events(sessions, company, ids, clock.now())}
    assert sorted(outcomes) == [done_before, good, bad, same_lead, no_items, later]  # a missing row is left out
    assert outcomes[done_before].attempts == 1  # processed before: left alone
    assert outcomes[bad].status == InboxStatus.FAILED and "no entity in the body" in (outcomes[bad].last_error or "")
    assert (outcomes[no_items].status, outcomes[no_items].attempts) == (InboxStatus.FAILED, 1)
    assert (outcomes[no_items].last_error or "").startswith("MissingFields")
    assert [outcomes[i].status for i in (good, same_lead, later)] == [InboxStatus.PROCESSED] * 3
    same = outcomes[same_lead].result
    assert same is not None and same["actions"][0]["outcome"] == "exists"
    assert sorted(str(c.external_key) for c in cases_of(sessions)) == [
        "lead:25399013:reservation", "lead:25399014:reservation", "lead:25399015:reservation"]
    again = process_inbox_events(sessions, company, ids, clock.now())  # a redelivered batch opens nothing
    assert [(p.id, p.status, p.attempts) for p in again] == [
        (done_before, InboxStatus.PROCESSED, 1), (good, InboxStatus.PROCESSED, 1), (bad, InboxStatus.FAILED, 2),
        (same_lead, InboxStatus.PROCESSED, 1), (no_items, InboxStatus.FAILED, 2), (later, InboxStatus.PROCESSED, 1)]
    assert len(cases_of(sessions)) == 3


def test_it_records_a_body_it_cannot_read_as_failed_rather_than_losing_it(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    inbox_id = stored(sessions, clock, "amocrm", b"account%5Bsubdomain%5D=sever", "k")
    done = process_inbox_event(sessions, company, inbox_id, clock.now())
    assert done is not None and done.status == InboxStatus.FAILED and "no entity in the body" in (done.last_error or "")


def test_it_answers_a_duplicate_with_the_first_row_and_lists_only_rows_still_to_process(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    first = amo(sessions, clock, RESERVE, key="same")
    assert amo(sessions, clock, RESERVE, key="same") == first
    other = amo(sessions, clock, {**RESERVE, "status_id": 555}, key="other")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 2
        assert pending_inbox_ids(session, 10) == [first, other]
        assert pending_inbox_ids(session, 10, after_id=first) == [other]
    process_inbox_event(sessions, company, first, clock.now())
    with sessions() as session:
        assert pending_inbox_ids(session, 10) == [other]
        assert pending_inbox_ids(session, 10, statuses=(InboxStatus.RECEIVED,)) == [other]


def test_it_stores_a_batch_at_once_answering_each_duplicate_with_the_first_row(
    sessions: sessionmaker[Session], clock: SimulatedClock
) -> None:
    def record(key: str, source: str = "generic") -> InboxRecord:
        return InboxRecord(source=source, idempotency_key=key, received_at=clock.now(), content_type=None,
                           headers={}, body="{}")

    with sessions.begin() as session:
        earlier = store(session, record("a"))
    with sessions.begin() as session:
        answers = store_many(session, [record("a"), record("b"), record("b"), record("a", "hubspot")])
    assert [(a.id == earlier.id, a.duplicate) for a in answers] == [
        (True, True), (False, False), (False, True), (False, False)]
    assert answers[1].id == answers[2].id != answers[3].id
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 3

"""The case engine on real databases (each test runs on a SQLite file and on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import (
    ConflictError,
    DuplicateCase,
    IllegalTransition,
    InvalidData,
    MissingFields,
    NotPermitted,
    UnknownCaseType,
)
from engine import cases, records, replay
from engine.timers import sweep
from org.chart import Company
from storage.models import Breach, Case, CaseEvent, CaseParticipant, SlaClock, Timer

RETURN_DATA = {"customer": "ООО Ромашка", "order": "SO-1", "reason": "broken"}


def _open(sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, **kw: Any) -> int:
    with sessions.begin() as session:
        case = cases.open_case(
            session,
            company,
            case_type=kw.pop("case_type", "return"),
            data=kw.pop("data", RETURN_DATA),
            actor=company.actor(kw.pop("actor", "ivanov")),
            now=clock.now(),
            **kw,
        )
        return case.id


def _fire(
    sessions: sessionmaker[Session],
    company: Company,
    clock: SimulatedClock,
    case_id: int,
    trigger: str,
    actor: str,
    **payload: Any,
) -> records.CaseRecord:
    with sessions.begin() as session:
        return cases.fire(
            session,
            company,
            case_id=case_id,
            trigger=trigger,
            actor=company.actor(actor),
            payload=payload,
            now=clock.now(),
        )


def _fingerprint_of_db(sessions: sessionmaker[Session], case_id: int) -> tuple[Any, ...]:
    """Everything stored about a case, to prove a refused request changed nothing."""
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return (
            case.state,
            case.version,
            dict(case.data),
            case.owner_department,
            case.due_at,
            session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)),
            tuple(session.scalars(select(SlaClock.status).where(SlaClock.case_id == case_id).order_by(SlaClock.id))),
            tuple(session.scalars(select(Timer.status).where(Timer.case_id == case_id).order_by(Timer.id))),
        )


def test_opening_a_case_records_owner_deadline_participants_and_the_first_event(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.state, case.owner_department, case.owner_role, case.version) == (
            "inspection",
            "warehouse",
            "storekeeper",
            1,
        )
        # Warehouse works 08:00-20:00 Moscow: 8 business hours from 09:00 is 17:00 Moscow = 14:00 UTC.
        assert case.due_at is not None and case.due_at.isoformat() == "2026-11-16T14:00:00+00:00"
        participants = {(p.department, p.role) for p in session.scalars(select(CaseParticipant))}
        assert participants == {("sales", "requester"), ("warehouse", "performer")}
        [event] = case.events
        assert (event.seq, event.trigger, event.from_state, event.to_state, event.actor) == (
            1,
            "open",
            None,
            "inspection",
            "ivanov",
        )
        kinds = sorted((t.kind, t.level, t.state) for t in session.scalars(select(Timer)))
        assert kinds == [("breach", 0, "*"), ("breach", 0, "inspection"), ("escalation", 1, "inspection"),
                         ("escalation", 2, "inspection"), ("escalation", 3, "inspection"), ("warning", 0, "*"),
                         ("warning", 0, "inspection")]


def test_a_case_goes_through_every_department_to_closed(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    steps = [
        ("approve", "popov", {"inspection_notes": "ok"}),
        ("collected", "kozlov", {"waybill": "W1"}),
        ("refunded", "morozova", {"document": "CN-1"}),
    ]
    for trigger, actor, payload in steps:
        clock.advance(timedelta(hours=1))
        _fire(sessions, company, clock, case_id, trigger, actor, **payload)
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.state == "closed" and case.closed_at == clock.now() and case.owner_department is None
        assert case.data["waybill"] == "W1" and case.data["customer"] == "ООО Ромашка"
        assert {p.department for p in case.participants} == {"sales", "warehouse", "logistics", "accounting"}
        statuses = [(c.kind, c.state, c.status) for c in session.scalars(select(SlaClock).order_by(SlaClock.id))]
        assert statuses == [
            ("case", None, "met"),
            ("step", "inspection", "met"),
            ("step", "collection", "met"),
            ("step", "refund", "met"),
        ]
        assert session.scalar(select(func.count()).select_from(Timer).where(Timer.status == "pending")) == 0


@pytest.mark.parametrize(
    ("trigger", "actor", "payload", "error", "message"),
    [
        (
            "refunded",
            "morozova",
            {"document": "x"},
            IllegalTransition,
            "trigger 'refunded' is not allowed in state 'inspection'; allowed triggers: approve, reject, "
            "request_info, withdraw",
        ),
        (
            "approve",
            "kozlov",
            {"inspection_notes": "x"},
            NotPermitted,
            "kozlov may not fire 'approve' on case 1; allowed: warehouse, quality",
        ),
        ("approve", "popov", {}, MissingFields, "trigger 'approve' requires the fields: inspection_notes"),
        ("approve", "popov", {"inspection_notes": "   "}, MissingFields, "inspection_notes"),
        ("approve", "popov", {"inspection_notes": float("nan")}, InvalidData, "payload is not plain JSON"),
    ],
)
def test_a_refused_trigger_names_what_is_allowed_and_changes_nothing(
    sessions: sessionmaker[Session],
    company: Company,
    clock: SimulatedClock,
    trigger: str,
    actor: str,
    payload: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    case_id = _open(sessions, company, clock)
    before = _fingerprint_of_db(sessions, case_id)
    with pytest.raises(error) as excinfo:
        _fire(sessions, company, clock, case_id, trigger, actor, **payload)
    assert message in str(excinfo.value)
    assert _fingerprint_of_db(sessions, case_id) == before


def test_opening_refuses_unknown_types_wrong_departments_missing_fields_and_duplicates(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with pytest.raises(UnknownCaseType, match="unknown case type 'refund'"):
        _open(sessions, company, clock, case_type="refund")
    with pytest.raises(NotPermitted, match="popov may not open a 'return' case; allowed: sales"):
        _open(sessions, company, clock, actor="popov")
    with pytest.raises(MissingFields, match="opening a 'return' case requires the fields: order, reason"):
        _open(sessions, company, clock, data={"customer": "x"})
    first = _open(sessions, company, clock, external_source="bitrix24", external_key="DEAL-7")
    with pytest.raises(DuplicateCase, match=f"already exists: case {first}"):
        _open(sessions, company, clock, external_source="bitrix24", external_key="DEAL-7")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_duplicate_that_slips_past_the_check_is_refused_and_its_transaction_goes_on(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _open(sessions, company, clock, external_source="bitrix24", external_key="DEAL-8")
    # Another process opened DEAL-8's case between this one's check and its insert.
    monkeypatch.setattr(records, "refuse_duplicate", lambda *_: None)
    with sessions.begin() as session:
        with pytest.raises(DuplicateCase, match=f"already exists: case {first}"):
            cases.open_case(session, company, case_type="return", data=RETURN_DATA, actor=company.actor("ivanov"),
                            now=clock.now(), external_source="bitrix24", external_key="DEAL-8")
        # The same transaction goes on (PostgreSQL aborts a transaction at a failed statement).
        other = cases.open_case(session, company, case_type="return", data=RETURN_DATA,
                                actor=company.actor("ivanov"), now=clock.now(), external_source="bitrix24",
                                external_key="DEAL-9")
    with sessions() as session:
        keys = dict(session.execute(select(Case.external_key, Case.id)).tuples().all())
    assert keys == {"DEAL-8": first, "DEAL-9": other.id}


def test_a_late_step_is_breached_against_its_department_with_business_minutes_late(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)  # inspection due Monday 17:00 Moscow
    clock.advance(timedelta(hours=9))  # Monday 18:00 Moscow: the sweeper fires the breach
    result = sweep(sessions, company, now=clock.now(), owner="test")
    # The warning (due 15:00) was not swept before the deadline: its stage has passed, so only
    # the breach goes out. The breach keeps its deadline and records when it was detected.
    assert result.fired["breach"] == 1 and result.fired["warning"] == 0
    with sessions() as session:
        [breach] = session.scalars(select(Breach)).all()
        assert (breach.department, breach.state, breach.closed_at) == ("warehouse", "inspection", None)
        assert (breach.breached_at, breach.detected_at) == (clock.now() - timedelta(hours=1), clock.now())
    clock.advance(timedelta(hours=15))  # Tuesday 09:00 Moscow
    _fire(sessions, company, clock, case_id, "approve", "popov", inspection_notes="late")
    with sessions() as session:
        [breach] = session.scalars(select(Breach)).all()
        # 17:00-20:00 Monday (180) + 08:00-09:00 Tuesday (60) in the warehouse's 08-20 shift.
        assert breach.late_minutes == 240 and breach.closed_at == clock.now()
        step = session.scalars(select(SlaClock).where(SlaClock.state == "inspection")).one()
        assert step.status == "breached" and step.used_minutes == 480 + 240


def test_a_step_stopped_late_before_any_sweep_is_still_breached(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    clock.advance(timedelta(hours=8, minutes=30))  # 30 business minutes past 17:00
    _fire(sessions, company, clock, case_id, "approve", "popov", inspection_notes="x")
    with sessions() as session:
        [breach] = session.scalars(select(Breach)).all()
        assert breach.department == "warehouse" and breach.late_minutes == 30


def test_finishing_exactly_at_the_deadline_meets_it(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    clock.advance(timedelta(hours=8))
    assert sweep(sessions, company, now=clock.now(), owner="t").fired["breach"] == 0
    _fire(sessions, company, clock, case_id, "approve", "popov", inspection_notes="x")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Breach)) == 0
        assert session.scalars(select(SlaClock.status).where(SlaClock.state == "inspection")).one() == "met"


def test_a_paused_state_stops_the_whole_case_clock_and_resumes_with_the_rest(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)  # whole case: 40 business hours in the sales office
    clock.advance(timedelta(hours=2))  # 11:00: 2 business hours used
    _fire(sessions, company, clock, case_id, "request_info", "popov", question="photos?")
    clock.advance(timedelta(days=2))  # the customer takes two days: not counted
    _fire(sessions, company, clock, case_id, "info_received", "ivanov", answer="sent")
    with sessions() as session:
        whole = session.scalars(select(SlaClock).where(SlaClock.kind == "case")).one()
        assert whole.status == "running" and whole.used_minutes == 120
        # 38 hours left from Wednesday 11:00 Moscow: Wed 6h, Thu 8h, Fri 8h, Mon 8h, Tue 8h -> Tue 18:00.
        assert whole.deadline_at is not None and whole.deadline_at.isoformat() == "2026-11-24T15:00:00+00:00"
        pending = session.scalars(select(Timer).where(Timer.state == "*", Timer.status == "pending")).all()
        assert [t.due_at for t in pending if t.kind == "breach"] == [whole.deadline_at]
        assert session.scalars(select(SlaClock).where(SlaClock.state == "awaiting_customer")).first() is None


def test_an_urgent_target_applies_when_the_customer_is_unreliable(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock, data={**RETURN_DATA, "customer_unreliable": True})
    case = _fire(sessions, company, clock, case_id, "approve", "popov", inspection_notes="x")
    # Logistics is in Yekaterinburg (UTC+5, lunch 12-13): Monday 11:00 local + 4h -> 16:00 local = 11:00 UTC.
    assert case.due_at is not None and case.due_at.isoformat() == "2026-11-16T11:00:00+00:00"


def test_an_open_case_keeps_the_definition_it_was_opened_under(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    changed = company.case_type("return").model_copy(
        update={"transitions": [t for t in company.case_type("return").transitions if t.trigger != "approve"]}
    )
    edited = type(company)(config=company.config, source="edited", case_types={**company.case_types, "return": changed})
    with sessions.begin() as session:  # the new definition has no 'approve', the case's has
        case = cases.fire(
            session,
            edited,
            case_id=case_id,
            trigger="approve",
            actor=company.actor("popov"),
            payload={"inspection_notes": "x"},
            now=clock.now(),
        )
        assert case.state == "collection"
    new_id = _open(sessions, edited, clock)
    with pytest.raises(IllegalTransition):
        _fire(sessions, edited, clock, new_id, "approve", "popov", inspection_notes="x")


def test_assigning_names_the_person_on_the_step_and_in_its_breach(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(sessions, company, clock)
    with sessions.begin() as session:
        cases.assign(
            session, company, case_id=case_id, person="volkova", actor=company.actor("smirnov"), now=clock.now()
        )
    with sessions.begin() as session, pytest.raises(InvalidData, match="'kozlov' is not a member of 'warehouse'"):
        cases.assign(
            session, company, case_id=case_id, person="kozlov", actor=company.actor("smirnov"), now=clock.now()
        )
    clock.advance(timedelta(hours=10))
    _fire(sessions, company, clock, case_id, "approve", "volkova", inspection_notes="x")
    with sessions() as session:
        breach = session.scalars(select(Breach)).one()
        assert (breach.department, breach.person) == ("warehouse", "volkova")
        case = session.get(Case, case_id)
        assert case is not None and case.owner_person is None  # ownership moved on with the step


def test_of_two_concurrent_triggers_on_one_case_exactly_one_wins(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """Both saw version 1; each fires in its own thread and transaction."""
    case_id = _open(sessions, company, clock)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def worker(trigger: str, payload: dict[str, str]) -> None:
        barrier.wait()
        try:
            with sessions.begin() as session:
                cases.fire(
                    session,
                    company,
                    case_id=case_id,
                    trigger=trigger,
                    actor=company.actor("popov"),
                    payload=payload,
                    now=clock.now(),
                    expected_version=1,
                )
            outcomes.append(trigger)
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [
        threading.Thread(target=worker, args=("approve", {"inspection_notes": "ok"})),
        threading.Thread(target=worker, args=("reject", {"reason": "no"})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if isinstance(o, str)]
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(winners) == 1 and len(conflicts) == 1, outcomes
    assert "you saw version 1, it is now 2" in str(conflicts[0])
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.version == 2
        assert case.state == {"approve": "collection", "reject": "rejected"}[winners[0]]
        assert [e.trigger for e in case.events] == ["open", winners[0]]


def test_concurrent_triggers_without_a_version_are_serialised_and_none_is_lost(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """Eight threads move eight cases at once; every change lands exactly once."""
    ids = [_open(sessions, company, clock) for _ in range(8)]
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def worker(case_id: int) -> None:
        barrier.wait()
        try:
            _fire(sessions, company, clock, case_id, "approve", "popov", inspection_notes=f"case {case_id}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(case_id,)) for case_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with sessions() as session:
        rows = session.execute(select(Case.id, Case.state, Case.version, Case.data)).all()
        assert all(state == "collection" and version == 2 for _, state, version, _ in rows)
        assert {data["inspection_notes"] for *_, data in rows} == {f"case {i}" for i in ids}


def test_the_event_log_replays_to_the_stored_state(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    case_id = _open(
        sessions,
        company,
        clock,
        case_type="replacement",
        data={"customer": "c", "order": "o", "product": "p", "complaint": "x"},
    )
    moves = [
        ("confirm_defect", "nowak", {"cause": "c"}),
        ("out_of_stock", "popov", {}),
        ("supplied", "egorov", {"supply_doc": "PO"}),
        ("picked", "volkova", {"pick_list": "PL"}),
    ]
    for trigger, actor, payload in moves:
        clock.advance(timedelta(hours=3))
        _fire(sessions, company, clock, case_id, trigger, actor, **payload)
    with sessions.begin() as session:
        cases.assign(
            session, company, case_id=case_id, person="kozlov", actor=company.actor("lebedev"), now=clock.now()
        )
    with sessions() as session:
        case = cases.get_case(session, case_id)
        rebuilt = replay.replay(cases.definition_of(session, company, case), case.events)
        assert rebuilt == replay.CaseSnapshot.of(case)
        assert rebuilt.state == "delivery" and rebuilt.owner_person == "kozlov" and rebuilt.version == 6

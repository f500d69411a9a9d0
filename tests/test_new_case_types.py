"""The six case types for the typical problems, run through the engine on the example company:
each reaches its outcome through the departments that own its steps, refuses people outside
them, and its timed steps carry the type's escalation chain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import SimulatedClock
from core.errors import NotPermitted
from engine import cases
from engine.timers import sweep
from org.chart import Company
from regulation.render import render_regulation
from storage.models import Breach, Case, Timer

NEW_TYPES = ("closing_documents", "delivery_terms_change", "product_demand", "stock_discrepancy",
             "security_check", "customer_handover")

# type -> (opening data, [(trigger, person, payload, owner department after it)], final state)
WALKS: dict[str, tuple[dict[str, Any], list[tuple[str, str, dict[str, Any], str | None]], str]] = {
    "closing_documents": (
        {"customer": "ООО Ромашка", "deal": "D-7", "documents": "УПД, акт сверки"},
        [
            ("request_details", "morozova", {"question": "КПП?"}, "sales"),
            ("details_received", "ivanov", {"answer": "770101001"}, "accounting"),
            ("prepared", "morozova", {"documents_link": "https://edo/1"}, "accounting"),
            ("signed", "novikova", {"document_numbers": "УПД-15"}, None),
        ],
        "issued",
    ),
    "delivery_terms_change": (
        {"customer": "ООО Ромашка", "order": "SO-9", "delay_reason": "задержка на таможне"},
        [
            ("propose", "kozlov", {"new_eta": "2026-11-25", "proposal": "частичная отгрузка"}, "sales"),
            ("agreed", "petrova", {"agreed_terms": "частичная отгрузка 20-го"}, "logistics"),
            ("rebooked", "kozlov", {"waybill": "W-77"}, None),
        ],
        "changed",
    ),
    "product_demand": (
        {"customer": "ООО Ромашка", "product": "насос X-200", "expected_volume": "40 шт/мес"},
        [
            ("evaluated", "egorov", {"supplier": "Гидромаш", "purchase_price": "12000", "lead_time": "3 недели"},
             "commercial"),
            ("approve", "orlov", {"decision": "вводим"}, None),
        ],
        "listed",
    ),
    "stock_discrepancy": (
        {"sku": "SKU-1", "system_qty": 12, "reason": "на полке 9"},
        [
            ("confirm", "volkova", {"actual_qty": 9}, "accounting"),
            ("corrected", "morozova", {"document": "Акт списания 4"}, None),
        ],
        "corrected",
    ),
    "security_check": (
        {"customer": "ООО Однодневка", "tax_id": "7700000000", "reason": "новый клиент, крупная сделка"},
        [
            ("request_documents", "tarasov", {"documents": "устав, выписка ЕГРЮЛ"}, "sales"),
            ("documents_received", "ivanov", {"link": "https://docs/1"}, "security"),
            ("restrict", "tarasov", {"findings": "долги по исполнительным листам"}, None),
        ],
        "prepayment_only",
    ),
    "customer_handover": (
        {"customer": "ООО Ромашка", "deal": "D-7", "upsell_potential": "расходники, 300 тыс. ₽/полгода"},
        [
            ("return_card", "zaitsev", {"missing": "контакт бухгалтерии"}, "sales"),
            ("resubmit", "ivanov", {"answer": "buh@romashka.ru"}, "customer_success"),
            ("accept", "zaitsev", {"account_manager": "zaitsev"}, "customer_success"),
            ("contacted", "zaitsev", {"upsell_plan": "расходники ежемесячно"}, None),
        ],
        "handed_over",
    ),
}


def _open(session: Session, company: Company, clock: SimulatedClock, name: str, data: dict[str, Any]) -> int:
    return cases.open_case(session, company, case_type=name, data=data, actor=company.actor("ivanov"),
                           now=clock.now()).id


@pytest.mark.parametrize("name", NEW_TYPES)
def test_each_new_type_reaches_its_outcome_through_its_owners(
    name: str, sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    data, steps, final = WALKS[name]
    definition = company.case_type(name)
    with sessions.begin() as session:
        case_id = _open(session, company, clock, name, data)
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert case.owner_department == definition.states[definition.initial].department
    for trigger, person, payload, owner in steps:
        clock.advance(timedelta(minutes=30))
        with sessions.begin() as session:
            moved = cases.fire(session, company, case_id=case_id, trigger=trigger, actor=company.actor(person),
                               payload=payload, now=clock.now())
            assert moved.owner_department == owner, trigger
    with sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.state == final and case.closed_at is not None


@pytest.mark.parametrize(
    ("name", "trigger", "outsider"),
    [
        ("closing_documents", "prepared", "popov"),
        ("security_check", "clear", "ivanov"),
        ("stock_discrepancy", "confirm", "morozova"),
        ("customer_handover", "accept", "petrova"),
        ("product_demand", "evaluated", "kozlov"),
        ("delivery_terms_change", "propose", "egorov"),
    ],
)
def test_people_outside_the_owning_department_may_not_move_the_step(
    name: str, trigger: str, outsider: str, sessions: sessionmaker[Session], company: Company,
    clock: SimulatedClock,
) -> None:
    with sessions.begin() as session:
        case_id = _open(session, company, clock, name, WALKS[name][0])
    payload = {field: "x" for t in company.case_type(name).transitions if t.trigger == trigger for field in t.requires}
    with pytest.raises(NotPermitted), sessions.begin() as session:
        cases.fire(session, company, case_id=case_id, trigger=trigger, actor=company.actor(outsider),
                   payload=payload, now=clock.now())


def test_only_the_head_of_security_may_refuse_a_customer(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    with sessions.begin() as session:
        case_id = _open(session, company, clock, "security_check", WALKS["security_check"][0])
    with pytest.raises(NotPermitted), sessions.begin() as session:
        cases.fire(session, company, case_id=case_id, trigger="refuse", actor=company.actor("tarasov"),
                   payload={"findings": "x"}, now=clock.now())
    with sessions.begin() as session:
        moved = cases.fire(session, company, case_id=case_id, trigger="refuse", actor=company.actor("grigoriev"),
                           payload={"findings": "связи с однодневками"}, now=clock.now())
        assert moved.state == "refused"


def test_a_blocked_deal_shortens_the_security_check(company: Company) -> None:
    check = company.case_type("security_check").states["check"]
    assert check.target_for({"deal_blocked": True}) == 240
    assert check.target_for({}) == 960


def test_a_missed_step_is_breached_against_its_department_with_the_types_chain(
    sessions: sessionmaker[Session], company: Company, clock: SimulatedClock
) -> None:
    """Delivery terms: logistics has 4 business hours for the new date, then its head hears after
    one more hour, and the owner is reminded every hour twice."""
    with sessions.begin() as session:
        case_id = _open(session, company, clock, "delivery_terms_change", WALKS["delivery_terms_change"][0])
    with sessions() as session:
        levels = sorted(
            t.level for t in session.scalars(select(Timer).where(Timer.case_id == case_id, Timer.kind == "escalation"))
        )
    assert levels == [1, 2, 3, 4, 5]  # head +1h, owner +1h and +2h reminders, head manager +4h, director +8h
    clock.advance(timedelta(days=1))
    sweep(sessions, company, now=clock.now(), owner="test")
    with sessions() as session:
        [breach] = session.scalars(select(Breach).where(Breach.case_id == case_id, Breach.kind == "step")).all()
        assert (breach.department, breach.state) == ("logistics", "assessment")


def test_the_regulation_describes_every_new_type_in_every_locale(company: Company) -> None:
    for locale in ("ru", "en", "pl"):
        md = render_regulation(company, locale)["md"]
        for name in NEW_TYPES:
            assert f"(`{name}`)" in md, (locale, name)
    en = render_regulation(company, "en")["md"]
    assert "Viktor Grigoriev" in en  # the security service's head holds the refusal
    assert "Checking the customer" in en and "Welcome call" in en

"""Case-type definitions: each built-in type's triggers per state, structural checks, and
properties of every machine (random trigger sequences stay inside the definition)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from state_machines.builtin import BUILTIN_TYPES
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef
from state_machines.values import parse_business_minutes

EXPECTED_TRIGGERS = {
    "return": {
        "inspection": ["approve", "reject", "request_info", "withdraw"],
        "awaiting_customer": ["info_received", "withdraw"],
        "collection": ["collected"],
        "refund": ["refunded"],
        "closed": [],
        "rejected": [],
        "withdrawn": [],
    },
    "replacement": {
        "diagnosis": ["confirm_defect", "decline"],
        "picking": ["out_of_stock", "picked"],
        "awaiting_supply": ["supplied"],
        "delivery": ["delivered"],
        "confirmation": ["confirmed"],
        "done": [],
        "declined": [],
    },
    "rush_delivery": {
        "slot_confirmation": ["confirm_slot", "decline"],
        "picking": ["picked"],
        "delivery": ["delivered"],
        "confirmation": ["confirmed"],
        "delivered": [],
        "declined": [],
    },
    "reservation": {
        "approval": ["approve", "cancel", "reject"],
        "reserving": ["cancel", "insufficient_stock", "reserved"],
        "held": ["cancel", "convert", "convert_without_prepayment", "expire"],
        "prepayment_check": ["prepayment_confirmed"],
        "converted": [],
        "released": [],
        "cancelled": [],
        "rejected": [],
    },
    "lead_dispute": {
        "review": ["accept", "reject", "withdraw"],
        "arbitration": ["rule_for_marketing", "rule_for_sales", "withdraw"],
        "accepted": [],
        "kept": [],
        "withdrawn": [],
    },
    "duty": {"due": ["deliver", "waive"], "delivered": [], "waived": []},
    "picking_error": {
        "check": ["confirm_error", "no_error"],
        "shipping": ["shipped"],
        "confirmation": ["confirmed", "still_wrong"],
        "resolved": [],
        "rejected": [],
    },
    "closing_documents": {
        "preparing": ["prepared", "refuse", "request_details", "withdraw"],
        "awaiting_details": ["details_received", "withdraw"],
        "signing": ["refuse", "return_for_fix", "signed"],
        "issued": [],
        "refused": [],
        "withdrawn": [],
    },
    "delivery_terms_change": {
        "assessment": ["no_delay", "propose"],
        "customer_agreement": ["agreed", "customer_cancels"],
        "rebooking": ["rebooked"],
        "changed": [],
        "on_time": [],
        "cancelled": [],
    },
    "product_demand": {
        "evaluation": ["evaluated", "not_available"],
        "decision": ["approve", "decline"],
        "listed": [],
        "declined": [],
    },
    "stock_discrepancy": {
        "recount": ["confirm", "no_discrepancy"],
        "correction": ["corrected"],
        "corrected": [],
        "matches": [],
    },
    "security_check": {
        "check": ["clear", "refuse", "request_documents", "restrict"],
        "awaiting_documents": ["documents_received"],
        "cleared": [],
        "prepayment_only": [],
        "refused": [],
    },
    "customer_handover": {
        "acceptance": ["accept", "return_card"],
        "card_completion": ["resubmit"],
        "welcome_call": ["contacted"],
        "handed_over": [],
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TRIGGERS))
def test_it_allows_exactly_the_documented_triggers_in_each_state(name: str) -> None:
    definition = BUILTIN_TYPES[name]
    machine = machine_for(definition)
    assert set(definition.states) == set(EXPECTED_TRIGGERS[name])
    for state, triggers in EXPECTED_TRIGGERS[name].items():
        assert machine.triggers(state) == triggers, state


def test_it_ships_the_built_in_types_with_both_departments() -> None:
    assert set(BUILTIN_TYPES) == set(EXPECTED_TRIGGERS)
    for definition in BUILTIN_TYPES.values():
        assert definition.requester == "sales"
        assert definition.performer != definition.requester


def test_it_collects_urgently_when_the_customer_is_unreliable() -> None:
    collection = BUILTIN_TYPES["return"].states["collection"]
    assert collection.target_for({"customer_unreliable": True}) == 240
    assert collection.target_for({"customer_unreliable": False}) == 960
    assert collection.target_for({}) == 960


def test_it_releases_a_held_reservation_automatically() -> None:
    held = BUILTIN_TYPES["reservation"].states["held"]
    assert held.auto is not None and held.auto.trigger == "expire"
    assert machine_for(BUILTIN_TYPES["reservation"]).next_state("expire", "held") == "released"


def test_it_draws_a_mermaid_diagram_with_owners_and_targets() -> None:
    source = machine_for(BUILTIN_TYPES["return"]).mermaid("en")
    assert source.splitlines()[3] == "stateDiagram-v2"
    assert 'state "Goods inspection · warehouse/storekeeper · 8h" as inspection' in source
    assert "inspection --> collection: approve" in source
    assert "[*] --> inspection" in source
    assert "closed --> [*]" in source


def _minimal(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "t",
        "label": "T",
        "requester": "sales",
        "performer": "warehouse",
        "initial": "a",
        "states": {
            "a": {"label": "A", "department": "warehouse", "target": "1h"},
            "done": {"label": "Done", "terminal": True},
        },
        "transitions": [{"trigger": "finish", "source": "a", "dest": "done", "allowed": ["warehouse"]}],
    }
    body.update(overrides)
    return body


def test_a_minimal_definition_is_valid() -> None:
    assert CaseTypeDef.model_validate(_minimal()).states["a"].target == 60


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"initial": "zzz"}, "initial state 'zzz' is not among the states"),
        (
            {"transitions": [{"trigger": "finish", "source": "a", "dest": "nowhere", "allowed": ["warehouse"]}]},
            "destination 'nowhere' is not a state",
        ),
        (
            {
                "transitions": [
                    {"trigger": "finish", "source": "a", "dest": "done", "allowed": ["warehouse"]},
                    {"trigger": "finish", "source": "a", "dest": "a", "allowed": ["warehouse"]},
                ]
            },
            "trigger 'finish' from 'a' is defined twice",
        ),
        (
            {
                "states": {
                    "a": {"label": "A", "department": "warehouse"},
                    "b": {"label": "B", "department": "sales"},
                    "done": {"label": "D", "terminal": True},
                }
            },
            "states not reachable from 'a': ['b']",
        ),
        (
            {
                "states": {"a": {"label": "A", "department": "warehouse"}, "done": {"label": "D", "terminal": True}},
                "transitions": [{"trigger": "loop", "source": "a", "dest": "a", "allowed": ["warehouse"]}],
            },
            "states not reachable from 'a': ['done']",
        ),
        (
            {"states": {"a": {"label": "A"}, "done": {"label": "D", "terminal": True}}},
            "a non-terminal state needs an owning department",
        ),
        (
            {
                "states": {
                    "a": {"label": "A", "department": "x", "paused": True, "target": "1h"},
                    "done": {"label": "D", "terminal": True},
                }
            },
            "a paused state cannot have an SLA target",
        ),
        (
            {
                "states": {
                    "a": {"label": "A", "department": "x", "target": "often"},
                    "done": {"label": "D", "terminal": True},
                }
            },
            "'often' is not a duration",
        ),
        (
            {"transitions": [{"trigger": "finish", "source": "a", "dest": "done", "allowed": ["Ware house"]}]},
            "is not 'department', 'department/role' or 'system'",
        ),
        (
            {
                "states": {
                    "a": {"label": "A", "department": "warehouse", "auto": {"after": "1h", "trigger": "finish"}},
                    "done": {"label": "D", "terminal": True},
                }
            },
            "must leave 'a' and list 'system' in allowed",
        ),
    ],
)
def test_it_rejects_a_broken_definition_with_a_specific_message(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        CaseTypeDef.model_validate(_minimal(**overrides))
    assert message in str(excinfo.value)


@pytest.mark.parametrize(("text", "minutes"), [("4h", 240), ("90m", 90), ("1h30m", 90), (45, 45), ("0.5h", 30)])
def test_it_parses_business_durations(text: object, minutes: float) -> None:
    assert parse_business_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "2d", "h", "-1h", True, None])
def test_it_rejects_durations_it_cannot_read(text: object) -> None:
    with pytest.raises(ValueError):
        parse_business_minutes(text)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(BUILTIN_TYPES)), data=st.data())
def test_random_trigger_sequences_stay_within_the_definition(name: str, data: st.DataObject) -> None:
    """From any reachable state, every trigger either is refused (state unchanged) or leads to a
    defined state; terminal states refuse everything; some terminal state stays reachable."""
    definition = BUILTIN_TYPES[name]
    machine = machine_for(definition)
    all_triggers = sorted({t.trigger for t in definition.transitions} | {"nonsense"})
    state = definition.initial
    for trigger in data.draw(st.lists(st.sampled_from(all_triggers), max_size=30)):
        nxt = machine.next_state(trigger, state)
        if trigger not in machine.triggers(state):
            assert nxt is None
            continue
        assert nxt in definition.states
        state = nxt
    if definition.states[state].terminal:
        assert machine.triggers(state) == []
    else:
        frontier, seen = [state], {state}
        while frontier:
            current = frontier.pop()
            for trigger in machine.triggers(current):
                target = machine.next_state(trigger, current)
                assert target is not None
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert any(definition.states[s].terminal for s in seen)


@pytest.mark.parametrize("name", sorted(BUILTIN_TYPES))
def test_every_builtin_trigger_and_required_field_has_a_russian_english_and_polish_label(name: str) -> None:
    """Issue #11 point 7: texts in every language name actions and fields by labels, never ids."""
    definition = BUILTIN_TYPES[name]
    for transition in definition.transitions:
        label = transition.label
        assert isinstance(label, dict) and {"ru", "en", "pl"} <= set(label), (name, transition.trigger)
        assert all(label[locale].strip() for locale in ("ru", "en", "pl")), (name, transition.trigger)
        assert definition.trigger_label(transition.trigger, "ru") == label["ru"]
    required = [*definition.open_requires, *(field for t in definition.transitions for field in t.requires)]
    for field in required:
        spec = definition.fields.get(field)
        assert spec is not None and isinstance(spec.label, dict), (name, field)
        assert all(spec.label.get(locale, "").strip() for locale in ("ru", "en", "pl")), (name, field)
        assert definition.field_label(field, "pl") == spec.label["pl"]


def test_the_label_helpers_fall_back_to_the_id() -> None:
    definition = BUILTIN_TYPES["return"]
    assert definition.trigger_label("open", "ru") == "open"
    assert definition.field_label("not_declared", "ru") == "not_declared"
    assert definition.trigger_label("approve", "ru") == "Одобрить"

"""Mapping rules: which normalised CRM events open a case or fire a trigger, with which data.

Every rule that matches an event applies, in the order written; an event no rule matches is
kept in the inbox as ``unmatched``, never dropped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crm.config import RuleConfig
from crm.events import CrmEvent

OPEN, FIRE = "open", "fire"
_MISSING = object()


@dataclass(frozen=True)
class PlannedAction:
    """What one rule wants done for one event."""

    rule: RuleConfig
    event: CrmEvent
    action: str
    case_type: str
    trigger: str | None
    data: dict[str, Any]

    @property
    def external_key(self) -> str:
        """The case's link to the CRM entity: one case of a type per CRM entity."""
        return f"{self.event.entity_key}:{self.case_type}"


def plan(rules: Iterable[RuleConfig], event: CrmEvent) -> list[PlannedAction]:
    return [
        PlannedAction(
            rule=rule, event=event, action=OPEN if rule.open else FIRE, case_type=rule.target_type,
            trigger=rule.fire, data=mapped_data(rule, event),
        )
        for rule in rules
        if matches(rule, event)
    ]


def matches(rule: RuleConfig, event: CrmEvent) -> bool:
    return (
        rule.source == event.source
        and _is(rule.entity, event.entity_kind)
        and _is(rule.event, event.event_type)
        and _is(rule.stage, event.new_stage)
        and _is(rule.from_stage, event.old_stage)
        and _is(rule.pipeline, event.pipeline)
        and all(_is(expected, lookup(event, field)) for field, expected in rule.when.items())
    )


def mapped_data(rule: RuleConfig, event: CrmEvent) -> dict[str, Any]:
    """Case fields from CRM fields (absent CRM fields are left out, so required ones are reported)."""
    data: dict[str, Any] = dict(rule.values)
    for target, field in rule.data.items():
        value = lookup(event, field)
        if value is not _MISSING and value is not None:
            data[target] = value
    return data


def lookup(event: CrmEvent, field: str) -> Any:
    """A CRM field by name (``a.b`` descends into objects) or an event attribute (``$stage``)."""
    attributes = {
        "$entity_id": event.entity_id, "$entity": event.entity_kind, "$stage": event.new_stage,
        "$old_stage": event.old_stage, "$pipeline": event.pipeline, "$event_id": event.event_id,
        "$event": event.event_type, "$source": event.source,
    }
    if field in attributes:
        return attributes[field]
    if field in event.fields:
        return event.fields[field]
    node: Any = event.fields
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _is(expected: Any, actual: Any) -> bool:
    """CRMs send ids as text or numbers: compare as text; a list means any of its values."""
    if expected is None:
        return True
    if actual is _MISSING or actual is None:
        return False
    options = expected if isinstance(expected, list) else [expected]
    return any(_text(option) == _text(actual) for option in options)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""Forms generated from a case type: the fields a trigger requires, typed by the case type's
``fields`` (text, number, date, choice, link; undeclared fields are text), and their server-side
check. Messages are translation keys with the field's label, so a person reads "Waybill: required",
not a traceback or a field code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from state_machines.parts import FieldDef, FieldKind
from state_machines.schema import CaseTypeDef

MAX_TEXT = 4000
"""Characters in one text field: a note, not a document (attach those)."""


@dataclass(frozen=True)
class FormField:
    name: str
    kind: FieldKind
    label: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    key: str
    """A translation key: field_required, field_number, field_date, field_choice, field_link, field_too_long."""
    field: str
    """The field's label."""


def form_fields(definition: CaseTypeDef, names: list[str], locale: str) -> list[FormField]:
    """The fields ``names`` as the form shows them, in that order."""
    found = []
    for name in names:
        spec = definition.fields.get(name, FieldDef())
        label = definition.field_label(name, locale) if spec.label is not None else name.replace("_", " ").capitalize()
        found.append(FormField(name=name, kind=spec.kind, label=label, choices=tuple(spec.choices)))
    return found


def _value(field: FormField, raw: str) -> tuple[Any, str | None]:
    """The typed value of one filled-in field, or the key of what is wrong with it."""
    if len(raw) > MAX_TEXT:
        return None, "field_too_long"
    if field.kind is FieldKind.NUMBER:
        try:
            number = float(raw.replace(",", ".").replace(" ", ""))
        except ValueError:
            return None, "field_number"
        if number != number or number in (float("inf"), float("-inf")):
            return None, "field_number"
        return int(number) if number.is_integer() else number, None
    if field.kind is FieldKind.DATE:
        try:
            return date.fromisoformat(raw).isoformat(), None
        except ValueError:
            return None, "field_date"
    if field.kind is FieldKind.CHOICE:
        return (raw, None) if raw in field.choices else (None, "field_choice")
    if field.kind is FieldKind.LINK:
        parts = urlsplit(raw)
        linked = parts.scheme in ("http", "https") and parts.netloc and " " not in raw
        return (raw, None) if linked else (None, "field_link")
    return raw, None


def validate(fields: list[FormField], submitted: Mapping[str, str]) -> tuple[dict[str, Any], list[Problem]]:
    """The payload of a submitted form, and every problem with it (all at once, not the first)."""
    payload: dict[str, Any] = {}
    problems: list[Problem] = []
    for field in fields:
        raw = (submitted.get(field.name) or "").strip()
        if not raw:
            problems.append(Problem("field_required", field.label))
            continue
        value, wrong = _value(field, raw)
        if wrong is not None:
            problems.append(Problem(wrong, field.label))
        else:
            payload[field.name] = value
    return payload, problems

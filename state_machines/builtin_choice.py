"""Which built-in case types a company uses, and its own targets and owners for them.

A company lists the built-in types it uses under ``builtin_case_types:`` (absent: all of them).
Each may be adapted without copying it whole: ``departments:`` maps the built-in's department
codes to the company's (a company without ``logistics`` hands those steps to ``warehouse``),
``target:``/``label:``/``escalation:`` replace the type's, and ``states:`` replaces a state's
``target``, ``warn_at``, ``department``, ``role`` or ``escalation``. Only the types in use are
checked against the org chart.

```yaml
builtin_case_types:
  return:
    departments: {logistics: warehouse, quality: warehouse}
    target: 24h
    states:
      inspection: {target: 4h}
  rush_delivery: {}
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from state_machines.builtin import BUILTIN_TYPES
from state_machines.parts import Escalation
from state_machines.schema import CaseTypeDef
from state_machines.values import BusinessMinutes, Label

ALWAYS = frozenset({"duty"})
"""Built-ins every company has: ``duty`` is a template specialised per entry of ``duties:``
(those entries are checked against the org chart on their own)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StateOverride(_Strict):
    department: str | None = None
    role: str | None = None
    target: BusinessMinutes | None = None
    warn_at: float | None = None
    escalation: Escalation | None = None


class BuiltinOverride(_Strict):
    departments: dict[str, str] = {}
    """Built-in department code -> this company's department code."""
    label: Label | None = None
    target: BusinessMinutes | None = None
    escalation: Escalation | None = None
    states: dict[str, StateOverride] = {}


BuiltinChoice = list[str] | dict[str, BuiltinOverride | None] | None
"""``None``: every built-in type as shipped; a list: these, as shipped; a mapping: these, adapted."""


def chosen_builtins(choice: BuiltinChoice) -> tuple[dict[str, CaseTypeDef], list[str]]:
    """The built-in types in use (adapted), and the problems found as ``path: message`` lines."""
    if choice is None:
        return dict(BUILTIN_TYPES), []
    entries = {name: None for name in choice} if isinstance(choice, list) else dict(choice)
    types = {name: BUILTIN_TYPES[name] for name in ALWAYS}
    problems: list[str] = []
    for name, override in entries.items():
        where = f"builtin_case_types.{name}"
        if name not in BUILTIN_TYPES:
            known = ", ".join(sorted(set(BUILTIN_TYPES) - ALWAYS))
            problems.append(f"{where}: not a built-in case type; built-in types: {known}")
            continue
        if override is None:
            types[name] = BUILTIN_TYPES[name]
            continue
        adapted, found = _adapt(BUILTIN_TYPES[name], override, where)
        problems += found
        if adapted is not None:
            types[name] = adapted
    return types, problems


def _adapt(base: CaseTypeDef, override: BuiltinOverride, where: str) -> tuple[CaseTypeDef | None, list[str]]:
    raw: dict[str, Any] = base.model_dump(mode="json", exclude_unset=True)
    problems = [
        f"{where}.departments.{code}: the built-in type names no department {code!r}; "
        f"it names: {', '.join(sorted(base.departments()))}"
        for code in override.departments
        if code not in base.departments()
    ]
    _rename_departments(raw, override.departments)
    for key in ("label", "target", "escalation"):
        value = getattr(override, key)
        if value is not None:
            raw[key] = value.model_dump(mode="json", exclude_unset=True) if isinstance(value, BaseModel) else value
    for state_name, changes in override.states.items():
        if state_name not in raw["states"]:
            problems.append(f"{where}.states.{state_name}: no such state; states: {', '.join(raw['states'])}")
            continue
        raw["states"][state_name].update(changes.model_dump(mode="json", exclude_none=True))
    if problems:
        return None, problems
    from pydantic import ValidationError

    try:
        return CaseTypeDef.model_validate(raw), []
    except ValidationError as exc:
        return None, [f"{where}: {error['msg']}" for error in exc.errors()]


def _rename_departments(raw: dict[str, Any], renames: dict[str, str]) -> None:
    if not renames:
        return

    def rename(rule: str) -> str:
        dept, slash, role = rule.partition("/")
        return renames.get(dept, dept) + slash + role

    for key in ("requester", "performer"):
        raw[key] = renames.get(raw[key], raw[key])
    raw["open_allowed"] = [rename(rule) for rule in raw.get("open_allowed", [])]
    for state in raw["states"].values():
        if state.get("department"):
            state["department"] = renames.get(state["department"], state["department"])
    for transition in raw["transitions"]:
        transition["allowed"] = list(dict.fromkeys(rename(rule) for rule in transition["allowed"]))

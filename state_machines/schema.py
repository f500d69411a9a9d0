"""The case-type schema: one definition format for built-in types and company YAML.

A case type is pure data. Structural rules (every state reachable, a terminal state reachable
from every state, one destination per trigger and source) are checked here, so a broken
definition fails when the configuration is loaded, never in the middle of a case.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from core.errors import ConfigError
from state_machines.parts import (
    Escalation,
    EscalationLevel,
    FieldDef,
    OutcomeDef,
    PriorityRule,
    StateDef,
    TermDef,
    TransitionDef,
)
from state_machines.values import IDENT, BusinessMinutes, Identifier, Label, Strict, label_text


class CaseTypeDef(Strict):
    """A whole case type. ``states`` keeps the YAML order, which is also the diagram order."""

    name: Identifier
    label: Label
    description: Label = ""
    definitions: list[TermDef] = []
    """The terms this type relies on (shown in the regulation), e.g. what a "discrepancy" is."""
    requester: str
    """The department that asks (it is a participant from the start)."""
    performer: str
    """The department that mainly does the work (a participant from the start)."""
    initial: str
    states: dict[str, StateDef]
    transitions: list[TransitionDef] = Field(min_length=1)
    open_requires: list[Identifier] = []
    """Case data fields that must be present when the case is opened."""
    open_allowed: list[str] = []
    """Who may open the case; empty means members of the requesting department."""
    target: BusinessMinutes | None = None
    """Whole-case target, in the requesting department's business time."""
    escalation: Escalation = Escalation()
    """The default escalation chain of every timed step (a state may have its own)."""
    fields: dict[str, FieldDef] = Field(default_factory=dict, exclude=True)
    """How forms ask for the data fields (kind, label, choices). Presentation only: excluded from
    the stored definition and its fingerprint, so declaring it does not make a new version."""

    priority: list[PriorityRule] = []
    """The priority and customer-tier table: the smallest factor of the rules the case data match
    applies to each step target and to the whole-case target (no match: the targets as written)."""
    promised_by: Identifier | None = None
    """A data field with the instant promised to the customer (rush delivery's ``deliver_by``): the
    whole-case deadline is the earlier of its target and that instant."""

    outcomes: dict[Identifier, OutcomeDef] = Field(default_factory=dict, exclude=True)
    """The outcome metrics reports count (metric name -> the states, and triggers, that make it).
    Reporting only: excluded from the stored definition and its fingerprint, like ``fields``."""

    def outcome(self, metric: str) -> OutcomeDef:
        """The declaration of ``metric``; a report asking for one the type does not declare is a
        configuration error, never a silent zero."""
        try:
            return self.outcomes[metric]
        except KeyError:
            known = ", ".join(sorted(self.outcomes)) or "none"
            raise ConfigError(
                f"case type {self.name!r} declares no outcome {metric!r} (outcomes: {known})"
            ) from None

    def factor_for(self, data: dict[str, Any]) -> float:
        return min((rule.factor for rule in self.priority if rule.matches(data)), default=1.0)

    def step_target(self, state: str, data: dict[str, Any]) -> float | None:
        """The target of a step of ``state`` for a case with ``data`` (target rules, then priority)."""
        target = self.states[state].target_for(data)
        return None if target is None else target * self.factor_for(data)

    def case_target(self, data: dict[str, Any]) -> float | None:
        return None if self.target is None else self.target * self.factor_for(data)

    def trigger_label(self, trigger: str, locale: str) -> str:
        """How people read ``trigger`` in ``locale``: its label, else its id (an engine trigger such
        as ``open`` or one a company type left unlabelled)."""
        for transition in self.transitions:
            if transition.trigger == trigger and transition.label is not None:
                return label_text(transition.label, locale)
        return trigger

    def field_label(self, field: str, locale: str) -> str:
        """How people read the data field ``field`` in ``locale``: its declared label, else its id."""
        spec = self.fields.get(field)
        return label_text(spec.label, locale) if spec is not None and spec.label is not None else field

    def escalation_of(self, state: str) -> list[EscalationLevel]:
        """The levels that apply to ``state`` (level N is ``chain[N - 1]``)."""
        return (self.states[state].escalation or self.escalation).chain()

    @cached_property
    def fingerprint(self) -> str:
        """A short stable hash of the definition (kept on this frozen object): a case records the
        version it was opened under, and equal definitions share one machine."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; one with ``update`` is another definition, so it does not keep the fingerprint."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            copy.__dict__.pop("fingerprint", None)
        return copy

    @field_validator("states")
    @classmethod
    def _state_names(cls, value: dict[str, StateDef]) -> dict[str, StateDef]:
        for name in value:
            if not re.match(IDENT, name):
                raise ValueError(f"state name {name!r} must be lower_snake_case")
        if not value:
            raise ValueError("a case type needs at least one state")
        return value

    @model_validator(mode="after")
    def _structure(self) -> CaseTypeDef:
        if self.initial not in self.states:
            raise ValueError(f"initial state {self.initial!r} is not among the states {sorted(self.states)}")
        if self.states[self.initial].terminal:
            raise ValueError(f"initial state {self.initial!r} cannot be terminal")
        outgoing = self._check_transitions()
        self._check_auto_transitions()
        self._check_dependencies(outgoing)
        self._check_reachability(outgoing)
        self._check_outcomes()
        return self

    def _check_transitions(self) -> dict[str, set[str]]:
        """Every source and destination exists, nothing leaves a terminal state, and a trigger
        has one destination per source. Returns the state graph."""
        seen: dict[tuple[str, str], str] = {}
        outgoing: dict[str, set[str]] = {name: set() for name in self.states}
        for index, transition in enumerate(self.transitions):
            where = f"transitions[{index}] ({transition.trigger})"
            if transition.dest not in self.states:
                raise ValueError(f"{where}: destination {transition.dest!r} is not a state")
            for source in transition.source:
                if source not in self.states:
                    raise ValueError(f"{where}: source {source!r} is not a state")
                if self.states[source].terminal:
                    raise ValueError(f"{where}: source {source!r} is terminal; nothing leaves it")
                if (transition.trigger, source) in seen:
                    raise ValueError(
                        f"{where}: trigger {transition.trigger!r} from {source!r} is defined twice "
                        f"(also to {seen[(transition.trigger, source)]!r})"
                    )
                seen[(transition.trigger, source)] = transition.dest
                outgoing[source].add(transition.dest)
        return outgoing

    def _check_auto_transitions(self) -> None:
        for name, state in self.states.items():
            if state.auto is None:
                continue
            rules = [t for t in self.transitions if t.trigger == state.auto.trigger and name in t.source]
            if not rules or "system" not in rules[0].allowed:
                raise ValueError(
                    f"states.{name}.auto: trigger {state.auto.trigger!r} must leave {name!r} "
                    "and list 'system' in allowed"
                )

    def _check_dependencies(self, outgoing: dict[str, set[str]]) -> None:
        for name, state in self.states.items():
            served = state.on_behalf_of
            if served is None:
                continue
            where = f"states.{name}.on_behalf_of"
            if served not in self.states or served == name:
                raise ValueError(f"{where}: {served!r} must be another state")
            if self.states[served].terminal or self.states[served].paused or state.paused or state.terminal:
                raise ValueError(f"{where}: a dependency links two timed, non-terminal states")
            if name not in outgoing[served] or served not in outgoing[name]:
                raise ValueError(f"{where}: needs transitions {served!r} -> {name!r} and back")

    def _check_reachability(self, outgoing: dict[str, set[str]]) -> None:
        """Every state is reachable from the initial one, and some terminal state from every state."""
        reachable = _closure({self.initial}, outgoing)
        unreachable = [name for name in self.states if name not in reachable]
        if unreachable:
            raise ValueError(f"states not reachable from {self.initial!r}: {unreachable}")
        terminals = {name for name, state in self.states.items() if state.terminal}
        if not terminals:
            raise ValueError("a case type needs at least one terminal state")
        incoming: dict[str, set[str]] = {name: set() for name in self.states}
        for source, dests in outgoing.items():
            for dest in dests:
                incoming[dest].add(source)
        can_finish = _closure(terminals, incoming)
        stuck = [name for name in self.states if name not in can_finish]
        if stuck:
            raise ValueError(f"no terminal state can be reached from: {stuck}")

    def _check_outcomes(self) -> None:
        """Every outcome names states and triggers of this type: a renamed state must not leave a
        report counting nothing."""
        triggers = {transition.trigger for transition in self.transitions}
        for metric, outcome in self.outcomes.items():
            for state in outcome.states:
                if state not in self.states:
                    raise ValueError(f"outcomes.{metric}.states: {state!r} is not a state of {self.name!r}")
            for trigger in outcome.triggers:
                if trigger not in triggers:
                    raise ValueError(f"outcomes.{metric}.triggers: {trigger!r} is not a trigger of {self.name!r}")

    def departments(self) -> set[str]:
        """Every department the definition names (for cross-checks against the company)."""
        names = {self.requester, self.performer}
        names |= {state.department for state in self.states.values() if state.department}
        for rule in [*self.open_allowed, *(r for t in self.transitions for r in t.allowed)]:
            if rule != "system":
                names.add(rule.split("/")[0])
        return names


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen

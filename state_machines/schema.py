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
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

IDENT = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENT)]

Label = str | dict[str, str]
"""A text in one language, or a mapping locale -> text (e.g. ``{ru: "Возврат", en: "Return"}``)."""


def label_text(label: Label, locale: str, fallback: str = "en") -> str:
    """Pick the text for ``locale``; fall back to ``fallback`` then to any text."""
    if isinstance(label, str):
        return label
    return label.get(locale) or label.get(fallback) or next(iter(label.values()), "")


_DURATION = re.compile(r"^\s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*$")


def parse_business_minutes(value: Any) -> float:
    """Parse ``"4h"``, ``"90m"``, ``"1h30m"`` or a number of minutes into business minutes."""
    if isinstance(value, bool):
        raise ValueError("a duration must be a number of minutes or a text like '4h', '90m', '1h30m'")
    if isinstance(value, int | float):
        minutes = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not value.strip() or not match or not (match["h"] or match["m"]):
            raise ValueError(f"{value!r} is not a duration; write e.g. '4h', '90m' or '1h30m'")
        minutes = float(match["h"] or 0) * 60 + float(match["m"] or 0)
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. '4h', '90m' or '1h30m'")
    if minutes < 0:
        raise ValueError("a duration cannot be negative")
    return minutes


BusinessMinutes = Annotated[float, BeforeValidator(parse_business_minutes)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetRule(_Strict):
    """A different target when the case data matches, e.g. urgent collection for an unreliable customer."""

    when: dict[str, Any] = Field(min_length=1)
    target: BusinessMinutes

    def matches(self, data: dict[str, Any]) -> bool:
        return all(data.get(key) == value for key, value in self.when.items())


class PriorityRule(_Strict):
    """A row of a case type's priority table: cases whose data match ``when`` (e.g. ``priority:
    high`` or ``customer_tier: key``) get every target multiplied by ``factor`` (0.5 = twice as fast)."""

    when: dict[str, Any] = Field(min_length=1)
    factor: float = Field(gt=0, le=1)

    def matches(self, data: dict[str, Any]) -> bool:
        return all(data.get(key) == value for key, value in self.when.items())


class EscalationLevel(_Strict):
    """What happens when a step is still not done ``after`` business time past its deadline
    (counted in the owning department's calendar): tell ``notify`` (audiences resolved from the
    org chart when the level fires) and/or hand the step to ``reassign_to`` (an event in the log)."""

    after: BusinessMinutes
    notify: list[str] = []
    """Audiences: owner, department_head, head_manager, director, person:<id>, department:<code>."""
    reassign_to: str | None = Field(None, pattern=r"^(head|person:[a-z][a-z0-9_]*)$")
    """``head`` (the owning department's head) or ``person:<id>`` (a member of that department)."""

    @model_validator(mode="after")
    def _does_something(self) -> EscalationLevel:
        if not self.notify and self.reassign_to is None:
            raise ValueError("an escalation level must notify someone or reassign the step")
        return self


DEFAULT_ESCALATION = (
    EscalationLevel(after=240, notify=["department_head"]),
    EscalationLevel(after=480, notify=["head_manager"]),
    EscalationLevel(after=960, notify=["director"]),
)
"""After the breach (which tells the owner and the head): the head again at +4 business hours,
the head's manager at +1 business day, the director at +2."""


def expand_escalation(
    levels: list[EscalationLevel], repeat_every: float | None, repeat_max: int
) -> list[EscalationLevel]:
    """The chain with reminders to the owner every ``repeat_every`` after the breach, at most
    ``repeat_max`` of them, merged in time order (each level has its own number for dedupe)."""
    reminders = (
        [EscalationLevel(after=repeat_every * k, notify=["owner"]) for k in range(1, repeat_max + 1)]
        if (repeat_every)
        else []
    )
    return sorted([*levels, *reminders], key=lambda level: level.after)


class Escalation(_Strict):
    levels: list[EscalationLevel] = list(DEFAULT_ESCALATION)
    repeat_every: BusinessMinutes | None = None
    """Remind the owner this often after the breach..."""
    repeat_max: int = Field(0, ge=0, le=20)
    """...at most this many times."""

    @model_validator(mode="after")
    def _in_order(self) -> Escalation:
        afters = [level.after for level in self.levels]
        if afters != sorted(afters) or len(set(afters)) != len(afters):
            raise ValueError("escalation levels must have increasing 'after' offsets")
        if self.repeat_max and not self.repeat_every:
            raise ValueError("repeat_max needs repeat_every")
        return self

    def chain(self) -> list[EscalationLevel]:
        return expand_escalation(self.levels, self.repeat_every, self.repeat_max)


class AutoTransition(_Strict):
    """A trigger the system fires by itself after a business-time delay in the state
    (e.g. a stock reservation released at the end of its hold period)."""

    after: BusinessMinutes
    trigger: Identifier


class StateDef(_Strict):
    """One step of a case: who owns it and how long they have (in their business time)."""

    label: Label
    department: str | None = None
    """Owning department code; ``None`` only for terminal states."""
    role: str | None = None
    """Role inside the owning department that holds the step (e.g. ``head``, ``storekeeper``)."""
    target: BusinessMinutes | None = None
    target_rules: list[TargetRule] = []
    warn_at: float = Field(0.75, gt=0, lt=1)
    """Fraction of the target after which the owner is warned."""
    paused: bool = False
    """The case waits on someone outside the company (e.g. the customer): no SLA clock runs."""
    terminal: bool = False
    auto: AutoTransition | None = None
    escalation: Escalation | None = None
    """This step's escalation chain; None takes the case type's."""
    hook: str | None = Field(None, pattern=r"^[\w.-]+/[\w.-]+$")
    """A Prefect deployment (``flow-name/deployment-name``) started once each time a case enters
    this state, with ``case_id`` and ``event_seq`` as parameters (e.g. to book a carrier)."""
    on_behalf_of: str | None = None
    """A dependency: this step serves the named state (e.g. purchasing supplies what the warehouse
    needs to pick). Entering it from that state pauses that state's clock instead of stopping it,
    and returning to it resumes the clock with the time it had left."""

    @model_validator(mode="after")
    def _owner_rules(self) -> StateDef:
        if self.terminal:
            if self.target is not None or self.target_rules:
                raise ValueError("a terminal state cannot have an SLA target")
        elif self.department is None:
            raise ValueError("a non-terminal state needs an owning department")
        if self.paused and (self.target is not None or self.target_rules):
            raise ValueError("a paused state cannot have an SLA target (its clock does not run)")
        return self

    def target_for(self, data: dict[str, Any]) -> float | None:
        """The target in business minutes for a case with this data, or None if untimed."""
        for rule in self.target_rules:
            if rule.matches(data):
                return rule.target
        return self.target


class TermDef(_Strict):
    """A term of the regulation and what it means, in each language: the company's coordination
    rules ask for three to five sentences per term, so nobody argues about what a word covers."""

    term: Label
    definition: Label


class TransitionDef(_Strict):
    """A trigger that moves a case, and who may fire it with what payload."""

    trigger: Identifier
    source: list[str]
    dest: str
    allowed: list[str] = Field(min_length=1)
    """Who may fire it: ``"dept"``, ``"dept/role"``, or ``"system"`` for automatic transitions."""
    requires: list[Identifier] = []
    """Payload fields the actor must supply (non-empty)."""
    label: Label | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("allowed")
    @classmethod
    def _actor_rules(cls, value: list[str]) -> list[str]:
        for rule in value:
            if not re.match(r"^(system|[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)?)$", rule):
                raise ValueError(f"{rule!r} is not 'department', 'department/role' or 'system'")
        return value


class FieldKind(StrEnum):
    """How a case-data field is entered in a form (the workplace) and checked on the server."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"
    LINK = "link"


class FieldDef(_Strict):
    """One case-data field a form asks for. Fields not declared are plain text."""

    kind: FieldKind = FieldKind.TEXT
    label: Label | None = None
    choices: list[str] = []
    """The allowed values of a ``choice`` field."""

    @model_validator(mode="after")
    def _choices(self) -> FieldDef:
        if (self.kind is FieldKind.CHOICE) != bool(self.choices):
            raise ValueError("a choice field needs its choices, and only a choice field has them")
        return self


class CaseTypeDef(_Strict):
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

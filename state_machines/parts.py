"""The parts of a case-type definition (`state_machines.schema.CaseTypeDef`): states and their
targets, escalation chains, transitions, form fields, terms and the outcome metrics reports count."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from state_machines.values import BusinessMinutes, Identifier, Label, Strict


class TargetRule(Strict):
    """A different target when the case data matches, e.g. urgent collection for an unreliable customer."""

    when: dict[str, Any] = Field(min_length=1)
    target: BusinessMinutes

    def matches(self, data: dict[str, Any]) -> bool:
        return all(data.get(key) == value for key, value in self.when.items())


class PriorityRule(Strict):
    """A row of a case type's priority table: cases whose data match ``when`` (e.g. ``priority:
    high`` or ``customer_tier: key``) get every target multiplied by ``factor`` (0.5 = twice as fast)."""

    when: dict[str, Any] = Field(min_length=1)
    factor: float = Field(gt=0, le=1)

    def matches(self, data: dict[str, Any]) -> bool:
        return all(data.get(key) == value for key, value in self.when.items())


class EscalationLevel(Strict):
    """What happens when a step is still not done ``after`` business time past its deadline
    (counted in the owning department's calendar): tell ``notify`` (audiences resolved from the
    org chart when the level fires) and/or hand the step to ``reassign_to`` (an event in the log)."""

    after: BusinessMinutes
    notify: list[str] = []
    """Audiences: owner, department_head, head_manager, director, person:<id>, department:<code>."""
    reassign_to: str | None = Field(None, pattern=r"^(head|person:[a-z][a-z0-9_]*)$")
    """``head`` (the owning department's head) or ``person:<id>`` (a member of that department)."""

    @property
    def reassign_person(self) -> str | None:
        """The person of ``reassign_to: person:<id>`` (None for ``head`` or no reassignment)."""
        if self.reassign_to is None or self.reassign_to == "head":
            return None
        return self.reassign_to.removeprefix("person:")

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


class Escalation(Strict):
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


class AutoTransition(Strict):
    """A trigger the system fires by itself after a business-time delay in the state
    (e.g. a stock reservation released at the end of its hold period)."""

    after: BusinessMinutes
    trigger: Identifier


class StateDef(Strict):
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


class TermDef(Strict):
    """A term of the regulation and what it means, in each language: the company's coordination
    rules ask for three to five sentences per term, so nobody argues about what a word covers."""

    term: Label
    definition: Label


class TransitionDef(Strict):
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


class FieldDef(Strict):
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


class OutcomeDef(Strict):
    """A figure reports count for a case type, declared by the type so that no report names its
    states: a case counts when it is in one of ``states`` and, with ``triggers``, its event log has
    one of them (the path it took, e.g. accepted by marketing or on arbitration)."""

    label: Label
    states: list[Identifier] = Field(min_length=1)
    triggers: list[Identifier] = []

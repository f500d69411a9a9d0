"""What a person may do on a case right now: the triggers of the current state they may fire,
take the step, assign it, acknowledge or snooze its escalation. The rules are the engine's
(``Actor.may`` on the transition's ``allowed``, the owning department's members for take, its
head for assign, the escalation chain for acknowledge); the engine checks them again when the
action is submitted, so callers (the case page's panel, the buttons of a Telegram message) only
use this to decide which actions to offer."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.clock_view import StepStatus
from org.chart import Actor, Company
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef

ESCALATING = (StepStatus.WARNING, StepStatus.BREACHED)
"""Step statuses in which acknowledge and snooze are offered."""


@dataclass(frozen=True)
class AllowedTrigger:
    trigger: str
    dest: str
    requires: tuple[str, ...]
    """The fields its form asks for (none: it can be fired with a press)."""


@dataclass(frozen=True)
class Allowed:
    triggers: list[AllowedTrigger] = field(default_factory=list)
    can_take: bool = False
    assignees: list[str] = field(default_factory=list)
    can_acknowledge: bool = False


def in_escalation_chain(company: Company, department: str, actor: Actor) -> bool:
    """The owning department, its head, the head's manager or the director (as ``cases.acknowledge``)."""
    head = company.head_of(department)
    chain = {head, company.manager_of(head), company.config.company.director}
    return actor.may([department]) or actor.person in chain


def allowed_actions(company: Company, definition: CaseTypeDef, *, state: str, owner_department: str | None,
                    owner_person: str | None, status: str, actor: Actor) -> Allowed:
    """Nothing for a closed case (no owning department) or an actor who is not a person."""
    if owner_department is None or actor.person is None:
        return Allowed()
    machine = machine_for(definition)
    triggers = []
    for trigger in machine.triggers(state):
        rule, dest = machine.rule(trigger, state), machine.next_state(trigger, state)
        if rule is None or dest is None or not actor.may(rule.allowed):
            continue
        triggers.append(AllowedTrigger(trigger, dest, tuple(rule.requires)))
    members = company.members(owner_department)
    heads = actor.may([f"{owner_department}/head"])
    return Allowed(
        triggers=triggers,
        can_take=actor.person in members and owner_person != actor.person,
        assignees=[person for person in members if person != owner_person] if heads else [],
        can_acknowledge=status in ESCALATING and in_escalation_chain(company, owner_department, actor),
    )

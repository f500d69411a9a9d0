"""What a signed-in person may do on a case right now, for the case page's action panel. The
rules are the engine's (``Actor.may`` on the transition's ``allowed``, the owning department's
members for assign, the escalation chain for acknowledge); the engine checks them again when the
action is submitted, so the panel only decides which buttons to show."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.workplace.forms import FormField, form_fields
from engine.clock_view import StepStatus
from org.chart import Actor, Company
from state_machines.machine import machine_for
from state_machines.schema import CaseTypeDef

ESCALATING = (StepStatus.WARNING, StepStatus.BREACHED)
"""Step statuses in which acknowledge and snooze are offered."""


@dataclass(frozen=True)
class TriggerForm:
    trigger: str
    dest: str
    fields: list[FormField]


@dataclass(frozen=True)
class Panel:
    case_id: int
    version: int
    triggers: list[TriggerForm] = field(default_factory=list)
    can_take: bool = False
    assignees: list[str] = field(default_factory=list)
    can_acknowledge: bool = False
    can_comment: bool = False
    """Any person who can read the case may comment (and @mention people)."""

    @property
    def empty(self) -> bool:
        return not (self.triggers or self.can_take or self.assignees or self.can_acknowledge)


def in_escalation_chain(company: Company, department: str, actor: Actor) -> bool:
    """The owning department, its head, the head's manager or the director (as ``cases.acknowledge``)."""
    head = company.head_of(department)
    chain = {head, company.manager_of(head), company.config.company.director}
    return actor.may([department]) or actor.person in chain


def action_panel(company: Company, definition: CaseTypeDef, *, case_id: int, case_type: str, state: str,
                 version: int, owner_department: str | None, owner_person: str | None, status: str,
                 actor: Actor, locale: str) -> Panel:
    """``definition`` is the version the case runs under; field kinds and labels come from the
    company's current one (presentation is not versioned)."""
    if owner_department is None or actor.person is None:
        return Panel(case_id, version, can_comment=actor.person is not None)
    machine = machine_for(definition)
    current = company.case_types.get(case_type, definition)
    triggers = []
    for trigger in machine.triggers(state):
        rule, dest = machine.rule(trigger, state), machine.next_state(trigger, state)
        if rule is None or dest is None or not actor.may(rule.allowed):
            continue
        triggers.append(TriggerForm(trigger, dest, form_fields(current, list(rule.requires), locale)))
    members = company.members(owner_department)
    heads = actor.may([f"{owner_department}/head"])
    return Panel(
        case_id,
        version,
        triggers=triggers,
        can_take=actor.person in members and owner_person != actor.person,
        assignees=[person for person in members if person != owner_person] if heads else [],
        can_acknowledge=status in ESCALATING and in_escalation_chain(company, owner_department, actor),
        can_comment=True,
    )

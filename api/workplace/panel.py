"""What a signed-in person may do on a case right now, for the case page's action panel: the
engine's ``engine.permitted.allowed_actions`` (also used for a Telegram message's buttons), with
the form of each trigger."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.workplace.forms import FormField, form_fields
from engine.permitted import allowed_actions
from org.chart import Actor, Company
from state_machines.schema import CaseTypeDef


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


def action_panel(company: Company, definition: CaseTypeDef, *, case_id: int, case_type: str, state: str,
                 version: int, owner_department: str | None, owner_person: str | None, status: str,
                 actor: Actor, locale: str) -> Panel:
    """``definition`` is the version the case runs under; field kinds and labels come from the
    company's current one (presentation is not versioned)."""
    if owner_department is None or actor.person is None:
        return Panel(case_id, version, can_comment=actor.person is not None)
    allowed = allowed_actions(company, definition, state=state, owner_department=owner_department,
                              owner_person=owner_person, status=status, actor=actor)
    current = company.case_types.get(case_type, definition)
    return Panel(
        case_id,
        version,
        triggers=[TriggerForm(t.trigger, t.dest, form_fields(current, list(t.requires), locale))
                  for t in allowed.triggers],
        can_take=allowed.can_take,
        assignees=allowed.assignees,
        can_acknowledge=allowed.can_acknowledge,
        can_comment=True,
    )

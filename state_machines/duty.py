"""Duty: one occurrence of a recurring information duty (e.g. accounting's list of yesterday's
customer payments, which sales needs by 10:00 every working day).

The department that depends on the information requests it; the owing department has the one
step ``due`` and meets it with ``deliver`` (with the fields the duty asks for: a link, figures);
the requester's head may ``waive`` an occurrence. Occurrences are opened by the scheduler
(``slaflow.duties``), never by hand, so only ``system`` may open one.

Owner, requester, deadline and payload differ per duty, so each duty's cases run under
`duty_definition` specialised for it (stored with the case in the definition registry like any
definition version); `DEFINITION` is the shape registered under the name ``duty``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from state_machines.schema import CaseTypeDef, Label

NAME = "duty"
DUE, DELIVERED, WAIVED = "due", "delivered", "waived"
DELIVER, WAIVE = "deliver", "waive"

TYPE_LABEL: dict[str, str] = {"ru": "Регулярная обязанность", "en": "Recurring duty", "pl": "Obowiązek cykliczny"}


def duty_definition(
    *,
    requester: str,
    performer: str,
    role: str | None = None,
    target: float | None = None,
    warn_at: float = 0.75,
    requires: Sequence[str] = (),
    label: Label | None = None,
) -> CaseTypeDef:
    """The duty case type for one duty: ``performer`` (``role``) owes the information to
    ``requester`` within ``target`` business minutes of the occurrence."""
    due: dict[str, Any] = {
        "label": {"ru": "Предоставить информацию", "en": "Information due", "pl": "Informacja do przekazania"},
        "department": performer,
        "role": role,
        "target": target,
        "warn_at": warn_at,
    }
    return CaseTypeDef.model_validate(
        {
            "name": NAME,
            "label": label if label is not None else TYPE_LABEL,
            "requester": requester,
            "performer": performer,
            "initial": DUE,
            "open_requires": ["duty", "occurrence"],
            "open_allowed": ["system"],
            "states": {
                DUE: due,
                DELIVERED: {"label": {"ru": "Предоставлено", "en": "Delivered", "pl": "Przekazano"}, "terminal": True},
                WAIVED: {"label": {"ru": "Отменено", "en": "Waived", "pl": "Odstąpiono"}, "terminal": True},
            },
            "transitions": [
                {
                    "trigger": DELIVER,
                    "source": DUE,
                    "dest": DELIVERED,
                    "allowed": [performer],
                    "requires": list(requires),
                    "label": {"ru": "Предоставить", "en": "Deliver", "pl": "Przekaż"},
                },
                {
                    "trigger": WAIVE,
                    "source": DUE,
                    "dest": WAIVED,
                    "allowed": [f"{requester}/head"],
                    "requires": ["reason"],
                    "label": {"ru": "Отменить", "en": "Waive", "pl": "Odstąp"},
                },
            ],
        }
    )


DEFINITION = duty_definition(requester="sales", performer="accounting")
"""The registered shape (its departments are those of the first example duty; real occurrences
carry their duty's own specialisation)."""

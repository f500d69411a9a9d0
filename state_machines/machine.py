"""One cached `transitions` machine per case-type definition: the single place that says
which triggers a state allows and where each leads.

The machine holds no model: a case's state lives in the database, and the engine asks the
machine what *would* happen, then persists the answer in one transaction (``transitions`` does
not roll back a state change when a callback raises, so we never let it mutate anything).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from transitions import Machine
from transitions.extensions.diagrams import GraphMachine

from state_machines.parts import TransitionDef
from state_machines.schema import CaseTypeDef
from state_machines.values import label_text


class CaseMachine:
    def __init__(self, definition: CaseTypeDef) -> None:
        self.definition = definition
        self.fingerprint = definition.fingerprint
        self._machine = Machine(
            model=None,
            states=list(definition.states),
            transitions=self._transition_specs(definition),
            initial=definition.initial,
            auto_transitions=False,
        )
        self._rules: dict[tuple[str, str], TransitionDef] = {
            (rule.trigger, source): rule for rule in definition.transitions for source in rule.source
        }

    @staticmethod
    def _transition_specs(definition: CaseTypeDef) -> list[dict[str, object]]:
        return [
            {"trigger": rule.trigger, "source": list(rule.source), "dest": rule.dest} for rule in definition.transitions
        ]

    def triggers(self, state: str) -> list[str]:
        """Triggers allowed from ``state`` (sorted, for stable error messages)."""
        return sorted(self._machine.get_triggers(state))

    def next_state(self, trigger: str, state: str) -> str | None:
        """Where ``trigger`` leads from ``state``, or None if it is not allowed there."""
        found = self._machine.get_transitions(trigger=trigger, source=state)
        return found[0].dest if found else None

    def rule(self, trigger: str, state: str) -> TransitionDef | None:
        """The definition (permissions, required payload) of ``trigger`` from ``state``."""
        return self._rules.get((trigger, state))

    def mermaid(self, locale: str = "en") -> str:
        """A Mermaid state diagram labelled with owners and targets, for README and regulation."""
        graph_machine = GraphMachine(
            model="self",
            states=list(self.definition.states),
            transitions=self._transition_specs(self.definition),
            initial=self.definition.initial,
            auto_transitions=False,
            graph_engine="mermaid",
            title=label_text(self.definition.label, locale),
        )
        source = str(graph_machine.get_combined_graph().draw(None))
        source = re.sub(r"^\s*(classDef|Class) .*\n", "", source, flags=re.MULTILINE)
        for name, state in self.definition.states.items():
            parts = [label_text(state.label, locale)]
            if state.department:
                parts.append(state.department + (f"/{state.role}" if state.role else ""))
            if state.target is not None:
                parts.append(_format_minutes(state.target))
            if state.paused:
                parts.append("paused")
            source = source.replace(f'state "{name}" as {name}', f'state "{" · ".join(parts)}" as {name}')
        if locale != "en":  # English diagrams (the README) name the API's trigger ids; others read labels
            source = re.sub(
                r"^(\s*\w+ --> \w+): (\w+)$",
                lambda m: f"{m[1]}: {self.definition.trigger_label(m[2], locale)}",
                source,
                flags=re.MULTILINE,
            )
        terminals = [n for n, s in self.definition.states.items() if s.terminal]
        lines = [line.rstrip() for line in source.rstrip().splitlines()]
        return "\n".join(line for line in lines if line) + "\n" + "".join(f"  {t} --> [*]\n" for t in terminals)


def diagrams_markdown(definitions: Iterable[CaseTypeDef], locale: str = "en") -> str:
    """One Mermaid block per case type, for the README and the regulation documents."""
    blocks = []
    for definition in definitions:
        requester, performer = definition.requester, definition.performer
        blocks.append(
            f"#### `{definition.name}` — {label_text(definition.label, locale)}\n\n"
            f"Requested by **{requester}**, performed by **{performer}**"
            + (
                f", whole case within **{_format_minutes(definition.target)}** business time"
                if definition.target
                else ""
            )
            + f".\n\n```mermaid\n{machine_for(definition).mermaid(locale)}```\n"
        )
    return "\n".join(blocks)


def _format_minutes(minutes: float) -> str:
    hours, rest = divmod(int(minutes), 60)
    return f"{hours}h{rest:02d}m" if rest else f"{hours}h"


_lock = threading.Lock()
_machines: dict[str, CaseMachine] = {}
"""By definition fingerprint (content, not object): a fingerprint names one definition."""


def machine_for(definition: CaseTypeDef) -> CaseMachine:
    """The cached machine for a definition. Equal definitions share one machine (keyed by the
    fingerprint, which the frozen definition computes once); a changed definition gets a new one
    while cases opened under the old one keep theirs."""
    machine = _machines.get(definition.fingerprint)
    if machine is None:
        with _lock:
            machine = _machines.get(definition.fingerprint)
            if machine is None:
                machine = _machines[definition.fingerprint] = CaseMachine(definition)
    return machine

"""The features' case-type hooks, given to the engine by the composition root (the engine
imports no feature): `register_case_type_hooks` runs whenever a company is composed."""

from __future__ import annotations

from duties.opening import DutyCaseHooks
from engine import case_hooks
from state_machines import duty as duty_type


def register_case_type_hooks() -> None:
    """Register every feature's hooks with the engine (idempotent: safe to call per company)."""
    case_hooks.register(duty_type.NAME, DutyCaseHooks())

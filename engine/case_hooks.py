"""The engine's plug-in point for features that specialise a case type.

A feature may need a say in what the engine does with its cases without the engine importing it
(the engine is below the features): ``duties`` checks a delivery's figures, and rebuilds the
definition a duty occurrence is replayed under. It implements `CaseTypeHooks`; the composition
root registers it for the case type (``runtime.wiring``, when it composes a company). A case type
without hooks is applied as its definition says.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from core.errors import SlaflowError
from org.chart import Company


class CaseTypeHooks(Protocol):
    def checked_payload(
        self, company: Company, data: Mapping[str, Any], trigger: str, payload: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """The payload ``trigger`` is applied with (``data``: the case's data so far); raise a
        `SlaflowError` to refuse the trigger."""
        ...

    def replay_company(self, changed: Company, data: Mapping[str, Any]) -> Company:
        """The company a stored case (``data``: its opening data) is replayed under when the
        configuration is ``changed``."""
        ...


_lock = threading.Lock()
_registered: dict[str, CaseTypeHooks] = {}


def register(case_type: str, hooks: CaseTypeHooks) -> None:
    """Give ``case_type`` its hooks. Registering the same hooks again changes nothing; other
    hooks for a type that has some are a mistake."""
    with _lock:
        known = _registered.setdefault(case_type, hooks)
    if known != hooks:
        raise SlaflowError(f"case type {case_type!r} already has hooks: {known!r}")


def checked_payload(
    company: Company, case_type: str, data: Mapping[str, Any], trigger: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    hooks = _registered.get(case_type)
    return payload if hooks is None else hooks.checked_payload(company, data, trigger, payload, now)


def replay_company(changed: Company, case_type: str, data: Mapping[str, Any]) -> Company:
    hooks = _registered.get(case_type)
    return changed if hooks is None else hooks.replay_company(changed, data)

"""Filter values are checked, not trusted: a typo (``--department logistcs``) is an error that
lists the known values, never an empty list that looks like "nothing there"."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import SlaflowError
from org.chart import Company


class UnknownFilterValue(SlaflowError):
    def __init__(self, name: str, value: str, known: Iterable[str]) -> None:
        super().__init__(f"{name}: unknown value {value!r}; known: {', '.join(sorted(known))}")
        self.name, self.value = name, value


def check_choice(name: str, value: str | None, known: Iterable[str]) -> None:
    choices = set(known)
    if value is not None and value not in choices:
        raise UnknownFilterValue(name, value, choices)


def check_case_filters(
    company: Company, *, case_type: str | None = None, department: str | None = None, state: str | None = None,
    names: tuple[str, str, str] = ("type", "department", "state"),
) -> None:
    """Each given filter must name a case type, department or state (of that type, if given)."""
    check_choice(names[0], case_type, company.case_types)
    check_choice(names[1], department, company.config.departments)
    types = [company.case_types[case_type]] if case_type else list(company.case_types.values())
    check_choice(names[2], state, {name for definition in types for name in definition.states})

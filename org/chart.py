"""The org chart: people, departments, roles, calendars and the company's case types, with the
lookups the engine and every feature need (who heads a department, whose manager, which calendar).

It knows no feature: notifications, CRM, duties and leads keep their own config sections, and
``runtime.company`` composes the whole file from the parts. A feature reads its section with
``Company.part`` through its own typed accessor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import cached_property
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import UnknownCaseType, UnknownPerson
from sla.calendar import BusinessCalendar
from sla.calendar_config import CalendarConfig
from state_machines.builtin_choice import BuiltinChoice
from state_machines.machine import CaseMachine, machine_for
from state_machines.parts import TermDef
from state_machines.schema import CaseTypeDef
from state_machines.values import IDENT, Label, label_text

PartT = TypeVar("PartT")
Locale = Literal["ru", "en", "pl"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonConfig(_Strict):
    name: Label
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    chat: dict[str, str] = {}
    """Chat handles by channel kind, e.g. ``{telegram: "123456", slack: "@anna"}``."""
    manager: str | None = None
    locale: Locale | None = None
    channels: list[str] = ["email"]
    """Preferred notification channels, in order."""
    title: Label = ""


class Membership(_Strict):
    person: str
    roles: list[str] = Field(min_length=1)


class DepartmentConfig(_Strict):
    name: Label
    head: str
    parent: str | None = None
    calendar: str
    members: list[Membership] = []


class CompanyInfo(_Strict):
    name: Label
    locale: Locale = "ru"
    director: str
    """The top of every escalation chain (e.g. the commercial director)."""


class OrgConfig(_Strict):
    """The company's own part of its file: org chart, calendars, case types, terms. Each feature
    adds its section in ``runtime.company.CompanyConfig``; this layer never names them."""

    company: CompanyInfo
    calendars: dict[str, CalendarConfig] = Field(min_length=1)
    people: dict[str, PersonConfig] = Field(min_length=1)
    departments: dict[str, DepartmentConfig] = Field(min_length=1)
    roles: dict[str, Label] = {}
    """How people read role codes (``storekeeper: {ru: Кладовщик, en: Storekeeper}``); a role
    without a label is shown by its code."""
    builtin_case_types: BuiltinChoice = None
    """The built-in case types this company uses, optionally adapted (absent: all of them)."""
    case_types: dict[str, dict[str, Any]] = {}
    """Company case types in the built-in schema; a name equal to a built-in replaces it."""
    definitions: list[TermDef] = []
    """The company's own terms (what a target lead is ...), shown in the regulation."""

    @model_validator(mode="after")
    def _references(self) -> OrgConfig:
        problems = [*self._people_problems(), *self._department_problems(), *self._parent_loops()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _people_problems(self) -> list[str]:
        problems = []
        if self.company.director not in self.people:
            problems.append(f"company.director: {self.company.director!r} is not in people")
        for key, person in self.people.items():
            if person.manager is not None and person.manager not in self.people:
                problems.append(f"people.{key}.manager: {person.manager!r} is not in people")
        return problems

    def _department_problems(self) -> list[str]:
        problems = []
        for key, dept in self.departments.items():
            if not _is_ident(key):
                problems.append(f"departments.{key}: a department code must be lower_snake_case")
            if dept.head not in self.people:
                problems.append(f"departments.{key}.head: {dept.head!r} is not in people")
            if dept.parent is not None and dept.parent not in self.departments:
                problems.append(f"departments.{key}.parent: {dept.parent!r} is not a department")
            if dept.calendar not in self.calendars:
                problems.append(f"departments.{key}.calendar: {dept.calendar!r} is not in calendars")
            problems += [
                f"departments.{key}.members[{index}].person: {member.person!r} is not in people"
                for index, member in enumerate(dept.members)
                if member.person not in self.people
            ]
        return problems

    def _parent_loops(self) -> list[str]:
        problems = []
        for key in self.departments:
            seen, cursor = {key}, self.departments[key].parent
            while cursor is not None and cursor in self.departments:
                if cursor in seen:
                    problems.append(f"departments.{key}.parent: the parent chain loops back to {key!r}")
                    break
                seen.add(cursor)
                cursor = self.departments[cursor].parent
        return problems


def _is_ident(value: str) -> bool:
    return re.match(IDENT, value) is not None


@dataclass(frozen=True)
class Actor:
    """Who fires a trigger: a person with their department memberships, an integration, or the system."""

    name: str
    memberships: frozenset[tuple[str, str]] = frozenset()
    """(department, role) pairs; a department head has the role ``head``."""
    person: str | None = None
    is_system: bool = False
    replaying: bool = False
    """Replays events that were accepted once (rebuild, what-if): permissions were checked then."""

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name, is_system=True)

    @classmethod
    def replay(cls, name: str) -> Actor:
        return cls(name=name, replaying=True)

    def may(self, rules: Iterable[str]) -> bool:
        if self.replaying:
            return True
        for rule in rules:
            if rule == "system":
                if self.is_system:
                    return True
                continue
            dept, _, role = rule.partition("/")
            if any(d == dept and (not role or r == role) for d, r in self.memberships):
                return True
        return False

    @property
    def departments(self) -> set[str]:
        return {dept for dept, _ in self.memberships}


@dataclass
class Company:
    """The loaded, cross-checked configuration with the lookups the engine needs."""

    config: OrgConfig
    """At run time the composed file (``runtime.company.CompanyConfig``, a subclass)."""
    source: str = "<memory>"
    case_types: dict[str, CaseTypeDef] = field(default_factory=dict)

    @cached_property
    def calendars(self) -> dict[str, BusinessCalendar]:
        return {name: BusinessCalendar(cal, name=name) for name, cal in self.config.calendars.items()}

    @property
    def locale(self) -> str:
        return self.config.company.locale

    @cached_property
    def zone(self) -> tzinfo:
        """The company's own time zone (people read times in it): the calendar of the department
        the director heads (the head office), else of the first department."""
        departments = self.config.departments
        home = next((code for code, dept in departments.items() if dept.head == self.config.company.director), None)
        return self.calendar_of(home or next(iter(departments))).tz

    def with_versions(
        self, *, case_types: dict[str, CaseTypeDef] | None = None, calendars: dict[str, BusinessCalendar] | None = None
    ) -> Company:
        """The same company with some case types or calendars replaced (replays and what-ifs)."""
        copy = Company(config=self.config, source=self.source, case_types={**self.case_types, **(case_types or {})})
        copy.__dict__["calendars"] = {**self.calendars, **(calendars or {})}  # fills the cached_property
        return copy

    def part(self, name: str, kind: type[PartT]) -> PartT | None:
        """A feature's section of the file, or None when the composed config has none (a feature
        used on its own, in a test). Each feature wraps this in a typed accessor."""
        value = getattr(self.config, name, None)
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"the config section {name!r} is a {type(value).__name__}, not a {kind.__name__}")
        return value

    def case_type(self, name: str) -> CaseTypeDef:
        try:
            return self.case_types[name]
        except KeyError:
            raise UnknownCaseType(name, list(self.case_types)) from None

    def machine(self, name: str) -> CaseMachine:
        return machine_for(self.case_type(name))

    def calendar_of(self, department: str) -> BusinessCalendar:
        return self.calendars[self.config.departments[department].calendar]

    def head_of(self, department: str) -> str:
        return self.config.departments[department].head

    def manager_of(self, person: str) -> str | None:
        return self.config.people[person].manager

    def department_name(self, department: str, locale: str | None = None) -> str:
        return label_text(self.config.departments[department].name, locale or self.locale)

    def role_name(self, role: str, locale: str | None = None) -> str:
        label = self.config.roles.get(role)
        return label_text(label, locale or self.locale) if label is not None else role

    def person_name(self, person: str, locale: str | None = None) -> str:
        return label_text(self.config.people[person].name, locale or self.locale)

    def members(self, department: str, role: str | None = None) -> list[str]:
        """People of a department, optionally with a role (the head counts as role ``head``)."""
        dept = self.config.departments[department]
        found = [m.person for m in dept.members if role is None or role in m.roles]
        if (role is None or role == "head") and dept.head not in found:
            found.insert(0, dept.head)
        return found

    def actor(self, person: str) -> Actor:
        if person not in self.config.people:
            raise UnknownPerson(person)
        pairs = {
            (code, role)
            for code, dept in self.config.departments.items()
            for member in dept.members
            if member.person == person
            for role in member.roles
        }
        pairs |= {(code, "head") for code, dept in self.config.departments.items() if dept.head == person}
        return Actor(name=person, memberships=frozenset(pairs), person=person)


def check_case_type(config: OrgConfig, name: str, case_type: CaseTypeDef) -> list[str]:
    """Departments and roles named by a case type must exist, so no step is 'nobody's'."""
    where = f"case_types.{name}" if name in config.case_types else f"built-in case type {name!r}"
    problems = [
        f"{where}: department {dept!r} is not in departments"
        for dept in sorted(case_type.departments())
        if dept not in config.departments
    ]
    if problems:
        return problems
    for state_name, state in case_type.states.items():
        if state.department and state.role and state.role != "head":
            dept = config.departments[state.department]
            if not any(state.role in m.roles for m in dept.members):
                problems.append(
                    f"{where}.states.{state_name}: nobody in {state.department!r} has the role {state.role!r}"
                )
    return problems

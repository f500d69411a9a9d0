"""Who an audience spec names ("owner", "head_manager", "person:orlov" ...), in which language,
and when they are at work: read from the org chart.

Resolved when a message (or a report, a letter) is produced, so it goes to whoever heads the
department *then*; a changed config affects the next message, never one already written.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from org.chart import Company
    from sla.calendar import BusinessCalendar

log = logging.getLogger(__name__)


class AudienceWord(StrEnum):
    """An audience spec without an argument, resolved against the step a message is about."""

    OWNER = "owner"
    ASSIGNEE = "assignee"
    DEPARTMENT_HEAD = "department_head"
    HEAD_MANAGER = "head_manager"
    DIRECTOR = "director"
    REQUESTER = "requester"
    PERFORMER = "performer"
    REQUESTER_MEMBERS = "requester_members"
    PERFORMER_MEMBERS = "performer_members"


class Named(StrEnum):
    """An audience spec naming someone explicitly: ``person:<id>``, ``head:<dept>``, ``department:<dept>``."""

    PERSON = "person"
    HEAD = "head"
    DEPARTMENT = "department"


_SPEC = re.compile(
    r"^(?:(?P<word>" + "|".join(AudienceWord) + r")|(?P<named>" + "|".join(Named) + r"):(?P<name>[A-Za-z0-9_.\-]+))$"
)
SPEC_HELP = f"one of {', '.join(AudienceWord)}, person:<id>, head:<department> or department:<department>"
"""What an audience spec may be, for a config error."""


@dataclass(frozen=True, slots=True)
class AudienceSpec:
    """An audience spec, parsed: a word (``owner``) or a named one (``person:orlov``)."""

    word: AudienceWord | None = None
    named: Named | None = None
    name: str = ""

    @classmethod
    def parse(cls, spec: str) -> AudienceSpec:
        """The spec's parts; ValueError if it is no audience spec (`is_audience` also checks the
        characters of a name, for a config)."""
        head, colon, name = spec.partition(":")
        if colon and name and head in Named.__members__.values():
            return cls(named=Named(head), name=name)
        if not colon and spec in AudienceWord.__members__.values():
            return cls(word=AudienceWord(spec))
        raise ValueError(f"{spec!r} is not an audience; use {SPEC_HELP}")

    @classmethod
    def read(cls, spec: str) -> AudienceSpec | None:
        """The spec's parts, None if it is no audience spec."""
        try:
            return cls.parse(spec)
        except ValueError:
            return None

    @classmethod
    def person(cls, person: str) -> AudienceSpec:
        return cls(named=Named.PERSON, name=person)

    def __str__(self) -> str:
        return str(self.word) if self.word is not None else f"{self.named}:{self.name}"


def person_spec(person: str) -> str:
    """The audience spec naming one person (``person:<id>``)."""
    return str(AudienceSpec.person(person))


def is_audience(spec: str) -> bool:
    return _SPEC.match(spec) is not None


class StepHolder(Protocol):
    """A case as the audience words see it (the engine's record, or the stored case)."""

    @property
    def owner_department(self) -> str | None: ...
    @property
    def owner_role(self) -> str | None: ...
    @property
    def owner_person(self) -> str | None: ...
    @property
    def requester(self) -> str: ...
    @property
    def performer(self) -> str: ...


class ClockedStep(Protocol):
    """The step an SLA clock measured (a clock row or object)."""

    @property
    def department(self) -> str: ...
    @property
    def role(self) -> str | None: ...
    @property
    def person(self) -> str | None: ...


@dataclass(frozen=True)
class Scope:
    """What the audience words refer to: the department (role, person) holding the step a
    message is about, the case's two parties, and the person just assigned."""

    department: str | None
    role: str | None = None
    person: str | None = None
    requester: str | None = None
    performer: str | None = None
    assignee: str | None = None

    @classmethod
    def of_case(cls, case: StepHolder, assignee: str | None = None) -> Scope:
        """The case's current step."""
        return cls(case.owner_department, case.owner_role, case.owner_person, case.requester, case.performer,
                   assignee)

    @classmethod
    def of_clock(cls, case: StepHolder, clock: ClockedStep) -> Scope:
        """The step a clock measured (it may no longer be the current one)."""
        return cls(clock.department, clock.role, clock.person, case.requester, case.performer)


def resolve(company: Company, specs: list[str], scope: Scope) -> list[str]:
    """Person ids for audience specs, in order, each once."""
    found: list[str] = []
    for spec in specs:
        for person in _expand(company, spec, scope):
            if person not in found:
                found.append(person)
    return found


def _expand(company: Company, spec: str, scope: Scope) -> list[str]:
    try:
        parsed = AudienceSpec.parse(spec)
    except ValueError:
        if ":" in spec:  # names nobody known: skipped, like an unknown name
            log.warning("audience %r names nobody in the company config", spec)
            return []
        raise ValueError(f"unknown audience {spec!r}") from None
    if parsed.named is not None:
        return _named(company, parsed.named, parsed.name, spec)
    word = parsed.word
    if word == AudienceWord.OWNER:
        return _owner(company, scope)
    if word == AudienceWord.ASSIGNEE:
        return [scope.assignee] if scope.assignee in company.config.people else []
    if word == AudienceWord.DIRECTOR:
        return [company.config.company.director]
    if word in (AudienceWord.DEPARTMENT_HEAD, AudienceWord.HEAD_MANAGER):
        if scope.department is None:
            return []
        head = company.head_of(scope.department)
        if word == AudienceWord.DEPARTMENT_HEAD:
            return [head]
        manager = company.manager_of(head)
        return [manager] if manager is not None else []
    requester = word in (AudienceWord.REQUESTER, AudienceWord.REQUESTER_MEMBERS)
    department = scope.requester if requester else scope.performer
    if department is None or department not in company.config.departments:
        return []
    members = word in (AudienceWord.REQUESTER_MEMBERS, AudienceWord.PERFORMER_MEMBERS)
    return company.members(department) if members else [company.head_of(department)]


def _named(company: Company, named: Named, name: str, spec: str) -> list[str]:
    """``person:<id>``, ``head:<dept>``, ``department:<dept>``; unknown names are logged and skipped
    (a typo in the config must not stop the engine's transaction)."""
    config = company.config
    if named == Named.PERSON and name in config.people:
        return [name]
    if named != Named.PERSON and name in config.departments:
        return [company.head_of(name)] if named == Named.HEAD else company.members(name)
    log.warning("audience %r names nobody in the company config", spec)
    return []


def _owner(company: Company, scope: Scope) -> list[str]:
    """The person holding the step, else everyone with the owning role (the head if nobody has it)."""
    if scope.person is not None and scope.person in company.config.people:
        return [scope.person]
    if scope.department is None:
        return []
    return company.members(scope.department, scope.role) or [company.head_of(scope.department)]


def locale_of(company: Company, person: str) -> str:
    return company.config.people[person].locale or company.locale


def home_department(company: Company, person: str) -> str | None:
    """The department a person heads, else the first one they are a member of."""
    departments = company.config.departments
    for code, dept in departments.items():
        if dept.head == person:
            return code
    for code, dept in departments.items():
        if any(m.person == person for m in dept.members):
            return code
    return None


def calendar_of_person(company: Company, person: str, fallback_department: str | None = None) -> BusinessCalendar:
    """Working hours of the recipient: their own department's calendar; for someone outside the
    org chart, the calendar of the department the message is about (or the first calendar)."""
    department = home_department(company, person) or fallback_department
    if department is not None:
        return company.calendar_of(department)
    return next(iter(company.calendars.values()))

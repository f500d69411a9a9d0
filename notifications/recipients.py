"""Who receives a message, in which language, on which channels, and when they are at work.

Resolved from the org chart when the message is produced (in the engine's transaction), so a
message goes to whoever heads the department *then*; a changed config affects the next
message, never one already written to the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notifications.transports import REGISTRY

if TYPE_CHECKING:
    from notifications.context import CaseLike, ClockLike
    from org.chart import Company
    from sla.calendar import BusinessCalendar

log = logging.getLogger(__name__)


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
    def of_case(cls, case: CaseLike, assignee: str | None = None) -> Scope:
        """The case's current step."""
        return cls(case.owner_department, case.owner_role, case.owner_person, case.requester, case.performer,
                   assignee)

    @classmethod
    def of_clock(cls, case: CaseLike, clock: ClockLike) -> Scope:
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
    word, _, arg = spec.partition(":")
    if arg:
        return _named(company, word, arg, spec)
    if word == "owner":
        return _owner(company, scope)
    if word == "assignee":
        return [scope.assignee] if scope.assignee in company.config.people else []
    if word == "director":
        return [company.config.company.director]
    if word in ("department_head", "head_manager"):
        if scope.department is None:
            return []
        head = company.head_of(scope.department)
        if word == "department_head":
            return [head]
        manager = company.manager_of(head)
        return [manager] if manager is not None else []
    if word in ("requester", "performer", "requester_members", "performer_members"):
        department = scope.requester if word.startswith("requester") else scope.performer
        if department is None or department not in company.config.departments:
            return []
        return company.members(department) if word.endswith("_members") else [company.head_of(department)]
    raise ValueError(f"unknown audience {spec!r}")


def _named(company: Company, word: str, arg: str, spec: str) -> list[str]:
    """``person:<id>``, ``head:<dept>``, ``department:<dept>``; unknown names are logged and skipped
    (a typo in the config must not stop the engine's transaction)."""
    config = company.config
    if word == "person" and arg in config.people:
        return [arg]
    if word in ("head", "department") and arg in config.departments:
        return [company.head_of(arg)] if word == "head" else company.members(arg)
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


def channels_for(company: Company, person: str, *, all_channels: bool, linked: Collection[str] = ()) -> list[str]:
    """The person's channels that can reach them, in their order of preference: all of them for
    ``all_channels`` kinds, else only the first. If none can reach them the first listed channel
    is still used, so the message fails visibly in the outbox instead of vanishing. ``linked``:
    channels the person linked outside the company file (a Telegram chat, org.telegram_links)."""
    config = company.config.people[person]
    listed = config.channels or ["email"]
    usable = [c for c in listed
              if c in REGISTRY and (c in linked or REGISTRY[c].address(person, config) is not None)]
    if not usable:
        return listed[:1]
    return usable if all_channels else usable[:1]

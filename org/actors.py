"""A ``Principal`` is everything an entry point needs to know about who is asking: the engine's
``Actor`` (what they may *do*, checked by the case types), their roles and their read scope (what
they may *see*). Every entry point (REST, dashboard, exports, the coming workplace) builds one per
request with the functions below and passes its ``scope`` to ``org.scope``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from org.chart import Actor, Company


class Role(StrEnum):
    PERSON = "person"
    """Sees the cases their departments take part in and the cases assigned to them."""
    HEAD = "head"
    """Also sees every case of the departments under the ones they head."""
    DIRECTOR = "director"
    """Sees every case."""
    ADMIN = "admin"
    """Manages configuration, users and tokens; reads stored webhook bodies."""
    INTEGRATION = "integration"
    """Another system: sees the cases of the departments its memberships name."""


@dataclass(frozen=True)
class ReadScope:
    """Which cases may be read. Turned into a SQL filter by ``org.scope.case_filter``."""

    everything: bool = False
    departments: frozenset[str] = frozenset()
    """Cases any of these departments takes part in (requested, performs, owned a step of)."""
    person: str | None = None
    """Cases this person holds or held a step of."""


@dataclass(frozen=True)
class Principal:
    actor: Actor
    roles: frozenset[Role]
    scope: ReadScope
    via: str
    """How they proved it: ``session:password``, ``session:oidc``, ``token:NAME``, ``config-token:NAME``."""
    token_name: str | None = field(default=None, compare=False)

    @property
    def person(self) -> str | None:
        return self.actor.person

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


def departments_under(company: Company, department: str) -> set[str]:
    """``department`` and every department below it in the org chart (parents never loop: the
    config is checked for that)."""
    children: dict[str, list[str]] = {}
    for code, dept in company.config.departments.items():
        if dept.parent is not None:
            children.setdefault(dept.parent, []).append(code)
    found, todo = set(), [department]
    while todo:
        code = todo.pop()
        if code not in found:
            found.add(code)
            todo.extend(children.get(code, []))
    return found


def person_scope(company: Company, person: str) -> tuple[frozenset[Role], ReadScope]:
    """Roles and read scope of a person, from the org chart alone."""
    actor = company.actor(person)
    roles = {Role.PERSON}
    if company.config.company.director == person:
        return frozenset({*roles, Role.DIRECTOR}), ReadScope(everything=True, person=person)
    departments = set(actor.departments)
    for code, dept in company.config.departments.items():
        if dept.head == person:
            roles.add(Role.HEAD)
            departments |= departments_under(company, code)
    return frozenset(roles), ReadScope(departments=frozenset(departments), person=person)


def person_principal(company: Company, person: str, *, via: str, admin: bool = False,
                     token_name: str | None = None) -> Principal:
    """A person of the org chart (raises ``UnknownPerson`` if they are no longer in it)."""
    roles, scope = person_scope(company, person)
    return Principal(actor=company.actor(person), roles=roles | ({Role.ADMIN} if admin else set()), scope=scope,
                     via=via, token_name=token_name)


def integration_principal(name: str, memberships: list[str], *, via: str, admin: bool = False) -> Principal:
    """Another system acting with ``department/role`` memberships: it may do what those allow and
    read the cases of those departments, nothing else."""
    pairs = frozenset((dept, role) for dept, _, role in (m.partition("/") for m in memberships))
    roles = {Role.INTEGRATION, *({Role.ADMIN} if admin else set())}
    return Principal(
        actor=Actor(name=f"api:{name}", memberships=pairs),
        roles=frozenset(roles),
        scope=ReadScope(departments=frozenset(dept for dept, _ in pairs)),
        via=via,
        token_name=name,
    )

"""API tokens of people and integrations, kept hashed in the database with their last use.

Tokens listed in the company file (``crm.api_tokens``, SHA-256 hashes) are still honoured, with
the same scoping, so existing set-ups keep working; new tokens are made with
``slaflow token create`` and can be listed and revoked without editing the file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import SlaflowError, UnknownPerson
from org.accounts import is_admin
from org.actors import Principal, integration_principal, person_principal
from org.chart import Company
from org.config import ApiToken
from org.secrets import new_secret, sha256_hex
from storage.models import StoredToken

PREFIX = "slf_"
NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MEMBERSHIP = re.compile(r"^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$")
LAST_USE_PRECISION = timedelta(minutes=1)
"""The last use is written at most once a minute per token, so reads stay reads."""


@dataclass(frozen=True)
class TokenRow:
    name: str
    person: str | None
    memberships: list[str]
    admin: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _check_memberships(company: Company, memberships: list[str]) -> None:
    for membership in memberships:
        if not MEMBERSHIP.match(membership):
            raise SlaflowError(f"--membership {membership!r} must look like department/role")
        dept, _, role = membership.partition("/")
        if dept not in company.config.departments:
            raise SlaflowError(f"--membership {membership!r}: no department {dept!r}; "
                               f"departments: {', '.join(company.config.departments)}")
        if role != "head" and not company.members(dept, role):
            raise SlaflowError(f"--membership {membership!r}: nobody in {dept!r} has the role {role!r}")


def create_token(session: Session, company: Company, *, name: str, now: datetime, person: str | None = None,
                 memberships: list[str] | None = None, admin: bool = False,
                 configured: Sequence[ApiToken] = ()) -> str:
    """Make a token and return it (the only time it is seen); the database keeps its hash.
    ``configured``: the tokens listed in the company file, whose names are taken too."""
    memberships = sorted(set(memberships or []))
    if not NAME.match(name):
        raise SlaflowError(f"token name {name!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    if (person is None) == (not memberships):
        raise SlaflowError("a token is for a person (--person NAME) or for an integration "
                           "(--membership department/role, repeatable), not both")
    if person is not None and person not in company.config.people:
        raise UnknownPerson(person)
    if person is not None and admin:
        raise SlaflowError("a person's token is admin when the person is (slaflow user admin NAME)")
    _check_memberships(company, memberships)
    if name in {t.name for t in configured} or session.scalar(
        select(StoredToken.id).where(StoredToken.name == name)
    ):
        raise SlaflowError(f"a token named {name!r} already exists; pick another name or revoke it first")
    token = new_secret(PREFIX)
    session.add(StoredToken(name=name, token_sha256=sha256_hex(token), person=person, memberships=memberships,
                            admin=admin, created_at=now, last_used_at=None, revoked_at=None))
    try:
        session.flush()
    except IntegrityError:
        raise SlaflowError(f"a token named {name!r} already exists") from None
    return token


def list_tokens(session: Session, *, include_revoked: bool = False) -> list[TokenRow]:
    query = select(StoredToken).order_by(StoredToken.name)
    if not include_revoked:
        query = query.where(StoredToken.revoked_at.is_(None))
    return [TokenRow(t.name, t.person, list(t.memberships), t.admin, t.created_at, t.last_used_at, t.revoked_at)
            for t in session.scalars(query)]


def revoke_token(session: Session, company: Company, name: str, *, now: datetime,
                 configured: Sequence[ApiToken] = ()) -> None:
    if name in {t.name for t in configured}:
        raise SlaflowError(f"token {name!r} is configured in {company.source} (crm.api_tokens): remove it there")
    row = session.scalar(select(StoredToken).where(StoredToken.name == name))
    if row is None:
        raise SlaflowError(f"no token named {name!r}; see `slaflow token list`")
    if row.revoked_at is not None:
        raise SlaflowError(f"token {name!r} was already revoked at {row.revoked_at.isoformat()}")
    row.revoked_at = now


def principal_for_token(session: Session, company: Company, token: str, *, now: datetime,
                        configured: Sequence[ApiToken] = ()) -> Principal | None:
    """The principal behind a bearer token, or None if it is unknown or revoked (or names a person
    no longer in the org chart). Records the token's last use in ``session``."""
    principal, stale = find_token(session, company, token, now=now, configured=configured)
    if stale is not None:
        record_token_use(session, stale, now)
    return principal


def find_token(session: Session, company: Company, token: str, *, now: datetime,
               configured: Sequence[ApiToken] = ()) -> tuple[Principal | None, int | None]:
    """`principal_for_token` without writing: the principal, and the id of the stored token whose
    last use is due to be recorded (`record_token_use`), if any. A request reads with it, so a
    bearer's request takes the write lock only when a minute has passed since its token's last
    recorded use."""
    digest = sha256_hex(token)
    for listed in configured:
        if listed.sha256 == digest:
            via = f"config-token:{listed.name}"
            if listed.person is not None:
                return person_principal(company, listed.person, via=via, token_name=listed.name,
                                        admin=is_admin(session, listed.person)), None
            return integration_principal(listed.name, listed.memberships, via=via), None
    row = session.scalar(select(StoredToken).where(StoredToken.token_sha256 == digest,
                                                   StoredToken.revoked_at.is_(None)))
    if row is None:
        return None, None
    stale = row.id if row.last_used_at is None or row.last_used_at <= now - LAST_USE_PRECISION else None
    via = f"token:{row.name}"
    if row.person is not None:
        if row.person not in company.config.people:
            return None, stale
        return person_principal(company, row.person, via=via, token_name=row.name,
                                admin=is_admin(session, row.person)), stale
    return integration_principal(row.name, list(row.memberships), via=via, admin=row.admin), stale


def record_token_use(session: Session, token_id: int, now: datetime) -> None:
    """Record that the token was used at ``now`` (unless a use within the last minute is recorded)."""
    session.execute(update(StoredToken).where(
        StoredToken.id == token_id,
        or_(StoredToken.last_used_at.is_(None), StoredToken.last_used_at <= now - LAST_USE_PRECISION),
    ).values(last_used_at=now))

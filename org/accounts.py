"""Sign-in accounts of the people of the org chart: invitations, passwords, the admin flag.
Service functions with a keyword-only ``session``; the CLI and the HTTP app call them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import SlaflowError, UnknownPerson
from org.chart import Company
from org.passwords import hash_password, verify
from org.secrets import new_secret, sha256_hex
from storage.models import Account, Invitation, WebSession

INVITATION_HOURS = 72


class InvitationInvalid(SlaflowError):
    def __init__(self) -> None:
        super().__init__("this invitation link is unknown, used or expired; ask an admin for a new one")


def _account(session: Session, company: Company, person: str, now: datetime) -> Account:
    if person not in company.config.people:
        raise UnknownPerson(person)
    account = session.get(Account, person)
    if account is None:
        account = Account(person=person, password_hash=None, is_admin=False, created_at=now, updated_at=now)
        session.add(account)
    return account


def invite(session: Session, company: Company, person: str, *, now: datetime,
           hours: int = INVITATION_HOURS, admin: bool | None = None) -> str:
    """A one-time token for ``/dashboard/invite/<token>`` (only its hash is stored). Earlier
    unused invitations of the person stop working."""
    if hours < 1 or hours > 24 * 30:
        raise SlaflowError("--hours must be between 1 and 720")
    account = _account(session, company, person, now)
    if admin is not None:
        account.is_admin = admin
    session.execute(update(Invitation).where(Invitation.person == person, Invitation.used_at.is_(None))
                    .values(used_at=now))
    token = new_secret()
    session.add(Invitation(token_sha256=sha256_hex(token), person=person, created_at=now,
                           expires_at=now + timedelta(hours=hours), used_at=None))
    return token


def invitation_person(session: Session, token: str, now: datetime) -> str:
    """Whose invitation this is; ``InvitationInvalid`` if unknown, used or expired."""
    row = session.get(Invitation, sha256_hex(token))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise InvitationInvalid()
    return row.person


def accept_invitation(session: Session, company: Company, token: str, password: str, *, now: datetime) -> str:
    """Set the password through an invitation and use the invitation up."""
    person = invitation_person(session, token, now)
    set_password(session, company, person, password, now=now)
    row = session.get(Invitation, sha256_hex(token))
    assert row is not None
    row.used_at = now
    return person


def set_password(session: Session, company: Company, person: str, password: str, *, now: datetime) -> None:
    """Set (or replace) a person's password; their open browser sessions end."""
    store_password_hash(session, company, person, hash_password(password), now=now)


def store_password_hash(session: Session, company: Company, person: str, password_hash: str, *,
                        now: datetime) -> None:
    """``set_password`` with the hash already made (``org.passwords.hash_password``): the tests
    give every test database the same few passwords, and hashing one costs ~0.3 s of CPU."""
    account = _account(session, company, person, now)
    account.password_hash = password_hash
    account.updated_at = now
    session.execute(update(WebSession).where(WebSession.person == person, WebSession.revoked_at.is_(None))
                    .values(revoked_at=now))


def set_admin(session: Session, company: Company, person: str, admin: bool, *, now: datetime) -> None:
    account = _account(session, company, person, now)
    account.is_admin = admin
    account.updated_at = now


def is_admin(session: Session, person: str) -> bool:
    return bool(session.scalar(select(Account.is_admin).where(Account.person == person)))


def check_password(session: Session, company: Company, person: str, password: str) -> bool:
    """True if ``person`` is in the org chart, has an account with a password, and it matches."""
    account = session.get(Account, person) if person in company.config.people else None
    return verify(account.password_hash if account else None, password)


def person_by_email(company: Company, email: str) -> str | None:
    """The person of the org chart with this e-mail (case-insensitive), for OIDC sign-in."""
    wanted = email.strip().lower()
    found = [key for key, p in company.config.people.items() if p.email and p.email.lower() == wanted]
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class AccountRow:
    person: str
    has_password: bool
    admin: bool
    updated_at: datetime


def list_accounts(session: Session) -> list[AccountRow]:
    return [AccountRow(a.person, a.password_hash is not None, a.is_admin, a.updated_at)
            for a in session.scalars(select(Account).order_by(Account.person))]

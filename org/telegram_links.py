"""Linking a person's Telegram account: a one-time code (``slaflow telegram link PERSON`` or the
workplace's "Link Telegram" page) that the person sends to the bot as ``/start CODE``. The code
is a 256-bit random value (it fits Telegram's 64-character ``start`` parameter), kept only as its
SHA-256, valid for ``CODE_MINUTES`` and used once; a newer code replaces older unused ones.

A link records the private chat messages go to and the Telegram user whose button presses act as
the person. The linked chat overrides ``people.X.chat.telegram`` of the company file (the person
proved they own it; the file may be stale). One Telegram user links to one person: linking again
moves the link."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.errors import SlaflowError, UnknownPerson
from org.chart import Company
from org.secrets import new_secret, sha256_hex
from storage.models import TelegramLink, TelegramLinkCode

CODE_MINUTES = 30


class LinkCodeInvalid(SlaflowError):
    def __init__(self) -> None:
        super().__init__("this code is unknown, used or expired; ask for a new one in slaflow")


def new_code(session: Session, company: Company, person: str, *, now: datetime) -> str:
    """A fresh code for ``person``; their earlier unused codes stop working."""
    if person not in company.config.people:
        raise UnknownPerson(person)
    session.execute(update(TelegramLinkCode).where(TelegramLinkCode.person == person,
                                                   TelegramLinkCode.used_at.is_(None)).values(used_at=now))
    code = new_secret()
    session.add(TelegramLinkCode(code_sha256=sha256_hex(code), person=person, created_at=now,
                                 expires_at=now + timedelta(minutes=CODE_MINUTES), used_at=None))
    return code


def redeem(session: Session, company: Company, code: str, *, chat_id: str, user_id: str, now: datetime) -> str:
    """Link ``chat_id``/``user_id`` to the code's person and use the code up; the person's id.
    ``LinkCodeInvalid`` for an unknown, used or expired code, or a person no longer in the org chart."""
    row = session.get(TelegramLinkCode, sha256_hex(code), with_for_update=True)
    if row is None or row.used_at is not None or row.expires_at <= now or row.person not in company.config.people:
        raise LinkCodeInvalid()
    row.used_at = now
    session.execute(delete(TelegramLink).where((TelegramLink.user_id == user_id) | (TelegramLink.person == row.person)))
    session.flush()
    session.add(TelegramLink(person=row.person, chat_id=chat_id, user_id=user_id, linked_at=now))
    return row.person


def unlink(session: Session, person: str) -> bool:
    return bool(session.execute(delete(TelegramLink).where(TelegramLink.person == person)).rowcount)  # type: ignore[attr-defined]


def person_of_user(session: Session, user_id: str) -> str | None:
    """The person a Telegram user linked to, if any."""
    return session.scalar(select(TelegramLink.person).where(TelegramLink.user_id == user_id))


def chat_of(session: Session, person: str) -> str | None:
    """The chat the person linked, if any."""
    return session.scalar(select(TelegramLink.chat_id).where(TelegramLink.person == person))

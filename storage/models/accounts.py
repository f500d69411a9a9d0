"""Who is who (org/): sign-in accounts, invitations, browser sessions, API tokens, failed attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.vocabulary import SignInMethod
from storage.models.base import Base, JsonDoc, one_of


class Account(Base):
    """A person of the org chart who may sign in. The person's identity and departments come
    from the company config; this row holds only what the config must not: the password hash."""

    __tablename__ = "accounts"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """argon2id (argon2-cffi); None until the person sets one (OIDC-only accounts)."""
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Invitation(Base):
    """A one-time, expiring link that lets a person set their password. Only its hash is kept."""

    __tablename__ = "invitations"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie carries a signed random id; only its hash is stored, so
    a copy of the database does not let anyone in."""

    __tablename__ = "web_sessions"
    __table_args__ = (one_of("method", SignInMethod),)

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    """core.vocabulary.SignInMethod."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class StoredToken(Base):
    """An API token of a person or an integration, stored as the SHA-256 of the token (a random
    256-bit secret, so a fast hash is enough)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    person: Mapped[str | None] = mapped_column(String(64))
    """Acts and reads as this person; None for an integration."""
    memberships: Mapped[list[str]] = mapped_column(JsonDoc)
    """An integration's ``department/role`` pairs: what it may do and which departments it reads."""
    admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuthFailure(Base):
    """A failed sign-in or bearer-token attempt, keyed by address and by account: the rate
    limiter counts these in a window (shared by every server process)."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime]


class ServerKey(Base):
    """Secrets the server makes for itself (the session-cookie signing key) when none is configured."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class TelegramLinkCode(Base):
    """A one-time, expiring code a person sends to the bot (``/start CODE``) to link their chat
    (org.telegram_links). Only its hash is kept."""

    __tablename__ = "telegram_link_codes"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    person: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TelegramLink(Base):
    """The Telegram account a person linked with a code: messages go to ``chat_id``; a button
    pressed by ``user_id`` acts as ``person``."""

    __tablename__ = "telegram_links"

    person: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32), unique=True)
    linked_at: Mapped[datetime]

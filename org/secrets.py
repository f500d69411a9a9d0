"""Random secrets and their stored form. Tokens, invitation links and session ids are 256-bit
random values, so the database keeps only their SHA-256 (a slow hash buys nothing for them);
passwords, which people choose, are hashed with argon2id (``org.passwords``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison (CSRF tokens, OIDC state)."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))

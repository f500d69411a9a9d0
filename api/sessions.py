"""Browser sessions: a server-side row per signed-in browser behind a signed opaque cookie.

The cookie holds a random id signed with the server's key (itsdangerous): a forged or altered
cookie is refused without a database look-up, and the database keeps only the id's hash, a
person, a lifetime and a revocation time. Logout and a password change revoke the row, so a
copied cookie stops working at once. Forms carry a per-session CSRF token and cross-origin
POSTs are refused by their Origin (``check_origin``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, Signer
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from api.auth_settings import AuthSettings
from org.accounts import is_admin
from org.actors import Principal, person_principal
from org.chart import Company
from org.secrets import new_secret, same, sha256_hex
from storage.models import ServerKey, WebSession

COOKIE = "slaflow_session"
LOGIN_COOKIE = "slaflow_login"
"""Before sign-in: a signed random value the login form repeats (double-submit CSRF token)."""
PATH = "/dashboard"
LOGIN_MINUTES = 60


def server_key(sessions: sessionmaker[Session], name: str, now: datetime) -> str:
    """A random key made once and kept in the database, shared by every server process."""
    with sessions.begin() as session:
        values = {"name": name, "value": new_secret(), "created_at": now}
        dialect = session.get_bind().dialect.name
        insert = pg_insert(ServerKey) if dialect == "postgresql" else sqlite_insert(ServerKey)
        session.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["name"]))
        value = session.scalar(select(ServerKey.value).where(ServerKey.name == name))
    assert value is not None
    return value


@dataclass(frozen=True)
class Signed:
    """Who is behind a valid session cookie."""

    principal: Principal
    csrf: str
    id_sha256: str


class SessionStore:
    def __init__(self, sessions: sessionmaker[Session], company: Company, settings: AuthSettings, secret: str,
                 *, reads: sessionmaker[Session]) -> None:
        """``sessions`` write sign-ins and sign-outs; ``reads`` look up the session of every
        signed-in request (`runtime.assembly.Runtime.reads`)."""
        self._sessions = sessions
        self._reads = reads
        self._company = company
        self.settings = settings
        self._signer = Signer(secret, salt="slaflow-session")
        self._login_signer = Signer(secret, salt="slaflow-login-form")

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.session_hours)

    def secure(self, request: Request) -> bool:
        if self.settings.cookie_secure == "auto":
            return request.url.scheme == "https"
        return self.settings.cookie_secure == "always"

    # -- sessions ----------------------------------------------------------------------------

    def start(self, request: Request, response: Response, person: str, method: str, now: datetime) -> None:
        """A new session (a new id at every sign-in: no fixation). The browser's previous session,
        if any, is revoked, and the person's expired rows are cleared."""
        raw = new_secret()
        previous = self._valid_id(request.cookies.get(COOKIE))
        with self._sessions.begin() as session:
            if previous is not None:
                session.execute(update(WebSession).where(WebSession.id_sha256 == sha256_hex(previous),
                                                         WebSession.revoked_at.is_(None)).values(revoked_at=now))
            session.execute(delete(WebSession).where(WebSession.person == person, WebSession.expires_at <= now))
            session.add(WebSession(id_sha256=sha256_hex(raw), person=person, csrf_token=new_secret(), method=method,
                                   created_at=now, expires_at=now + self.lifetime, revoked_at=None))
        response.set_cookie(COOKIE, self._signer.sign(raw).decode("ascii"), max_age=int(self.lifetime.total_seconds()),
                            path=PATH, httponly=True, samesite="lax", secure=self.secure(request))
        response.delete_cookie(LOGIN_COOKIE, path=PATH, httponly=True, samesite="lax", secure=self.secure(request))

    def current(self, request: Request, now: datetime) -> Signed | None:
        raw = self._valid_id(request.cookies.get(COOKIE))
        if raw is None:
            return None
        with self._reads() as session:
            row = session.get(WebSession, sha256_hex(raw))
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                return None
            if row.person not in self._company.config.people:
                return None
            principal = person_principal(self._company, row.person, via=f"session:{row.method}",
                                         admin=is_admin(session, row.person))
            return Signed(principal, row.csrf_token, row.id_sha256)

    def _valid_id(self, cookie: str | None) -> str | None:
        """The session id inside a cookie whose signature holds."""
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None

    def end(self, request: Request, response: Response, signed: Signed | None, now: datetime) -> None:
        if signed is not None:
            with self._sessions.begin() as session:
                session.execute(update(WebSession).where(WebSession.id_sha256 == signed.id_sha256,
                                                         WebSession.revoked_at.is_(None)).values(revoked_at=now))
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax", secure=self.secure(request))

    # -- the login form's CSRF token ----------------------------------------------------------

    def login_token(self, request: Request, response: Response) -> str:
        """The value the login form repeats; kept (signed) in a short-lived cookie."""
        cookie = request.cookies.get(LOGIN_COOKIE)
        if cookie:
            try:
                return self._login_signer.unsign(cookie).decode("ascii")
            except (BadSignature, UnicodeDecodeError):
                pass
        value = new_secret()
        response.set_cookie(LOGIN_COOKIE, self._login_signer.sign(value).decode("ascii"), max_age=LOGIN_MINUTES * 60,
                            path=PATH, httponly=True, samesite="lax", secure=self.secure(request))
        return value

    def check_login_token(self, request: Request, submitted: str) -> None:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        try:
            expected = self._login_signer.unsign(cookie).decode("ascii") if cookie else None
        except (BadSignature, UnicodeDecodeError):
            expected = None
        if expected is None or not same(expected, submitted):
            raise HTTPException(403, "the form has expired or did not come from this site; reload the page and retry")


def check_csrf(signed: Signed, submitted: str) -> None:
    if not same(signed.csrf, submitted):
        raise HTTPException(403, "the form has expired or did not come from this site; reload the page and retry")


def check_origin(request: Request) -> None:
    """Refuse a state-changing request whose Origin (or, without one, Referer) is another site.
    Browsers send Origin with every cross-origin POST; a request with neither header is not from
    a page of another site (and still needs its CSRF token)."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin.lower() != own.lower():
        raise HTTPException(403, f"cross-origin request refused (Origin {origin}, expected {own})")

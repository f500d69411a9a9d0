"""Real local servers and small factories shared by the notification tests (no tests here).

An HTTP sink (stdlib ``http.server`` in a thread) stands in for Slack, Telegram and webhook
receivers, answering scripted statuses; an aiosmtpd controller is a real SMTP server, with
STARTTLS or implicit TLS on a throwaway self-signed certificate.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.testing import example_mapping
from engine import cases
from notifications.settings import NotificationSettings, TlsMode
from org.chart import Company
from runtime.company import company_from_mapping
from sla.clock_store import record_breach
from sla.model import ClockRecord
from storage.models import Breach, Case, OutboxMessage, SlaClock

MSK = dt.timezone(dt.timedelta(hours=3))


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    """Records every request; answers from a per-path script of (status, body), then 200."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    script: dict[str, list[tuple[int, str, dict[str, str]]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, *responses: tuple[int, str] | tuple[int, str, dict[str, str]]) -> None:
        """Script the next answers on ``path``: (status, body[, headers])."""
        self.script[path] = [(r[0], r[1], r[2] if len(r) > 2 else {}) for r in responses]

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


class QuietHandler(BaseHTTPRequestHandler):
    """A handler for the local fakes of outside servers: JSON answers, no access log on stderr."""

    def answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def running_http_sink() -> Iterator[HttpSink]:
    """Serve an `HttpSink` on a free loopback port for the duration of the block."""
    sink = HttpSink()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with sink.lock:
                sink.requests.append(Request("POST", self.path, dict(self.headers.items()), body))
                queue = sink.script.get(self.path, [])
                status, text, headers = queue.pop(0) if queue else (200, _default_answer(self.path), {})
            self.answer(status, text, headers)

    with serving(Handler) as sink.url:
        yield sink


SENT_MESSAGE = '{"ok": true, "result": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}'
"""The Bot API answers ``sendMessage`` with the message it sent (python-telegram-bot reads it)."""


def _default_answer(path: str) -> str:
    return SENT_MESSAGE if path.endswith("/sendMessage") else '{"ok": true}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """An address where nobody listens: connection refused, a transient error."""
    return f"http://127.0.0.1:{free_port()}"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the test trusts the certificate as its CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def raw_company() -> dict[str, Any]:
    return dict(example_mapping())


def company_with(**changes: Any) -> Company:
    """The example company with top-level sections replaced or ``notifications`` set."""
    raw = raw_company()
    raw.update(changes)
    return company_from_mapping(raw)


def open_dispute(
    session: Session, company: Company, now: datetime, lead: str = "L-1", keep_opening_messages: bool = False
) -> Case:
    """A lead dispute opened through the engine by sales: sales (requester) -> marketing
    (performer), step ``review`` owned by marketing/marketer, 8 business hours in the Moscow
    office calendar. The engine queues ``case_opened`` messages; unless asked to keep them they
    are removed, so each test sees only the messages its own cause produces."""
    record = cases.open_case(session, company, case_type="lead_dispute", data={"lead_id": lead, "reason": "spam"},
                             actor=company.actor("ivanov"), now=now)
    if not keep_opening_messages:
        session.execute(delete(OutboxMessage).where(OutboxMessage.case_id == record.id,
                                                    OutboxMessage.kind == "case_opened"))
    return cases.get_case(session, record.id)


def assign(session: Session, company: Company, case: Case, person: str, now: datetime) -> None:
    """Assign through the engine, as the owning department's head (it queues ``assigned``)."""
    assert case.owner_department is not None
    head = company.actor(company.head_of(case.owner_department))
    cases.assign(session, company, case_id=case.id, person=person, actor=head, now=now)
    session.refresh(case)


def step_clock(session: Session, case: Case) -> SlaClock:
    clock = session.scalars(
        select(SlaClock).where(SlaClock.case_id == case.id, SlaClock.kind == "step").order_by(SlaClock.id.desc())
    ).first()
    assert clock is not None
    return clock


def record_breach_row(session: Session, clock: SlaClock) -> Breach:
    """The breach row the sweeper writes at a clock's deadline (`sla.clock_store.record_breach`)."""
    assert clock.deadline_at is not None
    record_breach(session, ClockRecord.of(clock), now=clock.deadline_at)
    breach = session.scalars(select(Breach).where(Breach.clock_id == clock.id)).one()
    session.refresh(clock)
    return breach


def closed_copy(case: Case, state: str, at: datetime) -> Case:
    """A detached copy of ``case`` as it looks once closed in ``state`` (the shape the engine hands
    to ``case_resolved``)."""
    fields = ("id", "case_type", "definition_fingerprint", "data", "requester", "performer", "version", "opened_at")
    return Case(**{name: getattr(case, name) for name in fields}, state=state, owner_department=None,
                owner_role=None, owner_person=None, due_at=None, updated_at=at, closed_at=at)


def outbox(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


USER, PASSWORD = "slaflow", "correct horse"


@dataclass
class Mailbox:
    """What the SMTP server accepted."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse_rcpt: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login.decode() == USER and data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    mailbox: Mailbox
    settings: NotificationSettings


def start_smtp(mode: TlsMode, certificate: tuple[Path, Path]) -> tuple[Controller, SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    tls = server_tls_context(*certificate)
    options: dict[str, Any] = {}
    if mode == "starttls":
        options = {"tls_context": tls, "require_starttls": True, "auth_required": True,
                   "authenticator": _authenticator}
    elif mode == "tls":
        # aiosmtpd does not count implicit TLS as TLS for AUTH; the socket is encrypted all the same
        options = {"ssl_context": tls, "auth_require_tls": False,
                   "authenticator": _authenticator}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    settings = NotificationSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls=mode, smtp_ca_file=certificate[0],
                                    smtp_from="sla@sever.example", smtp_timeout=5,
                                    smtp_user=USER if mode != "none" else None,
                                    smtp_password=SecretStr(PASSWORD) if mode != "none" else None)
    return controller, SmtpServer(mailbox, settings)

"""E-mail over SMTP with stdlib `smtplib` (implicit TLS, STARTTLS or plain; optional auth).

Blocking smtplib is enough: the dispatcher sends outside any DB transaction, one message at a
time per worker, and aiosmtplib would only add an event loop. SMTP reply codes classify
failures: 5xx permanent, 4xx and lost connections transient.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from notifications.transports.base import Outgoing, Transport, TransportError

if TYPE_CHECKING:
    from notifications.settings import NotificationSettings
    from org.chart import PersonConfig


class EmailTransport(Transport):
    kind = "email"
    format = "email"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        return person.email

    def send(self, message: Outgoing) -> None:
        settings = self.settings
        if not settings.smtp_host:
            raise TransportError("SLAFLOW_SMTP_HOST is not set", permanent=True)
        mail = build_email(settings, message)
        try:
            with _connect(settings) as smtp:
                if settings.smtp_user:
                    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                    smtp.login(settings.smtp_user, password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(f"SMTP refused {message.address}: {exc.recipients}",
                                 permanent=all(code >= 500 for code in codes)) from None
        except smtplib.SMTPResponseException as exc:
            detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise TransportError(f"SMTP {exc.smtp_code}: {detail}", permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TransportError(f"SMTP server does not support it: {exc}", permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(f"SMTP TLS certificate rejected: {exc.verify_message}", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP {type(exc).__name__}: {exc}", permanent=False) from None


def _connect(settings: NotificationSettings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host or "", settings.smtp_port_effective, settings.smtp_timeout
    context = ssl.create_default_context(cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
    if settings.smtp_tls == "tls":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.smtp_tls == "starttls":
        try:
            smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
    return smtp


def build_email(settings: NotificationSettings, message: Outgoing, *, cte: str | None = None) -> EmailMessage:
    """The MIME message; its Message-ID is derived from the dedupe key so a re-sent copy can be
    recognised by the receiving side (delivery is at-least-once). ``cte="8bit"`` keeps the body
    readable as plain text (the file channel); SMTP keeps the safe default."""
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:24]
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.address
    mail["Subject"] = message.subject
    mail["Message-ID"] = f"<slaflow.{message.message_id}.{digest}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies to a robot
    mail["X-Slaflow-Kind"] = message.kind
    if message.now is not None:
        mail["Date"] = format_datetime(message.now)
    mail.set_content(message.text, cte=cte)
    return mail

"""Signed, expiring one-click links in warning, breach and escalation e-mails: "acknowledge" for
the recipient, opened on a confirmation page of the app (``api.workplace.ack``), never acted on
by a GET (mail scanners follow links). Optional: only with ``SLAFLOW_ACK_LINK_SECRET`` set.

The link carries the case, the person and the expiry (the message's creation + 72 h, so it
does not depend on when it is sent), signed with itsdangerous; the engine still checks that
the person may acknowledge the case when they confirm."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "slaflow-ack-link"
VALID_FOR = timedelta(hours=72)
KINDS = ("warning", "breach", "escalation")
"""Messages about a step that someone in its escalation chain may acknowledge."""


class AckLinkInvalid(Exception):
    """A forged, damaged or expired link."""


@dataclass(frozen=True)
class AckLink:
    case_id: int
    person: str
    expires_at: datetime


def sign(secret: str, case_id: int, person: str, created_at: datetime) -> str:
    expires = int((created_at + VALID_FOR).timestamp())
    return str(URLSafeSerializer(secret, salt=SALT).dumps({"c": case_id, "p": person, "e": expires}))


def verify(secret: str, token: str, now: datetime) -> AckLink:
    try:
        data = URLSafeSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        raise AckLinkInvalid("this link is not valid (damaged or not from this slaflow)") from None
    if not (isinstance(data, dict) and isinstance(data.get("c"), int) and isinstance(data.get("p"), str)
            and isinstance(data.get("e"), int)):
        raise AckLinkInvalid("this link is not valid")
    link = AckLink(data["c"], data["p"], datetime.fromtimestamp(data["e"], UTC))
    if now >= link.expires_at:
        raise AckLinkInvalid("this link has expired; open the case page instead")
    return link


def url(public_url: str, secret: str | None, *, kind: str, case_id: int | None, person: str,
        created_at: datetime) -> str:
    """The link for one message, or "" when there is none to give."""
    if not (public_url and secret and case_id is not None and kind in KINDS):
        return ""
    return f"{public_url.rstrip('/')}/dashboard/ack/{sign(secret, case_id, person, created_at)}"


BUTTONS = {"open": {"ru": "Открыть заявку", "en": "Open the case", "pl": "Otwórz sprawę"},
           "ack": {"ru": "Принять", "en": "Acknowledge", "pl": "Potwierdź"}}


def buttons(public_url: str, ack_url: str, *, case_id: int | None, locale: str) -> tuple[tuple[str, str], ...]:
    """Chat buttons: the case page, and the acknowledge link when there is one."""
    if not public_url or case_id is None:
        return ()
    page = f"{public_url.rstrip('/')}/dashboard/cases/{case_id}"
    found = [(BUTTONS["open"].get(locale, BUTTONS["open"]["en"]), page)]
    if ack_url:
        found.append((BUTTONS["ack"].get(locale, BUTTONS["ack"]["en"]), ack_url))
    return tuple(found)

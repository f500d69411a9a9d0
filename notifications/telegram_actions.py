"""The buttons of a Telegram message and what a press names.

A warning, breach, escalation, assignment or new-case message to a person who linked their
Telegram account (``org.telegram_links``) carries one button per action they may take on the case
*now* (``engine.permitted.allowed_actions``, as the case page): take, acknowledge, snooze, and
each allowed trigger that needs no fields; a trigger that needs fields gets a URL button to its
form on the case page. People who have not linked get the URL buttons only (a press could not
act as anyone).

A press's ``callback_data`` (Telegram allows 64 bytes) is ``<action>:<case>:<version>[:<trigger>]``
with action ``t`` (take), ``k`` (acknowledge), ``s`` (snooze ``SNOOZE_MINUTES``) or ``f`` (fire).
It needs no signature: only Telegram delivers presses (the webhook checks its secret header), a
press acts as the linked person who pressed, and the engine checks that they may; the version
refuses a press on a message older than the case's last change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import CaseNotFound
from engine.permitted import allowed_actions
from org.telegram_links import chat_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from org.chart import Company

ACTION_KINDS = ("warning", "breach", "escalation", "assigned", "case_opened")
"""Messages about a step someone may act on now ("new in your queue": opened, assigned)."""
ESCALATION_KINDS = ("warning", "breach", "escalation")
"""Messages about a step in escalation: acknowledge and snooze are offered."""
SNOOZE_MINUTES = 60
MAX_DATA = 64
"""Telegram's limit on ``callback_data``, in bytes."""
TAKE, ACKNOWLEDGE, SNOOZE, FIRE = "t", "k", "s", "f"
ACTIONS = (TAKE, ACKNOWLEDGE, SNOOZE, FIRE)

LABELS = {
    TAKE: {"ru": "Взять себе", "en": "Take", "pl": "Przejmij"},
    ACKNOWLEDGE: {"ru": "Подтвердить", "en": "Acknowledge", "pl": "Potwierdź"},
    SNOOZE: {"ru": "Отложить на 1 ч", "en": "Snooze 1 h", "pl": "Odłóż o 1 h"},
    "form": {"ru": "форма", "en": "form", "pl": "formularz"},
}

Buttons = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Press:
    action: str
    case_id: int
    version: int
    trigger: str = ""


def encode(press: Press) -> str:
    data = f"{press.action}:{press.case_id}:{press.version}" + (f":{press.trigger}" if press.trigger else "")
    if len(data.encode()) > MAX_DATA:
        raise ValueError(f"callback data over {MAX_DATA} bytes: {data!r}")
    return data


def decode(data: str) -> Press | None:
    """The press a button names, or None for anything else (an old or foreign button)."""
    parts = data.split(":")
    if len(parts) not in (3, 4) or parts[0] not in ACTIONS or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    trigger = parts[3] if len(parts) == 4 else ""
    if (parts[0] == FIRE) != bool(trigger):
        return None
    return Press(parts[0], int(parts[1]), int(parts[2]), trigger)


def _label(key: str, locale: str) -> str:
    return LABELS[key].get(locale, LABELS[key]["en"])


def buttons(session: Session, company: Company, *, kind: str, case_id: int | None, person: str, locale: str,
            public_url: str) -> tuple[Buttons, Buttons]:
    """(callback buttons, URL buttons to trigger forms) for ``person``'s message of ``kind``."""
    if kind not in ACTION_KINDS or case_id is None or person not in company.config.people:
        return (), ()
    if chat_of(session, person) is None:
        return (), ()
    from engine import cases  # the engine's module is loaded only when a button is computed

    try:
        case = cases.get_case(session, case_id)
    except CaseNotFound:
        return (), ()
    definition = cases.definition_of(session, company, case)
    allowed = allowed_actions(company, definition, state=case.state, owner_department=case.owner_department,
                              owner_person=case.owner_person, actor=company.actor(person),
                              status="breached" if kind in ESCALATION_KINDS else "ok")
    actions: list[tuple[str, str]] = []
    forms: list[tuple[str, str]] = []
    if allowed.can_take:
        actions.append((_label(TAKE, locale), encode(Press(TAKE, case.id, case.version))))
    if allowed.can_acknowledge:
        actions.append((_label(ACKNOWLEDGE, locale), encode(Press(ACKNOWLEDGE, case.id, case.version))))
        actions.append((_label(SNOOZE, locale), encode(Press(SNOOZE, case.id, case.version))))
    page = f"{public_url.rstrip('/')}/dashboard/cases/{case.id}"
    for trigger in allowed.triggers:
        label = definition.trigger_label(trigger.trigger, locale)
        data = f"{FIRE}:{case.id}:{case.version}:{trigger.trigger}"
        if not trigger.requires and len(data.encode()) <= MAX_DATA:  # else (a very long name) its form
            actions.append((label, encode(Press(FIRE, case.id, case.version, trigger.trigger))))
        elif public_url:
            forms.append((f"{label}: {_label('form', locale)}", f"{page}?lang={locale}#fire-{trigger.trigger}"))
    return tuple(actions), tuple(forms)


def linked_chat(session: Session, person: str) -> str | None:
    """The chat a person linked (it overrides ``chat.telegram`` of the company file)."""
    return chat_of(session, person)


def for_message(factory: sessionmaker[Session], company: Company, *, kind: str, case_id: int | None, person: str,
                locale: str, public_url: str, configured: str | None) -> tuple[str | None, Buttons, Buttons]:
    """(address, callback buttons, form buttons) of one Telegram message when it is sent: the
    linked chat wins over ``configured`` (the company file's ``chat.telegram``)."""
    with factory() as session:
        address = linked_chat(session, person) or configured
        actions, forms = buttons(session, company, kind=kind, case_id=case_id, person=person, locale=locale,
                                 public_url=public_url)
    return address, actions, forms


def linked_channels(session: Session, company: Company, person: str) -> tuple[str, ...]:
    """("telegram",) when the person lists Telegram among their channels and reaches it only
    through a linked chat (so a message is written for it); else ()."""
    config = company.config.people.get(person)
    if config is None or "telegram" not in config.channels or config.chat.get("telegram"):
        return ()
    return ("telegram",) if linked_chat(session, person) is not None else ()

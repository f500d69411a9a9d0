"""The Telegram bot's webhook (``POST /telegram/webhook``): linking a chat with ``/start CODE``
(or ``/link CODE``) and acting on the buttons of a message (``notifications.telegram_actions``).

Telegram sends each update with the ``secret_token`` given to ``setWebhook`` in the
``X-Telegram-Bot-Api-Secret-Token`` header: a request without the configured secret is refused
(403; the endpoint answers 404 while ``SLAFLOW_TELEGRAM_WEBHOOK_SECRET`` is unset). Every update
from Telegram is answered 200 at once, whatever came of it (Telegram re-sends a non-2xx answer):
a refused press changes nothing and says why in the pop-up; nothing is stored but the effect (a
link, a case event). Answers to Telegram (``answerCallbackQuery``, ``editMessageText``,
``sendMessage``) go out after the HTTP answer, through python-telegram-bot.

A press acts as the person whose Telegram account (the pressing user, not the chat) is linked,
through the engine, which checks that they may; its event's source is ``telegram``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.state import AppState, app_state
from core.errors import CaseNotFound, ConflictError, IllegalTransition, NotPermitted, SlaflowError, UnknownPerson
from engine import cases, records
from engine.records import CaseRecord
from notifications import telegram_actions as ta
from notifications.settings import NotificationSettings
from notifications.transports.base import TransportError
from org.chart import Actor
from org.secrets import same
from org.telegram_links import LinkCodeInvalid, person_of_user, redeem
from state_machines.machine import machine_for

log = logging.getLogger(__name__)
router = APIRouter(tags=["telegram"], include_in_schema=False)
SOURCE = "telegram"
SETTINGS = ("telegram_token", "telegram_token_file", "telegram_api_base", "telegram_webhook_secret",
            "telegram_webhook_secret_file", "http_timeout", "public_url")

TEXTS = {
    "linked": {"en": "Linked: you are {name} in slaflow. Messages about your cases come here, with buttons.",
               "ru": "Готово: вы — {name} в slaflow. Сообщения о ваших заявках придут сюда, с кнопками."},
    "code_bad": {"en": "This code is unknown, used or expired. Get a new one in slaflow (Link Telegram).",
                 "ru": "Код неизвестен, использован или истёк. Получите новый в slaflow («Привязать Telegram»)."},
    "private_only": {"en": "Link your account in a private chat with the bot.",
                     "ru": "Привяжите аккаунт в личном чате с ботом."},
    "hello": {"en": "Send /start CODE with the code slaflow gave you (Link Telegram) to link this chat.",
              "ru": "Отправьте /start КОД с кодом из slaflow («Привязать Telegram»), чтобы привязать этот чат."},
    "not_linked": {"en": "This Telegram account is not linked to anyone in slaflow: send /start CODE first.",
                   "ru": "Этот аккаунт Telegram не привязан к slaflow: сначала отправьте /start КОД."},
    "unknown": {"en": "This button is not known to slaflow (an old message?).",
                "ru": "Эта кнопка неизвестна slaflow (старое сообщение?)."},
    "stale": {"en": "The case has changed since this message: nothing was done. Open it in slaflow.",
              "ru": "Заявка изменилась после этого сообщения: ничего не сделано. Откройте её в slaflow."},
    "gone": {"en": "This case does not exist.", "ru": "Такой заявки нет."},
    "needs_form": {"en": "This step needs a form: open the case in slaflow.",
                   "ru": "Для этого шага нужна форма: откройте заявку в slaflow."},
    "refused": {"en": "Not done: {why}", "ru": "Не сделано: {why}"},
    "taken": {"en": "Taken: case {id} is yours.", "ru": "Взято: заявка {id} ваша."},
    "acknowledged": {"en": "Acknowledged case {id}.", "ru": "Заявка {id} принята."},
    "snoozed": {"en": "Snoozed case {id} for {minutes} min.", "ru": "Заявка {id} отложена на {minutes} мин."},
    "fired": {"en": "Done: {trigger} on case {id}.", "ru": "Сделано: {trigger}, заявка {id}."},
}


def _text(key: str, locale: str, **values: Any) -> str:
    texts = TEXTS[key]
    return texts.get(locale, texts["en"]).format(**values)


class Refused(Exception):
    """A press that changes nothing; ``key`` names its answer."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def _settings(request: Request) -> NotificationSettings:
    settings: NotificationSettings = request.app.state.telegram_settings
    return settings


@router.post("/telegram/webhook")
async def webhook(request: Request, background: BackgroundTasks) -> Response:
    """The secret first, then the body (a stranger's body is never parsed)."""
    settings = _settings(request)
    expected = settings.telegram_webhook_secret
    if expected is None:
        raise HTTPException(404, "the Telegram webhook is not enabled (SLAFLOW_TELEGRAM_WEBHOOK_SECRET)")
    if not same(request.headers.get("x-telegram-bot-api-secret-token", ""), expected.get_secret_value()):
        raise HTTPException(403, "wrong or missing X-Telegram-Bot-Api-Secret-Token")
    try:
        update = json.loads(await request.body())
    except ValueError:
        update = None
    if not isinstance(update, dict):
        log.warning("telegram webhook: a body that is not a JSON object was ignored")
        return Response(status_code=200)
    try:  # the engine's work runs in the thread pool, as a plain route's would
        replies = await run_in_threadpool(handle, app_state(request), settings, update)
    except Exception:  # a bug must not make Telegram re-send the update for ever
        log.exception("telegram update %s could not be handled", update.get("update_id"))
        replies = []
    for reply in replies:
        background.add_task(_send, settings, reply)
    return Response(status_code=200)


Reply = tuple[str, Callable[[Any], Any]]
"""(what, call on the library's Bot) sent to Telegram after the HTTP answer."""


def _send(settings: NotificationSettings, reply: Reply) -> None:
    from notifications.telegram_bot import TelegramBot

    what, call = reply
    try:
        TelegramBot(settings).run(call, what=what)
    except TransportError as exc:
        log.warning("telegram answer not delivered: %s", exc)


def handle(state: AppState, settings: NotificationSettings, data: dict[str, Any]) -> list[Reply]:
    """What to send back for one update (parsed by python-telegram-bot); [] for anything else."""
    from telegram import Update

    try:
        update = Update.de_json(data, None)
    except (KeyError, TypeError, ValueError):
        log.warning("telegram update %s could not be parsed", data.get("update_id"))
        return []
    if update.callback_query is not None:
        return _press(state, settings, update)
    if update.message is not None and update.message.text:
        return _message(state, update)
    return []


def _message(state: AppState, update: Any) -> list[Reply]:
    message = update.message
    chat_id, locale = message.chat.id, state.company.locale
    command, _, code = message.text.strip().partition(" ")
    if command.split("@")[0] not in ("/start", "/link"):
        return []
    values: dict[str, str] = {}
    if message.chat.type != "private" or message.from_user is None:
        key = "private_only"
    elif not code.strip():
        key = "hello"
    else:
        try:
            with state.sessions.begin() as session:
                person = redeem(session, state.company, code.strip(), chat_id=str(chat_id),
                                user_id=str(message.from_user.id), now=state.clock.now())
        except LinkCodeInvalid:
            key = "code_bad"
        else:
            config = state.company.config.people[person]
            locale = config.locale or locale
            key, values = "linked", {"name": _name(config.name, locale)}
    text = _text(key, locale, **values)
    return [("sendMessage", lambda bot: bot.send_message(chat_id=chat_id, text=text))]


def _name(label: Any, locale: str) -> str:
    from state_machines.values import label_text

    return label_text(label, locale)


def _press(state: AppState, settings: NotificationSettings, update: Any) -> list[Reply]:
    query = update.callback_query
    locale = state.company.locale
    try:
        with state.reads() as session:
            person = person_of_user(session, str(query.from_user.id))
        if person is None:
            raise Refused("not_linked")
        if person in state.company.config.people:
            locale = state.company.config.people[person].locale or locale
        press = ta.decode(query.data or "")
        if press is None:
            raise Refused("unknown")
        answer = _act(state, person, press, locale)
        ok = True
    except Refused as refused:
        answer, ok = _text(refused.key, locale, **refused.values), False
    replies: list[Reply] = [("answerCallbackQuery",
                             lambda bot: bot.answer_callback_query(query.id, text=answer[:200], show_alert=not ok))]
    message = query.message
    if ok and message is not None and getattr(message, "text", None):
        links = _url_buttons(message)
        text = f"{message.text}\n\n✔️ {answer}"[:4096]
        replies.append(("editMessageText", lambda bot: bot.edit_message_text(
            text, chat_id=message.chat.id, message_id=message.message_id, reply_markup=links)))
    return replies


def _url_buttons(message: Any) -> Any:
    """The message's URL buttons (open the case, forms); its action buttons are spent."""
    from telegram import InlineKeyboardMarkup

    markup = message.reply_markup
    rows = [[b for b in row if b.url] for row in (markup.inline_keyboard if markup is not None else ())]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _act(state: AppState, person: str, press: ta.Press, locale: str) -> str:
    """Do what the press names as ``person``; its answer, or `Refused` (nothing changed)."""
    try:
        actor = state.company.actor(person)
        with state.sessions.begin() as session:
            case = records.load(session, press.case_id)
            if case.version != press.version:
                raise ConflictError(case.id, press.version, case.version)
            done = _engine_call(session, state, person, actor, press, case, locale)
    except Refused:
        raise
    except UnknownPerson:
        raise Refused("not_linked") from None
    except CaseNotFound:
        raise Refused("gone") from None
    except ConflictError:
        raise Refused("stale") from None
    except (NotPermitted, IllegalTransition, SlaflowError) as exc:
        raise Refused("refused", why=str(exc)) from None
    return done


def _engine_call(session: Session, state: AppState, person: str, actor: Actor, press: ta.Press, case: CaseRecord,
                 locale: str) -> str:
    company, now, case_id = state.company, state.clock.now(), press.case_id
    if press.action == ta.TAKE:
        cases.assign(session, company, case_id=case_id, person=person, actor=actor, now=now,
                     expected_version=press.version, source=SOURCE)
        return _text("taken", locale, id=case_id)
    if press.action in (ta.ACKNOWLEDGE, ta.SNOOZE):
        snooze = ta.SNOOZE_MINUTES if press.action == ta.SNOOZE else None
        cases.acknowledge(session, company, case_id=case_id, actor=actor, now=now, snooze_minutes=snooze,
                          source=SOURCE)
        if snooze is None:
            return _text("acknowledged", locale, id=case_id)
        return _text("snoozed", locale, id=case_id, minutes=snooze)
    definition = cases.definition_of(session, company, case)
    rule = machine_for(definition).rule(press.trigger, case.state)
    if rule is not None and rule.requires and actor.may(rule.allowed):
        raise Refused("needs_form")
    cases.fire(session, company, case_id=case_id, trigger=press.trigger, actor=actor, now=now, payload={},
               expected_version=press.version, source=SOURCE)
    return _text("fired", locale, id=case_id, trigger=definition.trigger_label(press.trigger, locale))


def install(app: FastAPI, environ: Mapping[str, str]) -> None:
    """The bot's settings from ``SLAFLOW_TELEGRAM_*`` (as the dispatcher reads them) and the route."""
    given = {name: environ[f"SLAFLOW_{name.upper()}"] for name in SETTINGS if f"SLAFLOW_{name.upper()}" in environ}
    app.state.telegram_settings = NotificationSettings.model_validate(given)
    app.include_router(router)

"""Telegram bot: ``sendMessage`` through python-telegram-bot (``notifications.telegram_bot``) to
the person's chat: the chat they linked with a code (``org.telegram_links``), else
``chat.telegram`` of the company file (the outbox resolves which).

Under the text: rows of callback buttons (take, acknowledge, snooze, the triggers that need no
fields; pressed in Telegram they act as the linked person, see ``api.telegram``) when the message
has ``actions``, then one row of URL buttons (open the case, the e-mail-style acknowledge link, a
trigger's form). The API base URL is a setting so a self-hosted Bot API server (or a test server)
can stand in. Telegram's errors (``{"ok": false, "error_code", "description"}``, on 429
``parameters.retry_after``) are kept in the attempt's error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.transports.base import Outgoing, Transport

if TYPE_CHECKING:
    from telegram import InlineKeyboardMarkup

    from org.chart import PersonConfig

MAX_TEXT = 4096
"""Telegram rejects longer messages (400), which would make a long digest fail for ever."""


class TelegramTransport(Transport):
    kind = "telegram"
    format = "chat"

    @classmethod
    def address(cls, person_id: str, person: PersonConfig) -> str | None:
        return person.chat.get("telegram") or None

    def send(self, message: Outgoing) -> None:
        from telegram import LinkPreviewOptions  # imported when a message goes out: the CLI must start fast

        from notifications.telegram_bot import TelegramBot

        markup = keyboard(message.actions, message.links)
        TelegramBot(self.settings).run(
            lambda bot: bot.send_message(chat_id=message.address, text=message.text[:MAX_TEXT], reply_markup=markup,
                                         link_preview_options=LinkPreviewOptions(is_disabled=True)),
            what="sendMessage",
        )


ROW = 3
"""Callback buttons per row (a phone shows three labels of a word or two side by side)."""


def keyboard(actions: tuple[tuple[str, str], ...], links: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup | None:
    """Callback buttons first, ``ROW`` to a row; URL buttons in the last row; None without any."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    buttons = [InlineKeyboardButton(label, callback_data=data) for label, data in actions]
    rows = [buttons[i:i + ROW] for i in range(0, len(buttons), ROW)]
    if links:
        rows.append([InlineKeyboardButton(label, url=url) for label, url in links])
    return InlineKeyboardMarkup(rows) if rows else None

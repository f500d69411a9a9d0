"""A local fake of the Telegram Bot API (the one boundary the Telegram tests fake): it records
each call and answers ``sendMessage``, ``editMessageText`` and ``answerCallbackQuery`` as the
Bot API documents them (the sent or edited Message, or True); a wrong token is 401, an unknown
method 404. And the updates Telegram would post to the webhook."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.test_notifications_support import QuietHandler, serving

TOKEN = "123456:TEST-token"
WEBHOOK_SECRET = "telegram-webhook-secret-for-tests"
DATE = 1_763_280_000


@dataclass
class FakeBotApi:
    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for name, body in self.calls if name == method]


def _message(message_id: int, body: dict[str, Any]) -> dict[str, Any]:
    chat_id = str(body.get("chat_id"))
    message: dict[str, Any] = {"message_id": message_id, "date": DATE, "text": body.get("text", ""),
                               "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else 1,
                                        "type": "private"}}
    if body.get("reply_markup"):
        message["reply_markup"] = body["reply_markup"]
    return message


@contextmanager
def fake_bot_api() -> Iterator[FakeBotApi]:
    api = FakeBotApi()
    ids = itertools.count(100)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            token, _, method = self.path.removeprefix("/bot").partition("/")
            body = json.loads(raw or b"{}")
            with api.lock:
                api.calls.append((method, body))
            if token != TOKEN:
                self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            elif method in ("sendMessage", "editMessageText"):
                self._answer(200, {"ok": True, "result": _message(next(ids), body)})
            elif method == "answerCallbackQuery":
                self._answer(200, {"ok": True, "result": True})
            else:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            self.answer(status, json.dumps(payload))

    with serving(Handler) as api.url:
        yield api


_updates = itertools.count(1)


def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}


def text_update(user_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
    chat_id = user_id if chat_type == "private" else -1000
    return {"update_id": next(_updates), "message": {
        "message_id": next(_updates), "date": DATE, "chat": {"id": chat_id, "type": chat_type},
        "from": user(user_id), "text": text}}


def press_update(user_id: int, data: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
    """A press of the button with ``data`` under ``message`` (a sent message, as the fake made it)."""
    query: dict[str, Any] = {"id": f"cq{next(_updates)}", "from": user(user_id), "chat_instance": "ci", "data": data}
    if message is not None:
        query["message"] = message
    return {"update_id": next(_updates), "callback_query": query}


def buttons(sent: dict[str, Any]) -> list[dict[str, str]]:
    return [button for row in sent.get("reply_markup", {}).get("inline_keyboard", []) for button in row]

"""The layout of a Telegram message with its buttons, drawn in the real headless Chromium of the
browser tests: the escalation the dispatcher really sends (to the local fake Bot API) to a
marketer who linked Telegram is shown as a chat bubble with its inline keyboard, from the
``sendMessage`` body itself. The screenshot goes to $SLAFLOW_SCREENSHOT_DIR (docs/ when
refreshing it) as telegram-message.png."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import pytest

from api.testing import dump_yaml, example_config, runtime
from core.clock import SimulatedClock
from notifications import events
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from org import telegram_links
from storage.db import migrate
from storage.models import OutboxMessage
from tests.conftest import MONDAY_0900_MSK
from tests.telegram_support import TOKEN, fake_bot_api
from tests.test_dashboard_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.test_notifications_support import open_dispute, step_clock

STYLE = """
body { margin: 0; background: #dfe7d5; font: 15px/1.35 -apple-system, "Segoe UI", Roboto, sans-serif; }
.chat { width: 460px; padding: 24px; }
.bubble { background: #fff; border-radius: 12px 12px 12px 4px; padding: 10px 12px; white-space: pre-wrap;
          box-shadow: 0 1px 1px rgba(0,0,0,.15); }
.bubble .who { color: #3a8dde; font-weight: 600; margin-bottom: 4px; }
.keyboard { margin-top: 4px; }
.row { display: flex; gap: 4px; margin-top: 4px; }
.row button { flex: 1; border: 0; border-radius: 8px; padding: 9px 6px; color: #fff; font: inherit;
              background: rgba(76, 106, 62, .55); }
.row button.url::after { content: " ↗"; font-size: 12px; }
.caption { color: #556; font-size: 12px; margin-top: 10px; }
"""


def mock(body: dict[str, Any]) -> str:
    """An HTML mock of how a Telegram client shows ``sendMessage``'s text and inline keyboard."""
    rows = []
    for row in body.get("reply_markup", {}).get("inline_keyboard", []):
        cells = "".join(
            f'<button class="{"url" if "url" in b else "callback"}" '
            f'title="{html.escape(b.get("url") or b["callback_data"])}">{html.escape(b["text"])}</button>'
            for b in row)
        rows.append(f'<div class="row">{cells}</div>')
    return (f"<!doctype html><meta charset=utf-8><style>{STYLE}</style><div class=chat>"
            f'<div class=bubble><div class=who>slaflow bot</div>{html.escape(body["text"])}</div>'
            f'<div class=keyboard>{"".join(rows)}</div>'
            "<div class=caption>Buttons that act as the linked person (callback_data), then links "
            "(the case page, a trigger's form).</div></div>")


@pytest.mark.browser
def test_the_telegram_message_layout_with_its_buttons(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    url = f"sqlite:///{tmp_path / 'slaflow.db'}"
    migrate(url)
    raw = example_config()
    raw["people"]["sidorov"]["channels"] = ["telegram", "email"]
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw), encoding="utf-8")
    served = runtime(url, config)
    company, clock = served.company, SimulatedClock(MONDAY_0900_MSK)
    try:
        with served.sessions.begin() as session:
            code = telegram_links.new_code(session, company, "sidorov", now=clock.now())
            telegram_links.redeem(session, company, code, chat_id="42", user_id="42", now=clock.now())
            case = open_dispute(session, company, clock.now())
            events.escalated(session, company, case, step_clock(session, case), level=1,
                             audience=["person:sidorov"], now=clock.now())
            session.query(OutboxMessage).where(OutboxMessage.channel != "telegram").delete()
        with fake_bot_api() as api:
            settings = NotificationSettings(telegram_token=TOKEN, telegram_api_base=api.url,
                                            public_url="https://sla.example")
            assert dispatch_due(served.sessions, company, now=clock.now(), owner="t", settings=settings).sent == 1
            [body] = api.to("sendMessage")
    finally:
        served.engine.dispose()
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 508, "height": 400}, device_scale_factor=1)
    page = context.new_page()
    page.set_content(mock(body))
    for label in ("Взять себе", "Подтвердить", "Отложить на 1 ч", "Принять", "Открыть заявку"):
        expect(page.get_by_role("button", name=label, exact=False).first).to_be_visible()
    shots = Path(os.environ.get("SLAFLOW_SCREENSHOT_DIR", str(tmp_path)))
    page.locator(".chat").screenshot(path=str(shots / "telegram-message.png"))
    context.close()

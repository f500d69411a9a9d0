"""Acting from Telegram, against the real app (its webhook) and a local fake of the Bot API:
linking a chat with a one-time code (expired, reused and wrong codes refused), the buttons of a
message matching what its recipient may do, a press taking / acknowledging / firing as the
linked person (an event with them as actor), and refused presses changing nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.testing import PASSWORDS, TestClient, dump_yaml, example_config, serving, set_passwords, sign_in
from core.clock import SimulatedClock
from crm import samples
from notifications import events
from notifications import telegram_actions as ta
from notifications.outbox import dispatch_due
from notifications.settings import NotificationSettings
from org import telegram_links
from storage.models import Case, CaseEvent, OutboxMessage, TelegramLink
from tests.telegram_support import (
    TOKEN,
    WEBHOOK_SECRET,
    FakeBotApi,
    buttons,
    fake_bot_api,
    press_update,
    text_update,
)
from tests.test_notifications_support import open_dispute, step_clock

SIDOROV, IVANOV, STRANGER = 42, 43, 99
"""Telegram user ids: the marketer (marketing owns the dispute's review), the sales manager, nobody."""


@pytest.fixture
def bot(db_url: str, tmp_path: Path, clock: SimulatedClock) -> Iterator[tuple[TestClient, FakeBotApi]]:
    raw = example_config()
    for person in ("sidorov", "ivanov"):
        raw["people"][person]["channels"] = ["telegram", "email"]  # reached only through a linked chat
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(raw), encoding="utf-8")
    set_passwords(db_url, config, PASSWORDS)
    with fake_bot_api() as api:
        environ = {**samples.SAMPLE_ENV, "SLAFLOW_TELEGRAM_TOKEN": TOKEN, "SLAFLOW_TELEGRAM_API_BASE": api.url,
                   "SLAFLOW_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
        with serving(db_url, config, clock, environ) as client:
            yield client, api


def hook(client: TestClient, update: dict[str, Any], secret: str | None = WEBHOOK_SECRET) -> Any:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    return client.post("/telegram/webhook", json=update, headers=headers)


def state(client: TestClient) -> Any:
    return client.app.state.slaflow  # type: ignore[attr-defined]


def code_for(client: TestClient, person: str) -> str:
    with state(client).sessions.begin() as session:
        return telegram_links.new_code(session, state(client).company, person, now=state(client).clock.now())


def link(client: TestClient, person: str, user_id: int) -> None:
    assert hook(client, text_update(user_id, f"/start {code_for(client, person)}")).status_code == 200


def links(client: TestClient) -> dict[str, tuple[str, str]]:
    with state(client).sessions() as session:
        return {row.person: (row.chat_id, row.user_id) for row in session.scalars(select(TelegramLink))}


def replies(api: FakeBotApi, chat_id: int) -> list[str]:
    return [body["text"] for body in api.to("sendMessage") if str(body["chat_id"]) == str(chat_id)]


def test_a_code_links_the_chat_once_and_expired_reused_or_wrong_codes_are_refused(
    bot: tuple[TestClient, FakeBotApi], clock: SimulatedClock
) -> None:
    client, api = bot
    code = code_for(client, "sidorov")
    assert hook(client, text_update(SIDOROV, f"/start {code}")).status_code == 200
    assert links(client) == {"sidorov": (str(SIDOROV), str(SIDOROV))}
    assert "sidorov" not in code  # only its hash is stored
    assert replies(api, SIDOROV)[-1].startswith("Готово: вы — ")
    assert hook(client, text_update(STRANGER, f"/start {code}")).status_code == 200  # used up
    assert hook(client, text_update(STRANGER, "/link not-a-code-at-all")).status_code == 200
    expired = code_for(client, "ivanov")
    clock.advance(timedelta(minutes=telegram_links.CODE_MINUTES + 1))
    assert hook(client, text_update(STRANGER, f"/start {expired}")).status_code == 200
    assert links(client) == {"sidorov": (str(SIDOROV), str(SIDOROV))}
    assert [text.startswith("Код неизвестен") for text in replies(api, STRANGER)] == [True, True, True]
    group = hook(client, text_update(IVANOV, f"/start {code_for(client, 'ivanov')}", chat_type="group"))
    assert group.status_code == 200 and "ivanov" not in links(client)  # a group chat cannot be linked


def test_the_webhook_wants_telegrams_secret_header(bot: tuple[TestClient, FakeBotApi]) -> None:
    client, api = bot
    update = text_update(SIDOROV, f"/start {code_for(client, 'sidorov')}")
    assert hook(client, update, secret=None).status_code == 403
    assert hook(client, update, secret="guessed").status_code == 403
    assert hook(client, update, secret=WEBHOOK_SECRET[:-1] + "x").status_code == 403
    assert links(client) == {} and api.calls == []
    garbage = client.post("/telegram/webhook", content=b"not json",
                          headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
    assert garbage.status_code == 200 and links(client) == {}  # nothing to process: 200, so no re-sending
    assert hook(client, update).status_code == 200 and "sidorov" in links(client)


def _escalate(client: TestClient, level: int, case_id: int | None = None) -> int:
    """A dispute (opened by ivanov, review owned by marketing) escalated to sidorov and ivanov."""
    served, now = state(client), state(client).clock.now()
    with served.sessions.begin() as session:
        case = open_dispute(session, served.company, now) if case_id is None else session.get(Case, case_id)
        assert case is not None
        events.escalated(session, served.company, case, step_clock(session, case), level=level,
                         audience=["person:sidorov", "person:ivanov"], now=now)
        session.query(OutboxMessage).where(OutboxMessage.channel != "telegram").delete()
        return case.id


def _deliver(client: TestClient, api: FakeBotApi) -> dict[str, dict[str, Any]]:
    """Send what is due; the sent messages by chat id, as the fake Bot API returned them."""
    served = state(client)
    settings = NotificationSettings(telegram_token=TOKEN, telegram_api_base=api.url, public_url="http://testserver")
    before = len(api.to("sendMessage"))
    result = dispatch_due(served.sessions, served.company, now=served.clock.now(), owner="t", settings=settings)
    assert result.failed == 0 and result.retried == 0
    sent = api.to("sendMessage")[before:]
    return {str(body["chat_id"]): {**body, "message_id": 500 + i, "date": 0,
                                   "chat": {"id": int(body["chat_id"]), "type": "private"}}
            for i, body in enumerate(sent)}


def _case(client: TestClient, case_id: int) -> tuple[Case, list[CaseEvent]]:
    with state(client).sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        found = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
        session.expunge_all()
        return case, found


def _data(message: dict[str, Any]) -> set[str]:
    return {b["callback_data"] for b in buttons(message) if "callback_data" in b}


def _press(client: TestClient, api: FakeBotApi, user_id: int, data: str, message: dict[str, Any]) -> dict[str, Any]:
    assert hook(client, press_update(user_id, data, message)).status_code == 200
    return api.to("answerCallbackQuery")[-1]


def test_buttons_match_what_each_recipient_may_do_and_presses_act_as_the_linked_person(
    bot: tuple[TestClient, FakeBotApi],
) -> None:
    client, api = bot
    link(client, "sidorov", SIDOROV)
    link(client, "ivanov", IVANOV)
    case_id = _escalate(client, level=1)
    case, _ = _case(client, case_id)
    sent = _deliver(client, api)
    marketer, sales = sent[str(SIDOROV)], sent[str(IVANOV)]
    v = case.version
    assert _data(marketer) == {f"t:{case_id}:{v}", f"k:{case_id}:{v}", f"s:{case_id}:{v}", f"f:{case_id}:{v}:accept"}
    assert _data(sales) == {f"f:{case_id}:{v}:withdraw"}  # sales may withdraw; not take, acknowledge or accept
    urls = {b["text"]: b["url"] for b in buttons(marketer) if "url" in b}
    assert urls["Открыть заявку"] == f"http://testserver/dashboard/cases/{case_id}"
    assert any(url.endswith("#fire-reject") for url in urls.values())  # reject needs a justification: its form
    assert all(len(data.encode()) <= 64 for m in sent.values() for data in _data(m))

    # ivanov presses a button of sidorov's message: refused, nothing changed
    answer = _press(client, api, IVANOV, f"t:{case_id}:{v}", marketer)
    assert answer["show_alert"] is True and answer["text"].startswith("Не сделано")
    # someone who never linked: refused
    assert "не привязан" in _press(client, api, STRANGER, f"k:{case_id}:{v}", marketer)["text"]
    assert _case(client, case_id)[0].version == v

    answer = _press(client, api, SIDOROV, f"t:{case_id}:{v}", marketer)  # take
    case, log = _case(client, case_id)
    assert (case.owner_person, log[-1].trigger, log[-1].actor, log[-1].source) == ("sidorov", "assign", "sidorov",
                                                                                    "telegram")
    assert answer["text"] == f"Взято: заявка {case_id} ваша." and not answer.get("show_alert")
    [edited] = api.to("editMessageText")
    assert edited["text"].endswith(f"✔️ Взято: заявка {case_id} ваша.")
    assert all("url" in b for row in edited["reply_markup"]["inline_keyboard"] for b in row)  # spent buttons gone

    stale = _press(client, api, SIDOROV, f"k:{case_id}:{v}", marketer)  # the message is older than the take
    assert "изменилась" in stale["text"] and _case(client, case_id)[0].version == case.version

    _escalate(client, level=2, case_id=case_id)
    fresh = _deliver(client, api)[str(SIDOROV)]
    v = case.version
    assert _data(fresh) == {f"k:{case_id}:{v}", f"s:{case_id}:{v}", f"f:{case_id}:{v}:accept"}  # his now: no take
    _press(client, api, SIDOROV, f"k:{case_id}:{v}", fresh)
    case, log = _case(client, case_id)
    assert (log[-1].trigger, log[-1].actor, log[-1].source) == ("acknowledge", "sidorov", "telegram")

    form_only = _press(client, api, SIDOROV, f"f:{case_id}:{case.version}:reject", fresh)  # a forged press
    assert "форма" in form_only["text"] and _case(client, case_id)[0].version == case.version
    assert "неизвестна" in _press(client, api, SIDOROV, "x:1:1", fresh)["text"]

    _press(client, api, SIDOROV, f"f:{case_id}:{case.version}:accept", fresh)
    case, log = _case(client, case_id)
    assert (case.state, log[-1].trigger, log[-1].actor, log[-1].source) == ("accepted", "accept", "sidorov",
                                                                            "telegram")


def test_the_workplace_page_gives_a_code_that_links(bot: tuple[TestClient, FakeBotApi]) -> None:
    client, _ = bot
    assert sign_in(client, "ivanov", password=PASSWORDS["ivanov"]).status_code == 303
    page = client.get("/dashboard/telegram?lang=en")
    assert page.status_code == 200 and "not linked yet" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    made = client.post("/dashboard/telegram/code?lang=en", data={"csrf": csrf.group(1)},
                       headers={"Origin": str(client.base_url)})
    code = re.search(r"/start ([A-Za-z0-9_-]{40,64})", made.text)
    assert made.status_code == 200 and code, made.text
    forged = client.post("/dashboard/telegram/code?lang=en", data={"csrf": "nope"},
                         headers={"Origin": str(client.base_url)})
    assert forged.status_code == 403
    assert hook(client, text_update(IVANOV, f"/start {code.group(1)}")).status_code == 200
    assert links(client) == {"ivanov": (str(IVANOV), str(IVANOV))}
    assert "is linked" in client.get("/dashboard/telegram?lang=en").text


def test_callback_data_is_compact_and_round_trips() -> None:
    press = ta.Press(ta.FIRE, 2_000_000_000, 99_999, "a" * 30)
    assert ta.decode(ta.encode(press)) == press and len(ta.encode(press)) <= ta.MAX_DATA
    with pytest.raises(ValueError):
        ta.encode(ta.Press(ta.FIRE, 1, 1, "a" * 60))
    assert [ta.decode(d) for d in ("t:1:2:x", "f:1:2", "q:1:2", "t:a:2", "")] == [None] * 5


def test_a_new_in_your_queue_message_offers_take_and_triggers_but_not_acknowledge(
    bot: tuple[TestClient, FakeBotApi],
) -> None:
    client, api = bot
    link(client, "sidorov", SIDOROV)
    served = state(client)
    with served.sessions.begin() as session:
        case = open_dispute(session, served.company, served.clock.now())
        events.case_assigned(session, served.company, case, person="sidorov", now=served.clock.now())
        session.query(OutboxMessage).where(OutboxMessage.channel != "telegram").delete()
        case_id, v = case.id, case.version
    message = _deliver(client, api)[str(SIDOROV)]
    assert _data(message) == {f"t:{case_id}:{v}", f"f:{case_id}:{v}:accept"}


def test_the_webhook_is_off_without_its_secret(db_url: str, tmp_path: Path, clock: SimulatedClock) -> None:
    config = tmp_path / "company.yaml"
    config.write_text(dump_yaml(example_config()), encoding="utf-8")
    set_passwords(db_url, config, PASSWORDS)
    with serving(db_url, config, clock, samples.SAMPLE_ENV) as client:
        assert hook(client, text_update(SIDOROV, "/start x"), secret="").status_code == 404


@pytest.mark.parametrize(("status", "body", "headers", "permanent", "retry_after"), [
    (400, '{"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}', {}, True, None),
    (403, '{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}', {}, True, None),
    (500, '{"ok": false, "error_code": 500, "description": "Internal Server Error"}', {}, False, None),
    (429, '{"ok": false, "error_code": 429, "description": "Too Many Requests"}', {"Retry-After": "30"}, False, 30.0),
])
def test_telegram_errors_become_transport_errors(
    status: int, body: str, headers: dict[str, str], permanent: bool, retry_after: float | None
) -> None:
    from notifications.config import NotificationsConfig
    from notifications.transports import Outgoing, TransportError
    from notifications.transports.telegram import TelegramTransport
    from tests.test_notifications_support import running_http_sink

    with running_http_sink() as sink:
        sink.answer(f"/bot{TOKEN}/sendMessage", (status, body, headers))
        transport = TelegramTransport(NotificationSettings(telegram_token=TOKEN, telegram_api_base=sink.url),
                                      NotificationsConfig())
        with pytest.raises(TransportError) as error:
            transport.send(Outgoing(message_id=1, dedupe_key="k", kind="test", channel="telegram", recipient="orlov",
                                    address="100001", subject="", text="hi"))
    assert (error.value.permanent, error.value.retry_after) == (permanent, retry_after)
    assert f"HTTP {status}" in str(error.value) and TOKEN not in str(error.value)

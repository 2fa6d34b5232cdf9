"""The self-service menu as a conversation, through the demo transport and the real hub."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from opchat.config import load_settings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Direction, InboundMessage
from opchat.replies import STARTER
from opchat.transports.demo import Customer, DemoTransport

CONFIG = """
language = "ru"
[menus.main]
text = "Выберите тему:"
options = [
  { label = "Доставка", reply = "delivery" },
  { label = "Оплата", reply = "pay" },
  { label = "Позовите человека", operator = true },
]
[channels.demo]
kind = "demo"
greeting_message = "Здравствуйте, {contact.first_name}!"
menu = "main"
interval = 3600.0
reply_delay = 0.05
"""


class ScriptedDemo(DemoTransport):
    """One customer who answers each message they get with the next line of the script."""

    def __init__(self, channel, data_dir) -> None:
        super().__init__(channel, data_dir)
        self.customers = {"3001": Customer("3001", "Нина Орлова", None, "ru",
                                           ["Добрый день!"], ["1", "3", "Спасибо"])}


async def test_the_menu_answers_then_hands_over_and_the_operator_sees_it_all(
    tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(tmp_path / "config.toml", tmp_path)
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.replies.save_all(STARTER)
    hub = asyncio.create_task(Hub(inbox, settings.channels, tmp_path,
                                  loader=lambda kind: ScriptedDemo).run())
    try:
        deadline = time.monotonic() + 20
        while True:
            conversations = await inbox.conversations()
            messages = await inbox.messages(conversations[0].id) if conversations else []
            if [m.body for m in messages][-1:] == ["Спасибо"]:
                break
            assert time.monotonic() < deadline, [(m.direction, m.body) for m in messages]
            await asyncio.sleep(0.05)
        # Nothing more is said after the last line: the answers follow the feed in
        # order, so once a later customer is greeted, "Спасибо" has been looked at.
        later = await inbox.store.inbound.ingest(InboundMessage(
            channel="demo", chat_id="3002", external_id="3002-1", sender_id="3002",
            sender_name="Олег", body="Здравствуйте"))
        while not [m for m in await inbox.messages(later.conversation_id)
                   if m.direction is Direction.AUTO]:
            assert time.monotonic() < deadline, "the later customer was not greeted"
            await asyncio.sleep(0.05)
        messages = await inbox.messages(conversations[0].id)
        script = [(m.direction.value, m.body.splitlines()[0]) for m in messages]
        assert script == [
            ("in", "Добрый день!"),
            ("auto", "Здравствуйте, Нина!"),
            ("in", "1"),
            ("auto", "Доставляем по городу за 1–2 дня, бесплатно от 3000 ₽. В другие "
                     "города — СДЭК, 3–7 дней."),
            ("in", "3"),
            ("auto", "Спасибо! Оператор ответит вам здесь."),
            ("in", "Спасибо"),
        ]
        menu = messages[1].body
        assert "Это автоматический помощник." in menu
        assert "1 — Доставка\n2 — Оплата\n3 — Позовите человека" in menu
        # Every automatic answer reached the customer, and none is an operator's answer.
        assert all(m.state.value in ("sent", "delivered", "read") for m in messages
                   if m.direction is Direction.AUTO)
        conversation = await inbox.conversation(conversations[0].id)
        assert conversation is not None
        assert conversation.waiting_since is not None and conversation.first_response_s is None
    finally:
        hub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hub
        await inbox.close()

"""The Telegram channel against a stand-in Bot API server on 127.0.0.1 (tests/telegram_api.py).

Real HTTP in both directions, aiogram as the client, the real hub and SQLite
files in tmp_path; the crash tests run ``opchat serve`` as a process and kill
it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Attachment, Health, Message, MessageState, OutboundMessage
from opchat.transports import Rejected, Retry
from opchat.transports.telegram.channel import CheckFailed, DownloadError, TelegramTransport
from opchat.transports.telegram.text import split_text, utf16_len
from opchat.transports.telegram.updates import convert_entities, convert_message
from tests.channels import (
    Serve,
    events_of_new_messages,
    free_port,
    holds,
    opchat,
    stored_external_ids,
    until,
)
from tests.telegram_api import (
    CONFLICT,
    CUSTOMER,
    DATE,
    HANG,
    MALFORMED,
    OTHER,
    SENT_THEN_HANG,
    TOKEN,
    BotAPI,
    Error,
    audio,
    bot_message_with_buttons,
    callback_update,
    chat_of,
    document,
    message,
    photo_sizes,
    sticker,
    text_update,
    video,
    video_note,
    voice,
)

CHAT = str(CUSTOMER["id"])


# Fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits of a few hundredths of a second instead of seconds."""
    monkeypatch.setattr(TelegramTransport, "backoff", (0.05, 0.1, 0.2))
    monkeypatch.setattr(TelegramTransport, "slow_retry", 0.3)
    monkeypatch.setattr(TelegramTransport, "poll_margin", 1.0)
    monkeypatch.setattr(TelegramTransport, "send_timeout", 1.0)
    monkeypatch.setattr(TelegramTransport, "check_timeout", 1.0)


@pytest.fixture
async def api() -> AsyncIterator[BotAPI]:
    server = await BotAPI().start()
    yield server
    await server.close()


@pytest.fixture
async def transport(api: BotAPI, tmp_path: Path) -> AsyncIterator[TelegramTransport]:
    """The transport alone, for what needs no hub (sending, files, checks)."""
    alone = TelegramTransport(settings(api), tmp_path)
    yield alone
    await alone.bot.session.close()


def settings(api: BotAPI, **options: Any) -> ChannelSettings:
    return ChannelSettings("shop", "telegram", {"token": TOKEN, "api_base": api.base,
                                                "poll_timeout": 1, **options})


class Running:
    """A hub with one Telegram channel "shop", as the hub runs it in opchat."""

    def __init__(self, inbox: Inbox, hub: Hub, api: BotAPI) -> None:
        self.inbox = inbox
        self.hub = hub
        self.api = api

    @property
    def transport(self) -> TelegramTransport:
        transport = self.hub.transports["shop"]
        assert isinstance(transport, TelegramTransport)
        return transport

    async def health(self) -> tuple[Health, str]:
        [channel] = [c for c in await self.inbox.channels() if c.name == "shop"]
        return channel.health, channel.health_detail

    async def wait_health(self, state: Health, contains: str = "", timeout: float = 5.0
                          ) -> str:
        async def check() -> str | None:
            health, detail = await self.health()
            return detail or "-" if health is state and contains in detail else None

        return await until(check, f"the channel to be {state.value} ({contains})", timeout)

    async def health_events(self) -> list[tuple[str, str]]:
        """Every health the channel has had, in order (the status bar's history)."""
        return [(e.data["health"], e.data["detail"])
                for e in await self.inbox.store.events.events_after(0, limit=10_000)
                if e.kind == "channel.health" and e.data.get("channel") == "shop"]

    async def was(self, state: Health, contains: str = "", timeout: float = 5.0) -> str:
        """Wait until the channel has been ``state`` with a detail containing ``contains``."""
        async def check() -> str | None:
            return next((detail or "-" for health, detail in await self.health_events()
                         if health == state.value
                         and contains.lower() in detail.lower()), None)

        return await until(check, f"the channel to be {state.value} ({contains})", timeout)

    async def messages(self) -> dict[str, Message]:
        """Every stored message of the channel, by external id."""
        found: dict[str, Message] = {}
        for conversation in await self.inbox.conversations(limit=1000):
            for m in await self.inbox.messages(conversation.id, limit=1000):
                found[m.external_id or f"local-{m.id}"] = m
        return found

    async def wait_messages(self, count: int, timeout: float = 5.0) -> dict[str, Message]:
        async def enough() -> dict[str, Message] | None:
            found = {k: m for k, m in (await self.messages()).items()
                     if not k.startswith("local-")}
            return found if len(found) >= count else None

        return await until(enough, f"{count} stored messages", timeout)

    async def cursor(self) -> str | None:
        return await self.inbox.store.channels.cursor("shop")


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api: BotAPI, **options: Any) -> AsyncIterator[Running]:
    inbox = await Inbox.open(tmp_path, "anna")
    hub = Hub(inbox, [settings(api, **options)], tmp_path)  # the real entry-point loader
    hub.backoff_base = 0.05
    task = asyncio.create_task(hub.run())
    try:
        await until(lambda: holds("shop" in hub.transports), "the transport")
        yield Running(inbox, hub, api)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


# Receiving --------------------------------------------------------------------------------


async def test_a_text_message_arrives_with_the_customer_profile(tmp_path: Path,
                                                                api: BotAPI) -> None:
    api.push(text_update(1, "Здравствуйте! Where is my order?"))
    async with running(tmp_path, api) as shop:
        found = await shop.wait_messages(1)
        await shop.wait_health(Health.OK, "@shop_bot")
        [conversation] = await shop.inbox.conversations()
    m = found[f"{CHAT}:1"]
    assert m.body == "Здравствуйте! Where is my order?"
    assert m.author == "Иван Петров"
    assert conversation.channel_kind == "telegram"
    db = sqlite3.connect(tmp_path / "opchat.db")
    username, profile = db.execute("SELECT username, profile FROM identities").fetchone()
    assert username == "ivan_p"
    assert '"language": "ru"' in profile and '"username": "ivan_p"' in profile


def every_kind() -> list[dict[str, Any]]:
    """One update of each kind a customer can send, shaped as the Bot API documents them."""
    buttons = bot_message_with_buttons(20, chat_of(CUSTOMER), "Pick a delivery time:",
                                       [("Morning", "slot:am"), ("Evening", "slot:pm")])
    return [
        # "🙂 " is two UTF-16 units in Telegram's offsets, one character in ours.
        text_update(2, "🙂 Hello *bold* and a link", entities=[
            {"offset": 9, "length": 6, "type": "bold"},
            {"offset": 22, "length": 4, "type": "text_link", "url": "https://shop.example/"}]),
        {"message": message(3, photo=photo_sizes("PHOTO"), caption="the box is broken")},
        {"message": message(4, document=document("DOC"))},
        {"message": message(5, voice=voice("VOICE"))},
        {"message": message(6, video=video("VIDEO"))},
        {"message": message(7, video_note=video_note("NOTE"))},
        {"message": message(8, audio=audio("AUDIO"))},
        {"message": message(9, sticker=sticker("STICKER", "🔥"))},
        {"message": message(10, location={"latitude": 55.751244, "longitude": 37.618423})},
        {"message": message(11, contact={"phone_number": "+79161234567", "first_name": "Иван",
                                         "user_id": CUSTOMER["id"]})},
        text_update(12, "yes, that one", reply_to_message=message(2, text="🙂 Hello")),
        {"edited_message": message(2, text="🙂 Hello, edited", edit_date=1_741_953_700)},
        text_update(13, "look at this", forward_origin={
            "type": "user", "date": 1_741_900_000,
            "sender_user": {"id": 5, "is_bot": False, "first_name": "Oleg", "username": "oleg"}}),
        text_update(14, "and this", forward_from_chat={"id": -100123, "title": "Shop News",
                                                      "type": "channel"},
                    forward_date=1_741_900_000),
        text_update(15, "hidden", forward_origin={"type": "hidden_user", "date": 1_741_900_000,
                                                  "sender_user_name": "Anon Y."}),
        callback_update("4382bfdwdsb323b2d9", "slot:pm", buttons),
        text_update(1, "Hi from Maria", user=OTHER),
    ]


async def test_every_kind_of_message_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, api: BotAPI) -> None:
    updates = every_kind()
    ids = api.push(*updates)
    async with running(tmp_path, api) as shop:
        found = await shop.wait_messages(len(updates))
        await until(lambda: holds(api.calls_to("answerCallbackQuery")),
                    "the button press to be answered")
        cursor = await shop.cursor()
    assert cursor == str(ids[-1] + 1)

    text = found[f"{CHAT}:2"]
    assert text.body == "🙂 Hello *bold* and a link"
    assert text.body[8:14] == "*bold*" and text.body[21:25] == "link"
    assert text.meta["entities"] == [[8, 6, "bold"], [21, 4, "link"]]
    assert text.meta["links"] == [[21, 4, "https://shop.example/"]]

    photo = found[f"{CHAT}:3"]
    assert photo.body == "the box is broken" and photo.meta["kind"] == "photo"
    [largest] = photo.attachments
    assert (largest.kind, largest.ref, largest.size) == ("photo", "PHOTO", 80_000)

    doc = found[f"{CHAT}:4"].attachments[0]
    assert (doc.kind, doc.filename, doc.mime, doc.size, doc.ref) == (
        "document", "invoice.pdf", "application/pdf", 2_048, "DOC")
    for n, kind, ref in ((5, "voice", "VOICE"), (6, "video", "VIDEO"),
                         (7, "video_note", "NOTE"), (8, "audio", "AUDIO")):
        m = found[f"{CHAT}:{n}"]
        assert m.meta["kind"] == kind and [(a.kind, a.ref) for a in m.attachments] == [
            (kind, ref)]
    assert found[f"{CHAT}:8"].attachments[0].filename == "Kino - Gruppa krovi"

    assert found[f"{CHAT}:9"].body == "🔥" and found[f"{CHAT}:9"].meta["kind"] == "sticker"
    location = found[f"{CHAT}:10"]
    assert location.body == "55.751244, 37.618423"
    assert location.meta == {"kind": "location", "location": [55.751244, 37.618423]}
    contact = found[f"{CHAT}:11"]
    assert contact.body == "Иван: +79161234567" and contact.meta["kind"] == "contact"

    reply = found[f"{CHAT}:12"]
    assert reply.reply_to_id == text.id and reply.meta["quote"] == "🙂 Hello"

    edit = found[f"{CHAT}:2:e1741953700"]
    assert edit.body == "🙂 Hello, edited" and edit.edit_of_id == text.id
    assert found[f"{CHAT}:2"].body == "🙂 Hello *bold* and a link"  # the original is kept

    assert found[f"{CHAT}:13"].meta["forwarded_from"] == "Oleg (@oleg)"
    assert found[f"{CHAT}:14"].meta["forwarded_from"] == "Shop News"
    assert found[f"{CHAT}:15"].meta["forwarded_from"] == "Anon Y."

    press = found["cb:4382bfdwdsb323b2d9"]
    assert press.body == "Evening"
    assert press.meta == {"callback": "slot:pm", "kind": "callback"}
    [answer] = api.calls_to("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "4382bfdwdsb323b2d9"

    maria = found[f"{OTHER['id']}:1"]
    assert maria.author == "Maria" and maria.conversation_id != text.conversation_id


def test_a_contact_card_gives_the_phone_only_when_it_is_the_senders_own() -> None:
    own = {"phone_number": "+79161234567", "first_name": "Иван", "user_id": CUSTOMER["id"]}
    friend = {"phone_number": "+79990000000", "first_name": "Oleg", "user_id": 5}
    mine = convert_message("shop", message(1, contact=own))
    theirs = convert_message("shop", message(2, contact=friend))
    assert mine is not None and theirs is not None
    assert mine.phone == "+79161234567" and theirs.phone is None
    assert theirs.body == "Oleg: +79990000000"


def test_entity_offsets_count_utf16_units_as_telegram_does() -> None:
    text = "𝐀a 👍🏽 b"  # 𝐀 and 👍 and 🏽 are each two UTF-16 units
    entities = [{"offset": 2, "length": 1, "type": "italic"},
                {"offset": 4, "length": 4, "type": "strikethrough"},
                {"offset": 9, "length": 1, "type": "spoiler"},
                {"offset": 0, "length": 99, "type": "hashtag"},  # not a style: plain
                {"offset": 50, "length": 3, "type": "bold"}]  # past the end: dropped
    styled, links = convert_entities(text, entities)
    assert styled == [[1, 1, "italic"], [3, 2, "strike"], [6, 1, "spoiler"]]
    assert text[1] == "a" and text[3:5] == "👍🏽" and text[6] == "b"
    assert links == []


async def test_updates_with_nothing_to_store_still_move_the_offset(tmp_path: Path,
                                                                   api: BotAPI) -> None:
    ids = api.push(
        {"channel_post": {"message_id": 1, "chat": {"id": -1001, "type": "channel",
                                                    "title": "News"}, "date": 1, "text": "x"}},
        {"my_chat_member": {"chat": chat_of(CUSTOMER), "from": CUSTOMER, "date": 1,
                            "old_chat_member": {}, "new_chat_member": {}}},
        {"message": message(30, new_chat_members=[OTHER])},  # a service notice
        {"edited_message": message(31, edit_date=DATE + 60, location={  # a live location moves
            "latitude": 55.75, "longitude": 37.61, "live_period": 900})},
    )
    async with running(tmp_path, api) as shop:
        await until(lambda: holds(api.offsets and api.offsets[-1] == ids[-1] + 1),
                    "the offset to move past them")
        assert await shop.cursor() == str(ids[-1] + 1)
        assert await shop.messages() == {}
    assert api.queue == []  # confirmed: Telegram will not send them again


# The offset: nothing lost, nothing doubled ------------------------------------------------


def stored_cursor(db_path: Path) -> str | None:
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT value FROM channel_state WHERE key = 'cursor'").fetchone()
        return row[0] if row else None
    finally:
        db.close()


async def test_each_batch_is_committed_before_the_next_offset_is_asked(tmp_path: Path,
                                                                       api: BotAPI) -> None:
    api.max_batch = 5
    ids = api.push(*[text_update(n, f"message {n}") for n in range(1, 23)])
    early: list[int] = []

    def check(offset: int) -> None:
        # The offset confirms every update below it to Telegram: by now each of them,
        # and the offset itself, must be in the database file.
        if offset == 0:
            return
        wanted = {f"{CHAT}:{n}" for n, update_id in enumerate(ids, 1) if update_id < offset}
        if not wanted <= stored_external_ids(tmp_path / "opchat.db") \
                or stored_cursor(tmp_path / "opchat.db") != str(offset):
            early.append(offset)

    api.on_get_updates = check
    async with running(tmp_path, api) as shop:
        await shop.wait_messages(22)
        await until(lambda: holds(ids[-1] + 1 in api.offsets), "the last offset")
    assert early == []
    asked = [offset for offset in api.offsets if offset]
    assert asked[:5] == [ids[4] + 1, ids[9] + 1, ids[14] + 1, ids[19] + 1, ids[21] + 1]


async def test_a_batch_that_cannot_be_stored_is_not_confirmed(tmp_path: Path,
                                                              api: BotAPI) -> None:
    inbox = await Inbox.open(tmp_path, "anna")  # the schema, so a trigger can fail an insert
    await inbox.close()
    db = sqlite3.connect(tmp_path / "opchat.db")
    db.execute("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' "
               "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    db.commit()
    ids = api.push(text_update(1, "fine"), text_update(2, "poison"))
    async with running(tmp_path, api) as shop:
        # The store's trouble is shown as such, with its reason, in the status bar.
        await shop.was(Health.DEGRADED, "cannot store: IntegrityError: disk trouble")
        # Batch and offset are one transaction: neither the good message nor the offset.
        assert stored_external_ids(tmp_path / "opchat.db") == set()
        assert await shop.cursor() is None
        assert all(offset == 0 for offset in api.offsets)
        assert [u["update_id"] for u in api.queue] == ids  # Telegram still holds them
        db.execute("DROP TRIGGER poison")
        db.commit()
        await shop.wait_messages(2, timeout=10)  # the same batch, stored at last
        await shop.wait_health(Health.OK, "@shop_bot, polling")
        assert await shop.cursor() == str(ids[-1] + 1)
        # It kept the batch it had: Telegram was asked for it once, and never restarted.
        assert api.offsets.count(0) == 1 and len(api.calls_to("getMe")) == 1
        assert not [h for h, _ in await shop.health_events() if h == Health.DOWN.value]
    db.close()


async def limit_text(shop: Running, size: int) -> None:
    """Make the hub's database refuse any string over ``size`` bytes, as SQLite
    refuses one over its length limit: a message it cannot store, whatever is tried."""
    await shop.inbox.store.db.write(
        lambda conn: conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, size))


async def test_a_message_the_store_refuses_is_skipped_and_the_offset_moves_past_it(
        tmp_path: Path, api: BotAPI, caplog: pytest.LogCaptureFixture) -> None:
    async with running(tmp_path, api) as shop:
        await shop.wait_health(Health.OK, "@shop_bot, polling")
        await limit_text(shop, 3000)
        ids = api.push(text_update(50, "before"), text_update(51, "y" * 4000),
                       text_update(52, "after"))
        stored = await shop.wait_messages(2)
        await until(lambda: holds(api.offsets and api.offsets[-1] == ids[-1] + 1),
                    "the offset to move past all three")
        api.push(text_update(53, "later"))
        await shop.wait_messages(3)  # the channel goes on
        assert sorted(m.body for m in stored.values()) == ["after", "before"]
        assert await shop.cursor() == str(ids[-1] + 2)
        assert {h for h, _ in await shop.health_events()} <= {"starting", Health.OK.value}
    assert any("shop" in r.getMessage() and f"{CHAT}:51" in r.getMessage()
               for r in caplog.records if r.levelname == "ERROR"), caplog.text


async def test_a_left_over_webhook_is_removed_before_polling(tmp_path: Path,
                                                             api: BotAPI) -> None:
    api.webhook = {"url": "https://old.example/hook", "secret_token": ""}
    api.push(text_update(1, "hi"))
    async with running(tmp_path, api) as shop:
        await shop.wait_messages(1)
    [delete] = api.calls_to("deleteWebhook")
    assert delete.params.get("drop_pending_updates", "false") == "false"  # nothing dropped


# Health: every failure named, and recovered from ------------------------------------------


async def test_network_loss_shows_degraded_and_recovers_by_itself(tmp_path: Path,
                                                                  api: BotAPI) -> None:
    async with running(tmp_path, api) as shop:
        await shop.wait_health(Health.OK, "@shop_bot, polling")
        await api.close()
        await shop.was(Health.DEGRADED, f"cannot reach 127.0.0.1:{api.port}")
        await asyncio.sleep(0.3)  # a few failed tries, backing off
        await api.start()
        api.push(text_update(1, "back again"))
        await shop.wait_messages(1)
        await shop.wait_health(Health.OK, "@shop_bot")


async def test_a_refused_token_shows_the_channel_down_until_it_works(tmp_path: Path,
                                                                     api: BotAPI) -> None:
    api.token = "42:another-bot"
    async with running(tmp_path, api) as shop:
        detail = await shop.wait_health(Health.DOWN)
        assert detail == "the token was refused (401): copy it again from @BotFather"
        api.token = TOKEN  # e.g. BotFather's token was revoked, then restored
        await shop.wait_health(Health.OK)


async def test_another_poller_is_a_conflict_shown_down_then_retried(tmp_path: Path,
                                                                    api: BotAPI) -> None:
    api.fail("getUpdates", CONFLICT, CONFLICT)
    api.push(text_update(1, "hi"))
    async with running(tmp_path, api) as shop:
        await shop.was(Health.DOWN, "another program is reading this bot's updates (409")
        await shop.wait_messages(1)
        await shop.wait_health(Health.OK)


@pytest.mark.parametrize(("answer", "detail"), [
    (Error(502, "Bad Gateway"), "Telegram's server failed: Bad Gateway"),
    (Error(500, "Internal Server Error"), "Telegram's server failed"),
    (MALFORMED, "answered something that is not JSON"),
    (HANG, "no answer in time"),
    (Error(429, "Too Many Requests: retry after 1", retry_after=1),
     "Telegram asks to wait 1 s (429)"),
])
async def test_a_failed_poll_is_degraded_then_recovers(tmp_path: Path, api: BotAPI,
                                                       answer: Any, detail: str) -> None:
    api.fail("getUpdates", answer)
    async with running(tmp_path, api) as shop:
        await shop.was(Health.DEGRADED, detail)
        api.push(text_update(1, "still there?"))
        await shop.wait_messages(1)
        await shop.wait_health(Health.OK)
    first, second = api.calls_to("getUpdates")[:2]
    if isinstance(answer, Error) and answer.retry_after:
        assert second.at - first.at >= 1.0  # retry_after is waited out, not hammered


# Webhook mode ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def webhook_shop(tmp_path: Path, api: BotAPI
                       ) -> AsyncIterator[tuple[Running, str, aiohttp.ClientSession]]:
    port = free_port()
    async with running(tmp_path, api, webhook_url="https://bot.shop.example/telegram/shop",
                       listen=f"127.0.0.1:{port}") as shop:
        await shop.wait_health(Health.OK, "webhook")
        async with aiohttp.ClientSession() as session:
            yield shop, f"http://127.0.0.1:{port}/telegram/shop", session


def secret_header(api: BotAPI) -> dict[str, str]:
    """The header Telegram sends with every update: the secret given to setWebhook."""
    assert api.webhook is not None
    return {"X-Telegram-Bot-Api-Secret-Token": api.webhook["secret_token"]}


async def test_the_webhook_is_set_with_a_secret_kept_private(tmp_path: Path,
                                                             api: BotAPI) -> None:
    async with webhook_shop(tmp_path, api):
        pass
    secret_file = tmp_path / "telegram-shop.secret"
    secret = secret_file.read_text().strip()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    [call] = api.calls_to("setWebhook")
    assert call.params["url"] == "https://bot.shop.example/telegram/shop"
    assert call.params["secret_token"] == secret and len(secret) >= 32
    assert call.json("allowed_updates") == ["message", "edited_message", "callback_query"]
    assert not api.calls_to("getUpdates")  # a webhook channel does not poll


async def test_the_webhook_answers_200_only_once_the_update_is_stored(tmp_path: Path,
                                                                      api: BotAPI) -> None:
    update = {"update_id": 10_001, **text_update(1, "via webhook")}
    async with webhook_shop(tmp_path, api) as (shop, url, session):
        secret = secret_header(api)
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
            async with session.post(url, json=update, headers=headers) as response:
                assert response.status == 401
        async with session.post(url, data=b'{"update_id": 1, "mess', headers=secret) as response:
            assert response.status == 400
        async with session.post(url, json=["not", "an", "update"], headers=secret) as response:
            assert response.status == 400
        assert stored_external_ids(tmp_path / "opchat.db") == set()

        async with session.post(url, json=update, headers=secret) as response:
            assert response.status == 200
            # Answered means committed: the file holds it already.
            assert stored_external_ids(tmp_path / "opchat.db") == {f"{CHAT}:1"}
        async with session.post(url, json=update, headers=secret) as response:  # redelivered
            assert response.status == 200
        assert len(await shop.messages()) == 1


async def test_the_webhook_answers_500_when_storing_fails_so_telegram_redelivers(
        tmp_path: Path, api: BotAPI) -> None:
    update = {"update_id": 10_002, **text_update(2, "poison")}
    async with webhook_shop(tmp_path, api) as (shop, url, session):
        secret = secret_header(api)
        db = sqlite3.connect(tmp_path / "opchat.db")
        db.execute("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' "
                   "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
        db.commit()
        async with session.post(url, json=update, headers=secret) as response:
            assert response.status == 500
        assert await shop.messages() == {}
        await shop.wait_health(Health.DEGRADED, "cannot store: IntegrityError: disk trouble")
        db.execute("DROP TRIGGER poison")
        db.commit()
        db.close()
        async with session.post(url, json=update, headers=secret) as response:  # Telegram again
            assert response.status == 200
        assert list(await shop.messages()) == [f"{CHAT}:2"]
        await shop.wait_health(Health.OK, "@shop_bot, webhook")


async def test_the_webhook_acknowledges_a_message_the_store_refuses(
        tmp_path: Path, api: BotAPI, caplog: pytest.LogCaptureFixture) -> None:
    async with webhook_shop(tmp_path, api) as (shop, url, session):
        secret = secret_header(api)
        await limit_text(shop, 3000)
        statuses = []
        for n, text in ((60, "before"), (61, "z" * 4000), (62, "after")):
            update = {"update_id": 20_000 + n, **text_update(n, text)}
            async with session.post(url, json=update, headers=secret) as response:
                statuses.append(response.status)
        # 200 for all three: a 500 would have Telegram send the refused one for ever.
        assert statuses == [200, 200, 200]
        assert sorted(m.body for m in (await shop.messages()).values()) == ["after", "before"]
        assert {h for h, _ in await shop.health_events()} <= {"starting", Health.OK.value}
    assert any(f"{CHAT}:61" in r.getMessage() for r in caplog.records
               if r.levelname == "ERROR"), caplog.text


async def test_webhook_delivery_errors_reported_by_telegram_show_degraded(
        tmp_path: Path, api: BotAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TelegramTransport, "webhook_check", 0.1)
    async with webhook_shop(tmp_path, api) as (shop, _, _):
        api.webhook_error = (int(time.time()) + 5, "Connection refused")
        await shop.was(Health.DEGRADED, "Telegram cannot deliver to the webhook: "
                                        "Connection refused")


# Sending ----------------------------------------------------------------------------------


async def customer_wrote(shop: Running, api: BotAPI, message_id: int = 1) -> int:
    """The customer writes; the dialog's id."""
    api.push(text_update(message_id, "Hello?"))
    found = await shop.wait_messages(1)
    return found[f"{CHAT}:{message_id}"].conversation_id


async def state_is(shop: Running, message_id: int, state: MessageState) -> Message | None:
    message = await shop.inbox.message(message_id)
    return message if message is not None and message.state is state else None


async def test_a_reply_goes_out_as_a_reply_to_the_customers_message(tmp_path: Path,
                                                                    api: BotAPI) -> None:
    async with running(tmp_path, api) as shop:
        conversation = await customer_wrote(shop, api)
        question = (await shop.wait_messages(1))[f"{CHAT}:1"]
        reply = await shop.inbox.send(conversation, "Hi! <b>It left today</b> [bold]x[/]",
                                      reply_to_id=question.id)
        sent = await until(lambda: state_is(shop, reply.id, MessageState.SENT), "sent")
    [call] = api.calls_to("sendMessage")
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == "Hi! <b>It left today</b> [bold]x[/]"
    assert "parse_mode" not in call.params  # text is text: never parsed as markup
    assert call.json("reply_parameters") == {"message_id": 1,
                                             "allow_sending_without_reply": True}
    assert sent.external_id == f"{CHAT}:9001"


def test_long_text_is_split_between_words_within_telegrams_limit() -> None:
    words = [f"слово{n}" for n in range(1500)]
    text = " ".join(words) + "\n\n" + "🙂" * 3000  # emoji: two units each for Telegram
    parts = split_text(text)
    assert all(utf16_len(part) <= 4096 for part in parts)
    assert len(parts) >= 4
    assert "".join("".join(parts).split()) == "".join(text.split())  # only cut whitespace
    for part in parts[:2]:
        assert part.split()[-1] in words  # cut between words, not inside one
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]  # one long word: cut it
    assert split_text("short") == ["short"]


async def test_a_long_reply_goes_out_in_parts_and_a_429_resumes_where_it_stopped(
        transport: TelegramTransport, api: BotAPI) -> None:
    body = " ".join(f"word{n}" for n in range(2000))  # about 3 parts
    out = OutboundMessage(message_id=7, channel="shop", chat_id=CHAT, body=body,
                          reply_to_external_id=f"{CHAT}:5")
    api.fail("sendMessage", None, Error(429, "Too Many Requests: retry after 3",
                                        retry_after=3))
    with pytest.raises(Retry) as retry:
        await transport.send(out)
    assert retry.value.after == 3.0 and "429" in retry.value.reason
    delivery = await transport.send(replace_attempt(out, 2))
    texts = [call.params["text"] for call in api.calls_to("sendMessage")]
    # Part 1 went out once; part 2 was refused, then sent with the rest.
    assert texts[1] == texts[2] and len(texts) == len(split_text(body)) + 1 >= 4
    assert " ".join(texts[:1] + texts[2:]) == body
    assert delivery.external_id == f"{CHAT}:9001"  # the first part's id
    replies = [call.json("reply_parameters") for call in api.calls_to("sendMessage")]
    assert replies[0] == {"message_id": 5, "allow_sending_without_reply": True}
    assert replies[1:] == [None] * (len(replies) - 1)  # only the first part is the reply


def replace_attempt(out: OutboundMessage, attempt: int) -> OutboundMessage:
    from dataclasses import replace

    return replace(out, attempt=attempt)


async def test_files_are_sent_from_a_path_with_the_text_as_caption(
        transport: TelegramTransport, api: BotAPI, tmp_path: Path) -> None:
    price_list = tmp_path / "price list.pdf"
    price_list.write_bytes(b"%PDF-1.4 prices")
    picture = tmp_path / "cake.jpg"
    picture.write_bytes(b"\xff\xd8\xff cake")
    out = OutboundMessage(message_id=8, channel="shop", chat_id=CHAT, body="Here you are",
                          attachments=(Attachment("document", "price list.pdf",
                                                  local_path=str(price_list)),
                                       Attachment("photo", "cake.jpg", local_path=str(picture))))
    await transport.send(out)
    [doc] = api.calls_to("sendDocument")
    [photo] = api.calls_to("sendPhoto")
    assert doc.params["caption"] == "Here you are" and "caption" not in photo.params
    assert list(doc.files.values()) == [("price list.pdf", b"%PDF-1.4 prices")]
    assert list(photo.files.values()) == [("cake.jpg", b"\xff\xd8\xff cake")]
    assert not api.calls_to("sendMessage")  # the text went as the caption

    price_list.unlink()
    with pytest.raises(Rejected, match=r"price list\.pdf: the file is not there any more"):
        await transport.send(out)


async def test_typing_is_shown_to_the_customer(transport: TelegramTransport,
                                               api: BotAPI) -> None:
    await transport.typing(CHAT, True)
    await transport.typing(CHAT, False)  # Telegram has no "stopped typing"
    [call] = api.calls_to("sendChatAction")
    assert call.params == {"chat_id": CHAT, "action": "typing"}


async def test_a_customer_who_blocked_the_bot_fails_the_message_once_and_is_marked(
        tmp_path: Path, api: BotAPI) -> None:
    api.blocked.add(CHAT)
    async with running(tmp_path, api) as shop:
        conversation = await customer_wrote(shop, api)
        reply = await shop.inbox.send(conversation, "Are you still there?")
        failed = await until(lambda: state_is(shop, reply.id, MessageState.FAILED), "failed")
        dialog = await shop.inbox.conversation(conversation)
        api.blocked.discard(CHAT)  # unblocked: a later reply goes out, the failed one does not
        later = await shop.inbox.send(conversation, "Welcome back")
        await until(lambda: state_is(shop, later.id, MessageState.SENT), "the later reply")
    assert failed.error == ("the customer blocked the bot, or cannot be written to "
                            "(403: Forbidden: bot was blocked by the user)")
    assert dialog is not None and "blocked" in dialog.labels
    texts = [c.params["text"] for c in api.calls_to("sendMessage")]
    assert texts == ["Are you still there?", "Welcome back"]  # the failed one not retried


async def test_rate_limit_server_errors_and_network_loss_are_retried_until_sent(
        tmp_path: Path, api: BotAPI) -> None:
    api.fail("sendMessage", Error(429, "Too Many Requests: retry after 1", retry_after=1),
             Error(502, "Bad Gateway"))
    async with running(tmp_path, api) as shop:
        conversation = await customer_wrote(shop, api)
        reply = await shop.inbox.send(conversation, "Your order is ready")
        await until(lambda: state_is(shop, reply.id, MessageState.SENT), "sent", timeout=8)
        first, second, _ = api.calls_to("sendMessage")
        assert second.at - first.at >= 1.0  # retry_after waited out

        await api.close()  # the network goes: nothing can have left
        later = await shop.inbox.send(conversation, "Anything else?")
        await until(lambda: shop.inbox.outbox_error(later.id), "a failed attempt")
        assert "cannot reach 127.0.0.1" in (await shop.inbox.outbox_error(later.id) or "")
        await api.start()
        await until(lambda: state_is(shop, later.id, MessageState.SENT), "sent", timeout=8)
    assert [c.params["text"] for c in api.calls_to("sendMessage")].count("Anything else?") == 1


async def test_a_send_that_may_have_arrived_is_failed_not_repeated(tmp_path: Path,
                                                                   api: BotAPI) -> None:
    api.fail("sendMessage", SENT_THEN_HANG)
    async with running(tmp_path, api) as shop:
        conversation = await customer_wrote(shop, api)
        reply = await shop.inbox.send(conversation, "Once only")
        failed = await until(lambda: state_is(shop, reply.id, MessageState.FAILED), "failed")
        later = await shop.inbox.send(conversation, "And again")
        await until(lambda: state_is(shop, later.id, MessageState.SENT), "the later reply")
    assert "it may or may not have arrived" in (failed.error or "")
    assert [c.params["text"] for c in api.calls_to("sendMessage")] == ["Once only", "And again"]


async def test_a_chat_that_does_not_exist_is_rejected(transport: TelegramTransport,
                                                      api: BotAPI) -> None:
    api.missing_chats.add("404404")
    with pytest.raises(Rejected) as rejected:
        await transport.send(OutboundMessage(message_id=1, channel="shop", chat_id="404404",
                                             body="hello"))
    assert rejected.value.reason == ("Telegram refused the message "
                                     "(400: Bad Request: chat not found)")
    assert not rejected.value.unreachable


# Attachments -----------------------------------------------------------------------------


async def test_an_attachment_is_downloaded_on_demand_under_a_safe_private_name(
        transport: TelegramTransport, api: BotAPI, tmp_path: Path) -> None:
    api.add_file("DOC", "documents/file_7.pdf", b"%PDF-1.4 the invoice")
    attachment = Attachment("document", "../../.bashrc", "application/pdf", 20, ref="DOC")
    dest = tmp_path / "downloads"
    path = await transport.download(attachment, dest)
    assert path.parent == dest and path.read_bytes() == b"%PDF-1.4 the invoice"
    assert path.name.endswith("-bashrc") and not path.name.startswith(".")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert await transport.download(attachment, dest) == path  # fetched once
    assert len(api.calls_to("getFile")) == 1
    assert [p.name for p in dest.iterdir()] == [path.name]  # no partial files left

    with pytest.raises(DownloadError, match="Telegram cannot give this file: "
                                            "Bad Request: invalid file_id"):
        await transport.download(Attachment("photo", ref="GONE"), dest)
    api.add_file("EXPIRED", "photos/file_9.jpg", b"gone")
    api.unserved.add("photos/file_9.jpg")  # the file server has lost it
    with pytest.raises(DownloadError, match=f"127.0.0.1:{api.port} answered 404 for the file"):
        await transport.download(Attachment("photo", ref="EXPIRED"), dest)
    assert [p.name for p in dest.iterdir()] == [path.name]


async def test_small_attachments_are_fetched_at_once_under_the_download_limit(
        tmp_path: Path, api: BotAPI) -> None:
    api.add_file("SMALL", "documents/file_1.pdf", b"x" * 2_048)
    api.add_file("BIG", "music/file_2.mp3", b"y" * 100)  # its size says 4 MB: not fetched
    api.push({"message": message(1, document=document("SMALL"))},
             {"message": message(2, audio=audio("BIG"))})
    async with running(tmp_path, api, download_limit=10_000) as shop:
        await shop.wait_messages(2)
        folder = tmp_path / "attachments" / "shop"

        async def recorded() -> bool:
            [stored] = (await shop.messages())[f"{CHAT}:1"].attachments
            return stored.local_path is not None

        # Done means written whole, renamed into place, and recorded for the operators.
        await until(recorded, "the eager download")
        [small] = list(folder.iterdir())
        assert small.read_bytes() == b"x" * 2_048
        assert [call.params["file_id"] for call in api.calls_to("getFile")] == ["SMALL"]
        # Opening it later finds the file already there.
        [stored] = (await shop.messages())[f"{CHAT}:1"].attachments
        assert stored.local_path == str(small)
        assert await shop.transport.download(stored) == small
        assert len(api.calls_to("getFile")) == 1


# check(): `opchat channel test` and `opchat doctor` ---------------------------------------


async def test_check_says_whom_the_token_reaches(transport: TelegramTransport) -> None:
    assert await transport.check() == "reached @shop_bot (id 123456789, Shop); long polling"


async def test_check_says_exactly_why_it_failed(tmp_path: Path, api: BotAPI) -> None:
    async def failure(**options: Any) -> str:
        transport = TelegramTransport(settings(api, **options), tmp_path)
        with pytest.raises(CheckFailed) as failed:
            await transport.check()
        return str(failed.value)

    assert await failure(token="42:wrong") == (
        "the token was refused (401 Unauthorized): copy it again from @BotFather")
    closed = free_port()
    unreachable = await failure(api_base=f"http://127.0.0.1:{closed}")
    assert unreachable.startswith(f"cannot reach 127.0.0.1:{closed}: ")
    assert unreachable.endswith("(network)")
    api.fail("getMe", HANG)
    assert await failure() == f"no answer from 127.0.0.1:{api.port} in 1 s (timeout)"
    api.fail("getMe", MALFORMED)
    assert await failure() == (f"127.0.0.1:{api.port} answered something that is not the "
                               "Bot API (is api_base right?)")


@pytest.mark.parametrize(("options", "problem"), [
    ({"token": None}, "no token: set token, or token_env naming the variable"),
    ({"token": None, "token_env": "OPCHAT_TEST_NO_SUCH_VARIABLE"},
     "environment variable OPCHAT_TEST_NO_SUCH_VARIABLE is empty or unset"),
    ({"token": "not a token"}, "the token is not like 123456789:AAE"),
    ({"download_limit": "5MB"}, "download_limit must be a whole number of bytes"),
    ({"poll_timeout": 0}, "poll_timeout must be at least 1 second"),
])
def test_bad_options_are_named(api: BotAPI, tmp_path: Path, options: dict[str, Any],
                               problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        TelegramTransport(settings(api, **options), tmp_path)


def test_the_token_may_come_from_the_environment(api: BotAPI, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_BOT_TOKEN", TOKEN)
    transport = TelegramTransport(settings(api, token=None, token_env="SHOP_BOT_TOKEN"),
                                  tmp_path)
    assert transport.bot.token == TOKEN


# Crashes: `opchat serve` killed with SIGKILL -------------------------------------------------


def serve_shop(tmp_path: Path, api: BotAPI) -> Serve:
    """``opchat serve`` with one Telegram channel."""
    return Serve(tmp_path, f'[channels.shop]\nkind = "telegram"\ntoken = "{TOKEN}"\n'
                           f'api_base = "{api.base}"\npoll_timeout = 1\n')


async def test_killed_at_any_moment_every_update_is_stored_exactly_once(
        tmp_path: Path, api: BotAPI) -> None:
    customers = [dict(CUSTOMER, id=5000 + n, first_name=f"Customer {n}") for n in range(6)]
    updates = [text_update(n, f"message {n}", user=customers[n % 6]) for n in range(1, 301)]
    expected = {f"{5000 + n % 6}:{n}" for n in range(1, 301)}
    ids = api.push(*updates)
    api.max_batch = 7  # many batches, many moments to die in
    handed_out: list[int] = []
    serve = serve_shop(tmp_path, api)
    db_path = serve.data / "opchat.db"
    loop = asyncio.get_running_loop()
    # The moments: while a batch is being answered (so never received), and a few
    # milliseconds after one (receiving, converting, committing, or just committed: a
    # batch takes about a millisecond, so where it lands is up to the machine).
    for round_, delay in enumerate((0.0, 0.006)):
        batches = 0
        target = 2 + round_

        def on_batch(batch: list[dict[str, Any]], delay: float = delay,
                     target: int = target) -> None:
            nonlocal batches
            handed_out.extend(u["update_id"] for u in batch)
            batches += 1
            if batches == target:
                if delay:
                    loop.call_later(delay, serve.kill)
                else:
                    serve.kill()

        api.on_batch = on_batch
        await serve.start()
        await serve.killed()
    api.on_batch = lambda batch: handed_out.extend(u["update_id"] for u in batch)
    await serve.start()
    try:
        await until(lambda: holds(len(stored_external_ids(db_path)) >= 300),
                    "every update stored", timeout=30)
        await until(lambda: holds(ids[-1] + 1 in api.offsets), "the last offset")
    finally:
        await serve.stop()
    assert stored_external_ids(db_path) == expected
    assert events_of_new_messages(db_path) == 300  # each stored once, announced once
    assert stored_cursor(db_path) == str(ids[-1] + 1)
    assert api.queue == []
    # The crashes did hit batches in flight: some updates had to be handed out again.
    assert len(handed_out) > len(set(handed_out)) and set(handed_out) == set(ids)


async def test_killed_while_sending_the_message_is_failed_not_sent_again(
        tmp_path: Path, api: BotAPI) -> None:
    serve = serve_shop(tmp_path, api)
    api.push(text_update(1, "Is it in stock?"))
    await serve.start()
    await until(lambda: holds(stored_external_ids(serve.data / "opchat.db")),
                "the customer's message", timeout=20)
    inbox = await Inbox.open(serve.data, "anna")  # an operator's opchat beside the hub
    try:
        [conversation] = await inbox.conversations()
        # Telegram takes the message, and the hub dies before hearing back.
        api.fail("sendMessage", SENT_THEN_HANG)
        reply = await inbox.send(conversation.id, "Yes, 3 left")
        await until(lambda: holds(api.calls_to("sendMessage")), "the send",
                    timeout=10)
        serve.kill()
        await serve.killed()
        await serve.start()

        async def failed() -> Message | None:
            message = await inbox.message(reply.id)
            return message if message and message.state is MessageState.FAILED else None

        message = await until(failed, "the message marked failed", timeout=20)
        polls = len(api.calls_to("getUpdates"))
        await until(lambda: holds(len(api.calls_to("getUpdates")) > polls + 1),
                    "the restarted hub to poll", timeout=20)
        # The restarted hub's outbox is at work once a later reply is out.
        later = await inbox.send(conversation.id, "Shall I reserve one?")
        await until(lambda: holds(len(api.calls_to("sendMessage")) == 2), "the later reply",
                    timeout=20)
    finally:
        await serve.stop()
        await inbox.close()
    assert message.error == "interrupted while sending: it may or may not have arrived"
    texts = [c.params["text"] for c in api.calls_to("sendMessage")]
    assert texts == ["Yes, 3 left", later.body]


# The command line --------------------------------------------------------------------------


async def test_channel_add_then_channel_test_reaches_the_bot(tmp_path: Path,
                                                            api: BotAPI) -> None:
    code, out, err = await opchat(tmp_path, "channel", "add", "telegram", "--name", "shop",
                                  "--token", TOKEN, "--api-base", api.base + "/")
    assert code == 0, err
    assert "added channel shop (telegram)" in out and TOKEN not in out
    config = tmp_path / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text()
    # As given; the transport reads the address with or without the slash.
    assert f'token = "{TOKEN}"' in text and f'api_base = "{api.base}/"\n' in text

    code, out, err = await opchat(tmp_path, "channel", "test", "shop")
    assert (code, err) == (0, "")
    assert out == ("channel shop (telegram): reached @shop_bot (id 123456789, Shop); "
                   "long polling\n")


async def in_process(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str
                     ) -> tuple[int, str, str]:
    """``opchat ARGS`` run by ``cli.main`` here (aiogram is loaded already: no 4 s start),
    on a thread, as the stand-in server needs this event loop to answer."""
    from opchat import cli

    def run() -> int:
        try:
            return cli.main([*args, "--config", str(tmp_path / "config.toml"),
                             "--data-dir", str(tmp_path / "data")])
        except SystemExit as exc:  # argparse's own refusals
            return int(exc.code or 0)

    code = await asyncio.to_thread(run)
    out, err = capsys.readouterr()
    return code, out, err


async def test_channel_test_says_exactly_why_it_failed(
        tmp_path: Path, api: BotAPI, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(
        f'[channels.shop]\nkind = "telegram"\ntoken_env = "SHOP_BOT_TOKEN"\n'
        f'api_base = "{api.base}"\nwebhook_url = "https://bot.shop.example/telegram/shop"\n')
    monkeypatch.setenv("SHOP_BOT_TOKEN", TOKEN)
    code, out, _ = await in_process(capsys, tmp_path, "channel", "test", "shop")
    assert code == 0 and out.endswith("; webhook https://bot.shop.example/telegram/shop\n")

    monkeypatch.setenv("SHOP_BOT_TOKEN", "42:revoked")
    code, out, err = await in_process(capsys, tmp_path, "channel", "test", "shop")
    assert (code, out) == (1, "")
    assert err == ("opchat: channel shop: the token was refused (401 Unauthorized): copy it "
                   "again from @BotFather\n")

    monkeypatch.setenv("SHOP_BOT_TOKEN", "")
    code, out, err = await in_process(capsys, tmp_path, "channel", "test", "shop")
    assert code == 1
    assert err == ("opchat: channel shop: environment variable SHOP_BOT_TOKEN is empty or "
                   "unset\n")

    monkeypatch.setenv("SHOP_BOT_TOKEN", TOKEN)
    await api.close()
    code, out, err = await in_process(capsys, tmp_path, "channel", "test", "shop")
    assert code == 1 and err.startswith(f"opchat: channel shop: cannot reach 127.0.0.1:"
                                        f"{api.port}: ")
    assert "Traceback" not in err


async def test_channel_add_with_a_token_variable_and_a_webhook(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = await in_process(
        capsys, tmp_path, "channel", "add", "telegram", "--name", "shop", "--token-env",
        "SHOP_BOT_TOKEN", "--webhook-url", "https://bot.shop.example/telegram/shop")
    assert code == 0, err
    assert ("have your reverse proxy pass them to http://127.0.0.1:8765/telegram/shop"
            in out)
    text = (tmp_path / "config.toml").read_text()
    assert 'token_env = "SHOP_BOT_TOKEN"' in text and "token =" not in text


@pytest.mark.parametrize(("args", "problem"), [
    (["--token", "123ABC"], "--token is not a bot token: @BotFather gives one like"),
    (["--token", "12:34 56"], "--token is not a bot token"),
    ([], "--token (or --token-env) is missing: the bot's token from @BotFather"),
    (["--token", "1:a", "--token-env", "X"],
     "--token: give the secret or the variable that holds it, not both"),
    (["--token-env", "1-bad"], '--token-env: "1-bad" is not an environment variable name'),
    (["--token", "1:a", "--webhook-url", "bot.shop.example"],
     '--webhook-url: "bot.shop.example" is not like https://host/path'),
    (["--token", "1:a", "--webhook-url", "http://bot.shop.example/x"],
     "--webhook-url: Telegram sends webhooks only to https:// addresses"),
    (["--token", "1:a", "--origin", "https://shop.example"], "unrecognized arguments: --origin"),
])
async def test_channel_add_telegram_mistakes_exit_2_with_the_reason(
        tmp_path: Path, args: list[str], problem: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await in_process(capsys, tmp_path, "channel", "add", "telegram", *args)
    assert code == 2 and problem in err and "Traceback" not in err
    assert not (tmp_path / "config.toml").exists()


async def test_channel_test_without_a_check_or_a_channel(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.toml").write_text('[channels.demo]\nkind = "demo"\n')
    code, out, err = await in_process(capsys, tmp_path, "channel", "test", "demo")
    assert code == 0 and out == "channel demo (demo) has nothing to test\n"
    code, out, err = await in_process(capsys, tmp_path, "channel", "test", "nope")
    assert code == 2 and err == "opchat: no channel named 'nope' (channels: demo)\n"


def test_other_channels_never_import_aiogram() -> None:
    # (tests/unit/test_imports.py: the app, the CLI and the hub do not either.)
    import subprocess

    code = ("import sys, opchat.cli, opchat.hub\n"
            "from opchat.transports import available_kinds, load_transport\n"
            "load_transport('webchat'); load_transport('demo')\n"
            "print('telegram' in available_kinds(), 'aiogram' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.split() == ["True", "False"]


def test_a_telegram_channel_in_the_config_loads_no_aiogram_until_it_runs(
        tmp_path: Path) -> None:
    """The config checks a Telegram table by its options alone: every process reads
    the config, and aiogram (pydantic with it) would cost each of them its import."""
    import subprocess

    config = tmp_path / "config.toml"
    config.write_text('[channels.shop]\nkind = "telegram"\ntoken = "123456789:AAE-x"\n')
    code = ("import sys\nfrom pathlib import Path\nfrom opchat.config import load_settings\n"
            f"settings = load_settings(Path({str(config)!r}), Path({str(tmp_path)!r}))\n"
            "print([c.kind for c in settings.channels], 'aiogram' in sys.modules)\n"
            "from opchat.transports import load_transport\nload_transport('telegram')\n"
            "print('aiogram' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.split() == ["['telegram']", "False", "True"]


def test_a_channel_whose_sdk_is_missing_says_which_module_not_a_traceback(
        tmp_path: Path) -> None:
    import os
    import subprocess

    (tmp_path / "config.toml").write_text(
        '[channels.shop]\nkind = "telegram"\ntoken = "123456789:AAE-x"\n')
    code = ("import sys\nsys.modules['aiogram'] = None  # as if it were not installed\n"
            "from opchat.cli import main\nsys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "OPCHAT_CONFIG": str(tmp_path / "config.toml"),
           "OPCHAT_DATA_DIR": str(tmp_path / "data")}
    for lang, words in (("en", "needs the Python module aiogram"),
                        ("ru", "требует модуль Python aiogram")):
        done = subprocess.run([sys.executable, "-c", code, "--lang", lang, "channel", "test",
                               "shop"], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 1, done
        assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1


def test_an_update_of_an_unforeseen_shape_is_skipped_not_stalling_the_channel() -> None:
    from opchat.transports.telegram.updates import convert_updates

    odd = {"update_id": 5, "message": {"message_id": 1, "chat": {"id": 7}, "from": {"id": 7},
                                       "date": 1, "text": "hi",
                                       "entities": [{"type": ["bold"], "offset": 0,
                                                     "length": 2}]}}
    broken = {"update_id": 6, "message": {"message_id": 2, "chat": "not a chat"}}
    fine = {"update_id": 7, "message": {"message_id": 3, "chat": {"id": 7, "type": "private"},
                                        "from": {"id": 7, "first_name": "Ivan"}, "date": 1,
                                        "text": "still here"}}
    batch = convert_updates("shop", [odd, broken, fine])
    assert batch.next_offset == 8  # past every one of them
    assert [m.body for m in batch.messages][-1] == "still here"


async def test_menu_buttons_go_out_as_an_inline_keyboard(transport: TelegramTransport,
                                                        api: BotAPI) -> None:
    await transport.send(OutboundMessage(
        message_id=1, channel="shop", chat_id=str(CHAT), body="Choose a topic:\n1 — Delivery",
        buttons=(("1. Delivery", "1"), ("2. Order status", "2"))))
    [call] = api.calls_to("sendMessage")
    assert call.json("reply_markup") == {"inline_keyboard": [
        [{"text": "1. Delivery", "callback_data": "1"}],
        [{"text": "2. Order status", "callback_data": "2"}]]}


async def test_after_a_restart_a_long_reply_goes_on_from_the_part_that_waited(
        api: BotAPI, tmp_path: Path) -> None:
    from dataclasses import replace

    body = " ".join(f"word{n}" for n in range(2000))
    out = OutboundMessage(message_id=11, channel="shop", chat_id=CHAT, body=body)
    api.fail("sendMessage", None, Error(429, "Too Many Requests: retry after 3",
                                        retry_after=3))
    before = TelegramTransport(settings(api), tmp_path)
    with pytest.raises(Retry) as retry:
        await before.send(out)
    assert retry.value.progress is not None  # what the outbox keeps for the next attempt
    # The hub restarts: a new transport, knowing only what the outbox kept.
    after = TelegramTransport(settings(api), tmp_path)
    await after.send(replace(out, attempt=2, progress=retry.value.progress))
    texts = [call.params["text"] for call in api.calls_to("sendMessage")]
    assert " ".join(texts[:1] + texts[2:]) == body  # part 1 once, part 2 after the wait
    assert texts.count(texts[0]) == 1


async def test_the_outbox_keeps_a_retrys_progress_across_attempts(tmp_path: Path) -> None:
    from opchat.inbox import Inbox
    from opchat.model import InboundMessage

    inbox = await Inbox.open(tmp_path, "anna")
    try:
        got = await inbox.store.inbound.ingest(InboundMessage(
            channel="shop", chat_id="1", external_id="1:1", sender_id="1",
            sender_name="Ivan", body="hi"))
        message = await inbox.send(got.conversation_id, "a long answer")
        [first] = await inbox.store.outbox.claim_due(["shop"])
        assert first.message.progress is None
        await inbox.store.outbox.reschedule(message.id, 0, "429", progress="[9001]")
        [second] = await inbox.store.outbox.claim_due(["shop"])
        assert second.message.progress == "[9001]"
        await inbox.store.outbox.reschedule(message.id, 0, "network down")  # keeps it
        [third] = await inbox.store.outbox.claim_due(["shop"])
        assert third.message.progress == "[9001]"
    finally:
        await inbox.close()


@pytest.mark.parametrize("error", ["TelegramBadRequest", "TelegramServerError",
                                   "TelegramConflictError"])
def test_an_error_without_a_description_is_said_not_crashed_on(error: str) -> None:
    # getUpdates may answer {"ok": false} with no description at all.
    import aiogram.exceptions
    from aiogram.methods import GetUpdates

    from opchat.transports.telegram.api import receive_trouble
    exc = getattr(aiogram.exceptions, error)(method=GetUpdates(), message=None)  # type: ignore[arg-type]
    trouble = receive_trouble(exc, "api.telegram.org", 1, (1.0,), 60.0)
    assert trouble.detail and "None" not in trouble.detail


@pytest.mark.parametrize(("api_base", "host"), [
    ("http://user:secret-pw@127.0.0.1:8081/x", "127.0.0.1:8081"),
    ("https://api.telegram.org", "api.telegram.org"),
    ("http://[::1]:8081", "[::1]:8081"),
])
def test_errors_name_the_api_host_never_a_password_in_its_address(api_base: str,
                                                                  host: str) -> None:
    from opchat.transports.net import host_of

    # The host is in every "cannot reach …" line: the log, the status bar, the audit.
    assert host_of(api_base) == host


def test_what_telegram_troubles_mean_is_said_in_russian_too() -> None:
    import aiogram.exceptions
    from aiogram.methods import GetMe, SendMessage

    from opchat import i18n
    from opchat.transports.telegram.api import receive_trouble, send_error

    before = i18n.current_language()
    i18n.set_language("ru")
    try:
        refused = aiogram.exceptions.TelegramUnauthorizedError(method=GetMe(),
                                                               message="Unauthorized")
        trouble = receive_trouble(refused, "api.telegram.org", 1, (1.0,), 60.0)
        assert trouble.detail == "токен отклонён (401): скопируйте его заново у @BotFather"
        blocked = aiogram.exceptions.TelegramForbiddenError(
            method=SendMessage(chat_id=1, text="hi"), message="Forbidden: bot was blocked")
        error = send_error(blocked, "api.telegram.org", 1, 2)
        assert str(error) == ("клиент заблокировал бота, или ему нельзя написать (403: "
                              "Forbidden: bot was blocked); из 2 частей дошло 1")
    finally:
        i18n.set_language(before)


async def test_a_lone_surrogate_between_good_updates_stops_nothing(tmp_path: Path,
                                                                    api: BotAPI) -> None:
    # The stand-in's JSON carries "\ud800" as Telegram's would; SQLite refuses it raw.
    ids = api.push(text_update(40, "before"), text_update(41, "bad \ud800 one"),
                   text_update(42, "after"))
    async with running(tmp_path, api) as shop:
        stored = await shop.wait_messages(3)
        await until(lambda: holds(api.offsets and api.offsets[-1] == ids[-1] + 1),
                    "the offset to move past them")
    assert sorted(m.body for m in stored.values()) == ["after", "bad \ufffd one", "before"]


async def test_the_customer_rates_a_resolved_dialog_with_a_button(tmp_path: Path,
                                                                 api: BotAPI) -> None:
    """rating = true: resolving asks with five buttons; the customer presses 4; the
    dialog stays resolved, the rating is kept, and they are thanked once."""
    from opchat.config import AutoAnswers
    from opchat.model import Status
    from tests.telegram_api import callback_update

    inbox = await Inbox.open(tmp_path, "anna")
    channel = settings(api)
    channel.auto = AutoAnswers(rating=True)
    hub = Hub(inbox, [channel], tmp_path)
    task = asyncio.create_task(hub.run())
    try:
        await until(lambda: holds("shop" in hub.transports), "the transport")
        shop = Running(inbox, hub, api)
        conversation_id = await customer_wrote(shop, api)
        await inbox.send(conversation_id, "Your parcel left today.")
        await inbox.set_status(conversation_id, Status.RESOLVED)

        def asked() -> list[Any]:
            return [c for c in api.calls_to("sendMessage") if c.params.get("reply_markup")]

        await until(lambda: holds(asked()), "the rating question")
        [question] = asked()
        keyboard = question.json("reply_markup")["inline_keyboard"]
        assert [row[0]["callback_data"] for row in keyboard] == [
            "rate:5", "rate:4", "rate:3", "rate:2", "rate:1"]
        sent = bot_message_with_buttons(50, {"id": CUSTOMER["id"], "type": "private"},
                                        question.params["text"],
                                        [(row[0]["text"], row[0]["callback_data"])
                                         for row in keyboard])
        api.push(callback_update("rq-1", "rate:4", sent))

        async def thanked() -> bool:
            return any(c.params.get("text") == "Thank you for your rating!"
                       for c in api.calls_to("sendMessage"))

        await until(thanked, "the thank-you")
        conversation = await inbox.conversation(conversation_id)
        assert conversation is not None and conversation.status is Status.RESOLVED
        card = await inbox.contact_card(conversation.contact_id)
        assert card is not None and [r.rating for r in card.ratings] == [4]
        assert [c.params["callback_query_id"] for c in api.calls_to("answerCallbackQuery")] \
            == ["rq-1"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()

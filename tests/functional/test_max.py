"""The MAX channel against a stand-in MAX Bot API on 127.0.0.1 (tests/max_api.py).

Real HTTP both ways: the hub long-polls the stand-in (or, in webhook mode, the
stand-in's deliveries are POSTed to the hub's own web server) and the transport
calls its methods; the real hub and SQLite files in tmp_path; the crash test
runs ``opchat serve`` as a process and kills it with SIGKILL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Attachment, Health, Message, MessageState, OutboundMessage
from opchat.transports import UNREACHABLE_LABEL, Rejected, Retry
from opchat.transports.max.channel import MaxTransport
from tests.channels import (
    RunningHub,
    Serve,
    deliver_through_kills,
    events_of_new_messages,
    free_port,
    holds,
    hub_running,
    stored_external_ids,
    until,
)
from tests.max_api import (
    BLOCKED,
    BOT_NAME,
    CUSTOMER,
    DIALOG,
    GROUP,
    INTERNAL,
    NOT_FOUND,
    OTHER,
    OTHER_DIALOG,
    REFUSE,
    T0,
    TOKEN,
    TOO_MANY,
    MaxAPI,
    contact,
    created,
    deliver,
    file,
    image,
    location,
    media,
    message,
    sticker,
    update,
    user,
)

SECRET = "s3cr3t-Webhook_Key-0123456789"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MaxTransport, "retry_after", 0.05)
    monkeypatch.setattr(MaxTransport, "slow_retry", 0.2)
    monkeypatch.setattr(MaxTransport, "check_timeout", 1.0)
    monkeypatch.setattr(MaxTransport, "send_timeout", 1.0)


@pytest.fixture
async def api() -> AsyncIterator[MaxAPI]:
    server = await MaxAPI().start()
    yield server
    await server.close()


def settings(api: MaxAPI, **options: Any) -> ChannelSettings:
    return ChannelSettings("max", "max", {"token": TOKEN, "api_base": api.base,
                                          "poll_timeout": 1, **options})


@pytest.fixture
async def transport(api: MaxAPI, tmp_path: Path) -> AsyncIterator[MaxTransport]:
    alone = MaxTransport(settings(api), tmp_path)
    yield alone
    await alone.api.close()


class Running(RunningHub):
    def __init__(self, inbox: Inbox, hub: Hub, api: MaxAPI, url: str) -> None:
        super().__init__(inbox, hub, "max")
        self.api = api
        self.url = url  # the webhook's address, in that mode

    async def got(self, *external_ids: str) -> dict[str, Message]:
        async def check() -> dict[str, Message] | None:
            found = await self.messages()
            return found if set(external_ids) <= set(found) else None

        return await until(check, f"{external_ids} stored")


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api: MaxAPI, **options: Any) -> AsyncIterator[Running]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/max/max"
    if options.get("webhook"):
        options = {"webhook_url": url, "secret": SECRET, "listen": f"127.0.0.1:{port}",
                   **options}
    async with hub_running(tmp_path, settings(api, **options)) as (inbox, hub):
        shop = Running(inbox, hub, api, url)
        await shop.wait_health(Health.OK, BOT_NAME)
        yield shop


def cursor(db_path: Path) -> str | None:
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT value FROM channel_state WHERE key = 'cursor'").fetchone()
    finally:
        db.close()
    return row[0] if row else None


# Receiving by long polling ---------------------------------------------------------------------


def every_kind(api: MaxAPI) -> list[dict[str, Any]]:
    """One message_created of each kind a customer can send, shaped as MAX documents them."""
    pic = api.add_file("pic.jpg", b"\xff\xd8 a photo")
    pdf = api.add_file("invoice.pdf", b"%PDF-1.4", "application/pdf")
    ogg = api.add_file("voice.ogg", b"OggS", "audio/ogg")
    mp4 = api.add_file("clip.mp4", b"\x00\x00ftyp", "video/mp4")
    stk = api.add_file("sticker.webp", b"RIFF", "image/webp")
    other = user(OTHER, "Павел", "", None)
    return [
        created(message("Здравствуйте! Монстера есть?", "mid.a1", markup=[
            {"type": "strong", "from": 0, "length": 13},
            {"type": "link", "from": 14, "length": 8, "url": "https://flowers.example/m"}])),
        created(message("вот эта", "mid.a2", attachments=[image(pic)])),
        created(message("", "mid.a3", attachments=[file(pdf, "invoice.pdf", 8)])),
        created(message("", "mid.a4", attachments=[media("audio", ogg)])),
        created(message("", "mid.a5", attachments=[media("video", mp4)])),
        created(message("", "mid.a6", attachments=[sticker(stk)])),
        created(message("", "mid.a7", attachments=[contact()])),
        created(message("", "mid.a8", attachments=[location()])),
        created(message("да, эту", "mid.a9", link={
            "type": "reply", "message": {"mid": "mid.bot000001", "text": "Монстера, 3 шт."}})),
        created(message("", "mid.a10", link={
            "type": "forward", "sender": other, "chat_id": 5,
            "message": {"mid": "mid.x", "text": "Привет из другого чата"}})),
        created(message("Привет от Павла", "mid.a11", sender=other, chat_id=OTHER_DIALOG)),
        created(message("в группе", "mid.a12", sender=other, chat_id=GROUP,
                        chat_type="chat")),
    ]


async def test_every_kind_of_message_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, api: MaxAPI) -> None:
    kinds = every_kind(api)
    async with running(tmp_path, api) as shop:
        api.push(*kinds[:6])
        await shop.got("mid.a1", "mid.a6")
        api.push(*kinds[6:])
        found = await shop.got(*(f"mid.a{n}" for n in range(7, 13)))
        conversations = await shop.inbox.conversations()
    text = found["mid.a1"]
    assert (text.body, text.author) == ("Здравствуйте! Монстера есть?", "Анна Смирнова")
    assert text.meta["entities"] == [[0, 13, "bold"], [14, 8, "link"]]
    assert text.meta["links"] == [[14, 8, "https://flowers.example/m"]]
    [pic] = found["mid.a2"].attachments
    assert (pic.kind, pic.ref) == ("photo", f"{api.base}/files/pic.jpg")
    [pdf] = found["mid.a3"].attachments
    assert (pdf.kind, pdf.filename, pdf.size) == ("document", "invoice.pdf", 8)
    assert found["mid.a4"].attachments[0].kind == "voice"
    assert found["mid.a5"].attachments[0].kind == "video"
    assert found["mid.a6"].meta["kind"] == "sticker"
    assert found["mid.a7"].body == "contact: Пётр Иванов +79161234567"
    assert found["mid.a8"].meta["location"] == [55.751244, 37.618423]
    assert found["mid.a9"].meta["quote"] == "Монстера, 3 шт."
    assert found["mid.a10"].body == "> Привет из другого чата"
    assert found["mid.a10"].meta["forwarded_from"] == "Павел"
    assert found["mid.a11"].author == "Павел"
    assert len(conversations) == 3  # the dialog, Павел's, and the group chat
    # The token went in the header, as MAX documents, never in the address.
    assert all("access_token" not in query for _, _, query, _ in api.calls)


async def test_the_marker_is_committed_with_the_updates_and_a_restart_asks_from_there(
        tmp_path: Path, api: MaxAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(*(created(message(f"m{n}", f"mid.m{n}", at=T0 + n)) for n in range(5)))
        await shop.got("mid.m4")
        await until(lambda: holds(cursor(tmp_path / "opchat.db") == "5"), "the marker")
    api.push(created(message("while down", "mid.m9")))
    asked = len(api.polls)
    async with running(tmp_path, api) as shop:
        found = await shop.got("mid.m9")
    assert api.polls[asked]["marker"] == "5"
    assert {"timeout", "types"} <= set(api.polls[asked])
    assert len(found) == 6 and events_of_new_messages(tmp_path / "opchat.db") == 6


async def test_edits_removals_buttons_start_stop_and_group_members(
        tmp_path: Path, api: MaxAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(update("bot_started", chat_id=DIALOG, user=user(), payload="promo_vk_ads",
                        user_locale="ru"),
                 created(message("Здравствуйте", "mid.b1")))
        found = await shop.got("mid.b1", f"started.{DIALOG}.{T0}")
        started = found[f"started.{DIALOG}.{T0}"]
        assert started.body == "started the bot from: promo_vk_ads"
        assert started.meta["referral"]["ref"] == "promo_vk_ads"
        api.push(update("message_edited", at=T0 + 5, message=message("Здравствуйте!",
                                                                     "mid.b1")))
        found = await shop.got(f"mid.b1.edit.{T0 + 5}")
        assert found[f"mid.b1.edit.{T0 + 5}"].body == "Здравствуйте!"
        api.push(update("message_callback", callback={
            "timestamp": T0 + 6, "callback_id": "cb.77", "payload": "menu:delivery",
            "user": user()}, message=message("Меню", "mid.bot000009")))
        found = await shop.got("callback.cb.77")
        assert found["callback.cb.77"].meta["callback"] == "menu:delivery"
        await until(lambda: holds(api.answers), "the press answered")
        assert api.answers[0]["callback_id"] == "cb.77"
        api.push(update("message_removed", message_id="mid.b1", chat_id=DIALOG,
                        user_id=CUSTOMER))

        async def removed() -> bool:
            return bool((await shop.messages())["mid.b1"].meta.get("deleted"))

        await until(removed, "the removal marked")
        api.push(update("bot_stopped", chat_id=DIALOG, user=user()))

        async def blocked() -> bool:
            [c] = await shop.inbox.conversations()  # only the dialog so far
            return UNREACHABLE_LABEL in c.labels

        await until(blocked, "the dialog marked unreachable")
        api.push(update("user_added", chat_id=GROUP, user=user(OTHER, "Павел", ""),
                        inviter_id=CUSTOMER),
                 update("user_removed", at=T0 + 9, chat_id=GROUP, user=user(OTHER, "Павел", ""),
                        admin_id=CUSTOMER))
        found = await shop.got(f"user_added.{GROUP}.{OTHER}.{T0}",
                               f"user_removed.{GROUP}.{OTHER}.{T0 + 9}")
        assert found[f"user_added.{GROUP}.{OTHER}.{T0}"].body == "Павел joined the chat"
        assert found[f"user_removed.{GROUP}.{OTHER}.{T0 + 9}"].body == "Павел left the chat"
        assert "mid.b1" in await shop.messages()  # kept


async def test_the_automatic_menu_goes_out_as_a_keyboard_and_a_press_answers(
        tmp_path: Path, api: MaxAPI) -> None:
    import time

    from opchat.config import load_settings
    from opchat.replies import STARTER

    (tmp_path / "config.toml").write_text(f"""
[menus.main]
text = "How can we help?"
options = [
  {{ label = "Delivery", reply = "delivery" }},
  {{ label = "A person, please", operator = true }},
]
[channels.max]
kind = "max"
token = "{TOKEN}"
api_base = "{api.base}"
poll_timeout = 1
menu = "main"
""", encoding="utf-8")
    configured = load_settings(tmp_path / "config.toml", tmp_path)
    inbox = await Inbox.open(tmp_path, "anna")
    await inbox.store.replies.save_all(STARTER)
    await inbox.close()
    async with hub_running(tmp_path, configured.channels[0]) as (inbox, hub):
        shop = Running(inbox, hub, api, "")
        await shop.wait_health(Health.OK, BOT_NAME)
        now = int(time.time() * 1000)
        api.push(created(message("Привет!", "mid.menu1", at=now)))
        [menu] = await until(lambda: holds(api.sent), "the menu sent")
        [keys] = menu["attachments"]
        delivery = keys["payload"]["buttons"][0][0]
        api.push(update("message_callback", at=now + 1, callback={
            "timestamp": now + 1, "callback_id": "cb.menu", "payload": delivery["payload"],
            "user": user()}, message=message(menu["text"], menu["mid"], sender={
                "user_id": 10002, "name": BOT_NAME, "is_bot": True}, attachments=[keys])))
        await until(lambda: holds(len(api.sent) == 2), "the answer to the press")
        found = await shop.got("callback.cb.menu")
        await until(lambda: holds(api.answers), "the press answered")
    assert "How can we help?" in menu["text"] and menu["chat_id"] == str(DIALOG)
    assert found["callback.cb.menu"].body == delivery["text"]  # the button's own label
    assert "Доставляем" in api.sent[1]["text"]


async def test_rate_limits_and_outages_while_polling_show_degraded_then_go_on(
        tmp_path: Path, api: MaxAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.fail("GET /updates", TOO_MANY, INTERNAL)
        await shop.wait_health(Health.DEGRADED, "MAX says")
        api.push(created(message("после паузы", "mid.r1")))
        await shop.got("mid.r1")
        await shop.wait_health(Health.OK, BOT_NAME)


async def test_a_refused_token_shows_down_saying_so(tmp_path: Path, api: MaxAPI) -> None:
    async with hub_running(tmp_path, settings(api, token="wrong-token")) as (inbox, hub):
        detail = await RunningHub(inbox, hub, "max").wait_health(Health.DOWN, "token")
    assert "business.max.ru" in detail and "wrong-token" not in detail


# Sending ---------------------------------------------------------------------------------------


def out(text: str, message_id: int = 1, **more: Any) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel="max", chat_id=str(DIALOG),
                           body=text, **more)


async def test_a_reply_goes_to_the_chat_and_a_long_one_in_parts(
        transport: MaxTransport, api: MaxAPI) -> None:
    delivery = await transport.send(out("Есть, 3 шт."))
    assert delivery.external_id == api.sent[0]["mid"]
    assert (api.sent[0]["chat_id"], api.sent[0]["text"]) == (str(DIALOG), "Есть, 3 шт.")
    long = ("слово " * 1500).strip()
    await transport.send(out(long, 2))
    parts = [s["text"] for s in api.sent[1:]]
    assert len(parts) == 3 and all(len(p) <= 4000 for p in parts)
    assert " ".join(parts) == long


async def test_a_long_reply_cut_short_goes_on_from_the_part_that_failed(
        transport: MaxTransport, api: MaxAPI) -> None:
    long = ("слово " * 1500).strip()
    api.fail("POST /messages", None, INTERNAL)  # the first part goes, the second does not
    with pytest.raises(Retry) as cut:
        await transport.send(out(long, 7))
    assert len(api.sent) == 1 and cut.value.progress
    fresh = MaxTransport(settings(api), transport.data_dir)  # as after a restart
    try:
        delivery = await fresh.send(out(long, 7, progress=cut.value.progress, attempt=2))
    finally:
        await fresh.api.close()
    assert len(api.sent) == 3 and delivery.external_id == api.sent[0]["mid"]
    assert " ".join(s["text"] for s in api.sent) == long


async def test_rate_limits_outages_and_permanent_errors_in_words(
        transport: MaxTransport, api: MaxAPI) -> None:
    api.fail("POST /messages", TOO_MANY)
    with pytest.raises(Retry) as waited:
        await transport.send(out("раз"))
    assert waited.value.after == 1.0 and "Too many requests" in waited.value.reason
    api.fail("POST /messages", INTERNAL)
    with pytest.raises(Retry):
        await transport.send(out("два"))
    api.fail("POST /messages", NOT_FOUND)
    with pytest.raises(Rejected) as refused:
        await transport.send(out("три"))
    assert not refused.value.unreachable and "Chat 404 not found" in refused.value.reason
    api.fail("POST /messages", BLOCKED)
    with pytest.raises(Rejected) as blocked:
        await transport.send(out("четыре"))
    assert blocked.value.unreachable
    assert api.sent == []
    transport.api.token = "revoked"
    with pytest.raises(Retry) as token:
        await transport.send(out("пять"))
    assert "business.max.ru" in token.value.reason


async def test_a_blocked_customer_is_marked_and_the_send_fails(tmp_path: Path,
                                                               api: MaxAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(created(message("Здравствуйте", "mid.c1")))
        await shop.got("mid.c1")
        api.fail("POST /messages", BLOCKED)
        [conversation] = await shop.inbox.conversations()
        queued = await shop.inbox.send(conversation.id, "Добрый день")

        async def failed() -> Message | None:
            found = await shop.message(queued.id)
            return found if found.state is MessageState.FAILED else None

        assert "blocked" in (await until(failed, "the send refused")).error

        async def marked() -> bool:
            [c] = await shop.inbox.conversations()
            return UNREACHABLE_LABEL in c.labels

        await until(marked, "the dialog marked")


async def test_files_go_through_uploads_menus_as_keyboards_and_typing(
        transport: MaxTransport, api: MaxAPI, tmp_path: Path) -> None:
    photo = tmp_path / "bouquet.jpg"
    photo.write_bytes(b"\xff\xd8 bouquet")
    price = tmp_path / "price.pdf"
    price.write_bytes(b"%PDF price")
    await transport.send(out("Вот", attachments=(
        Attachment(kind="photo", local_path=str(photo), mime="image/jpeg"),
        Attachment(kind="document", local_path=str(price), mime="application/pdf")),
        buttons=(("Доставка", "menu:delivery"), ("Оплата", "menu:pay"))))
    [sent] = api.sent
    image_, doc, keys = sent["attachments"]
    assert image_["type"] == "image" and "photos" in image_["payload"]
    assert doc == {"type": "file", "payload": {"token": "tok-file-2"}}
    assert keys["type"] == "inline_keyboard"
    assert keys["payload"]["buttons"] == [
        [{"type": "callback", "text": "Доставка", "payload": "menu:delivery"}],
        [{"type": "callback", "text": "Оплата", "payload": "menu:pay"}]]
    assert sorted(name for name, _ in api.uploaded.values()) == ["bouquet.jpg", "price.pdf"]
    await transport.typing(str(DIALOG), True)
    assert api.actions == [(str(DIALOG), "typing_on")]


async def test_files_are_fetched_when_an_operator_asks(transport: MaxTransport, api: MaxAPI,
                                                       tmp_path: Path) -> None:
    url = api.add_file("invoice.pdf", b"%PDF-1.4 the invoice", "application/pdf")
    saved = await transport.download(Attachment(kind="document", filename="../../invoice.pdf",
                                                ref=url), tmp_path / "files")
    assert saved.read_bytes() == b"%PDF-1.4 the invoice"
    assert saved.parent == tmp_path / "files"


# Webhook ---------------------------------------------------------------------------------------


async def test_webhook_subscribes_checks_the_secret_and_answers_only_once_stored(
        tmp_path: Path, api: MaxAPI) -> None:
    async with running(tmp_path, api, webhook=True) as shop:
        [subscription] = api.subscriptions
        assert (subscription["url"], subscription["secret"]) == (shop.url, SECRET)
        assert "message_created" in subscription["update_types"]
        new = created(message("Через вебхук", "mid.w1"))
        assert (await deliver(shop.url, new, secret=None))[0] == 401
        assert (await deliver(shop.url, new, secret=""))[0] == 401
        assert (await deliver(shop.url, new, secret=SECRET[:-1] + "X"))[0] == 403
        assert await shop.messages() == {}
        assert (await deliver(shop.url, new, secret=SECRET))[0] == 200
        assert stored_external_ids(tmp_path / "opchat.db") == {"mid.w1"}  # committed
        assert (await deliver(shop.url, new, secret=SECRET))[0] == 200  # again: once
        press = update("message_callback", callback={
            "timestamp": T0, "callback_id": "cb.w", "payload": "menu:x", "user": user()},
            message=message("Меню", "mid.bot1"))
        assert (await deliver(shop.url, press, secret=SECRET))[0] == 200
        await until(lambda: holds(api.answers), "the press answered")
        assert len(await shop.messages()) == 2
        assert events_of_new_messages(tmp_path / "opchat.db") == 2
        assert not api.polls  # a webhook, not long polling


async def test_a_webhook_max_refuses_shows_down_and_is_asked_for_again(
        tmp_path: Path, api: MaxAPI) -> None:
    api.fail("POST /subscriptions", REFUSE)
    port = free_port()
    channel = settings(api, webhook=True, webhook_url=f"http://127.0.0.1:{port}/max/max",
                       secret=SECRET, listen=f"127.0.0.1:{port}")
    async with hub_running(tmp_path, channel) as (inbox, hub):
        shop = RunningHub(inbox, hub, "max")
        detail = await shop.wait_health(Health.DOWN, "did not take the webhook")
        assert "Webhook URL is unreachable" in detail
        await shop.wait_health(Health.OK, BOT_NAME)  # asked again: taken this time
    assert len(api.subscriptions) == 1


async def test_webhook_malformed_and_oversized_bodies_get_4xx_and_the_hub_carries_on(
        tmp_path: Path, api: MaxAPI) -> None:
    async with running(tmp_path, api, webhook=True) as shop:
        for raw in (b'{"update_type": "message_cr', b'["a", "list"]', b"\xff\xfe not utf-8",
                    b'{"no": "type"}'):
            assert (await deliver(shop.url, raw=raw, secret=SECRET))[0] == 400
        big = created(message("x" * 2_000_000, "mid.big"))
        assert (await deliver(shop.url, big, secret=SECRET))[0] == 413
        assert await shop.messages() == {}
        ok = created(message("всё ещё здесь", "mid.ok"))
        assert (await deliver(shop.url, ok, secret=SECRET))[0] == 200
        assert list(await shop.messages()) == ["mid.ok"]


async def test_webhook_a_failure_to_store_answers_500_so_max_delivers_again(
        tmp_path: Path, api: MaxAPI) -> None:
    new = created(message("poison", "mid.p1"))
    async with running(tmp_path, api, webhook=True) as shop:
        db = sqlite3.connect(tmp_path / "opchat.db")
        db.execute("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' "
                   "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
        db.commit()
        assert (await deliver(shop.url, new, secret=SECRET))[0] == 500
        await shop.wait_health(Health.DEGRADED, "disk trouble")
        db.execute("DROP TRIGGER poison")
        db.commit()
        db.close()
        assert (await deliver(shop.url, new, secret=SECRET))[0] == 200
        assert list(await shop.messages()) == ["mid.p1"]


# Crashes ---------------------------------------------------------------------------------------


def serve_max(tmp_path: Path, api: MaxAPI, **more: str) -> Serve:
    extra = "".join(f"{key} = {value}\n" for key, value in more.items())
    return Serve(tmp_path, (f'[channels.max]\nkind = "max"\ntoken = "{TOKEN}"\n'
                            f'api_base = "{api.base}"\npoll_timeout = 1\n{extra}'))


async def test_long_poll_killed_mid_stream_every_message_is_stored_exactly_once(
        tmp_path: Path, api: MaxAPI) -> None:
    api.per_answer = 3  # a few updates an answer: the kills land between commits
    api.answer_delay = 0.05  # ...and the stream lasts long enough for three kills
    serve = serve_max(tmp_path, api)
    db_path = serve.data / "opchat.db"
    count = 120
    expected = {f"mid.k{n}" for n in range(count)}
    at_kill: list[int] = []
    await serve.start()
    try:
        await until(lambda: holds(api.polls), "the hub polling", timeout=30)
        api.push(*(created(message(f"m {n}", f"mid.k{n}", sender=user(CUSTOMER + n % 5),
                                   chat_id=DIALOG + n % 5, at=T0 + n)) for n in range(count)))
        for target in (20, 50, 90):
            await until(lambda target=target: holds(len(stored_external_ids(db_path)) >=
                                                    target), f"{target} stored", timeout=30)
            serve.kill()
            await serve.killed()
            at_kill.append(len(stored_external_ids(db_path)))
            await serve.start()
        await until(lambda: holds(stored_external_ids(db_path) == expected), "all stored",
                    timeout=30)
    finally:
        await serve.stop()
    assert events_of_new_messages(db_path) == count
    assert cursor(db_path) == str(count)
    assert all(n < count for n in at_kill)


async def test_webhook_killed_at_any_moment_every_message_is_stored_exactly_once(
        tmp_path: Path, api: MaxAPI) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/max/max"
    serve = serve_max(tmp_path, api, webhook="true", webhook_url=f'"{url}"',
                      secret=f'"{SECRET}"', listen=f'"127.0.0.1:{port}"')
    updates = [created(message(f"message {n}", f"mid.h{n}", sender=user(CUSTOMER + n % 5),
                               chat_id=DIALOG + n % 5, at=T0 + n)) for n in range(60)]

    async def max_(n: int) -> int:
        return (await deliver(url, updates[n], secret=SECRET, timeout=2))[0]

    unanswered = await deliver_through_kills(serve, max_, len(updates))
    db_path = serve.data / "opchat.db"
    assert stored_external_ids(db_path) == {f"mid.h{n}" for n in range(60)}
    assert events_of_new_messages(db_path) == 60
    assert unanswered


# Setting up ------------------------------------------------------------------------------------


async def test_channel_add_and_test_from_the_command_line(tmp_path: Path, api: MaxAPI) -> None:
    from tests.channels import opchat

    env = {"MAX_TOKEN": TOKEN}
    code, out_, err = await opchat(tmp_path, "channel", "add", "max", "--name", "shop",
                                   "--token-env", "MAX_TOKEN", "--api-base", api.base,
                                   env=env)
    assert code == 0, err
    assert "added channel shop (max)" in out_ and "opchat channel test shop" in out_
    assert TOKEN not in (tmp_path / "config.toml").read_text()
    code, out_, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert (code, err) == (0, "")
    assert out_.strip() == (f"channel shop (max): reached {BOT_NAME} (@flowershop_bot, id "
                            "10002); long polling")
    code, out_, err = await opchat(tmp_path, "--lang", "ru", "channel", "test", "shop",
                                   env={"MAX_TOKEN": "f9-a-revoked-token"})
    assert code == 1 and out_ == ""
    assert "MAX не принимает токен бота" in err and "f9-a-revoked-token" not in err
    api.fail("GET /me", INTERNAL)
    code, out_, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert code == 1 and "Service unavailable (503)" in err


async def test_channel_add_webhook_mode_and_its_mistakes(tmp_path: Path, api: MaxAPI) -> None:
    from tests.channels import opchat

    env = {"MAX_TOKEN": TOKEN}
    code, _, err = await opchat(tmp_path, "channel", "add", "max", "--name", "shop",
                                "--token-env", "MAX_TOKEN", "--webhook", env=env)
    assert code != 0 and "webhook_url" in err
    code, _, err = await opchat(tmp_path, "channel", "add", "max", "--name", "shop",
                                "--token-env", "MAX_TOKEN", "--webhook", "--webhook-url",
                                "http://shop.example/max", env=env)
    assert code != 0 and "https://" in err
    # The token in the file itself this time: the file is kept at 0600.
    code, out_, err = await opchat(
        tmp_path, "channel", "add", "max", "--name", "shop", "--token", TOKEN,
        "--webhook", "--webhook-url", "https://shop.example/max/shop", "--api-base",
        api.base)
    assert code == 0, err
    assert "have your reverse proxy pass it to http://127.0.0.1:8765/max/shop" in out_
    assert stat.S_IMODE((tmp_path / "config.toml").stat().st_mode) == 0o600
    code, out_, err = await opchat(tmp_path, "channel", "test", "shop")
    assert code == 0, err
    assert "webhook at https://shop.example/max/shop, not subscribed yet" in out_
    api.subscriptions.append({"url": "https://shop.example/max/shop", "secret": "x"})
    code, out_, err = await opchat(tmp_path, "channel", "test", "shop")
    assert out_.strip().endswith("; webhook at https://shop.example/max/shop"), out_

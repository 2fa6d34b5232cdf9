"""The VK channel against a stand-in VK API on 127.0.0.1 (tests/vk_api.py).

Real HTTP both ways: the hub long-polls the stand-in (or, in Callback API mode,
the stand-in POSTs events to the hub's own web server) and the transport calls
its methods; the real hub and SQLite files in tmp_path; the crash tests run
``opchat serve`` as a process and kill it with SIGKILL.
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
from opchat.model import Attachment, Direction, Health, Message, MessageState, OutboundMessage
from opchat.transports import UNREACHABLE_LABEL, Retry
from opchat.transports.vk.channel import VKTransport, keyboard
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
from tests.vk_api import (
    ADMIN,
    CONFIRMATION,
    CUSTOMER,
    FLOOD,
    GROUP_ID,
    GROUP_NAME,
    INTERNAL,
    NO_PERMISSION,
    OTHER,
    PRIVACY,
    SECRET,
    SENT_THEN_HANG,
    TOKEN,
    TOO_MANY,
    VKAPI,
    audio_message,
    deliver,
    doc,
    event,
    geo,
    link,
    message,
    message_new,
    photo,
    sticker,
    video,
    wall,
)


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VKTransport, "retry_after", 0.05)
    monkeypatch.setattr(VKTransport, "slow_retry", 0.2)
    monkeypatch.setattr(VKTransport, "check_timeout", 1.0)
    monkeypatch.setattr(VKTransport, "send_timeout", 1.0)


@pytest.fixture
async def api() -> AsyncIterator[VKAPI]:
    server = await VKAPI().start()
    yield server
    await server.close()


def settings(api: VKAPI, **options: Any) -> ChannelSettings:
    return ChannelSettings("vk", "vk", {"token": TOKEN, "group_id": str(GROUP_ID),
                                        "api_base": api.base, "poll_timeout": 1, **options})


@pytest.fixture
async def transport(api: VKAPI, tmp_path: Path) -> AsyncIterator[VKTransport]:
    alone = VKTransport(settings(api), tmp_path)
    yield alone
    await alone.vk.close()


class Running(RunningHub):
    def __init__(self, inbox: Inbox, hub: Hub, api: VKAPI, url: str) -> None:
        super().__init__(inbox, hub, "vk")
        self.api = api
        self.url = url  # the Callback API's address, in that mode

    async def got(self, *external_ids: str) -> dict[str, Message]:
        """Once every one of these is stored: every stored message."""
        async def check() -> dict[str, Message] | None:
            found = await self.messages()
            return found if set(external_ids) <= set(found) else None

        return await until(check, f"{external_ids} stored")

    async def reply(self, text: str) -> Message:
        [conversation] = await self.inbox.conversations()
        queued = await self.inbox.send(conversation.id, text)

        async def sent() -> Message | None:
            found = await self.message(queued.id)
            return found if found.state is MessageState.SENT else None

        return await until(sent, f"{text!r} sent")


@contextlib.asynccontextmanager
async def running(tmp_path: Path, api: VKAPI, **options: Any) -> AsyncIterator[Running]:
    port = free_port()
    if options.get("callback"):
        options = {"confirmation": CONFIRMATION, "secret": SECRET,
                   "listen": f"127.0.0.1:{port}", **options}
    async with hub_running(tmp_path, settings(api, **options)) as (inbox, hub):
        shop = Running(inbox, hub, api, f"http://127.0.0.1:{port}/vk/vk")
        await shop.wait_health(Health.OK, GROUP_NAME)
        yield shop


def cursor(db_path: Path) -> str | None:
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT value FROM channel_state WHERE key = 'cursor'").fetchone()
    finally:
        db.close()
    return row[0] if row else None


# Receiving by Bots Long Poll -------------------------------------------------------------------


def every_kind(api: VKAPI) -> list[dict[str, Any]]:
    """One message_new of each kind a customer can send, shaped as VK documents them."""
    pic = api.add_file("pic.jpg", b"\xff\xd8 a photo")
    pdf = api.add_file("invoice.pdf", b"%PDF-1.4", "application/pdf")
    ogg = api.add_file("voice.ogg", b"OggS", "audio/ogg")
    stk = api.add_file("sticker.png", b"\x89PNG", "image/png")
    return [
        message_new(message("Здравствуйте! Монстера есть?", id=501)),
        message_new(message("вот эта", id=502, attachments=[photo(pic)])),
        message_new(message("", id=503, attachments=[doc(pdf)])),
        message_new(message("", id=504, attachments=[audio_message(ogg)])),
        message_new(message("", id=505, attachments=[sticker(stk)])),
        message_new(message("смотрите", id=506, attachments=[video(), wall(), link()])),
        message_new(message("", id=507, geo=geo())),
        message_new(message("пересылаю", id=508, fwd_messages=[
            message("Привет из другого чата", id=0, from_id=OTHER)])),
        message_new(message("да, эту", id=509, reply_message=message(
            "Монстера, 3 шт.", id=480, from_id=-GROUP_ID, peer_id=CUSTOMER))),
        message_new(message("Доставка", id=510, payload='{"b":"menu:delivery"}')),
        message_new(message("Начать", id=511, payload='{"command":"start"}')),
        message_new(message("Привет от Павла", id=512, from_id=OTHER)),
        message_new(message("в беседе", id=0, from_id=OTHER, peer_id=2000000007,
                            conversation_message_id=44)),
        message_new(message("", id=0, from_id=OTHER, peer_id=2000000007,
                            conversation_message_id=45, action={
                                "type": "chat_invite_user", "member_id": -GROUP_ID})),
    ]


async def test_every_kind_of_message_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, api: VKAPI) -> None:
    kinds = every_kind(api)
    async with running(tmp_path, api) as shop:
        api.push(*kinds[:6])  # in two answers of the long poll
        await shop.got("501", "506")
        api.push(*kinds[6:])
        found = await shop.got("507", "512", "2000000007_44", "2000000007_45")
    text = found["501"]
    assert (text.body, text.author) == ("Здравствуйте! Монстера есть?", "Анна Смирнова")
    [pic] = found["502"].attachments
    assert (pic.kind, pic.ref, found["502"].body) == ("photo", f"{api.base}/files/pic.jpg",
                                                       "вот эта")
    [pdf] = found["503"].attachments
    assert (pdf.kind, pdf.filename, pdf.size) == ("document", "invoice.pdf", 5)
    [voice] = found["504"].attachments
    assert (voice.kind, voice.mime) == ("voice", "audio/ogg")
    assert found["505"].meta["kind"] == "sticker"
    assert found["505"].attachments[0].ref == f"{api.base}/files/sticker.png"
    assert found["506"].body.splitlines() == [
        "смотрите", "video: Unboxing https://vk.com/video-1_456239017",
        f"wall post: https://vk.com/wall-{GROUP_ID}_4242", "Новые поступления: монстера",
        "link: Monstera deliciosa https://flowers.example/monstera"]
    assert found["507"].meta["location"] == [55.751244, 37.618423]
    assert found["507"].body == "Москва, Россия (55.751244, 37.618423)"
    assert found["508"].body == "пересылаю\n> Привет из другого чата"
    assert found["508"].meta["forwarded_from"] == f"vk.com/id{OTHER}"
    assert found["509"].meta["quote"] == "Монстера, 3 шт."
    assert found["510"].meta["callback"] == "menu:delivery"
    assert found["511"].meta["callback"] == "start"
    assert found["512"].author == "Pavel Durov"
    assert found["2000000007_44"].author == "Pavel Durov"
    assert found["2000000007_45"].body == "chat action: chat_invite_user"
    # Names: users.get once per customer, not per message.
    asked = [ids for call in api.called("users.get") for ids in call["user_ids"].split(",")]
    assert sorted(asked) == sorted([str(CUSTOMER), str(OTHER)])
    assert all(call["v"] == "5.199" for _, call in api.calls)


async def test_the_ts_is_committed_with_the_events_and_a_restart_asks_from_there(
        tmp_path: Path, api: VKAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(*(message_new(message(f"m{n}", id=600 + n)) for n in range(5)))
        await shop.got("604")
        assert cursor(tmp_path / "opchat.db") == "5"
    api.push(message_new(message("while down", id=610)))
    asked = len(api.a_checks)
    async with running(tmp_path, api) as shop:
        found = await shop.got("610")
    assert api.a_checks[asked]["ts"] == "5"  # from the committed ts, not VK's newest
    assert len(found) == 6 and events_of_new_messages(tmp_path / "opchat.db") == 6


async def test_long_poll_failed_1_2_3_are_handled_as_vk_says(tmp_path: Path,
                                                             api: VKAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(message_new(message("one", id=701)))
        await shop.got("701")
        # 2: the key expired: a new key, the same ts (nothing lost, nothing doubled).
        old = api.key
        api.expire_key()
        api.push(message_new(message("two", id=702)))
        await shop.got("702")
        keys = [query["key"] for query in api.a_checks]
        assert old in keys and keys[-1] == api.key
        # 1: the events before this ts are gone: go on with the ts VK gives.
        api.events.append(message_new(message("lost", id=703)))
        api.lose_events_before(len(api.events))
        api.push(message_new(message("three", id=704)))
        await shop.got("704")
        # 3: the history is lost: a new key and ts.
        api.lose_history()
        api.push(message_new(message("four", id=705)))
        await until(lambda: holds(not api.history_lost), "a new key asked for")
        api.push(message_new(message("five", id=706)))
        found = await shop.got("706")
    assert sorted(found) == ["701", "702", "704", "706"]  # 703 and 705 were lost
    assert len(api.called("groups.getLongPollServer")) >= 3


async def test_a_refused_token_shows_down_saying_so(tmp_path: Path, api: VKAPI) -> None:
    channel = settings(api, token="vk1.a.wrong")
    async with hub_running(tmp_path, channel) as (inbox, hub):
        shop = RunningHub(inbox, hub, "vk")
        detail = await shop.wait_health(Health.DOWN, "token")
    assert "Manage → API usage" in detail and "vk1.a.wrong" not in detail


async def test_an_answer_written_in_vk_is_stored_as_sent_from_vk_and_never_sent(
        tmp_path: Path, api: VKAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(message_new(message("Есть доставка?", id=801)))
        await shop.got("801")
        admin = message("Да, завтра", id=802, from_id=-GROUP_ID, peer_id=CUSTOMER, out=1,
                        admin_author_id=ADMIN, random_id=-1391823)
        api.push(event("message_reply", admin), event("message_reply", admin))
        found = await shop.got("802")
        reply = await shop.reply("Во сколько удобно?")
        # VK's message_reply of opchat's own send: not stored again.
        [(sent_id, fields)] = [(k, v) for k, v in api.sent.items()
                               if v["message"] == "Во сколько удобно?"]
        api.push(event("message_reply", message(
            "Во сколько удобно?", id=sent_id, from_id=-GROUP_ID, peer_id=CUSTOMER, out=1,
            random_id=int(fields["random_id"]))))
        # ...nor when it comes before the send's answer was recorded (another VK id, our
        # random_id: the outbox row it names is an outgoing message of this dialog).
        api.push(event("message_reply", message(
            "Во сколько удобно?", id=sent_id + 5000, from_id=-GROUP_ID, peer_id=CUSTOMER,
            out=1, random_id=int(fields["random_id"]))))
        # Another tool's random_id that happens to look like ours: shown.
        transport = shop.hub.transports["vk"]
        lookalike = transport.random_id(reply.id + 7, 0)
        api.push(event("message_reply", message(
            "Из CRM", id=804, from_id=-GROUP_ID, peer_id=CUSTOMER, out=1,
            random_id=lookalike)))
        api.push(message_new(message("в 10", id=803)))
        found = await shop.got("803", "804")
    echo = found["802"]
    assert (echo.direction, echo.state, echo.body) == (Direction.OUT, MessageState.SENT,
                                                       "Да, завтра")
    assert echo.meta["elsewhere"] == f"VK, vk.com/id{ADMIN}"
    assert sorted(found) == sorted(["801", "802", "803", "804", reply.external_id or ""])
    assert found["804"].meta["elsewhere"] == "VK"
    assert len(api.sent) == 1  # only opchat's own reply went out


async def test_edits_allow_deny_read_and_callback_buttons(tmp_path: Path, api: VKAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(message_new(message("Хочу 2 шт", id=901)))
        await shop.got("901")
        api.push(event("message_edit", message("Хочу 3 шт", id=901, update_time=1733300100)))
        found = await shop.got("901.edit.1733300100")
        assert found["901.edit.1733300100"].edit_of_id == found["901"].id
        sent = await shop.reply("Хорошо")
        api.push(event("message_read", {"from_id": CUSTOMER, "peer_id": CUSTOMER,
                                         "read_message_id": int(sent.external_id or 0),
                                         "conversation_message_id": 2}))

        async def read() -> bool:
            return (await shop.message(sent.id)).state is MessageState.READ

        await until(read, "the reply marked read")
        api.push(event("message_deny", {"user_id": CUSTOMER}))

        async def labelled(present: bool) -> bool:
            [conversation] = await shop.inbox.conversations()
            return (UNREACHABLE_LABEL in conversation.labels) is present

        await until(lambda: labelled(True), "the dialog labelled blocked")
        api.push(event("message_allow", {"user_id": CUSTOMER, "key": "abc"}))
        await until(lambda: labelled(False), "the label taken away")
        api.push(event("message_event", {
            "user_id": CUSTOMER, "peer_id": CUSTOMER, "event_id": "3b5a0e1fd2c4",
            "payload": {"b": "menu:pickup", "l": "Самовывоз"}, "conversation_message_id": 3}))
        found = await shop.got("event.3b5a0e1fd2c4")
        await until(lambda: holds(api.answered_events), "the press answered")
    press = found["event.3b5a0e1fd2c4"]
    assert (press.body, press.meta["callback"]) == ("Самовывоз", "menu:pickup")
    assert api.answered_events[0]["event_id"] == "3b5a0e1fd2c4"


# Sending ---------------------------------------------------------------------------------------


def outbound(body: str = "Да, есть", message_id: int = 41, **more: Any) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, channel="vk", chat_id=str(CUSTOMER),
                           body=body, **more)


async def test_a_reply_goes_to_the_peer_with_a_random_id_made_from_the_outbox_row(
        transport: VKTransport, api: VKAPI, tmp_path: Path) -> None:
    delivery = await transport.send(outbound(reply_to_external_id="501"))
    again = await transport.send(outbound())  # the same row again: VK keeps one
    other = await transport.send(outbound(message_id=42))
    fields = api.sent[int(delivery.external_id or 0)]
    assert fields["peer_id"] == str(CUSTOMER) and fields["message"] == "Да, есть"
    assert fields["reply_to"] == "501" and fields["v"] == "5.199"
    assert again.external_id == delivery.external_id and len(api.sent) == 2
    assert other.external_id != delivery.external_id
    # Stable across restarts (a new transport over the same data dir)...
    later = VKTransport(settings(api), tmp_path)
    assert later.random_id(41, 0) == int(fields["random_id"])
    assert later.row_of(int(fields["random_id"])) == 41
    # ...different for another install.
    (tmp_path / "other").mkdir()
    elsewhere = VKTransport(settings(api), tmp_path / "other")
    assert elsewhere.random_id(41, 0) != int(fields["random_id"])
    assert 0 < later.random_id(41, 0) < 2**31


async def test_a_send_retried_after_a_timeout_reaches_vk_once(
        transport: VKTransport, api: VKAPI) -> None:
    api.fail("messages.send", SENT_THEN_HANG)  # VK takes it; the answer never comes
    with pytest.raises(Retry) as first:
        await transport.send(outbound("Заказ принят"))
    assert "no answer in time" in first.value.reason
    delivery = await transport.send(outbound("Заказ принят", attempt=2))
    attempts = [c["random_id"] for c in api.called("messages.send")]
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    [sent_id] = api.sent
    assert delivery.external_id == str(sent_id)


async def test_a_long_reply_goes_in_parts_and_a_part_vk_finds_too_long_is_split(
        transport: VKTransport, api: VKAPI) -> None:
    text = ("слово " * 1500).strip()  # 8999 characters: three parts of at most 4096
    api.max_len = 3000  # VK counts otherwise: the first parts are refused (914), split
    await transport.send(outbound(text))
    parts = [fields["message"] for fields in api.sent.values()]
    assert " ".join(parts) == text and all(len(p) <= 3000 for p in parts)
    assert len({fields["random_id"] for fields in api.sent.values()}) == len(parts)


@pytest.mark.parametrize("error", [TOO_MANY, FLOOD, INTERNAL])
async def test_rate_limits_and_vks_trouble_back_off(transport: VKTransport, api: VKAPI,
                                                   error: Any) -> None:
    api.fail("messages.send", error, error)
    with pytest.raises(Retry) as first:
        await transport.send(outbound(attempt=1))
    with pytest.raises(Retry) as second:
        await transport.send(outbound(attempt=2))
    assert f"({error.code})" in first.value.reason
    assert first.value.after and second.value.after == 2 * first.value.after
    await transport.send(outbound(attempt=3))
    assert len(api.sent) == 1


@pytest.mark.parametrize("error", [NO_PERMISSION, PRIVACY])
async def test_a_customer_who_forbade_messages_is_refused_and_marked(
        tmp_path: Path, api: VKAPI, error: Any) -> None:
    async with running(tmp_path, api) as shop:
        api.push(message_new(message("Здравствуйте", id=1101)))
        await shop.got("1101")
        api.fail("messages.send", error)
        [conversation] = await shop.inbox.conversations()
        queued = await shop.inbox.send(conversation.id, "Добрый день!")

        async def failed() -> Message | None:
            found = await shop.message(queued.id)
            return found if found.state is MessageState.FAILED else None

        message_ = await until(failed, "the reply failed")
        [conversation] = await shop.inbox.conversations()
    assert f"({error.code})" in (message_.error or "")
    assert UNREACHABLE_LABEL in conversation.labels
    assert api.sent == {}


async def test_photos_and_documents_go_through_the_upload_servers(
        transport: VKTransport, api: VKAPI, tmp_path: Path) -> None:
    picture = tmp_path / "bouquet.jpg"
    picture.write_bytes(b"\xff\xd8\xff a bouquet")
    price = tmp_path / "price.pdf"
    price.write_bytes(b"%PDF-1.4 prices")
    await transport.send(outbound("Вот букет и прайс", attachments=(
        Attachment(kind="photo", local_path=str(picture), mime="image/jpeg"),
        Attachment(kind="document", local_path=str(price), filename="Прайс.pdf"))))
    [fields] = api.sent.values()
    photo_ref, doc_ref = fields["attachment"].split(",")
    assert photo_ref.startswith(f"photo-{GROUP_ID}_") and photo_ref.endswith("_c7e1d9b2f0")
    assert doc_ref.startswith(f"doc-{GROUP_ID}_")
    assert api.uploads[photo_ref.rsplit("_", 1)[0]][1] == b"\xff\xd8\xff a bouquet"
    assert api.uploads[doc_ref] == ("Прайс.pdf", b"%PDF-1.4 prices")
    assert fields["message"] == "Вот букет и прайс"


async def test_the_menu_goes_out_as_a_keyboard_typing_and_seen(
        transport: VKTransport, api: VKAPI) -> None:
    import json

    await transport.send(outbound("Чем помочь?", buttons=(("Доставка", "menu:delivery"),
                                                          ("Оператор", "menu:person"))))
    [fields] = api.sent.values()
    made = json.loads(fields["keyboard"])
    assert made == keyboard((("Доставка", "menu:delivery"), ("Оператор", "menu:person")))
    assert made["inline"] is True
    assert [row[0]["action"]["label"] for row in made["buttons"]] == ["Доставка", "Оператор"]
    assert json.loads(made["buttons"][0][0]["action"]["payload"]) == {"b": "menu:delivery"}
    await transport.typing(str(CUSTOMER), True)
    await transport.typing(str(CUSTOMER), False)  # VK has no "stop"
    await transport.seen(str(CUSTOMER))
    [typing] = api.called("messages.setActivity")
    assert (typing["type"], typing["peer_id"], typing["group_id"]) == (
        "typing", str(CUSTOMER), str(GROUP_ID))
    [seen] = api.called("messages.markAsRead")
    assert seen["peer_id"] == str(CUSTOMER) and seen["mark_conversation_as_read"] == "1"


async def test_files_are_fetched_when_an_operator_asks(transport: VKTransport, api: VKAPI,
                                                      tmp_path: Path) -> None:
    from opchat.transports.vk.channel import DownloadError

    url = api.add_file("pic.jpg", b"\xff\xd8 a photo")
    path = await transport.download(Attachment(kind="photo", filename="photo1_2.jpg",
                                               ref=url), tmp_path / "files")
    assert path.read_bytes() == b"\xff\xd8 a photo" and path.parent == tmp_path / "files"
    with pytest.raises(DownloadError, match="404"):
        await transport.download(Attachment(kind="photo", ref=f"{api.base}/files/gone"),
                                 tmp_path / "files")


async def test_the_automatic_menu_goes_out_as_a_keyboard_and_a_press_answers(
        tmp_path: Path, api: VKAPI) -> None:
    import json
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
[channels.vk]
kind = "vk"
token = "{TOKEN}"
group_id = "{GROUP_ID}"
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
        await shop.wait_health(Health.OK, GROUP_NAME)
        now = int(time.time())
        api.push(message_new(message("Привет!", id=1201, date=now)))
        [menu] = await until(lambda: holds(api.sent_to(CUSTOMER)), "the menu sent")
        delivery = json.loads(menu["keyboard"])["buttons"][0][0]["action"]
        api.push(message_new(message(delivery["label"], id=1202, date=now,
                                     payload=delivery["payload"])))
        await until(lambda: holds(len(api.sent_to(CUSTOMER)) == 2), "the answer to the press")
    assert "How can we help?" in menu["message"]
    assert "Доставляем" in api.sent_to(CUSTOMER)[1]["message"]


# The Callback API ------------------------------------------------------------------------------


async def test_callback_confirmation_secret_and_ok_only_once_stored(
        tmp_path: Path, api: VKAPI) -> None:
    async with running(tmp_path, api, callback=True) as shop:
        status, text = await deliver(shop.url, {"type": "confirmation", "group_id": GROUP_ID},
                                     secret=None)
        assert (status, text) == (200, CONFIRMATION)
        new = message_new(message("Через Callback API", id=1301))
        assert (await deliver(shop.url, new, secret=None))[0] == 401
        assert (await deliver(shop.url, new, secret="b7f3c2a9e1d54f09"))[0] == 403
        assert (await deliver(shop.url, new, secret=""))[0] == 401
        assert await shop.messages() == {}
        assert await deliver(shop.url, new) == (200, "ok")
        # Answered means committed: the file holds it already.
        assert stored_external_ids(tmp_path / "opchat.db") == {"1301"}
        assert await deliver(shop.url, new) == (200, "ok")  # VK delivers again
        press = event("message_event", {"user_id": CUSTOMER, "peer_id": CUSTOMER,
                                        "event_id": "9c0d1e2f", "payload": {"b": "menu:x"}})
        assert await deliver(shop.url, press) == (200, "ok")
        await until(lambda: holds(api.answered_events), "the press answered")
        assert len(await shop.messages()) == 2
        assert events_of_new_messages(tmp_path / "opchat.db") == 2


async def test_callback_malformed_foreign_and_oversized_bodies_get_4xx_and_the_hub_carries_on(
        tmp_path: Path, api: VKAPI) -> None:
    async with running(tmp_path, api, callback=True) as shop:
        assert (await deliver(shop.url, raw=b'{"type": "message_ne'))[0] == 400
        assert (await deliver(shop.url, raw=b'["a", "list"]'))[0] == 400
        assert (await deliver(shop.url, raw=b"\xff\xfe not utf-8"))[0] == 400
        other = message_new(message("не нам", id=1401), group_id=1)
        assert (await deliver(shop.url, other))[0] == 400
        assert (await deliver(shop.url, {"type": "confirmation", "group_id": 1}))[0] == 400
        big = message_new(message("x" * 2_000_000, id=1402))
        assert (await deliver(shop.url, big))[0] == 413
        assert await shop.messages() == {}
        ok = message_new(message("всё ещё здесь", id=1403))
        assert await deliver(shop.url, ok) == (200, "ok")
        assert list(await shop.messages()) == ["1403"]


async def test_callback_a_failure_to_store_answers_500_so_vk_delivers_again(
        tmp_path: Path, api: VKAPI) -> None:
    new = message_new(message("poison", id=1501))
    async with running(tmp_path, api, callback=True) as shop:
        db = sqlite3.connect(tmp_path / "opchat.db")
        db.execute("CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' "
                   "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
        db.commit()
        assert (await deliver(shop.url, new))[0] == 500
        await shop.wait_health(Health.DEGRADED, "cannot store: IntegrityError: disk trouble")
        db.execute("DROP TRIGGER poison")
        db.commit()
        db.close()
        assert await deliver(shop.url, new) == (200, "ok")
        assert list(await shop.messages()) == ["1501"]


# Crashes ---------------------------------------------------------------------------------------


def serve_vk(tmp_path: Path, api: VKAPI, **more: str) -> Serve:
    extra = "".join(f"{key} = {value}\n" for key, value in more.items())
    return Serve(tmp_path, (
        f'[channels.vk]\nkind = "vk"\ntoken = "{TOKEN}"\ngroup_id = "{GROUP_ID}"\n'
        f'api_base = "{api.base}"\npoll_timeout = 1\n{extra}'))


async def test_callback_killed_at_any_moment_every_event_is_stored_exactly_once(
        tmp_path: Path, api: VKAPI) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/vk/vk"
    serve = serve_vk(tmp_path, api, callback="true", confirmation=f'"{CONFIRMATION}"',
                     secret=f'"{SECRET}"', listen=f'"127.0.0.1:{port}"')
    events = [message_new(message(f"message {n}", id=20000 + n, from_id=CUSTOMER + n % 5))
              for n in range(60)]

    async def vk(n: int) -> int:
        status, text = await deliver(url, events[n], timeout=2)
        return status if text == "ok" else 500

    unanswered = await deliver_through_kills(serve, vk, len(events))
    db_path = serve.data / "opchat.db"
    assert stored_external_ids(db_path) == {str(20000 + n) for n in range(60)}
    assert events_of_new_messages(db_path) == 60
    assert unanswered


async def test_long_poll_killed_mid_stream_every_event_is_stored_exactly_once(
        tmp_path: Path, api: VKAPI) -> None:
    api.per_answer = 3  # a few events an answer: the kills land between commits
    serve = serve_vk(tmp_path, api)
    db_path = serve.data / "opchat.db"
    count = 150
    expected = {str(30000 + n) for n in range(count)}
    at_kill: list[int] = []
    await serve.start()
    try:
        await until(lambda: holds(api.a_checks), "the hub polling", timeout=30)
        api.push(*(message_new(message(f"m {n}", id=30000 + n, from_id=CUSTOMER + n % 5))
                   for n in range(count)))
        for target in (20, 60, 110):
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
    assert all(n < count for n in at_kill)  # each kill landed mid-stream


# Setting up ------------------------------------------------------------------------------------


async def test_channel_add_and_test_from_the_command_line(tmp_path: Path, api: VKAPI) -> None:
    from tests.channels import opchat

    env = {"VK_TOKEN": TOKEN}
    code, out, err = await opchat(
        tmp_path, "channel", "add", "vk", "--name", "shop", "--group-id", str(GROUP_ID),
        "--token-env", "VK_TOKEN", "--api-base", api.base, env=env)
    assert code == 0, err
    assert "added channel shop (vk)" in out and "opchat channel test shop" in out
    config = (tmp_path / "config.toml").read_text()
    assert TOKEN not in config and f'group_id = "{GROUP_ID}"' in config
    code, out, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert (code, err) == (0, "")
    assert out.strip() == (f"channel shop (vk): reached {GROUP_NAME} (vk.com/flowershop_msk, "
                           f"id {GROUP_ID}); VK API 5.199; Bots Long Poll")
    code, out, err = await opchat(tmp_path, "--lang", "ru", "channel", "test", "shop",
                                  env={"VK_TOKEN": "vk1.a.revoked"})
    assert code == 1 and out == ""
    assert "VK не принимает токен сообщества" in err and "vk1.a.revoked" not in err
    api.long_poll_settings["api_version"] = "5.131"
    code, out, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert code == 1 and "events of API version 5.131: choose 5.199" in err
    api.long_poll_settings["is_enabled"] = False
    code, out, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert code == 1 and "Bots Long Poll is off" in err
    api.group_id = 1  # the token is another community's
    code, out, err = await opchat(tmp_path, "channel", "test", "shop", env=env)
    assert code == 1 and f"VK knows no community {GROUP_ID}" in err


async def test_channel_add_callback_mode_and_its_mistakes(tmp_path: Path, api: VKAPI) -> None:
    from tests.channels import opchat

    code, _, err = await opchat(tmp_path, "channel", "add", "vk", "--name", "shop",
                                "--group-id", "club218374615", "--token", TOKEN)
    assert code == 2 and "--group-id must be the community's id" in err
    assert "Traceback" not in err and not (tmp_path / "config.toml").exists()
    code, _, err = await opchat(tmp_path, "channel", "add", "vk", "--name", "shop",
                                "--group-id", str(GROUP_ID), "--token", TOKEN, "--callback")
    assert code == 2 and "the Callback API needs confirmation" in err
    code, out, err = await opchat(
        tmp_path, "channel", "add", "vk", "--name", "shop", "--group-id", str(GROUP_ID),
        "--token", TOKEN, "--callback", "--confirmation", CONFIRMATION, "--secret-env",
        "VK_SECRET", "--webhook-url", "https://chat.shop.example/vk/shop", "--api-base",
        api.base, env={"VK_SECRET": SECRET})
    assert code == 0, err
    assert "have your reverse proxy pass it to http://127.0.0.1:8765/vk/shop" in out
    code, out, err = await opchat(tmp_path, "channel", "test", "shop",
                                  env={"VK_SECRET": SECRET})
    assert (code, err) == (0, "")
    assert "Callback API at https://chat.shop.example/vk/shop (confirmation a1b2c3d4)" in out
    api.confirmation = "e5f6a7b8"  # VK now asks for another string
    code, out, err = await opchat(tmp_path, "channel", "test", "shop",
                                  env={"VK_SECRET": SECRET})
    assert code == 1 and 'VK expects the confirmation string e5f6a7b8' in err
    mode = stat.S_IMODE((tmp_path / "config.toml").stat().st_mode)
    assert mode == 0o600


async def test_killed_while_sending_a_retry_by_the_operator_still_reaches_vk_once(
        tmp_path: Path, api: VKAPI) -> None:
    """The hub cannot know whether a send it was killed in arrived, so the reply is
    marked failed; the operator's retry carries the same random_id, and VK keeps one."""
    serve = serve_vk(tmp_path, api)
    await serve.start()
    inbox = None
    try:
        await until(lambda: holds(api.a_checks), "the hub polling", timeout=30)
        api.push(message_new(message("Есть в наличии?", id=40001)))
        await until(lambda: holds(stored_external_ids(serve.data / "opchat.db")),
                    "the message stored", timeout=30)
        inbox = await Inbox.open(serve.data, "anna")  # an operator's opchat beside the hub
        [conversation] = await inbox.conversations()
        api.fail("messages.send", SENT_THEN_HANG)  # VK takes it; the hub dies before the answer
        reply = await inbox.send(conversation.id, "Да, 3 штуки")
        await until(lambda: holds(api.sent_to(CUSTOMER)), "the send", timeout=20)
        serve.kill()
        await serve.killed()
        await serve.start()

        async def state(wanted: MessageState) -> Message | None:
            assert inbox is not None
            found = await inbox.message(reply.id)
            return found if found and found.state is wanted else None

        failed = await until(lambda: state(MessageState.FAILED), "marked failed", timeout=30)
        assert "may or may not have arrived" in (failed.error or "")
        assert await inbox.retry(reply.id)
        sent = await until(lambda: state(MessageState.SENT), "sent on retry", timeout=30)
    finally:
        await serve.stop()
        if inbox is not None:
            await inbox.close()
    [(vk_id, _fields)] = api.sent.items()
    assert len(api.called("messages.send")) == 2
    assert sent.external_id == str(vk_id)


async def test_a_customer_typing_is_shown_not_stored(tmp_path: Path, api: VKAPI,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    async with running(tmp_path, api) as shop:
        api.push(message_new(message("Здравствуйте", id=1601)))
        await shop.got("1601")
        sink = shop.hub.transports["vk"]._sink
        original = sink.customer_typing

        async def spy(chat_id: str, text: str = "", active: bool = True) -> None:
            seen.append(chat_id)
            await original(chat_id, text, active)

        monkeypatch.setattr(sink, "customer_typing", spy)
        api.push(event("message_typing_state", {"state": "typing", "from_id": CUSTOMER,
                                                "to_id": -GROUP_ID}))
        await until(lambda: holds(seen), "typing shown")
        assert list(await shop.messages()) == ["1601"]
    assert seen == [str(CUSTOMER)]


async def test_vk_out_of_reach_shows_degraded_and_the_poll_goes_on_after(
        tmp_path: Path, api: VKAPI) -> None:
    async with running(tmp_path, api) as shop:
        api.push(message_new(message("до", id=1701)))
        await shop.got("1701")
        await api.close()  # the network is down: connections refused
        detail = await shop.wait_health(Health.DEGRADED, "cannot reach 127.0.0.1")
        await api.start(api.port)
        api.push(message_new(message("после", id=1702)))
        await shop.got("1702")
        await shop.wait_health(Health.OK, GROUP_NAME)
    assert "connection refused" in detail.lower() or "connect" in detail.lower()

"""The VK channel against a stand-in VK API on 127.0.0.1 (tests/vk_api.py).

Real HTTP both ways: the hub long-polls the stand-in (or, in Callback API mode,
the stand-in POSTs events to the hub's own web server) and the transport calls
its methods; the real hub and SQLite files in tmp_path; the crash tests run
``opchat serve`` as a process and kill it with SIGKILL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Direction, Health, Message, MessageState
from opchat.transports import UNREACHABLE_LABEL
from opchat.transports.vk.channel import VKTransport
from tests.channels import (
    RunningHub,
    events_of_new_messages,
    free_port,
    holds,
    hub_running,
    until,
)
from tests.vk_api import (
    ADMIN,
    CONFIRMATION,
    CUSTOMER,
    GROUP_ID,
    GROUP_NAME,
    OTHER,
    SECRET,
    TOKEN,
    VKAPI,
    audio_message,
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
    ]


async def test_every_kind_of_message_is_stored_as_the_operator_should_see_it(
        tmp_path: Path, api: VKAPI) -> None:
    kinds = every_kind(api)
    async with running(tmp_path, api) as shop:
        api.push(*kinds[:6])  # in two answers of the long poll
        await shop.got("501", "506")
        api.push(*kinds[6:])
        found = await shop.got("507", "512", "2000000007_44")
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
        api.push(message_new(message("в 10", id=803)))
        found = await shop.got("803")
    echo = found["802"]
    assert (echo.direction, echo.state, echo.body) == (Direction.OUT, MessageState.SENT,
                                                       "Да, завтра")
    assert echo.meta["elsewhere"] == f"VK, vk.com/id{ADMIN}"
    assert sorted(found) == sorted(["801", "802", "803", reply.external_id or ""])
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

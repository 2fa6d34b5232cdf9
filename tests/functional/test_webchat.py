"""The web chat over real WebSockets on 127.0.0.1, against a running hub and SQLite.

Each test starts a Hub with one webchat channel on a free port and talks to it
with aiohttp's client, as the widget (or any other client) would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from opchat.config import AutoAnswers, ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Direction, Health, MessageState, PresenceKind
from opchat.transports.webchat import channel as webchat
from opchat.transports.webchat.channel import MAX_DRAFT, MAX_TEXT, Tokens, WebChatTransport

SHOP = "https://shop.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Site:
    """A running hub with a webchat channel "site", and a way to open sockets to it."""

    def __init__(self, inbox: Inbox, port: int, session: aiohttp.ClientSession, hub: Hub
                 ) -> None:
        self.inbox = inbox
        self.hub = hub
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.session = session

    async def connect(self, origin: str | None = SHOP, headers: dict[str, str] | None = None,
                      **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
        headers = {**({"Origin": origin} if origin else {}), **(headers or {})}
        return await self.session.ws_connect(f"{self.base}/ws", headers=headers, **kwargs)

    async def visitor(self, token: str | None = None, last_id: int = 0, page: str = "/cakes",
                      **hello: Any) -> tuple[aiohttp.ClientWebSocketResponse, dict, dict]:
        ws = await self.connect()
        await ws.send_json({"type": "hello", "token": token, "last_id": last_id,
                            "page": {"url": f"{SHOP}{page}", "referrer": "https://search.example"},
                            "language": "ru-RU", **hello})
        welcome = await receive(ws)
        assert welcome["type"] == "welcome", welcome
        history = await receive(ws)
        assert history["type"] == "history", history
        return ws, welcome, history

    async def conversation_of(self, body: str) -> int:
        """The dialog the visitor's message ``body`` is in (an automatic answer may
        already follow it, so not only the dialog whose last message it is)."""
        async def find() -> int | None:
            for conversation in await self.inbox.conversations():
                if conversation.preview == body or any(
                        m.body == body for m in await self.inbox.messages(conversation.id)):
                    return conversation.id
            return None

        return await until(find, f"a dialog with {body!r}", timeout=15)


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict:
    message = await ws.receive(timeout=timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def receive_until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict:
    while True:
        frame = await receive(ws)
        if frame["type"] == kind:
            return frame


@contextlib.asynccontextmanager
async def running_site(data_dir: Path, port: int | None = None,
                       auto: AutoAnswers | None = None, **options: Any
                       ) -> AsyncIterator[Site]:
    port = port or free_port()
    inbox = await Inbox.open(data_dir, "anna")
    channel = ChannelSettings("site", "webchat",
                              {"listen": f"127.0.0.1:{port}", "origin": [SHOP], **options},
                              auto=auto)
    hub = Hub(inbox, [channel], data_dir)
    hub.backoff_base = 0.05
    task = asyncio.create_task(hub.run())
    session = aiohttp.ClientSession()
    try:
        async def ok() -> bool:
            return any(c.name == "site" and c.health is Health.OK
                       for c in await inbox.channels())

        await until(ok, "the channel to be up")
        yield Site(inbox, port, session, hub)
    finally:
        await session.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with running_site(tmp_path) as running:
        yield running


async def test_a_visitor_writes_and_the_operator_answers(site: Site) -> None:
    ws, welcome, history = await site.visitor()
    assert welcome["token"].startswith("v1.") and history["messages"] == []
    await ws.send_json({"type": "message", "cid": "c1", "text": "Is the cake fresh?"})
    ack = await receive(ws)
    assert ack == {"type": "ack", "cid": "c1", "id": ack["id"], "duplicate": False}
    # Acknowledged means stored: the operator sees it at once.
    conversation_id = await site.conversation_of("Is the cake fresh?")
    messages = await site.inbox.messages(conversation_id)
    assert [m.id for m in messages] == [ack["id"]]
    conversation = await site.inbox.conversation(conversation_id)
    assert conversation is not None and conversation.channel_kind == "webchat"

    reply = await site.inbox.send(conversation_id, "Baked this morning")
    pushed = await receive_until(ws, "message")
    assert pushed["message"]["id"] == reply.id
    assert pushed["message"]["text"] == "Baked this morning"
    assert pushed["message"]["from"] == "operator"
    await ws.send_json({"type": "seen", "ids": [reply.id]})

    async def read() -> bool:
        message = await site.inbox.message(reply.id)
        return message is not None and message.state is MessageState.READ

    await until(read, "the reply marked read")
    await ws.close()


async def test_history_survives_a_reconnect_and_resumes_after_the_last_id(site: Site) -> None:
    ws, welcome, _ = await site.visitor()
    token = welcome["token"]
    await ws.send_json({"type": "message", "cid": "a", "text": "first"})
    first = await receive(ws)
    conversation_id = await site.conversation_of("first")
    await ws.close()

    # Away: the reply is still sent (stored), and waits for the visitor.
    reply = await site.inbox.send(conversation_id, "answer while you were away")

    async def sent() -> bool:
        message = await site.inbox.message(reply.id)
        return message is not None and message.state is MessageState.SENT

    await until(sent, "the reply sent")
    await site.inbox.note(conversation_id, "private: VIP customer")

    ws, again, history = await site.visitor(token=token)
    assert again["visitor"] == welcome["visitor"]
    assert [(m["from"], m["text"]) for m in history["messages"]] == [
        ("visitor", "first"), ("operator", "answer while you were away")]
    assert history["messages"][0]["cid"] == "a"  # the widget matches its own messages by cid
    await ws.close()

    ws, _, history = await site.visitor(token=token, last_id=first["id"])
    assert [m["text"] for m in history["messages"]] == ["answer while you were away"]
    await ws.close()


async def test_a_resent_client_id_is_stored_once(site: Site) -> None:
    ws, welcome, _ = await site.visitor()
    await ws.send_json({"type": "message", "cid": "same", "text": "hello?"})
    first = await receive(ws)
    await ws.close()
    # The connection dropped before the widget saw the ack: it sends again.
    ws, _, _ = await site.visitor(token=welcome["token"])
    await ws.send_json({"type": "message", "cid": "same", "text": "hello?"})
    second = await receive(ws)
    assert second["id"] == first["id"] and second["duplicate"] is True
    conversation_id = await site.conversation_of("hello?")
    assert len(await site.inbox.messages(conversation_id)) == 1
    await ws.close()


async def test_a_forged_token_reads_nothing(site: Site, tmp_path: Path) -> None:
    ws, welcome, _ = await site.visitor()
    await ws.send_json({"type": "message", "cid": "x", "text": "my address is 12 Baker St"})
    await receive(ws)
    await ws.close()
    version, visitor, mac = welcome["token"].split(".")
    secret = (tmp_path / "webchat.secret").read_text().strip().encode()
    forged = [
        f"{version}.{visitor}.{'0' * len(mac)}",
        f"{version}.{visitor}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}",
        # Signed with another secret, or for another channel with the right one.
        f"{version}.{visitor}.{Tokens(b'another secret' * 4, 'site')._mac(visitor)}",
        f"{version}.{visitor}.{Tokens(secret, 'other')._mac(visitor)}",
        f"{version}.{visitor}",
        visitor,
        12345,
    ]
    for token in forged:
        intruder = await site.connect()
        await intruder.send_json({"type": "hello", "token": token})
        frame = await receive(intruder)
        assert frame["type"] == "error" and frame["code"] == "bad_token", (token, frame)
        # Still nobody: every other frame is refused until a valid hello.
        await intruder.send_json({"type": "history", "after": 0})
        assert (await receive(intruder))["code"] == "hello_first"
        await intruder.close()
    # A newcomer gets their own, empty dialog.
    other, _, history = await site.visitor()
    assert history["messages"] == []
    await other.close()


async def test_the_secret_is_private_and_tokens_outlive_a_restart(tmp_path: Path) -> None:
    port = free_port()
    async with running_site(tmp_path, port) as site:
        ws, welcome, _ = await site.visitor()
        await ws.send_json({"type": "message", "cid": "1", "text": "before restart"})
        await receive(ws)
        await ws.close()
    assert ((tmp_path / "webchat.secret").stat().st_mode & 0o777) == 0o600
    async with running_site(tmp_path, port) as site:
        ws, again, history = await site.visitor(token=welcome["token"])
        assert again["visitor"] == welcome["visitor"]
        assert [m["text"] for m in history["messages"]] == ["before restart"]
        await ws.close()


async def test_a_page_on_another_site_gets_no_socket(site: Site) -> None:
    for origin in ("https://evil.example", "https://shop.example.evil.example", None):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await site.connect(origin=origin)
        assert refused.value.status == 403
    # The demo page's own origin is always allowed.
    ws = await site.connect(origin=site.base)
    await ws.close()


async def test_a_flood_is_rate_limited_and_the_hub_keeps_serving(site: Site) -> None:
    ws, _, _ = await site.visitor()
    for n in range(40):
        await ws.send_json({"type": "message", "cid": f"f{n}", "text": f"spam {n}"})
    frames = [await receive(ws) for _ in range(40)]
    acks = [f for f in frames if f["type"] == "ack"]
    limited = [f for f in frames if f["type"] == "error"]
    assert acks and limited and len(acks) + len(limited) == 40
    assert all(f["code"] == "rate_limited" and f["retry_after"] > 0 for f in limited)
    assert len(acks) <= 10
    conversation_id = await site.conversation_of(f"spam {len(acks) - 1}")
    assert len(await site.inbox.messages(conversation_id)) == len(acks)
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.close()


async def test_oversized_frames_and_messages(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_json({"type": "message", "cid": "big", "text": "x" * (MAX_TEXT + 1)})
    frame = await receive(ws)
    assert frame["type"] == "error" and frame["code"] == "too_long" and frame["cid"] == "big"
    # Far beyond any message: the socket is closed with 1009, the hub carries on.
    await ws.send_str(json.dumps({"type": "message", "cid": "huge", "text": "x" * 200_000}))
    closed = await ws.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 1009
    other, _, _ = await site.visitor()
    await other.send_json({"type": "ping"})
    assert (await receive(other))["type"] == "pong"
    await other.close()


@pytest.mark.parametrize(("frame", "code"), [
    ("not json at all", "bad_json"),
    ("[1, 2, 3]", "bad_frame"),
    ('{"no": "type"}', "bad_frame"),
    ('{"type": "launch_missiles"}', "unknown_type"),
    ('{"type": "message", "text": "no client id"}', "bad_frame"),
    ('{"type": "message", "cid": "c", "text": "   "}', "bad_frame"),
    ('{"type": "message", "cid": "' + "c" * 65 + '", "text": "long cid"}', "bad_frame"),
    ('{"type": "history", "after": "yesterday"}', "bad_frame"),
    ('{"type": "seen", "ids": "all"}', "bad_frame"),
    ('{"type": "typing", "active": "yes"}', "bad_frame"),
    ('{"type": "typing", "active": true, "text": 42}', "bad_frame"),
    ('{"type": "typing", "active": true, "text": "' + "d" * (MAX_DRAFT + 1) + '"}', "too_long"),
    ('{"type": "contact", "cid": "f", "email": "a@b.example"}', "bad_frame"),
    ('{"type": "contact", "cid": "f", "text": "hi", "email": ["a@b.example"]}', "bad_frame"),
    ('{"type": "contact", "cid": "f", "text": "hi"}', "bad_field"),
    ('{"type": "contact", "cid": "f", "text": "hi", "email": "not an address"}', "bad_field"),
    ('{"type": "contact", "cid": "f", "text": "hi", "phone": "call me maybe"}', "bad_field"),
    ('{"type": "contact", "cid": "f", "phone": "+49 30 1234567", "text": "'
     + "x" * (MAX_TEXT + 1) + '"}', "too_long"),
    ('{"type": "callback", "cid": "b", "when": "after 18:00"}', "bad_field"),
    ('{"type": "callback", "cid": "b", "phone": "12"}', "bad_field"),
    ('{"type": "callback", "cid": "b", "phone": 4930123456}', "bad_frame"),
    ('{"type": "callback", "cid": "b", "phone": "+4930123456", "when": "' + "w" * 101 + '"}',
     "bad_field"),
    ('{"type": "callback", "phone": "+4930123456"}', "bad_frame"),
])
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_lives(
    site: Site, frame: str, code: str
) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_str(frame)
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == code, error
    await ws.send_bytes(b"\x00\x01")
    assert (await receive(ws))["code"] == "bad_frame"
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.close()


async def test_a_visitor_sees_their_message_in_another_tab(site: Site) -> None:
    first, welcome, _ = await site.visitor()
    second, _, _ = await site.visitor(token=welcome["token"])
    await first.send_json({"type": "message", "cid": "t", "text": "from tab one"})
    await receive(first)
    shown = await receive_until(second, "message")
    assert shown["message"]["text"] == "from tab one" and shown["message"]["from"] == "visitor"
    await first.close()
    await second.close()


async def test_the_widget_and_the_demo_page_are_served(site: Site) -> None:
    async with site.session.get(f"{site.base}/widget.js") as response:
        assert response.status == 200 and response.content_type == "text/javascript"
        script = await response.text()
    async with site.session.get(f"{site.base}/widget.css") as response:
        assert response.status == 200 and response.content_type == "text/css"
        css = await response.text()
    sizes = len(script.encode()), len(css.encode())
    print(f"widget.js {sizes[0]} bytes + widget.css {sizes[1]} bytes = {sum(sizes)} "
          f"of {40 * 1024}")
    # Both languages' words live in the script; browsers get it gzipped (under 14 KB:
    # tests/functional/test_webchat_files.py).
    assert sum(sizes) < 40 * 1024
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    async with site.session.get(f"{site.base}/") as response:
        assert response.status == 200
        assert '<script src="/widget.js" async></script>' in await response.text()


async def test_the_visitors_page_reaches_the_contact(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_json({"type": "message", "cid": "p", "text": "where is my order"})
    await receive(ws)
    await ws.close()

    def profile() -> dict:
        import sqlite3

        with contextlib.closing(sqlite3.connect(site.inbox.store.db.path)) as db:
            return json.loads(db.execute("SELECT profile FROM identities").fetchone()[0])

    found = profile()
    assert found["page"] == f"{SHOP}/cakes" and found["language"] == "ru-RU"
    assert found["referrer"] == "https://search.example" and "Python" in found["user_agent"]


async def test_a_busy_port_shows_the_channel_down_and_the_hub_lives(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        inbox = await Inbox.open(tmp_path, "anna")
        channel = ChannelSettings("web", "webchat", {"listen": f"127.0.0.1:{port}"})
        hub = Hub(inbox, [channel], tmp_path)
        task = asyncio.create_task(hub.run())
        try:
            async def down() -> Any:
                return [c for c in await inbox.channels() if c.health is Health.DOWN]

            [found] = await until(down, "the channel down")
            assert found.health_detail == f"address 127.0.0.1:{port} in use"
            assert not task.done()
            # The outbox still works for the channel: replies wait as history.
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await inbox.close()


async def test_notes_never_reach_the_visitor(site: Site) -> None:
    ws, welcome, _ = await site.visitor()
    await ws.send_json({"type": "message", "cid": "n", "text": "hi"})
    await receive(ws)
    conversation_id = await site.conversation_of("hi")
    note = await site.inbox.note(conversation_id, "internal: refund refused")
    assert note.direction is Direction.NOTE
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=0.5)
    await ws.close()
    ws, _, history = await site.visitor(token=welcome["token"])
    assert [m["text"] for m in history["messages"]] == ["hi"]
    await ws.close()


# Presence, read marks, forms (issue 3) --------------------------------------------------


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, cid: str) -> dict:
    """Send a message and return its ack."""
    await ws.send_json({"type": "message", "cid": cid, "text": text})
    return await receive_until(ws, "ack")


async def customer_typing(site: Site, conversation_id: int) -> list[str]:
    return [row.text for row in await site.inbox.presence()
            if row.kind is PresenceKind.CUSTOMER_TYPING and row.conversation_id == conversation_id]


def stored(site: Site, sql: str, *args: Any) -> list[tuple]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(site.inbox.store.db.path)) as db:
        return db.execute(sql, args).fetchall()


async def test_the_operator_sees_the_visitors_draft(site: Site) -> None:
    ws, welcome, _ = await site.visitor()
    assert welcome["config"]["sneak_peek"] is True
    await say(ws, "Hello", "h")
    conversation_id = await site.conversation_of("Hello")
    await ws.send_json({"type": "typing", "active": True, "text": "Is the choc"})

    async def draft() -> list[str]:
        return await customer_typing(site, conversation_id)

    assert await until(draft, "the draft") == ["Is the choc"]
    await ws.send_json({"type": "typing", "active": True, "text": "Is the chocolate cake"})
    await until(lambda: _equals(draft, ["Is the chocolate cake"]), "the longer draft")
    await ws.send_json({"type": "typing", "active": False, "text": "ignored"})
    await until(lambda: _equals(draft, []), "typing to stop")
    # Sending the message ends the typing too, without a "stopped" from the client.
    await ws.send_json({"type": "typing", "text": "Is the chocolate cake available?"})
    await until(draft, "the draft again")
    await say(ws, "Is the chocolate cake available?", "q")
    assert await customer_typing(site, conversation_id) == []
    await ws.close()


async def _equals(check: Callable[[], Awaitable[Any]], wanted: Any) -> bool:
    return await check() == wanted


async def test_without_sneak_peek_the_operator_sees_only_typing(tmp_path: Path) -> None:
    async with running_site(tmp_path, sneak_peek=False) as site:
        ws, welcome, _ = await site.visitor()
        assert welcome["config"]["sneak_peek"] is False  # the widget then sends no text
        await say(ws, "Hello", "h")
        conversation_id = await site.conversation_of("Hello")
        # A client that sends the draft anyway: the hub drops it.
        await ws.send_json({"type": "typing", "active": True, "text": "my card number is"})

        async def typing() -> list[str]:
            return await customer_typing(site, conversation_id)

        assert await until(typing, "typing") == [""]
        await ws.close()


async def test_typing_from_a_visitor_with_no_dialog_yet_is_ignored(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_json({"type": "typing", "active": True, "text": "hi"})
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"  # no error frame, nothing stored
    assert await site.inbox.conversations() == []
    await ws.close()


async def test_typing_frames_are_rate_limited(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await say(ws, "Hello", "h")
    for n in range(15):
        await ws.send_json({"type": "typing", "active": True, "text": "x" * (n + 1)})
    await ws.send_json({"type": "ping"})
    frames = []
    while not frames or frames[-1]["type"] != "pong":
        frames.append(await receive(ws))
    limited = [f for f in frames if f.get("code") == "rate_limited"]
    assert limited and all(f["retry_after"] > 0 for f in limited)
    await ws.close()


async def test_the_operators_typing_reaches_the_visitor(tmp_path: Path) -> None:
    async with running_site(tmp_path, operator_name="Anna") as site:
        ws, _, _ = await site.visitor()
        await say(ws, "Anyone there?", "a")
        conversation_id = await site.conversation_of("Anyone there?")
        await site.inbox.set_typing(conversation_id)
        frame = await receive_until(ws, "typing")
        assert frame == {"type": "typing", "active": True, "name": "Anna"}
        await site.inbox.set_typing(None)
        frame = await receive_until(ws, "typing")
        assert frame["active"] is False
        await ws.close()


async def test_the_operator_reading_the_dialog_marks_the_visitors_messages_read(
    tmp_path: Path
) -> None:
    async with running_site(tmp_path) as site:
        ws, welcome, history = await site.visitor()
        assert history["seen_up_to"] == 0
        await say(ws, "one", "1")
        second = await say(ws, "two", "2")
        conversation_id = await site.conversation_of("two")
        await site.inbox.mark_read(conversation_id)
        frame = await receive_until(ws, "seen")
        assert frame == {"type": "seen", "up_to": second["id"]}
        await ws.close()
        # A reload while this hub runs: history says so too.
        ws, _, history = await site.visitor(token=welcome["token"])
        assert history["seen_up_to"] == second["id"]
        await ws.close()
        ws, _, _ = await site.visitor(token=welcome["token"])
        third = await say(ws, "three", "3")
        answer = await site.inbox.send(conversation_id, "an answer")
        await receive_until(ws, "message")
        await ws.close()
        # Stopping the hub between the send and its bookkeeping would leave the answer
        # "interrupted" (failed): wait until it is marked sent.
        for _ in range(250):
            stored = await site.inbox.message(answer.id)
            if stored is not None and stored.state.value == "sent":
                break
            await asyncio.sleep(0.02)
    # After a restart the hub knows only what the store shows: the operator answered
    # after "three", so "three" and everything before it was read.
    async with running_site(tmp_path) as site:
        ws, _, history = await site.visitor(token=welcome["token"])
        assert history["seen_up_to"] == third["id"]
        ws2, _, history = await site.visitor(token=welcome["token"], last_id=third["id"])
        assert history["seen_up_to"] == 0  # what it cannot know, it does not claim
        await ws.close()
        await ws2.close()


async def test_nobody_online_means_the_offline_form(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(webchat, "STATUS_INTERVAL", 0.1)
    async with running_site(tmp_path) as site:
        ws, welcome, _ = await site.visitor()
        assert welcome["status"] == {"open": True, "online": False, "next_open": None,
                                     "typical": None}
        assert welcome["config"]["offline_form"] is True
        # An operator opens opchat: the open widget is told, and a newcomer too.
        await site.inbox.heartbeat(None)
        status = await receive_until(ws, "status")
        assert status == {"type": "status", "open": True, "online": True, "next_open": None,
                          "typical": None}
        other, welcome, _ = await site.visitor()
        assert welcome["status"]["online"] is True
        await site.inbox.leave()
        assert (await receive_until(ws, "status"))["online"] is False
        await ws.close()
        await other.close()


async def test_the_offline_form_is_stored_with_the_contact(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_json({"type": "contact", "cid": "form1", "name": "Maria  Petrova",
                        "email": "maria@example.org", "phone": "+7 900 123-45-67",
                        "text": "Do you deliver to Tver?"})
    ack = await receive(ws)
    assert ack["type"] == "ack" and ack["cid"] == "form1" and ack["duplicate"] is False
    conversation_id = await site.conversation_of("Do you deliver to Tver?")
    [message] = await site.inbox.messages(conversation_id)
    assert message.id == ack["id"] and message.author == "Maria Petrova"
    assert message.meta["contact_form"] is True
    assert message.meta["contact"] == {"name": "Maria Petrova", "email": "maria@example.org",
                                       "phone": "+7 900 123-45-67"}
    assert stored(site, "SELECT name, email, phone FROM contacts") == [
        ("Maria Petrova", "maria@example.org", "+7 900 123-45-67")]
    # Sent twice (the ack was lost): stored once.
    await ws.send_json({"type": "contact", "cid": "form1", "email": "maria@example.org",
                        "text": "Do you deliver to Tver?"})
    again = await receive(ws)
    assert again["id"] == ack["id"] and again["duplicate"] is True
    # Her next chat message keeps her name.
    await say(ws, "Thanks", "t")
    assert (await site.inbox.messages(conversation_id))[-1].author == "Maria Petrova"
    await ws.close()


async def test_a_callback_request_is_labelled_and_joins_the_dialog(site: Site) -> None:
    ws, _, _ = await site.visitor()
    first = await say(ws, "I have a question about a wedding cake", "w")
    await ws.send_json({"type": "callback", "cid": "cb", "phone": "+7 900 123-45-67",
                        "when": "after   18:00"})
    ack = await receive_until(ws, "ack")
    assert ack["text"] == "Call me back: +7 900 123-45-67, after 18:00"
    conversation_id = await site.conversation_of(ack["text"])
    conversation = await site.inbox.conversation(conversation_id)
    assert conversation is not None and conversation.labels == ("callback",)
    assert conversation.waiting_since is not None  # the customer waits, the timer runs
    messages = await site.inbox.messages(conversation_id)
    assert [m.id for m in messages] == [first["id"], ack["id"]]  # the same dialog
    assert messages[-1].meta == {"callback_request": {"phone": "+7 900 123-45-67",
                                                      "when": "after 18:00"}}
    assert len(await site.inbox.conversations()) == 1
    await ws.close()


async def test_a_new_visitors_callback_request_sets_the_contacts_phone(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_json({"type": "callback", "cid": "cb", "phone": "+49 30 1234567"})
    ack = await receive(ws)
    assert ack["text"] == "Call me back: +49 30 1234567"
    assert stored(site, "SELECT phone FROM contacts") == [("+49 30 1234567",)]
    await ws.close()


async def test_greetings_by_page_path(tmp_path: Path) -> None:
    greetings = {"/pricing": "Questions about prices?", "/pricing/enterprise": "A big team?",
                 "/": "Hi from anywhere"}
    async with running_site(tmp_path, greeting="Hello!", greetings=greetings) as site:
        for page, wanted in [("/pricing", "Questions about prices?"),
                             ("/pricing/team?x=1", "Questions about prices?"),
                             ("/pricing/enterprise/", "A big team?"),
                             ("/pricingx", "Hi from anywhere"),
                             ("/cakes", "Hi from anywhere")]:
            ws, welcome, _ = await site.visitor(page=page)
            assert welcome["config"]["greeting"] == wanted, page
            await ws.close()
    async with running_site(tmp_path, greeting="Hello!",
                            greetings={"/pricing": "Prices?"}) as site:
        ws, welcome, _ = await site.visitor(page="/cakes")
        assert welcome["config"]["greeting"] == "Hello!"
        await ws.close()


async def test_working_hours_in_the_start_frame(tmp_path: Path) -> None:
    async with running_site(tmp_path, hours="Mon-Fri 09:00-18:00", timezone="Europe/Berlin",
                            operator_name="Anna", operator_photo="https://shop.example/a.jpg"
                            ) as site:
        await site.inbox.heartbeat(None)
        transport = site.hub.transports["site"]
        transport.clock = lambda: 1_741_975_200.0  # Friday 2025-03-14 19:00 in Berlin
        ws, welcome, _ = await site.visitor()
        assert welcome["status"] == {"open": False, "online": True,
                                     "next_open": 1_742_198_400.0,  # Monday 09:00
                                     "typical": None}
        assert welcome["config"]["hours"] == "Пн–Пт 09:00–18:00"  # the visitor's language
        assert welcome["config"]["operator_name"] == "Anna"
        assert welcome["config"]["operator_photo"] == "https://shop.example/a.jpg"
        await ws.close()
        transport.clock = lambda: 1_741_953_600.0  # Friday 13:00
        ws, welcome, _ = await site.visitor()
        assert welcome["status"] == {"open": True, "online": True, "next_open": None,
                                     "typical": None}
        await ws.close()


@pytest.mark.parametrize(("options", "reason"), [
    ({"hours": "Mno-Fri 09:00-18:00", "timezone": "Europe/Berlin"}, "'Mno' is not a day"),
    ({"hours": "Mon-Fri 09:00-18:00", "timezone": "Europe/Atlantis"},
     "unknown timezone 'Europe/Atlantis'"),
    ({"hours": "Mon-Fri 09:00-18:00"}, "hours needs timezone"),
    ({"timezone": "Mars/Base"}, "unknown timezone 'Mars/Base'"),
    ({"sneak_peek": "no"}, "sneak_peek must be true or false"),
    ({"greetings": ["/pricing", "hi"]}, "greetings must be a table"),
    ({"greetings": {"pricing": "hi"}}, "'pricing' is not a path"),
    ({"operator_photo": "javascript:alert(1)"}, "operator_photo"),
    ({"operator_photo": "//evil.example/a.png"}, "operator_photo"),
    ({"trust_proxy": ["10.0.0.300"]}, "'10.0.0.300' is not an IP address"),
])
async def test_a_bad_option_shows_the_channel_down_with_the_reason(
    tmp_path: Path, options: dict, reason: str
) -> None:
    inbox = await Inbox.open(tmp_path, "anna")
    channel = ChannelSettings("site", "webchat",
                              {"listen": f"127.0.0.1:{free_port()}", **options})
    task = asyncio.create_task(Hub(inbox, [channel], tmp_path).run())
    try:
        async def down() -> Any:
            return [c for c in await inbox.channels() if c.health is Health.DOWN]

        [found] = await until(down, "the channel down")
        assert reason.lower() in found.health_detail.lower(), found.health_detail
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


async def test_the_visitors_details_are_capped_before_they_are_stored(site: Site) -> None:
    ws = await site.connect(headers={"User-Agent": "U" * 5000})
    await ws.send_json({"type": "hello", "token": None,
                        "page": {"url": SHOP + "/" + "p" * 5000, "title": "T" * 5000,
                                 "referrer": "https://r.example/" + "r" * 5000},
                        "language": "L" * 500, "name": "N" * 5000})
    await receive_until(ws, "history")
    await say(ws, "hello", "h")
    [(profile, author)] = stored(site, "SELECT i.profile, m.author FROM identities i "
                                       "JOIN messages m ON 1")
    found = json.loads(profile)
    assert {key: len(value) for key, value in found.items()} == {
        "page": 500, "title": 200, "referrer": 500, "language": 35, "user_agent": 300}
    assert found["page"].startswith(SHOP) and found["user_agent"].startswith("UUU")
    assert len(author) == 100
    await ws.close()


async def test_behind_a_trusted_proxy_limits_count_the_forwarded_address(
    tmp_path: Path
) -> None:
    async with running_site(tmp_path, trust_proxy=["127.0.0.1"]) as site:
        sockets = [await site.connect(headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1"})
                   for _ in range(20)]
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await site.connect(headers={"X-Forwarded-For": "203.0.113.7"})
        assert refused.value.status == 429
        # Another visitor behind the same proxy is someone else.
        other = await site.connect(headers={"X-Forwarded-For": "198.51.100.1"})
        await other.close()
        for ws in sockets:
            await ws.close()


async def test_without_trust_the_forwarded_header_is_ignored(site: Site) -> None:
    sockets = [await site.connect(headers={"X-Forwarded-For": f"198.51.100.{n}"})
               for n in range(20)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await site.connect(headers={"X-Forwarded-For": "198.51.100.99"})
    assert refused.value.status == 429  # all 127.0.0.1, whatever the header says
    for ws in sockets:
        await ws.close()


def test_the_client_address_behind_proxies(tmp_path: Path) -> None:
    def transport(trust: Any) -> WebChatTransport:
        return WebChatTransport(ChannelSettings("w", "webchat", {"trust_proxy": trust}),
                                tmp_path)

    chain = ["1.2.3.4, 10.0.0.5", "10.0.0.9"]  # client, proxy, proxy (two headers)
    assert transport(False).client_ip("10.0.0.9", chain) == "10.0.0.9"
    assert transport(True).client_ip("10.0.0.9", chain) == "10.0.0.9"  # right-most entry
    assert transport(True).client_ip("10.0.0.9", ["1.2.3.4"]) == "1.2.3.4"
    assert transport(["10.0.0.0/8"]).client_ip("10.0.0.9", chain) == "1.2.3.4"
    assert transport(["10.0.0.0/8"]).client_ip("192.0.2.1", chain) == "192.0.2.1"  # not ours
    # A visitor who writes the header themselves only adds entries on the left.
    forged = ["6.6.6.6, 1.2.3.4, 10.0.0.5"]
    assert transport(["10.0.0.0/8"]).client_ip("10.0.0.9", forged) == "1.2.3.4"
    assert transport(["10.0.0.0/8"]).client_ip("10.0.0.9", ["nonsense, 10.0.0.5"]) == "10.0.0.5"
    assert transport(["10.0.0.0/8"]).client_ip("10.0.0.9", []) == "10.0.0.9"
    assert transport("::1").client_ip("::1", ["[2001:db8::1]:5555"]) == "2001:db8::1"


async def test_clients_without_an_origin_only_when_allowed(tmp_path: Path) -> None:
    async with running_site(tmp_path, allow_no_origin=True) as site:
        ws = await site.connect(origin=None)
        await ws.send_json({"type": "ping"})
        assert (await receive(ws))["type"] == "pong"
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await site.connect(origin="https://evil.example")  # a browser elsewhere: still no
        assert refused.value.status == 403


def test_channel_add_takes_the_web_chat_options_and_refuses_bad_ones(tmp_path: Path) -> None:
    from tests.functional.test_cli import run

    result = run(tmp_path, "channel", "add", "webchat", "--name", "shop", "--hours",
                 "Пн-Пт 09:00-18:00", "--timezone", "Europe/Moscow", "--operator-name", "Anna",
                 "--no-sneak-peek", "--trust-proxy", "10.0.0.1", "--allow-no-origin")
    assert result.returncode == 0, result.stderr
    import tomllib

    options = tomllib.loads((tmp_path / "config.toml").read_text())["channels"]["shop"]
    assert options == {"kind": "webchat", "hours": "Пн-Пт 09:00-18:00",
                       "timezone": "Europe/Moscow", "operator_name": "Anna",
                       "sneak_peek": False, "trust_proxy": ["10.0.0.1"],
                       "allow_no_origin": True}
    for args, problem in [(["--hours", "Mon-Fri 9-18", "--timezone", "UTC"], "'9-18'"),
                          (["--hours", "Mon-Fri 09:00-18:00"], "needs timezone"),
                          (["--timezone", "Moon/Base"], "unknown timezone"),
                          (["--operator-photo", "javascript:alert(1)"],
                           '--operator-photo: "javascript:alert(1)" is not an http(s) URL'),
                          (["--trust-proxy", "proxy.local"], '"proxy.local"')]:
        refused = run(tmp_path, "channel", "add", "webchat", "--name", "bad", *args)
        assert refused.returncode == 2 and problem in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert "bad" not in tomllib.loads((tmp_path / "config.toml").read_text())["channels"]


# Hostile input: the socket answers, the hub logs, the channel's health tells -----------


async def channel_health(site: Site) -> tuple[Health, str]:
    channel = next(c for c in await site.inbox.channels() if c.name == "site")
    return channel.health, channel.health_detail


async def test_binary_frames_count_against_the_frame_limit(site: Site) -> None:
    ws, _, _ = await site.visitor()
    codes = []
    for _ in range(400):
        if ws.closed:
            break
        await ws.send_bytes(b"\x00" * 10)
    while True:
        message = await ws.receive(timeout=5)
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        codes.append(json.loads(message.data)["code"])
    assert "rate_limited" in codes and set(codes) <= {"bad_frame", "rate_limited"}
    assert ws.close_code == 1008  # closed after repeated violations, like text frames


@pytest.mark.parametrize("frame", [
    '{"type": "history", "after": 100000000000000000000000000000}',
    '{"type": "seen", "ids": [100000000000000000000000000000]}',
    '{"type": "received", "ids": [-1]}',
    '{"type": "hello", "last_id": 100000000000000000000000000000}',
    '{"type": "hello", "last_id": -5}',
])
async def test_ids_out_of_range_get_bad_frame(site: Site, frame: str) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_str(frame)
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "bad_frame", error
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.close()


async def test_deeply_nested_json_is_bad_json(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await ws.send_str("[" * 30_000 + "]" * 30_000)
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "bad_json", error
    await ws.send_str('{"type": "message", "cid": "n", "text": ' + '{"a": ' * 5000 + "1"
                      + "}" * 5000 + "}")
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "bad_json", error
    await ws.close()


async def test_a_lone_surrogate_does_not_drop_the_visitor(site: Site) -> None:
    ws, welcome, _ = await site.visitor()
    other, _, _ = await site.visitor(token=welcome["token"])  # a second tab gets the echo
    await ws.send_str('{"type": "message", "cid": "s1", "text": "broken \\ud83d here"}')
    answer = await receive(ws)
    assert answer["type"] in ("ack", "error") and answer["cid"] == "s1", answer
    await ws.send_json({"type": "message", "cid": "s2", "text": "and after"})
    assert (await receive_until(ws, "ack"))["cid"] == "s2"
    assert (await receive_until(other, "message"))["type"] == "message"
    assert (await channel_health(site))[0] is Health.OK  # a visitor cannot degrade it
    await ws.close()
    await other.close()


async def test_a_message_the_store_refuses_is_answered_and_the_chat_goes_on(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    ws, _, _ = await site.visitor()
    # SQLite refuses any string over its length limit, whatever is tried again.
    await site.inbox.store.db.write(
        lambda conn: conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2000))
    await ws.send_json({"type": "message", "cid": "big", "text": "x" * 3000})
    error = await receive(ws)
    # Refused for good (the widget marks it failed), not "try again later".
    assert (error["type"], error["code"], error["cid"]) == ("error", "bad_frame", "big"), error
    await ws.send_json({"type": "message", "cid": "small", "text": "and this one"})
    assert (await receive_until(ws, "ack"))["cid"] == "small"
    assert (await channel_health(site))[0] is Health.OK  # a visitor cannot degrade it
    assert any("site" in r.getMessage() and "skipped" in r.getMessage()
               for r in caplog.records if r.levelname == "ERROR"), caplog.text
    await ws.close()


async def test_a_socket_that_never_says_hello_is_closed(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WebChatTransport, "hello_timeout", 0.3)
    talking, _, _ = await site.visitor()
    silent = await site.connect()
    closing = await silent.receive(timeout=10)
    assert closing.type == aiohttp.WSMsgType.CLOSE, closing
    assert (silent.close_code, closing.extra) == (1008, "hello expected")
    # A visitor who said hello keeps the socket, whatever the time.
    await talking.send_json({"type": "ping"})
    assert (await receive(talking))["type"] == "pong"
    await talking.close()


async def fill_the_disk(site: Site, full: bool) -> None:
    """SQLite's own "database or disk is full", as on a real full disk: the file may not
    grow, and the pages it has free (a migration that dropped an index left some) are
    taken first."""

    def run(conn: Any) -> None:
        if full:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute("CREATE TABLE IF NOT EXISTS test_filler (x BLOB)")
            conn.execute("INSERT INTO test_filler VALUES (zeroblob(?))", ((free + 1) * size,))
        conn.execute(f"PRAGMA max_page_count = {1 if full else 1_000_000_000}").fetchone()

    await site.inbox.store.db.write(run)


async def test_a_full_disk_answers_an_error_degrades_the_channel_and_recovers(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    ws, _, _ = await site.visitor()
    await fill_the_disk(site, True)
    await ws.send_json({"type": "message", "cid": "d1", "text": "x" * MAX_TEXT})
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == "server_error", error
    assert error["cid"] == "d1"
    # In the log with the channel, and shown as the channel's health.
    assert any("site" in r.getMessage() and "full" in r.getMessage()
               for r in caplog.records if r.levelname in ("ERROR", "WARNING")), caplog.text
    assert any("channel site is degraded" in r.getMessage() for r in caplog.records)
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"  # the socket lives
    await fill_the_disk(site, False)
    await ws.send_json({"type": "message", "cid": "d1", "text": "x" * MAX_TEXT})
    assert (await receive(ws))["type"] == "ack"
    await until(lambda: _equals(lambda: channel_health(site),
                                (Health.OK, f"127.0.0.1:{site.port}")), "the channel to be ok")
    await ws.close()


async def test_a_failing_store_shows_the_channel_degraded_with_the_reason(site: Site) -> None:
    ws, _, _ = await site.visitor()
    await site.inbox.store.db.write(lambda conn: conn.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.messages "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"))
    await ws.send_json({"type": "message", "cid": "e1", "text": "hello?"})
    error = await receive(ws)
    assert error["code"] == "server_error" and error["cid"] == "e1"
    _, detail = await until(
        lambda: _degraded(site), "the channel to be degraded")
    assert "disk I/O error" in detail
    await site.inbox.store.db.write(lambda conn: conn.execute("DROP TRIGGER temp.refuse"))
    await ws.send_json({"type": "message", "cid": "e1", "text": "hello?"})
    assert (await receive(ws))["type"] == "ack"
    await until(lambda: _equals(lambda: channel_health(site),
                                (Health.OK, f"127.0.0.1:{site.port}")), "the channel to be ok")
    await ws.close()


async def _degraded(site: Site) -> tuple[Health, str] | None:
    health = await channel_health(site)
    return health if health[0] is Health.DEGRADED else None


async def test_a_rebound_host_name_is_not_our_origin(site: Site) -> None:
    # DNS rebinding: evil.example now resolves to the hub; its page's origin and the
    # Host header agree, but neither is ours.
    for host in ("evil.example", f"evil.example:{site.port}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await site.connect(origin=f"http://{host}", headers={"Host": host})
        assert refused.value.status == 403
    ws = await site.connect(origin=f"http://localhost:{site.port}")  # the demo page, by name
    await ws.close()


async def test_a_refused_origin_is_logged_once_and_shown_on_the_channel(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await site.connect(origin="https://www.shop.ru")
    said = [r.getMessage() for r in caplog.records if "https://www.shop.ru" in r.getMessage()
            and r.name == "opchat.webchat"]
    assert len(said) == 1 and "site" in said[0], said
    _, detail = await until(lambda: _degraded(site), "the channel to be degraded")
    assert "https://www.shop.ru" in detail and "origin" in detail
    # Visitors from the shop itself still chat.
    ws, _, _ = await site.visitor()
    await ws.close()


async def test_doctor_shows_the_refused_origin_now_and_after_the_hub_stopped(
    tmp_path: Path
) -> None:
    from tests.functional.test_cli import run

    port = free_port()
    (tmp_path / "config.toml").write_text(
        f'[channels.site]\nkind = "webchat"\nlisten = "127.0.0.1:{port}"\n'
        f'origin = ["{SHOP}"]\n')
    (tmp_path / "data").mkdir(mode=0o700)
    async with running_site(tmp_path / "data", port) as site:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await site.connect(origin="https://www.shop.ru")
        await until(lambda: _degraded(site), "the channel to be degraded")
        doctor = await asyncio.to_thread(run, tmp_path, "doctor")
        line = next(line for line in doctor.stdout.splitlines() if "channel site" in line
                    and "hub" in line)
        assert "refused origin https://www.shop.ru" in line and "[warn]" in line, doctor.stdout
    doctor = await asyncio.to_thread(run, tmp_path, "doctor")
    assert "when the hub last ran: degraded, refused origin https://www.shop.ru" in \
        doctor.stdout, doctor.stdout


def test_the_hubs_own_origins_come_from_the_address_not_the_host_header(
    tmp_path: Path
) -> None:
    def own(listen: str, local: Any) -> set[str]:
        return WebChatTransport(ChannelSettings("w", "webchat", {"listen": listen}),
                                tmp_path).own_origins(local)

    assert own("127.0.0.1:8765", ("127.0.0.1", 8765)) == {"http://127.0.0.1:8765",
                                                          "http://localhost:8765"}
    # Listening everywhere: the address the connection came in on.
    assert own("0.0.0.0:8765", ("192.0.2.5", 8765)) == {"http://192.0.2.5:8765"}
    assert own("[::]:8765", ("::ffff:192.0.2.5", 8765, 0, 0)) == {"http://192.0.2.5:8765"}
    assert own("[::1]:8765", ("::1", 8765, 0, 0)) == {"http://[::1]:8765",
                                                      "http://localhost:8765"}
    assert own("127.0.0.1:8765", None) == set()


async def answered_dialogs(data_dir: Path, count: int, after: float) -> None:
    """``count`` visitors of the site, each answered ``after`` seconds after writing,
    an hour apart over the last days (another process's inbox, as an operator's)."""
    from opchat.model import InboundMessage

    now = time.time()
    clock = [now]
    operator = await Inbox.open(data_dir, "boris", clock=lambda: clock[0])
    try:
        for n in range(count):
            clock[0] = now - 3600 * (n + 1)
            got = await operator.store.inbound.ingest(InboundMessage(
                "site", f"seeded-{n}", f"seeded-{n}", f"seeded-{n}", f"Visitor {n}", "hello"))
            clock[0] += after
            await operator.send(got.conversation_id, "hello!")
    finally:
        await operator.close()


async def test_the_widget_is_told_how_soon_people_are_answered(tmp_path: Path) -> None:
    """Five dialogs answered in 40 s over the last week: the hub tells the widget 40 s;
    with four it tells nothing (too few to claim anything)."""
    await answered_dialogs(tmp_path, 4, 40)
    async with running_site(tmp_path) as site:
        _ws, welcome, _history = await site.visitor()
        assert welcome["status"]["typical"] is None
    (tmp_path / "more").mkdir()
    await answered_dialogs(tmp_path / "more", 5, 40)
    async with running_site(tmp_path / "more") as site:
        _ws, welcome, _history = await site.visitor()
        assert welcome["status"]["typical"] == 40


async def test_a_pressed_button_carries_its_payload_and_a_bad_one_is_refused(
        site: Site) -> None:
    ws, _welcome, _history = await site.visitor()
    await ws.send_json({"type": "message", "cid": "c1", "text": "2. Payment", "choice": "2"})
    ack = await receive(ws)
    assert ack["type"] == "ack"
    message = await site.inbox.message(ack["id"])
    assert message is not None and message.meta["callback"] == "2"
    for bad in (5, "", "x" * 65, "a\nb"):
        await ws.send_json({"type": "message", "cid": "c2", "text": "hi", "choice": bad})
        refused = await receive(ws)
        assert refused["type"] == "error" and refused.get("field") == "choice", refused
    assert len(await site.inbox.messages(message.conversation_id)) == 1  # nothing more stored

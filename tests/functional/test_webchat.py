"""The web chat over real WebSockets on 127.0.0.1, against a running hub and SQLite.

Each test starts a Hub with one webchat channel on a free port and talks to it
with aiohttp's client, as the widget (or any other client) would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Direction, Health, MessageState
from opchat.transports.webchat import MAX_TEXT, Tokens

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

    def __init__(self, inbox: Inbox, port: int, session: aiohttp.ClientSession) -> None:
        self.inbox = inbox
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.session = session

    async def connect(self, origin: str | None = SHOP, **kwargs: Any
                      ) -> aiohttp.ClientWebSocketResponse:
        headers = {"Origin": origin} if origin else {}
        return await self.session.ws_connect(f"{self.base}/ws", headers=headers, **kwargs)

    async def visitor(self, token: str | None = None, last_id: int = 0
                      ) -> tuple[aiohttp.ClientWebSocketResponse, dict, dict]:
        ws = await self.connect()
        await ws.send_json({"type": "hello", "token": token, "last_id": last_id,
                            "page": {"url": f"{SHOP}/cakes", "referrer": "https://search.example"},
                            "language": "ru-RU"})
        welcome = await receive(ws)
        assert welcome["type"] == "welcome", welcome
        history = await receive(ws)
        assert history["type"] == "history", history
        return ws, welcome, history

    async def conversation_of(self, body: str) -> int:
        async def find() -> int | None:
            for conversation in await self.inbox.conversations():
                if conversation.preview == body:
                    return conversation.id
            return None

        return await until(find, f"a dialog ending with {body!r}")


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
async def running_site(data_dir: Path, port: int | None = None, **options: Any
                       ) -> AsyncIterator[Site]:
    port = port or free_port()
    inbox = await Inbox.open(data_dir, "anna")
    channel = ChannelSettings("site", "webchat",
                              {"listen": f"127.0.0.1:{port}", "origin": [SHOP], **options})
    hub = Hub(inbox, [channel], data_dir)
    hub.backoff_base = 0.05
    task = asyncio.create_task(hub.run())
    session = aiohttp.ClientSession()
    try:
        async def ok() -> bool:
            return any(c.name == "site" and c.health is Health.OK
                       for c in await inbox.channels())

        await until(ok, "the channel to be up")
        yield Site(inbox, port, session)
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
    assert len(script.encode()) + len(css.encode()) < 30 * 1024
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

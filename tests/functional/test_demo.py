"""The demo channel through the real hub, found through its entry point."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from opchat.config import ChannelSettings
from opchat.hub import Hub
from opchat.inbox import Inbox
from opchat.model import Direction, Health, MessageState
from opchat.transports import available_kinds, load_transport
from opchat.transports.demo import DemoTransport


def test_demo_is_registered_as_an_entry_point() -> None:
    assert "demo" in available_kinds()
    assert load_transport("demo") is DemoTransport


async def test_demo_looks_alive_at_once_and_customers_answer(tmp_path: Path) -> None:
    inbox = await Inbox.open(tmp_path, "anna")
    channel = ChannelSettings("demo", "demo", {"interval": 0.3, "reply_delay": 0.2})
    started = time.monotonic()
    task = asyncio.create_task(Hub(inbox, [channel], tmp_path).run())
    try:
        while await inbox.count() < 8:
            await asyncio.sleep(0.02)
        assert time.monotonic() - started < 1.0
        convs = {c.contact_name: c for c in await inbox.conversations(limit=100)}
        assert any("[bold]" in name for name in convs)  # awkward input included
        assert any(len(c.preview) >= 200 for c in convs.values())
        assert (await inbox.channels())[0].health == Health.OK

        anna = convs["Анна Смирнова"]
        sent = await inbox.send(anna.id, "Здравствуйте! Да, конечно.")
        bob = convs["Blocked Bob"]
        refused = await inbox.send(bob.id, "Sorry to see you go")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            msgs = await inbox.messages(anna.id)
            if msgs[-1].direction == Direction.IN and msgs[-2].id == sent.id:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the customer did not answer")
        reply = await inbox.message(sent.id)
        assert reply is not None and reply.state == MessageState.READ
        assert msgs[-1].body == "А доставка в Химки есть?"
        failed = await inbox.message(refused.id)
        assert failed is not None and failed.state == MessageState.FAILED
        assert "blocked" in (failed.error or "")
        # Newcomers keep arriving.
        while await inbox.count() < 9:
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await inbox.close()


async def test_demo_does_not_seed_twice(tmp_path: Path) -> None:
    inbox = await Inbox.open(tmp_path, "anna")
    channel = ChannelSettings("demo", "demo", {"interval": 3600})
    for _ in range(2):
        task = asyncio.create_task(Hub(inbox, [channel], tmp_path).run())
        while await inbox.count() < 8:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await inbox.count() == 8
    await inbox.close()

"""The demo channel through the real hub, found through its entry point."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path

from opchat.config import ChannelSettings
from opchat.hub import ChannelSink, Hub
from opchat.inbox import Inbox
from opchat.model import ConversationFilter, Direction, Health, MessageState, OutboundMessage
from opchat.transports import Rejected, available_kinds, load_transport
from opchat.transports.demo import NEWCOMERS, RETURNING, DemoTransport
from tests.functional.conftest import Clock


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


async def test_a_restarted_demo_brings_new_customers(tmp_path: Path) -> None:
    """Run `opchat --demo` again on the same data dir: newcomers are new people, not
    the first run's customers written to again under new names."""
    inbox = await Inbox.open(tmp_path, "anna")
    channel = ChannelSettings("demo", "demo", {"interval": 0.05, "max_waiting": 100})
    try:
        for run, dialogs in ((1, 11), (2, 14)):
            task = asyncio.create_task(Hub(inbox, [channel], tmp_path).run())
            try:
                before = await inbox.store.events.last_event_id()
                deadline = time.monotonic() + 10
                while await inbox.count() < dialogs:
                    assert time.monotonic() < deadline, (
                        f"run {run}: {await inbox.count()} dialogs, no new customer")
                    await asyncio.sleep(0.02)
                if run == 2:
                    # What arrived in this run went to new dialogs, not old ones.
                    events = await inbox.store.events.events_after(before)
                    news = [e for e in events if e.kind == "conversation.new"]
                    messages = [e for e in events if e.kind == "message.new"]
                    assert len(news) == len(messages) >= 3
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        await inbox.close()


async def test_the_demo_goes_on_for_hours_and_the_list_stays_bounded(tmp_path: Path) -> None:
    """An injected clock instead of hours of waiting: what an operator trying the demo
    sees after 35 minutes of not answering, then over three hours of answering."""
    clock = Clock()
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    channel = ChannelSettings("demo", "demo", {})
    await inbox.store.channels.ensure("demo", "demo")
    sink = ChannelSink(Hub(inbox, [channel], tmp_path), "demo")

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    demo = DemoTransport(channel, tmp_path, clock=clock, sleep=no_wait, rng=random.Random(10))
    started = clock()

    async def customer_messages() -> list:
        found = []
        for conversation in await inbox.conversations(limit=1000):
            found += [m for m in await inbox.messages(conversation.id, limit=1000)
                      if m.direction is Direction.IN]
        return found

    def waiting() -> int:
        return sum(c.waiting for c in demo.customers.values())

    async def live_until(minutes: float, answer_every: float | None = None) -> None:
        next_answer = clock() + (answer_every or 0)
        while clock() < started + minutes * 60:
            clock.advance(demo.gap())
            before = waiting()
            await demo.arrive(sink)
            # Customers answering the operator may all wait at once; the demo adds none.
            assert waiting() <= max(before, demo.max_waiting)
            if answer_every is not None and clock() >= next_answer:
                next_answer = clock() + answer_every
                await answer_everyone()

    async def answer_everyone() -> None:
        for conversation in await inbox.conversations(ConversationFilter(waiting_only=True),
                                                      limit=1000):
            sent = await inbox.send(conversation.id, "Thank you, we are on it")
            address = await inbox.store.conversations.address(conversation.id)
            assert address is not None
            try:
                delivery = await demo.send(OutboundMessage(sent.id, "demo", address[1],
                                                           sent.body))
            except Rejected as exc:
                await inbox.store.outbox.mark_failed(sent.id, exc.reason)
            else:
                await inbox.store.outbox.mark_sent(sent.id, delivery.external_id)
        await asyncio.gather(*demo._tasks)  # the customers read it and maybe write back

    try:
        await demo.start(sink)
        assert await inbox.count() == 8
        # 35 minutes and nobody answers: a few newcomers, a few "anyone there?", no flood.
        await live_until(35)
        quiet = await customer_messages()
        assert 8 < await inbox.count() <= 8 + len(NEWCOMERS)
        assert len(quiet) < 50
        assert any(m.body == "Hello? Anyone there?" for m in quiet)
        # Three hours of an operator answering every five minutes: someone writes in
        # every quarter of an hour, the newcomers all come, then old customers return.
        arrived: list[int] = []
        for quarter in range(1, 11):
            before = len(await customer_messages())
            await live_until(35 + 15 * quarter, answer_every=300)
            arrived.append(len(await customer_messages()) - before)
        assert all(n > 0 for n in arrived), arrived
        assert await inbox.count() == 8 + len(NEWCOMERS)  # and no more, ever
        bodies = {m.body for m in await customer_messages()}
        assert bodies & set(RETURNING["en"] + RETURNING["ru"])
    finally:
        await inbox.close()

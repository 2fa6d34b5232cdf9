"""What the UI tests share: a fixed clock, a seeded store in tmp_path, the app, waiting.

Everything runs against real SQLite files; the clock is injected so waiting
times and dates are the same on every run (and in the snapshots).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widget import Widget

from opchat.app import OpchatApp
from opchat.config import Settings
from opchat.i18n import set_language
from opchat.inbox import Inbox
from opchat.model import InboundMessage

FIXED_NOW = 1_741_953_600.0  # 2025-03-14 12:00:00 UTC, a Friday


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC, so HH:MM labels are the same everywhere."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture
def english() -> Iterator[None]:
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(config_path=tmp_path / "config.toml", data_dir=tmp_path)


def inbound(channel: str, chat: str, n: int | str, name: str, body: str, at: float,
            sender: str | None = None) -> InboundMessage:
    return InboundMessage(channel=channel, chat_id=chat, external_id=f"{chat}-{n}",
                          sender_id=sender or f"u-{chat}", sender_name=name, body=body,
                          sent_at=at)


async def seed_inbox(data_dir: Path, clock: Clock) -> None:
    """A small, fixed inbox: four dialogs on four channels, two replies, saved phrases."""
    inbox = await Inbox.open(data_dir, "anna", clock=clock)
    try:
        now = clock()
        for name, kind in (("shop", "telegram"), ("wa", "whatsapp"), ("vk", "vk"),
                           ("site", "webchat")):
            await inbox.store.channels.ensure(name, kind)
        await inbox.store.inbound.ingest_batch([
            inbound("vk", "oleg", 1, "Oleg Sidorov", "Hello, is the shop open on Sunday?",
                    now - 7200),
            inbound("site", "v7", 1, "Visitor 7", "Do you ship to Kazakhstan?", now - 600),
            inbound("wa", "maria", 1, "Maria Lopez", "Hi! I ordered the blue one", now - 95),
            inbound("wa", "maria", 2, "Maria Lopez", "but got the red one 😕", now - 90),
            inbound("shop", "ivan", 1, "Ivan Petrov", "Where is my order #4411?", now - 45),
        ])
        conversations = {c.contact_name: c for c in await inbox.conversations()}
        oleg = conversations["Oleg Sidorov"].id
        reply = await inbox.send(oleg, "Yes, from 10:00 to 16:00.")
        await inbox.store.outbox.mark_sent(reply.id, "vk-1")
        failed = await inbox.send(oleg, "Shall I reserve one for you?")
        await inbox.store.outbox.mark_failed(failed.id, "Forbidden: the user blocked the community")
        await inbox.note(oleg, "Regular customer")
        await inbox.store.replies.save_all([
            ("hi", "Greeting", "Hello! How can I help you?"),
            ("ship", "Shipping", "We ship within 2 business days."),
            ("bye", "Goodbye", "Thank you, have a nice day!"),
        ])
    finally:
        await inbox.close()


def make_app(settings: Settings, clock: Clock, inbox_class: type[Inbox] = Inbox,
             **kwargs) -> OpchatApp:
    data_dir = settings.data_dir

    async def open_inbox() -> Inbox:
        return await inbox_class.open(data_dir, "anna", clock=clock)

    return OpchatApp(settings, open_inbox, None, clock=clock, **kwargs)


def on_frames(app: OpchatApp, record: Callable[[object], None]) -> None:
    """Call ``record(screen)`` before each frame the app sends to the terminal (not
    those it renders while its frames are held: `widgets/frame_hold.py`)."""
    display = app._display

    def watched(screen, update) -> None:  # type: ignore[no-untyped-def]
        if not app._batch_count:
            record(screen)
        display(screen, update)

    app._display = watched  # type: ignore[method-assign]


async def wait_until(pilot: Pilot, predicate: Callable[[], object], timeout: float = 3.0,
                     what: str = "the condition") -> None:
    """Let the app run until `predicate()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def rendered(widget: Widget) -> list[Strip]:
    """The strips a widget draws for its visible lines."""
    return widget.render_lines(widget.size.region)


def rendered_text(widget: Widget) -> str:
    return "\n".join(strip.text for strip in rendered(widget))

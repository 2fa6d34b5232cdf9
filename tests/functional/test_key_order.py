"""Keys typed while a dialog opens wait for its saved draft, and follow it.

The terminal tests (tests/e2e/test_fast_typing.py) show the bursts as a terminal
sends them; here the store is made slow on purpose, which a terminal test cannot
do: reading the draft waits until the test lets it go.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual import events

from opchat import app as app_module
from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from tests.functional.conftest import Clock, make_app, seed_inbox, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")


class SlowDrafts(Inbox):
    """Reading a draft waits for `gate`: the store is busy."""

    gate: asyncio.Event

    async def draft(self, conversation_id: int) -> str:
        await type(self).gate.wait()
        return await super().draft(conversation_id)


async def ivan_with_a_draft(tmp_path: Path, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        ivan = {c.contact_name: c for c in await inbox.conversations()}["Ivan Petrov"]
        await inbox.save_draft(ivan.id, "Dear Ivan, ")
    finally:
        await inbox.close()


def burst(app, *keys: tuple[str, str | None]) -> None:
    """Keys as a terminal delivers a fast typist's: all queued before any is handled."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


async def open_burst(pilot) -> Composer:
    app = pilot.app
    conversations = app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.row(0) is not None, what="the list")
    rows = [conversations.row(i) for i in range(conversations.row_count)]
    conversations.move_cursor(next(i for i, row in enumerate(rows)
                                   if row is not None and row.contact_name == "Ivan Petrov"))
    burst(app, ("enter", None), ("h", "h"), ("i", "i"))
    return app.query_one(Composer)


async def test_keys_typed_while_the_draft_loads_wait_for_it(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await ivan_with_a_draft(tmp_path, clock)
    SlowDrafts.gate = asyncio.Event()
    app = make_app(settings, clock, inbox_class=SlowDrafts)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_burst(pilot)
        await wait_until(pilot, lambda: not app.inbox_screen.ready_for_keys.is_set(),
                         what="the dialog to start reading its draft")
        assert composer.text == ""  # h and i are held, not typed into an empty box
        SlowDrafts.gate.set()
        await wait_until(pilot, lambda: composer.text == "Dear Ivan, hi",
                         what="the draft, then the keys")
        assert composer.has_focus


async def test_keys_wait_no_longer_than_the_limit_and_still_follow_the_draft(
        tmp_path: Path, settings: Settings, clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "KEY_SETTLE_LIMIT", 0.2)
    await ivan_with_a_draft(tmp_path, clock)
    SlowDrafts.gate = asyncio.Event()
    app = make_app(settings, clock, inbox_class=SlowDrafts)
    async with app.run_test(size=(80, 24)) as pilot:
        composer = await open_burst(pilot)
        # The store is stuck: after the limit the keys go on, the keyboard is not lost.
        await wait_until(pilot, lambda: composer.text == "hi", what="the keys")
        SlowDrafts.gate.set()
        await wait_until(pilot, lambda: composer.text == "Dear Ivan, hi",
                         what="the draft put before them")

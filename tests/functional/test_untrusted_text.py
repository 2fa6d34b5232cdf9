"""Customer and platform text on screen: never markup, never raw control codes.

Hostile strings go into every place the UI shows stored text — contact
names, previews, message bodies, authors, delivery errors, channel names
and health details, quick replies — and what is drawn is checked segment by
segment: no ESC/C0/C1 character, no link, no @click action, and markup
shown as the literal text it is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.strip import Strip

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import Health
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.status_bar import StatusBar
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import (
    Clock,
    inbound,
    make_app,
    rendered,
    rendered_text,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("utc", "english")

HOSTILE = [
    "[bold]x[/]",
    "[/]",
    "[link=https://evil.example]click[/link]",
    "[@click=app.quit]q[/]",
    "\x1b]0;title\x07",
    "\x1b]52;c;aGk=\x07",
    "\x1b[2J",
    "\x9b31m",
    "abc\u202edcba",
    "zero\u200bwidth",
    "\x00\x07\x7f",
    "L" * 5000,
    "emoji 👨‍👩‍👧 🇺🇦 ❤️‍🔥",
]

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
EVIL_CHANNEL = "evil[bold]chan[/]\x1b]0;pwned\x07"


def assert_harmless(strips: list[Strip], where: str) -> None:
    for y, strip in enumerate(strips):
        for segment in strip:
            assert not CONTROL.search(segment.text), f"{where} line {y}: {segment.text!r}"
            style = segment.style
            if style is None:
                continue
            assert style.link is None, f"{where} line {y}: a link in {segment.text!r}"
            meta = style.meta or {}
            # Textual's own scrollbars carry "@mouse.down"; an "@click" could only
            # have come from markup.
            assert "@click" not in meta, f"{where} line {y}: an action in {segment.text!r}"
            assert "app.quit" not in repr(meta), f"{where} line {y}: {meta}"


def screen_strips(app) -> list[Strip]:
    # Everything on the terminal, as the compositor draws it (title, status bar,
    # footer, toasts included). A private API, but the honest place to look.
    return list(app.screen._compositor.render_strips())


async def seed_hostile(data_dir: Path, clock: Clock) -> None:
    inbox = await Inbox.open(data_dir, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure(EVIL_CHANNEL, "unknown\x1b[31mkind")
        now = clock()
        await inbox.store.inbound.ingest_batch([
            inbound(EVIL_CHANNEL, f"chat{n}", 1, text, f"body {n}: {text}", now - 60 * n)
            for n, text in enumerate(HOSTILE)
        ])
        conversations = await inbox.conversations(limit=100)
        failing = next(c for c in conversations if c.contact_name == "[bold]x[/]")
        message = await inbox.send(failing.id, "a reply")
        await inbox.store.outbox.mark_failed(
            message.id, "[@click=app.quit]bad[/] \x1b]52;c;aGk=\x07 [link=https://e.x]l[/link]")
        await inbox.store.channels.set_health(
            EVIL_CHANNEL, Health.DOWN,
            "[bold]401[/] \x1b[2J \x9b31m [link=https://evil.example]token[/link]")
        await inbox.store.replies.save_all([
            ("evil", "[bold]Title[/] \x1b]0;t\x07", "Body [@click=app.quit]q[/] \x1b[2J\x07"),
            ("link", "[link=https://evil.example]x[/link]", "L" * 5000),
        ])
    finally:
        await inbox.close()


async def test_hostile_text_is_shown_literally_and_harmlessly(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_hostile(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.loaded and conversations.row(0),
                         what="the list")
        assert conversations.row_count == len(HOSTILE)
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: status.channels, what="the status bar")

        thread = app.query_one(ThreadView)
        seen_in_list: list[str] = []
        seen_in_thread: list[str] = []
        for index in range(conversations.row_count):
            conversations.focus()
            conversations.move_cursor(index)
            await pilot.pause()
            assert_harmless(rendered(conversations), f"list at row {index}")
            seen_in_list.append(rendered_text(conversations))
            await pilot.press("enter")
            await wait_until(pilot, lambda i=index: thread.messages and thread.conversation.id
                             == conversations.row(i).id, what=f"thread {index}")
            # Walk the whole thread, the capped 5,000-character line included.
            while True:
                assert_harmless(rendered(thread), f"thread of row {index}")
                seen_in_thread.append(rendered_text(thread))
                if thread.scroll_y >= thread.max_scroll_y:
                    break
                thread.scroll_to(y=thread.scroll_y + thread.size.height, animate=False,
                                 immediate=True)
                await pilot.pause()
            assert_harmless(screen_strips(app), f"screen with row {index} open")

        list_text = "\n".join(seen_in_list)
        thread_text = "\n".join(seen_in_thread)
        # Markup is text.
        assert "[bold]x[/]" in list_text
        assert "[link=https://evil.example]click[/link]" in thread_text
        assert "[@click=app.quit]q[/]" in thread_text
        # The failed reply's error is drawn, literally and harmlessly.
        assert "[@click=app.quit]bad[/]" in thread_text
        # Invisible and direction-changing characters are made visible.
        assert "⟪RLO⟫" in thread_text and "⟪ZWSP⟫" in thread_text
        # The 5,000-character line is capped.
        assert "more characters" in thread_text

        # The status bar: a channel name and its health detail from the platform.
        status_strips = rendered(status)
        assert_harmless(status_strips, "status bar")
        status_plain = status.render().plain
        assert "evil[bold]chan[/]" in status_plain
        assert "[bold]401[/]" in status_plain
        assert not CONTROL.search(status_plain)

        # The copy of a hostile message carries no escape sequence either.
        thread.focus()
        thread.select_newest()
        await pilot.press("y")
        assert not CONTROL.search(app.clipboard)

        # The quick replies palette.
        app.query_one(Composer).focus()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        await pilot.pause(0.3)
        palette_strips = screen_strips(app)
        assert_harmless(palette_strips, "palette")
        palette_text = "\n".join(strip.text for strip in palette_strips)
        assert "[bold]Title[/]" in palette_text
        assert "[@click=app.quit]q[/]" in palette_text
        await pilot.press(*"evil")
        await pilot.pause(0.3)
        assert_harmless(screen_strips(app), "palette while searching")
        await pilot.press("escape")

        # Nothing quit, nothing crashed.
        assert app.is_running
        assert app.return_code is None

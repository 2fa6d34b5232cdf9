"""The thread draws a message only when it is first on screen: what it counts before
drawing must be what it draws, and scrolling up through a long dialog must show
every message once, in order, exactly as drawing them all at once would.

A real SQLite store and the real app through Pilot.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from textual import events

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import Attachment, Direction, Message, MessageState
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.frame_hold import frame_hold
from opchat.widgets.thread_view import Shown, ThreadView, wrapped_rows
from tests.functional.conftest import Clock, inbound, make_app, on_frames, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

# Words of every width a terminal knows: wide (CJK, emoji), zero-width and joined
# (cleaned into visible markers), combining, tabs, long unbreakable runs.
PIECES = ["a", "word", "teapot", "Здравствуйте", "заказ", "北京市", "ｗｉｄｅ", "😕", "👨‍👩‍👧",
          "e\u0301", "\t", "\u200b", "x" * 23, "y" * 70, "  ", " ", "\n", "\n\n", "-", "…",
          "https://example.com/a/very/long/path?with=query&and=more", "[bold]", "#4411"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(["", " ", " ", "\n"])
                   for _ in range(rng.randint(0, 40)))


def test_rows_are_counted_as_rich_wraps() -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(width=200)
    rng = random.Random(7)
    for _ in range(400):
        plain = random_text(rng)
        for width in (1, 2, 9, 13, 40, 67, 151):
            wrapped = Text(plain).wrap(console, width, overflow="fold", tab_size=4)
            assert wrapped_rows(plain, width) == len(wrapped), (plain, width)


async def test_a_block_counted_without_drawing_it_has_the_height_it_is_drawn_with(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)):
        thread = app.query_one(ThreadView)
        rng = random.Random(11)
        counted = 0
        for n in range(300):
            direction = rng.choice(list(Direction))
            state = rng.choice(list(MessageState))
            meta = rng.choice([{}, {}, {"entities": []}, {"reactions": {"u": "👍"}},
                               {"forwarded": "once"}, {"reactions": {}}])
            attachments = (Attachment(kind="photo", filename="a.jpg"),) if n % 17 == 0 else ()
            message = Message(id=n + 1, conversation_id=1, direction=direction, author="Nina",
                              body=random_text(rng), created_at=clock() - n * 60, state=state,
                              error="blocked" if n % 5 == 0 else None, meta=meta,
                              attachments=attachments)
            for width in (10, 37, 66, 140):
                for retrying in (None, "429 Too Many Requests"):
                    height = thread._height_of(message, width, Shown(), retrying)
                    drawn = thread._render_block(message, width, Shown(), retrying)
                    if height is not None:
                        counted += 1
                        assert height == len(drawn), (message, width, retrying)
        assert counted > 1000  # most messages are counted, not drawn


async def seed_long_dialog(data_dir: Path, clock: Clock, count: int) -> None:
    """One dialog of `count` messages, each saying its number, of many heights."""
    inbox = await Inbox.open(data_dir, "anna", clock=clock)
    rng = random.Random(3)
    try:
        await inbox.store.channels.ensure("shop", "telegram")
        start = clock() - count * 60
        await inbox.store.inbound.ingest_batch([
            inbound("shop", "nina", n, "Nina Frost",
                    f"m{n:04d} " + " ".join(["line"] * rng.randint(0, 40))
                    + "\nsecond" * rng.randint(0, 3), start + n * 60)
            for n in range(count)])
    finally:
        await inbox.close()


async def test_scrolling_up_a_long_dialog_shows_every_message_once_in_order(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    count = 450  # five pages of the thread
    await seed_long_dialog(settings.data_dir, clock, count)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.row(0) is not None, what="the list")
        conversations.focus()
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages and not thread._fetching,
                         what="the thread")
        thread.focus()
        await pilot.pause()

        screens: list[tuple[str, list[str]]] = []  # (the move that led there, the lines)

        def seen(move: str) -> None:  # the gutter (the selection's mark) left out
            screens.append((move, [strip.text[1:].rstrip()
                                   for strip in thread.render_lines(thread.size.region)]))

        seen("open")
        # Up the whole history, a screen at a time: PageUp, the mouse wheel, now and then
        # Home (to the first message loaded); near the top, each loads the page before.
        while thread.has_older or thread.scroll_y > 0:
            assert len(screens) < 1000, "never reached the first message"
            if len(screens) % 5 == 0:
                for _ in range(4):
                    thread.post_message(events.MouseScrollUp(
                        thread, 5, 5, 0, 0, 0, False, False, False))
                move = "wheel"
            elif len(screens) % 23 == 0:
                await pilot.press("home")
                move = "home"
            else:
                await pilot.press("pageup")
                move = "pageup"
            await pilot.pause()
            await wait_until(pilot, lambda: not thread._loading_older, what="the older page")
            seen(move)
            # PageUp scrolls smoothly: every frame of the first one is drawn; the rest
            # jump, or the test would take a minute.
            app.animation_level = "none"
        assert len(thread.messages) == count

        # The whole dialog as drawing every message at once lays it out.
        width = thread._width
        whole: list[str] = []
        for index, message in enumerate(thread.messages):
            if not thread._shown[index].folded:
                block = thread._render_block(message, width, thread._shown[index])
                whole.extend(strip.text.rstrip() for strip in block)
        assert thread.line_count == len(whole)
        numbers = [int(line[1:5]) for line in whole if line[:1] == "m" and line[1:5].isdigit()]
        assert numbers == list(range(count))  # every one, once, in order

        # Each screen on the way up was a slice of it, just above the one before or
        # overlapping it (but after Home, which jumps): no line missed, none doubled.
        height = thread.size.height

        def where(lines: list[str]) -> int:
            found = [at for at in range(len(whole) - height + 1) if whole[at:at + height] == lines]
            assert len(found) == 1, lines
            return found[0]

        below = where(screens[0][1])
        assert below == len(whole) - height  # opened at the newest message
        for move, lines in screens[1:]:
            at = where(lines)
            assert at < below, (move, at, below)
            if move != "home":
                assert at + height >= below, (move, at, below)  # no gap
            below = at
        assert below == 0


async def test_a_dialog_opens_in_one_frame_without_loading_first(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_long_dialog(settings.data_dir, clock, 150)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.row(0) is not None, what="the list")
        conversations.focus()
        await pilot.pause()
        thread = app.query_one(ThreadView)
        frames: list[tuple[int | None, bool]] = []  # (dialog shown, still loading)
        on_frames(app, lambda _screen: frames.append(
            (thread.conversation.id if thread.conversation else None, thread._fetching)))
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.messages and frames and not frames[-1][1],
                         what="the dialog drawn")
        assert (conversations.row(0).id, True) not in frames  # no "Loading…" frame


async def test_a_slow_store_shows_loading_after_a_tenth_of_a_second(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    import asyncio
    import time

    came: list[float] = []  # when the slow store's page came back

    class SlowInbox(Inbox):
        async def messages(self, *args, **kwargs) -> list[Message]:
            await asyncio.sleep(1.0)
            came.append(time.monotonic())
            return await super().messages(*args, **kwargs)

    await seed_long_dialog(settings.data_dir, clock, 5)
    app = make_app(settings, clock, inbox_class=SlowInbox)
    async with app.run_test(size=(100, 40)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.row(0) is not None, what="the list")
        conversations.focus()
        await pilot.pause()
        thread = app.query_one(ThreadView)
        drawn: list[float] = []
        on_frames(app, lambda _screen: thread._fetching and drawn.append(time.monotonic()))
        await pilot.press("enter")
        await wait_until(pilot, lambda: drawn, what="a frame while loading")
        # The hold gave up before the page came (a second late): measured against that
        # moment, not a wall-clock bound a loaded machine overruns.
        assert not came or drawn[0] < came[0]
        assert thread._fetching and not frame_hold(app).held
        assert "Loading…" in "\n".join(
            strip.text for strip in thread.render_lines(thread.size.region))
        await wait_until(pilot, lambda: thread.messages, what="the page", timeout=5)


async def test_opening_at_a_search_hit_lets_the_frame_go_once_its_page_is_in(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_long_dialog(settings.data_dir, clock, 250)
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 40)) as pilot:
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.row(0) is not None, what="the list")
        thread = app.query_one(ThreadView)
        hit = (await app.inbox.search("m0042"))[0]
        conversation = await app.inbox.conversation(hit.conversation_id)
        assert conversation is not None
        # As the search screen's choice does, with no await between: the newest page's
        # read is cancelled for the page around the hit.
        app.screen.open_conversation(conversation)
        thread.show_message(hit.message_id)
        await wait_until(pilot, lambda: thread.selected is not None
                         and thread.selected.body.startswith("m0042"),
                         what="the page around the hit")
        assert not frame_hold(app).held  # let go by the page, not 100 ms later

"""The app end to end: a real store in tmp_path, the app driven through Pilot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual._xterm_parser import XTermParser
from textual.command import CommandPalette

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import Conversation, MessageState
from opchat.store import ConversationFilter
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.status_bar import StatusBar
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import (
    Clock,
    inbound,
    make_app,
    rendered_text,
    seed_inbox,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("utc", "english")


async def started(pilot, rows: int | None = None) -> ConversationList:
    conversations = pilot.app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.loaded and conversations.row(0) is not None,
                     what="the list to load")
    if rows is not None:
        assert conversations.row_count == rows
    return conversations


async def open_row(pilot, index: int) -> ThreadView:
    conversations = pilot.app.query_one(ConversationList)
    conversations.focus()
    conversations.move_cursor(index)
    await pilot.press("enter")
    thread = pilot.app.query_one(ThreadView)
    await wait_until(pilot, lambda: thread.messages, what="the thread to load")
    return thread


async def test_starts_and_shows_the_seeded_conversations(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock, demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)
        text = rendered_text(conversations)
        for name in ("Oleg Sidorov", "Ivan Petrov", "Maria Lopez", "Visitor 7"):
            assert name in text
        assert "45s" in text  # Ivan has waited 45 seconds
        assert "1m" in text  # Maria, 95 seconds
        assert "You: " not in text.split("Oleg")[0]
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: status.waiting is not None, what="the status bar")
        status_text = status.render().plain
        assert "4 waiting · 1 failed" in status_text  # Oleg's last reply failed
        assert "DEMO" in status_text
        assert "shop" in status_text and "wa" in status_text


async def test_first_frame_is_drawn_before_the_store_opens(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    import asyncio

    opened = asyncio.Event()
    release = asyncio.Event()

    async def slow_open() -> Inbox:
        opened.set()
        await release.wait()
        return await Inbox.open(tmp_path, "anna", clock=clock)

    from opchat.app import OpchatApp

    app = OpchatApp(settings, slow_open, None, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, opened.is_set, what="open_inbox to be called")
        assert "Loading" in rendered_text(app.query_one(ConversationList))
        release.set()
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.loaded, what="the empty list")
        assert "No conversations yet" in rendered_text(conversations)


async def test_a_failing_store_is_reported_in_one_line(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    async def broken_open() -> Inbox:
        raise OSError("disk on fire")

    from opchat.app import OpchatApp

    app = OpchatApp(settings, broken_open, None, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: status.error is not None, what="the error")
        assert "disk on fire" in status.render().plain
        assert app.is_running


async def test_j_k_move_the_cursor_and_enter_opens(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot)
        assert conversations.has_focus
        await pilot.press("j", "j", "k")
        assert conversations.cursor == 1
        await pilot.press("down", "down", "up", "up", "up")
        assert conversations.cursor == 0
        await pilot.press("j", "enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages, what="the thread")
        assert thread.conversation is not None
        assert thread.conversation.contact_name == "Ivan Petrov"
        assert "Where is my order #4411?" in rendered_text(thread)
        assert app.query_one(Composer).has_focus
        # Opening marked it read.
        await wait_until(pilot, lambda: conversations.row(1) is not None
                         and conversations.row(1).unread == 0, what="the unread count to clear")
        # Ctrl+N / Ctrl+P open the next / previous conversation from the composer.
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: thread.conversation.contact_name == "Maria Lopez"
                         and thread.messages, what="the next conversation")
        assert "but got the red one" in rendered_text(thread)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: thread.conversation.contact_name == "Ivan Petrov",
                         what="the previous conversation")


async def test_a_click_opens_a_conversation(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.click(ConversationList, offset=(5, 4))  # row 2: Maria
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages, what="the thread")
        assert thread.conversation.contact_name == "Maria Lopez"


async def test_sending_shows_queued_then_sent_then_failed_and_retry_requeues(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        thread = await open_row(pilot, 1)  # Ivan
        composer = app.query_one(Composer)
        assert composer.has_focus and not composer.disabled
        await pilot.press(*"On", "space", *"its", "space", *"way")
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.messages[-1].body == "On its way",
                         timeout=1.0, what="the message in the thread")
        assert composer.text == ""
        assert "◷ queued" in rendered_text(thread)
        inbox = app.inbox
        assert inbox is not None
        stored = await inbox.messages(thread.conversation.id)
        assert stored[-1].body == "On its way"
        assert stored[-1].state is MessageState.QUEUED
        message_id = stored[-1].id

        await inbox.store.outbox.mark_sent(message_id, "ext-1")
        await wait_until(pilot, lambda: "✓ sent" in rendered_text(thread), what="sent")

        await inbox.store.outbox.mark_failed(message_id, "Forbidden: bot was blocked by the user")
        await wait_until(pilot, lambda: "✗ failed" in rendered_text(thread), what="failed")
        assert "bot was blocked by the user" in rendered_text(thread)

        # Up from the (empty) composer selects the newest message; r retries it.
        await pilot.press("up")
        assert thread.has_focus
        assert thread.selected_id == message_id
        await pilot.press("r")

        async def requeued() -> bool:
            message = await inbox.message(message_id)
            return message is not None and message.state is MessageState.QUEUED

        for _ in range(100):
            if await requeued():
                break
            await pilot.pause(0.02)
        assert await requeued()
        await wait_until(pilot, lambda: "◷ queued" in rendered_text(thread), what="queued")


async def test_up_while_writing_and_typing_in_the_thread_keep_the_text_in_the_reply(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    """Up pressed while writing goes to the start of the text, not to the thread's
    one-letter commands; a character that is no command, typed in the thread, goes to
    the reply box, and so does the rest."""
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        thread = await open_row(pilot, 1)
        composer = app.query_one(Composer)
        await pilot.press(*"we", "space", *"deliver")
        await pilot.press("up", *"Yes,", "space")
        assert composer.has_focus and composer.text == "Yes, we deliver"
        await pilot.press("up", "up")  # to the start, then to the thread
        assert thread.has_focus
        await pilot.press(*"Sure!", "space")
        assert composer.has_focus
        assert composer.text == "Sure! Yes, we deliver"
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.messages[-1].body == "Sure! Yes, we deliver",
                         timeout=2.0, what="the reply in the thread")


async def test_empty_text_is_not_sent(tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        thread = await open_row(pilot, 1)
        before = len(await app.inbox.messages(thread.conversation.id))
        await pilot.press("space", "space", "enter", "ctrl+j", "enter")
        await pilot.pause(0.2)
        assert len(await app.inbox.messages(thread.conversation.id)) == before


async def test_the_composer_is_disabled_until_a_conversation_is_open(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        composer = app.query_one(Composer)
        assert composer.disabled
        await pilot.press("alt+3")
        assert not composer.has_focus
        await open_row(pilot, 0)
        assert not composer.disabled
        await pilot.press("escape")
        assert app.query_one(ConversationList).has_focus


async def test_ctrl_j_and_alt_enter_insert_a_newline(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        thread = await open_row(pilot, 1)
        before = len(thread.messages)
        await pilot.press("a", "ctrl+j", "b", "alt+enter", "c")
        composer = app.query_one(Composer)
        assert composer.text == "a\nb\nc"
        await pilot.pause(0.1)
        assert len(thread.messages) == before
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.messages[-1].body == "a\nb\nc", what="sent")


def test_alt_enter_from_a_plain_terminal_reads_as_a_newline_key() -> None:
    # xterm, tmux and most SSH clients send ESC CR for Alt+Enter; without the app's
    # registration Textual reads it as Enter, which would send the message.
    from opchat.widgets.composer import register_alt_enter

    register_alt_enter()

    def keys(data: str) -> list[str]:
        parser = XTermParser()
        return [event.key for event in [*parser.feed(data), *parser.feed("")]
                if hasattr(event, "key")]

    assert keys("\x1b\r") == ["ctrl+j"]
    assert keys("\n") == ["ctrl+j"]
    assert keys("\r") == ["enter"]
    assert keys("\x1b[13;3u") == ["alt+enter"]  # the kitty keyboard protocol


async def test_quick_replies_insert_their_body_at_the_cursor(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await open_row(pilot, 1)
        composer = app.query_one(Composer)
        await pilot.press(*"Hi!", "space")
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette")
        await pilot.press(*"ship")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "We ship within 2 business days." in composer.text,
                         what="the first reply")
        assert composer.text == "Hi! We ship within 2 business days."
        assert composer.has_focus
        await pilot.press("space", "ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette),
                         what="the palette again")
        await pilot.press(*"bye")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "have a nice day" in composer.text, what="the second")
        assert composer.text == ("Hi! We ship within 2 business days. "
                                 "Thank you, have a nice day!")
        # Still editable text: typing goes on at the cursor.
        await pilot.press("backspace")
        assert composer.text.endswith("nice day")
        uses = {reply.shortcut: reply.uses for reply in await app.inbox.quick_replies()}
        assert uses["ship"] == 1 and uses["bye"] == 1 and uses["hi"] == 0


async def test_a_message_ingested_while_running_appears_in_list_and_thread(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)
        thread = await open_row(pilot, 1)  # Ivan
        inbox = app.inbox
        await inbox.store.inbound.ingest(inbound("vk", "new", 1, "Nina New", "Is it in stock?",
                                                 clock()))
        await wait_until(pilot, lambda: "Nina New" in rendered_text(conversations),
                         timeout=1.0, what="the new conversation in the list")
        assert conversations.row_count == 5
        # The cursor stayed on Ivan, who moved down a row.
        assert conversations.row(conversations.cursor).contact_name == "Ivan Petrov"
        await inbox.store.inbound.ingest(inbound("shop", "ivan", 2, "Ivan Petrov", "Any news?",
                                                 clock()))
        await wait_until(pilot, lambda: "Any news?" in rendered_text(thread), timeout=1.0,
                         what="the new message in the open thread")


async def test_scrolling_to_the_top_loads_older_messages(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("shop", "telegram")
    start = clock() - 350 * 60
    await inbox.store.inbound.ingest_batch([
        inbound("shop", "long", n, "Long Talker", f"message number {n}", start + n * 60)
        for n in range(350)
    ])
    await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, rows=1)
        thread = await open_row(pilot, 0)
        assert len(thread.messages) == 100
        assert "message number 349" in rendered_text(thread)
        assert thread.scroll_y > 0
        thread.scroll_to(y=thread.scroll_y - 15, animate=False, immediate=True)
        await pilot.pause(0.1)
        assert len(thread.messages) == 100  # not near the top yet

        for expected in (200, 300, 350):
            first_shown, before = thread.messages[0], len(thread.messages)
            thread.scroll_home(animate=False, immediate=True)
            await wait_until(pilot, lambda n=expected: len(thread.messages) >= n,
                             what=f"{expected} messages")
            # The view did not jump: the older lines were added above, out of sight,
            # and the message that was at the top is still there.
            index = thread.messages.index(first_shown)
            assert index == len(thread.messages) - before > 0
            assert int(thread.scroll_y) == thread._starts[index]
            assert "Long Talker" in rendered_text(thread).splitlines()[0]
        await pilot.pause(0.1)
        assert len(thread.messages) == 350
        assert thread.messages[0].body == "message number 0"
        assert not thread.has_older


class CountingInbox(Inbox):
    """The real inbox, counting how many list rows the UI fetched."""

    rows_fetched = 0

    async def conversations(self, flt: ConversationFilter = ConversationFilter(),
                            offset: int = 0, limit: int = 50) -> list[Conversation]:
        rows = await super().conversations(flt, offset, limit)
        type(self).rows_fetched += len(rows)
        return rows


async def test_the_list_pages_through_5000_conversations(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("shop", "telegram")
    base = clock() - 10 * 86400
    await inbox.store.inbound.ingest_batch([
        inbound("shop", f"c{n:04}", 1, f"Customer {n:04}", f"question {n}", base + n)
        for n in range(5000)
    ])
    await inbox.close()
    CountingInbox.rows_fetched = 0
    app = make_app(settings, clock, inbox_class=CountingInbox)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=5000)
        assert "Customer 4999" in rendered_text(conversations)  # newest first
        await pilot.press("end")
        await wait_until(pilot, lambda: "Customer 0000" in rendered_text(conversations),
                         what="the last rows")
        assert conversations.cursor == 4999
        await pilot.press("pageup", "pageup", "k")
        await wait_until(pilot, lambda: "···" not in rendered_text(conversations),
                         what="the rows above")
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages, what="the thread")
        assert thread.conversation.id == conversations.row(conversations.cursor).id
        assert CountingInbox.rows_fetched < 500


async def test_the_lists_rows_take_a_new_themes_colours(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    """The list keeps its base and component styles between frames; a theme chosen
    from the command palette must still reach every row."""
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock, demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)

        def colours() -> set[object]:
            return {segment.style.bgcolor for y in range(conversations.size.height)
                    for segment in conversations.render_line(y) if segment.style}

        dark, dark_background = colours(), conversations.rich_style.bgcolor
        assert app.theme != "textual-light" and dark_background in dark
        app.theme = "textual-light"
        await wait_until(pilot, lambda: colours() != dark, what="the new theme's colours")
        light, light_background = colours(), conversations.rich_style.bgcolor
        # What the rows show is the light theme's background, and no longer the dark one's.
        assert light_background != dark_background
        assert light_background in light and dark_background not in light


async def test_help_lists_the_keys_and_question_mark_is_text_in_the_composer(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    from opchat.screens.help import HelpScreen

    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = "\n".join(str(static.render())
                         for static in app.screen.query(".help-group Static"))
        for words in ("Open the next conversation", "Insert a saved reply", "Send the message",
                      "Send a failed message again", "Quit opchat"):
            assert words in text
        # At 80 columns long texts wrap, and they wrap under themselves, not under the keys.
        rows = list(app.screen.query(".help-row"))
        for row in rows:
            keys, said = row.query_one(".help-keys"), row.query_one(".help-text")
            assert said.region.x >= keys.region.right and said.region.y == keys.region.y
        assert any(row.query_one(".help-text").region.height > 1 for row in rows
                   if row.region.height), "no text wrapped at 80 columns"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="closed")
        await open_row(pilot, 0)
        await pilot.press("question_mark")
        assert app.query_one(Composer).text == "?"
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help by F1")


class FailingRepliesInbox(Inbox):
    async def quick_replies(self):
        raise RuntimeError("replies table is locked")


async def test_a_failing_worker_is_logged_and_shown_in_one_line(
    tmp_path: Path, settings: Settings, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock, inbox_class=FailingRepliesInbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        await pilot.press("ctrl+r")
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: status.error is not None, what="the error line")
        assert "replies table is locked" in status.render().plain
        assert "Traceback" not in status.render().plain
        assert app.is_running
    records = [r for r in caplog.records if r.name == "opchat.ui"]
    assert records and records[0].exc_info is not None


def test_every_binding_has_an_id_for_the_keymap() -> None:
    from opchat.app import OpchatApp
    from opchat.screens.help import HelpScreen
    from opchat.screens.inbox import InboxScreen

    for owner in (OpchatApp, InboxScreen, HelpScreen, ConversationList, ThreadView, Composer):
        for binding in owner.BINDINGS:
            assert binding.id and binding.id.startswith("opchat."), (owner, binding)


async def test_the_keymap_rebinds_keys(tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed_inbox(tmp_path, clock)
    settings.keymap = {"opchat.next_conversation": "f6"}  # as [keymap] in the config
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("f6")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.conversation is not None, what="next by f6")
        assert thread.conversation.contact_name == "Oleg Sidorov"  # nothing was open: the first
        await pilot.press("f6")
        await wait_until(pilot, lambda: thread.conversation.contact_name == "Ivan Petrov",
                         what="the next by f6")


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_footer_fits_80_columns(
    tmp_path: Path, settings: Settings, clock: Clock, language: str
) -> None:
    from textual.widgets import Footer

    from opchat.i18n import set_language

    set_language(language)
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await open_row(pilot, 0)
        footer = app.query_one(Footer)
        for focus in ("alt+1", "alt+2", "alt+3"):
            await pilot.press(focus)
            await pilot.pause(0.1)
            keys = [key for key in footer.query("FooterKey")]
            assert keys
            right = max(key.region.right for key in keys)  # gaps between keys included
            assert right <= 80, (focus, [key.description for key in keys], right)
            assert footer.scroll_x == 0


async def test_a_colleagues_reply_is_shown_with_their_name_in_the_list(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    colleague = await Inbox.open(tmp_path, "boris", clock=clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)
        ivan = next(c for c in await colleague.conversations() if c.contact_name == "Ivan Petrov")
        await colleague.send(ivan.id, "On its way")
        await wait_until(pilot, lambda: "boris: On its way" in rendered_text(conversations),
                         timeout=2.0, what="the colleague's reply in the list")
        await app.inbox.send(ivan.id, "Tracking number follows")
        await wait_until(pilot, lambda: "You: Tracking" in rendered_text(conversations),
                         timeout=2.0, what="my reply in the list")
    await colleague.close()


async def test_a_fresh_inbox_says_where_to_start(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one(StatusBar)
        await wait_until(pilot, lambda: status.waiting is not None, what="the status bar")
        assert "no channels: see opchat doctor" in status.render().plain
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: conversations.loaded, what="the list")
        assert "No conversations yet" in rendered_text(conversations)


async def test_keys_typed_right_after_enter_reach_the_reply(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        # One burst, as a fast typist or a pasted line arrives: nothing may be lost.
        await pilot.press("enter", "H", "e", "l", "l", "o")
        composer = app.query_one(Composer)
        await wait_until(pilot, lambda: composer.text == "Hello", what="the typed text")
        assert composer.has_focus
        # Back in the list, typing goes to the open dialog's reply too; j/k still move.
        await pilot.press("escape", "j", "!")
        assert composer.text == "Hello!"
        assert app.query_one(ConversationList).cursor == 1


async def test_next_with_nothing_open_opens_the_dialog_under_the_cursor(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot)
        first = conversations.row(0)
        await pilot.press("ctrl+n")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.conversation is not None, what="a dialog")
        assert thread.conversation.id == first.id


def _settled(app) -> bool:
    """No change events waiting to be drawn and no worker still at it (the followers,
    the keys and the hub run for as long as the app does)."""
    return (not app._pending and app._flush_timer is None
            and not any(worker.is_running for worker in app.workers
                        if worker.group not in ("keys", "follow", "hub")))


async def test_a_message_in_the_open_dialog_refreshes_the_list_and_counts_once(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    from opchat.model import EventKind

    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)
        ivan = next(conversations.row(i) for i in range(4)
                    if conversations.row(i).contact_name == "Ivan Petrov")
        flushed: list[str] = []
        apply = app.inbox_screen.apply_events

        def recording(events) -> None:
            flushed.extend(event.kind for event in events)
            apply(events)

        app.inbox_screen.apply_events = recording
        thread = await open_row(pilot, conversations.cursor if conversations.cursor_id
                                == ivan.id else [conversations.row(i).id
                                                 for i in range(4)].index(ivan.id))
        # Opening it wrote a read mark; once that is drawn, nothing else is under way.
        await wait_until(pilot, lambda: EventKind.CONVERSATION_READ in flushed
                         and _settled(app), what="the read mark of opening the dialog")
        inbox = app.inbox
        statements: list[tuple[str, str]] = []
        inbox.store.db.trace(lambda connection, sql: statements.append((connection, sql)))
        flushed.clear()
        try:
            await inbox.store.inbound.ingest(inbound("shop", "ivan", 2, "Ivan Petrov", "Any news?",
                                                     clock()))

            def done() -> bool:
                row = conversations.row(0)
                return ("Any news?" in rendered_text(thread)
                        and EventKind.CONVERSATION_READ in flushed
                        and row is not None and row.id == ivan.id and row.unread == 0
                        and row.preview == "Any news?" and _settled(app))

            await wait_until(pilot, done, what="the message drawn and read")
        finally:
            inbox.store.db.trace(None)
        reads = [sql for connection, sql in statements if connection == "reader"
                 and sql.lstrip().upper().startswith("SELECT")]
        listed = "\n".join(reads)
        counts = [sql for sql in reads if sql.startswith("SELECT (SELECT count(*)")]
        pages = [sql for sql in reads if sql.startswith("SELECT c.id FROM conversations")]
        # For the message: the list's count with the cursor's place, its page, then the
        # views' and the status bar's counts; the read mark it causes reads nothing.
        # (Before: 17 statements on conversations, the list and the counts twice.)
        assert len([sql for sql in reads if "FROM conversations" in sql]) <= 5, listed
        assert len(counts) == 2 and len(pages) == 1, listed
        assert len(reads) <= 10, listed
        assert "Any news?" in rendered_text(conversations)
        assert conversations.row(conversations.cursor).id == ivan.id
        status = app.query_one(StatusBar)
        assert status.waiting == 4 and status.failed == 1
        tabs = app.inbox_screen.view_tabs
        assert tabs.counts == {"mine": 0, "unassigned": 4, "all": 4, "waiting": 4}


async def test_a_read_mark_from_another_process_takes_the_badge_away_without_a_reload(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)
        maria = next(conversations.row(i) for i in range(4)
                     if conversations.row(i).contact_name == "Maria Lopez")
        assert maria.unread == 2
        await wait_until(pilot, lambda: _settled(app), what="the start to settle")
        before = rendered_text(conversations)
        statements: list[str] = []
        app.inbox.store.db.trace(lambda connection, sql: statements.append(sql))
        other = await Inbox.open(tmp_path, "boris", clock=clock)  # a second operator
        try:
            await other.mark_read(maria.id)
        finally:
            await other.close()

        def read() -> bool:
            row = next(conversations.row(i) for i in range(4)
                       if conversations.row(i).id == maria.id)
            return row.unread == 0

        await wait_until(pilot, lambda: read() and _settled(app), what="the badge to go")
        app.inbox.store.db.trace(None)
        assert not [sql for sql in statements if "FROM conversations" in sql]
        after = rendered_text(conversations)
        assert after != before
        conversations.reload()  # what a full reload shows is what is shown already
        await wait_until(pilot, lambda: _settled(app), what="the reload")
        assert rendered_text(conversations) == after


class SlowListInbox(Inbox):
    """The real inbox, whose list pages wait until the test lets them through."""

    release: asyncio.Event | None = None
    waiting = 0

    async def conversations(self, flt: ConversationFilter = ConversationFilter(),
                            offset: int = 0, limit: int = 50) -> list[Conversation]:
        rows = await super().conversations(flt, offset, limit)
        if type(self).release is not None:
            type(self).waiting += 1
            await type(self).release.wait()
        return rows


async def test_a_read_mark_during_a_reload_is_not_undone_by_the_rows_it_fetched(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    SlowListInbox.release, SlowListInbox.waiting = None, 0
    app = make_app(settings, clock, inbox_class=SlowListInbox)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot, rows=4)
        maria = next(conversations.row(i) for i in range(4)
                     if conversations.row(i).contact_name == "Maria Lopez")
        SlowListInbox.release = asyncio.Event()
        conversations.reload()
        await wait_until(pilot, lambda: SlowListInbox.waiting, what="the page read")
        # Read after its page was: the event is applied here, as the app applies it.
        conversations.mark_read(maria.id)
        SlowListInbox.release.set()
        await wait_until(pilot, lambda: _settled(app), what="the reload")
        rows = [conversations.row(i) for i in range(4)]
        assert next(row for row in rows if row.id == maria.id).unread == 0
        assert any(row.unread for row in rows)  # the others keep theirs

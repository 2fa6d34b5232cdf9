"""The search screen (Ctrl+F) end to end: a real store in tmp_path, driven through Pilot."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from textual.widgets import Input

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.screens.search import SearchScreen
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.thread_view import PAGE, ThreadView
from tests.functional.conftest import (
    Clock,
    inbound,
    make_app,
    rendered_text,
    seed_inbox,
    wait_until,
)
from tests.functional.test_untrusted_text import assert_harmless

pytestmark = pytest.mark.usefixtures("utc", "english")

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


async def started(pilot) -> ConversationList:
    conversations = pilot.app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.loaded and conversations.row(0) is not None,
                     what="the list to load")
    return conversations


async def search(pilot, text: str) -> SearchScreen:
    """Ctrl+F, type `text`, wait for its results."""
    await pilot.press("ctrl+f")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen),
                     what="the search screen")
    screen = pilot.app.screen
    await pilot.press(*text)
    await wait_until(pilot, lambda: screen.shown_query == text, what=f"results for {text!r}")
    return screen


def prompts(screen: SearchScreen) -> list[str]:
    return [str(option.prompt) for option in screen.results.options]


async def test_ctrl_f_finds_as_you_type_and_highlights_the_match(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = await search(pilot, "wher")
        assert screen.input.has_focus
        [prompt] = screen.results.options
        assert "Where is my order #4411?" in str(prompt.prompt)
        assert "Ivan Petrov" in str(prompt.prompt) and "shop" in str(prompt.prompt)
        assert "11:59" in str(prompt.prompt)  # 45 seconds before noon, today
        # The match is drawn in the match style, and nothing else is.
        match = screen.get_visual_style("search-screen--match")
        content = prompt.prompt
        styled = {content.plain[span.start:span.end] for span in content.spans
                  if span.style == match}
        assert styled == {"Where"}
        assert "1 result" in str(screen.query_one("#search-status").render())
        # Typing on narrows or widens the results without pressing anything else.
        await pilot.press("backspace", "backspace", "backspace", "backspace", *"the")
        await wait_until(pilot, lambda: screen.shown_query == "the", what="the new results")
        assert len(prompts(screen)) == 3  # "the" starts words in three messages
        # Esc closes, and nothing was opened.
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SearchScreen), what="closed")
        assert app.query_one(ThreadView).conversation is None


async def test_enter_opens_an_old_message_selected_beyond_the_newest_page(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    """The found message is message 20 of 350: three pages before the newest one."""
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("shop", "telegram")
    now = clock()
    await inbox.store.inbound.ingest_batch([
        inbound("shop", "long", n, "Nina Long",
                "the word is zanzibar" if n == 20 else f"just message {n}", now - 4000 + n)
        for n in range(350)])
    found_id = (await inbox.search("zanzibar"))[0].message_id
    await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = await search(pilot, "zanz")
        assert len(screen.results.options) == 1
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, SearchScreen), what="closed")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages and thread.selected_id == found_id,
                         what="the thread at the found message")
        assert thread.has_focus
        assert thread.conversation.contact_name == "Nina Long"
        assert "the word is zanzibar" in rendered_text(thread)  # scrolled to it
        assert "just message 349" not in rendered_text(thread)
        assert thread.has_newer
        # Scrolling down fetches the pages after it, up to the newest.
        for _ in range(40):
            if not thread.has_newer:
                break
            thread.scroll_end(animate=False, immediate=True, force=True)
            await pilot.pause(0.05)
        assert not thread.has_newer
        assert thread.messages[-1].body == "just message 349"
        ids = [m.id for m in thread.messages]
        assert ids == sorted(set(ids))  # no gap, no duplicate


async def test_end_and_a_reply_jump_to_the_newest_from_an_old_message(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("shop", "telegram")
    now = clock()
    await inbox.store.inbound.ingest_batch([
        inbound("shop", "long", n, "Nina Long", "mango" if n == 5 else f"m{n}", now - 500 + n)
        for n in range(PAGE * 2)])
    await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await search(pilot, "mango")
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.selected is not None
                         and thread.selected.body == "mango", what="the found message")
        await pilot.press("end")
        await wait_until(pilot, lambda: thread.selected is not None
                         and thread.selected.body == f"m{PAGE * 2 - 1}", what="the newest")
        assert not thread.has_newer
        # From an old message again, a reply shows the bottom of the thread with it.
        await search(pilot, "mango")
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.selected is not None and thread.has_newer
                         and thread.selected.body == "mango", what="the found message again")
        composer = app.query_one(Composer)
        composer.focus()
        await pilot.press(*"hi", "enter")
        await wait_until(pilot, lambda: thread.messages and thread.messages[-1].body == "hi",
                         what="the reply at the bottom")
        assert not thread.has_newer
        assert "hi" in rendered_text(thread)


async def test_up_down_move_in_the_results_while_typing_goes_to_the_input(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = await search(pilot, "the")
        assert screen.results.highlighted == 0
        await pilot.press("down", "down")
        assert screen.results.highlighted == 2
        await pilot.press("up")
        assert screen.results.highlighted == 1
        assert screen.input.has_focus and screen.input.value == "the"
        chosen = screen.targets[1]
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.selected_id == chosen.message_id,
                         what="the second result opened")
        assert thread.conversation.id == chosen.conversation_id


async def test_enter_right_after_typing_opens_the_first_result(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), what="search")
        await pilot.press(*"kazakh", "enter")  # well within the debounce
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.selected is not None, what="the hit opened")
        assert thread.selected.body == "Do you ship to Kazakhstan?"
        assert not isinstance(app.screen, SearchScreen)


class SlowSearchInbox(Inbox):
    """search_all waits for the test to let it go: the UI must not wait with it."""

    release: asyncio.Event
    calls: list[str]

    async def search_all(self, query: str, limit: int = 50):
        type(self).calls.append(query)
        await type(self).release.wait()
        return await super().search_all(query, limit)


async def test_typing_never_waits_for_the_database_and_only_the_last_query_shows(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    SlowSearchInbox.release = asyncio.Event()
    SlowSearchInbox.calls = []
    app = make_app(settings, clock, inbox_class=SlowSearchInbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), what="search")
        screen = app.screen
        await pilot.press(*"whe")
        # A loaded machine may let the pause before a search pass between two keys: a
        # search for "w" or "wh" may come first, and hang as well.
        await wait_until(pilot, lambda: SlowSearchInbox.calls[-1:] == ["whe"],
                         what="a search")
        await pilot.press(*"re")  # typed while the first search hangs
        assert screen.input.value == "where"
        await wait_until(pilot, lambda: SlowSearchInbox.calls[-1:] == ["where"],
                         what="the second search")
        assert "whe" in SlowSearchInbox.calls
        assert "Searching" in str(screen.query_one("#search-status").render())
        SlowSearchInbox.release.set()
        await wait_until(pilot, lambda: screen.shown_query == "where", what="the results")
        assert len(screen.results.options) == 1
        await pilot.pause(0.3)
        assert screen.shown_query == "where"  # the first query's results never came in


async def test_contacts_and_labels_are_results_too(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.inbound.ingest(inbound("wa", "maria", 3, "Maria Lopez", "ok", clock() - 10))
    await inbox.store.inbound.ingest(inbound("wa", "maria2", 1, "Maria Lopez", "second dialog",
                                             clock() - 5000))
    older = await inbox.store.inbound.ingest(inbound("vk", "oleg", 9, "Oleg Sidorov", "again",
                                                     clock() - 20))
    await inbox.store.db.write(lambda conn: conn.execute(
        "INSERT INTO labels (name, created_at) VALUES ('wholesale', 0)"))
    await inbox.store.db.write(lambda conn: conn.execute(
        "INSERT INTO conversation_labels (conversation_id, label_id) "
        "SELECT ?, id FROM labels WHERE name = 'wholesale'", (older.conversation_id,)))
    await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = await search(pilot, "lopez")
        texts = prompts(screen)
        assert len(texts) == 2 and all("contact: Maria Lopez" in t for t in texts)
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.messages, what="Maria's newest dialog")
        assert thread.messages[-1].body == "ok"
        assert app.query_one(Composer).has_focus  # a conversation, not a message: answer it

        screen = await search(pilot, "whole")
        [text] = prompts(screen)
        assert "label: #wholesale" in text and "Oleg Sidorov" in text
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.conversation.id == older.conversation_id,
                         what="the labelled conversation")


async def test_customer_text_in_results_is_literal_and_harmless(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("shop", "telegram")
    await inbox.store.inbound.ingest(inbound(
        "shop", "evil", 1, "[b]Mallory[/b]\x1b]0;pwned\x07",
        "refund [@click=app.quit]now[/] \x1b[2J\x1b[31mred\x02fake\x03 \u202edesrever",
        clock() - 60))
    await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = await search(pilot, "refund")
        [text] = prompts(screen)
        assert "[@click=app.quit]now[/]" in text and "[b]Mallory[/b]" in text
        assert "⟪RLO⟫" in text
        assert not CONTROL.search(text)
        match = screen.get_visual_style("search-screen--match")
        content = screen.results.options[0].prompt
        # The marker characters the customer sent highlight nothing.
        assert not [span for span in content.spans if span.style == match
                    and "fake" in content.plain[span.start:span.end]]
        assert_harmless(list(app.screen._compositor.render_strips()), "search results")
        await pilot.press("enter")
        assert app.is_running


async def test_the_search_screen_fits_80_by_24(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = await search(pilot, "the")
        for widget in (screen.input, screen.results, screen.query_one("#search-status")):
            region = widget.region
            assert region.width > 0 and region.height > 0, widget
            assert region.right <= 80 and region.bottom <= 24, widget
        assert screen.results.region.height >= 12  # room for six two-line results
        assert screen.input.region.y < screen.results.region.y


async def test_ctrl_f_works_while_typing_a_reply(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        conversations = await started(pilot)
        await pilot.press("enter")
        composer = app.query_one(Composer)
        await wait_until(pilot, lambda: composer.has_focus, what="the composer")
        await pilot.press(*"draft", "home")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen), what="search")
        assert composer.text == "draft"  # not "delete word right"
        assert app.screen.query_one(Input).has_focus
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SearchScreen), what="closed")
        assert conversations is app.query_one(ConversationList)


async def test_a_message_of_the_open_conversation_is_selected_in_place(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await search(pilot, "blue")
        await pilot.press("enter")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: thread.selected is not None
                         and thread.selected.body == "Hi! I ordered the blue one", what="blue")
        loaded = list(thread.messages)
        await search(pilot, "red")
        await pilot.press("enter")
        await wait_until(pilot, lambda: thread.selected is not None
                         and thread.selected.body == "but got the red one 😕", what="red")
        assert thread.messages == loaded  # selected where it was, nothing fetched again
        assert thread.has_focus


async def test_the_key_is_in_the_help_and_every_binding_has_an_id(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    from opchat.screens.help import HelpScreen

    for binding in SearchScreen.BINDINGS:
        assert binding.id and binding.id.startswith("opchat.search."), binding
    await seed_inbox(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        text = "\n".join(str(static.render()) for static in app.screen.query(".help-group Static"))
        assert "^f" in text and "Search every message, contact and label" in text

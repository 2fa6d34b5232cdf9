"""The reply window as the operator meets it: the list's ⌛ and the title's countdown,
a free reply refused (and kept) once the window has closed, and Alt+T writing from an
approved template instead, sent as that template.

The app runs through Pilot on a real SQLite file; the channel's window and its
templates are what a WhatsApp hub records (capabilities, templates table).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import Conversation, MessageState, Template
from opchat.screens.pick import PickScreen
from opchat.screens.thread_pane import ThreadPane
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from tests.functional.conftest import Clock, inbound, make_app, rendered_text, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

DAY = 24 * 3600
REMINDER = Template("visit_reminder", "en_US", body="Hello {{1}}, see you on {{2}}.",
                    footer="Lucky Shrub")


async def seed(tmp_path: Path, clock: Clock, wrote_ago: float) -> None:
    """A WhatsApp dialog whose customer last wrote ``wrote_ago`` seconds ago."""
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure("wa", "whatsapp")
        await inbox.store.channels.set_capabilities("wa", {"media": True, "reply_window": DAY,
                                                          "templates": True})
        await inbox.store.templates.replace("wa", [
            REMINDER, Template("draft_one", "en_US", status="PENDING", body="Not yet {{1}}")])
        await inbox.store.inbound.ingest(inbound("wa", "79161234567", 1, "Ivan Petrov",
                                                 "Is my order ready?", clock() - wrote_ago))
    finally:
        await inbox.close()


async def open_dialog(pilot) -> ThreadPane:
    conversations = pilot.app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.loaded and conversations.row(0) is not None,
                     what="the list")
    conversations.focus()
    await pilot.press("enter")
    pane = pilot.app.query_one(ThreadPane)
    await wait_until(pilot, lambda: pane.thread.messages, what="the thread")
    return pane


def title(pane: ThreadPane) -> str:
    return rendered_text(pane.query_one("#thread-title"))


async def test_the_title_and_the_list_say_how_long_the_window_has_left(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed(tmp_path, clock, wrote_ago=22 * 3600)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_dialog(pilot)
        await wait_until(pilot, lambda: "⌛ 2h left to reply" in title(pane),
                         what="the countdown")
        conversations = app.query_one(ConversationList)
        assert "⌛2h" in rendered_text(conversations)
        clock.now += 3 * 3600  # the window closes while the dialog is open
        pane._window_tick()
        await wait_until(pilot, lambda: "⌛ template only: Alt+T"
                         in title(pane), what="the window closed")


async def test_a_free_reply_past_the_window_is_refused_and_kept_then_a_template_goes(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed(tmp_path, clock, wrote_ago=DAY + 600)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_dialog(pilot)
        composer = app.query_one(Composer)
        composer.focus()
        await pilot.press(*"Are you still there?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: composer.text == "Are you still there?",
                         what="the text given back")
        notices = [n.message for n in app._notifications]
        assert any("takes only an approved template now. Alt+T picks one." in n
                   for n in notices)
        conversation: Conversation = pane.opened
        assert len(await app.inbox.messages(conversation.id)) == 1  # nothing queued

        composer.clear()
        await pilot.press("alt+t")
        await wait_until(pilot, lambda: isinstance(app.screen, PickScreen),
                         what="the template picker")
        offered = [str(option.prompt) for option in app.screen.query_one(OptionList).options]
        assert offered == ["visit_reminder (en_US)  Hello {{1}}, see you on {{2}}."]
        # (the pending template is not offered)
        await pilot.press("enter")
        await wait_until(pilot, lambda: composer.text.startswith("Hello {value_1}"),
                         what="the template's text in the reply box")
        assert "Template visit_reminder" in str(composer.border_title)
        # The first variable is selected: the operator types over it, Tab to the next.
        await pilot.press(*"Ivan", "tab", *"Friday 10:00", "enter")

        async def queued():
            messages = await app.inbox.messages(conversation.id)
            return messages[1:] or None

        [sent] = await wait_until_value(pilot, queued)
    assert sent.state is MessageState.QUEUED
    assert sent.body == "Hello Ivan, see you on Friday 10:00.\n\nLucky Shrub"
    assert sent.meta["template"] == {"name": "visit_reminder", "language": "en_US",
                                     "header": [], "body": ["Ivan", "Friday 10:00"]}


async def test_a_template_whose_words_were_changed_is_refused_saying_so(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    await seed(tmp_path, clock, wrote_ago=DAY + 600)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_dialog(pilot)
        composer = app.query_one(Composer)
        pane.templates[pane.opened.id] = REMINDER
        composer.load_text("Hi Ivan, come whenever you like!")
        composer.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: composer.text == "Hi Ivan, come whenever you like!",
                         what="the text given back")
        assert any("Template visit_reminder: the text must keep the template's own words"
                   in n.message for n in app._notifications)
        # A variable left as it was: the reply box asks first, then it is named.
        composer.load_text("Hello Ivan, see you on {value_2}.\n\nLucky Shrub")
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmSend",
                         what="the reply box asking")
        await pilot.press("y")
        await wait_until(pilot, lambda: any("fill in {value_2}" in n.message
                                            for n in app._notifications),
                         what="the unfilled variable named")
        pane.templates[pane.opened.id] = REMINDER
        composer.load_text("Hi Ivan, come whenever you like!")
        composer.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: composer.text == "Hi Ivan, come whenever you like!",
                         what="the text given back")
        assert any("Template visit_reminder: the text must keep the template's own words"
                   in n.message for n in app._notifications)


async def wait_until_value(pilot, get, timeout: float = 3.0):
    found = []

    async def check() -> None:
        found[:] = [await get()]

    await check()
    deadline = 0.0
    while not found[0]:
        await pilot.pause(0.05)
        await check()
        deadline += 0.05
        if deadline > timeout:
            raise AssertionError("timed out")
    return found[0]


async def test_where_no_template_may_go_the_closed_window_says_to_wait_for_the_customer(
        tmp_path: Path, settings: Settings, clock: Clock) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure("fb", "messenger")
        await inbox.store.channels.set_capabilities("fb", {"reply_window": DAY})
        await inbox.store.inbound.ingest(inbound("fb", "6783459210987654", 1, "Maria",
                                                 "Hello?", clock() - DAY - 60))
    finally:
        await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_dialog(pilot)
        await wait_until(pilot, lambda: "⌛ closed until they write" in title(pane),
                         what="the closed window")
        composer = app.query_one(Composer)
        composer.load_text("Sorry for the wait!")
        composer.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("takes no reply until they write again" in n.message
                                            for n in app._notifications),
                         what="the refusal")
        assert composer.text == "Sorry for the wait!"

"""The contact panel, merging and hiding, driven through Pilot on a real store."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.model import InboundMessage
from opchat.screens.confirm import ConfirmScreen
from opchat.screens.notes import NotesScreen
from opchat.store import DB_FILENAME
from opchat.widgets.contact_panel import ContactPanel
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import Clock, make_app, rendered, rendered_text, wait_until
from tests.functional.test_untrusted_text import HOSTILE, assert_harmless, screen_strips

pytestmark = pytest.mark.usefixtures("utc", "english")

PROFILE = {
    "page": "https://shop.example/boots?size=42",
    "referrer": "https://search.example/?q=winter+boots",
    "language": "ru-RU",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "screen": "1920x1080",
}


def message(channel: str, chat: str, n: int, name: str, body: str, at: float,
            sender: str, **kw) -> InboundMessage:
    return InboundMessage(channel=channel, chat_id=chat, external_id=f"{chat}-{n}",
                          sender_id=sender, sender_name=name, body=body, sent_at=at, **kw)


async def seed(data_dir: Path, clock: Clock) -> None:
    """A web visitor with two dialogs, the same person on Telegram, and a stranger."""
    inbox = await Inbox.open(data_dir, "anna", clock=clock)
    try:
        now = clock()
        await inbox.store.channels.ensure("site", "webchat")
        await inbox.store.channels.ensure("shop", "telegram")
        await inbox.store.inbound.ingest_batch([
            message("site", "v1-old", 1, "Visitor 1", "Do you have boots?", now - 86400 * 3,
                    "v1", profile=PROFILE, phone="+7 (912) 345-67-89"),
            message("shop", "tg1", 1, "Ivan", "Hi, it's Ivan from the site", now - 600, "t1",
                    phone="79123456789", username="ivan_p"),
            message("site", "v1", 1, "Visitor 1", "Boots in size 42?", now - 300, "v1",
                    profile=PROFILE, labels=("boots",)),
            message("site", "v1", 2, "Visitor 1", "And the price?", now - 200, "v1"),
            message("shop", "tg2", 1, "Olga", "Hello", now - 100, "t2"),
        ])
    finally:
        await inbox.close()


def db_rows(tmp_path: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def open_named(pilot, name: str, preview: str | None = None) -> ThreadView:
    conversations = pilot.app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.loaded and conversations.row(0) is not None,
                     what="the list")
    for index in range(conversations.row_count):
        row = conversations.row(index)
        if row is not None and row.contact_name == name and (
                preview is None or preview in row.preview):
            conversations.focus()
            conversations.move_cursor(index)
            await pilot.press("enter")
            thread = pilot.app.query_one(ThreadView)
            await wait_until(pilot, lambda r=row, t=thread: t.conversation is not None
                             and t.conversation.id == r.id and t.messages,
                             what=f"the thread of {name}")
            return thread
    raise AssertionError(f"{name} is not in the list")


async def shown_panel(pilot) -> ContactPanel:
    await pilot.press("alt+i")
    panel = pilot.app.query_one(ContactPanel)
    await wait_until(pilot, lambda: panel.shown and panel.loaded and panel.card is not None,
                     what="the contact panel")
    await pilot.pause()
    return panel


def option_index(panel: ContactPanel, option_id: str) -> int:
    for index in range(panel.option_count):
        if panel.get_option_at_index(index).id == option_id:
            return index
    raise AssertionError(f"no option {option_id}")


def panel_text(panel: ContactPanel) -> str:
    """Every line of the panel, scrolled through from the top."""
    panel.scroll_home(animate=False, immediate=True)
    lines: list[str] = []
    for top in range(0, max(panel.virtual_size.height, 1), max(panel.size.height, 1)):
        panel.scroll_to(y=top, animate=False, immediate=True)
        lines.append(rendered_text(panel))
    # Long values wrap: read the panel as one run of words.
    return re.sub(r"\s+", " ", "\n".join(lines).replace("▏", " "))


async def test_alt_i_shows_who_the_visitor_is_and_every_conversation(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_named(pilot, "Visitor 1", "price")
        panel = await shown_panel(pilot)
        assert panel.has_focus
        # At 80 columns the panel takes the thread's place; the list stays.
        assert not app.query_one("#thread-pane").display
        assert app.query_one(ConversationList).display
        text = panel_text(panel)
        for expected in ("Visitor 1", "+7 (912) 345-67-89", "page: https://shop.example/boots",
                         "referrer: https://search.example", "language: ru-RU",
                         "user agent: Mozilla/5.0", "screen: 1920x1080", "labels: boots",
                         "no notes yet", "Ivan · same phone · 1 conversation"):
            assert expected in text, f"{expected!r} not in:\n{text}"
        card = panel.card
        assert card is not None
        # Newest first, on every channel: the open dialog, then the one from three days ago.
        assert [c.preview for c in card.conversations] == ["And the price?",
                                                          "Do you have boots?"]
        await pilot.press("alt+i")
        assert not panel.shown and app.query_one("#thread-pane").display


async def test_enter_on_a_listed_conversation_opens_it(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_named(pilot, "Visitor 1", "price")
        panel = await shown_panel(pilot)
        card = panel.card
        assert card is not None
        older = card.conversations[1]
        panel.highlighted = option_index(panel, f"conversation-{older.id}")
        await pilot.press("enter")
        screen = app.screen
        await wait_until(pilot, lambda: screen.opened is not None
                         and screen.opened.id == older.id, what="the older dialog to open")
        thread = app.query_one(ThreadView)
        await wait_until(pilot, lambda: [m.body for m in thread.messages]
                         == ["Do you have boots?"], what="its thread")
        # At 80 columns the panel steps aside for the thread it opened.
        assert not panel.shown and app.query_one("#thread-pane").display


async def test_the_panel_sits_beside_the_thread_and_follows_it_when_wide(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await open_named(pilot, "Visitor 1", "price")
        panel = await shown_panel(pilot)
        assert app.query_one("#thread-pane").display
        visitor = panel.card
        assert visitor is not None
        await open_named(pilot, "Olga")
        await wait_until(pilot, lambda: panel.card is not None
                         and panel.card.contact.name == "Olga", what="the panel to follow")
        assert panel.card.suggestions == ()


async def test_merge_asks_with_what_moves_then_merges(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_named(pilot, "Visitor 1", "price")
        panel = await shown_panel(pilot)
        card = panel.card
        assert card is not None
        [suggestion] = card.suggestions
        panel.highlighted = option_index(panel, f"suggestion-{suggestion.contact.id}")

        # Escape: nothing happens.
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                         what="the confirmation")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen),
                         what="the confirmation to close")
        await pilot.pause(0.1)
        assert db_rows(tmp_path, "SELECT count(*) FROM events "
                       "WHERE kind = 'contact.merged'") == [(0,)]

        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                         what="the confirmation")
        confirm = app.screen
        text = "\n".join(strip.text for strip in screen_strips(app))
        for expected in ("Merge these contacts?", f"Keep: Visitor 1 (#{card.contact.id})",
                         f"Merge into it: Ivan (#{suggestion.contact.id})",
                         "identity TG shop · Ivan @ivan_p", "conversation #",
                         "Hi, it's Ivan from the site", "name: Visitor 1",
                         "phone: +7 (912) 345-67-89"):
            assert expected in text, f"{expected!r} not in:\n{text}"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not confirm, what="the merge")
        await wait_until(pilot, lambda: panel.card is not None
                         and len(panel.card.identities) == 2, what="the merged card")
        assert {c.channel_name for c in panel.card.conversations} == {"site", "shop"}
        assert panel.card.suggestions == ()
        [(operator, data)] = db_rows(tmp_path, "SELECT operator, data FROM events "
                                     "WHERE kind = 'contact.merged'")
        assert operator == "anna"
        assert json.loads(data)["merged"] == suggestion.contact.id
        assert db_rows(tmp_path, "SELECT merged_into FROM contacts WHERE id = ?",
                       suggestion.contact.id) == [(card.contact.id,)]


async def test_notes_are_edited_in_a_text_area_and_saved(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_named(pilot, "Olga")
        panel = await shown_panel(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NotesScreen), what="the editor")
        await pilot.press(*"Prefers calls")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: panel.card is not None
                         and panel.card.notes == "Prefers calls", what="the saved notes")
        assert "Prefers calls" in panel_text(panel)
        [(operator,)] = db_rows(tmp_path, "SELECT operator FROM events "
                                "WHERE kind = 'contact.notes'")
        assert operator == "anna"


async def test_hiding_a_message_asks_then_takes_it_off_with_a_trace(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = await open_named(pilot, "Visitor 1", "price")
        await pilot.press("alt+2")  # the thread, the newest message selected
        assert thread.selected is not None and thread.selected.body == "And the price?"
        hidden_id = thread.selected.id
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                         what="the confirmation")
        assert "And the price?" in "\n".join(s.text for s in screen_strips(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: [m.body for m in thread.messages]
                         == ["Boots in size 42?"], what="the message to leave the thread")
        assert db_rows(tmp_path, "SELECT hidden FROM messages WHERE id = ?",
                       hidden_id) == [(1,)]
        assert db_rows(tmp_path, "SELECT operator, message_id FROM events "
                       "WHERE kind = 'message.hidden'") == [("anna", hidden_id)]
        conversations = app.query_one(ConversationList)
        await wait_until(pilot, lambda: "Boots in size 42?" in rendered_text(conversations),
                         what="the preview to change")


async def test_hiding_a_conversation_asks_then_it_leaves_the_list(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_named(pilot, "Olga")
        conversations = app.query_one(ConversationList)
        count = conversations.row_count
        olga = app.screen.opened
        await pilot.press("alt+h")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                         what="the confirmation")
        await pilot.press("n")  # changed their mind
        await pilot.pause(0.1)
        assert conversations.row_count == count
        await pilot.press("alt+h")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                         what="the confirmation")
        await pilot.press("y")
        await wait_until(pilot, lambda: conversations.row_count == count - 1,
                         what="the list to shrink")
        assert "Olga" not in rendered_text(conversations)
        # The next dialog opens in its place.
        await wait_until(pilot, lambda: app.screen.opened is not None
                         and app.screen.opened.id != olga.id, what="the next dialog")
        assert db_rows(tmp_path, "SELECT operator, conversation_id FROM events "
                       "WHERE kind = 'conversation.hidden'") == [("anna", olga.id)]


async def test_hostile_contact_fields_and_profiles_show_literally(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    await inbox.store.channels.ensure("site", "webchat")
    evil_profile = {f"key{n}": text for n, text in enumerate(HOSTILE)}
    evil_profile["page"] = "[link=https://evil.example]shop[/link]\x1b]8;;https://e.x\x07"
    evil_profile["[bold]k[/]\x1b[2J"] = {"nested": "[@click=app.quit]q[/]"}
    got = await inbox.store.inbound.ingest(InboundMessage(
        "site", "v9", "v9-1", "v9", "[bold]Evil[/] \x1b]0;pwned\x07\u202eeman", "hi",
        phone="[@click=app.quit]+1[/]\x1b[31m", email="[b]x@y.z[/b]\x9b31m",
        username="[i]u[/i]\x07", profile=evil_profile, labels=("[bold]vip[/]",)))
    conversation = await inbox.conversation(got.conversation_id)
    assert conversation is not None
    await inbox.set_contact_notes(conversation.contact_id,
                                  "[bold]note[/]\n\x1b]52;c;aGk=\x07line 2")
    await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_named(pilot, "[bold]Evil[/] \x1b]0;pwned\x07\u202eeman")
        panel = await shown_panel(pilot)
        panel.scroll_home(animate=False, immediate=True)
        text_seen = []
        for top in range(0, max(panel.virtual_size.height, 1), max(panel.size.height, 1)):
            panel.scroll_to(y=top, animate=False, immediate=True)
            await pilot.pause()
            assert_harmless(rendered(panel), f"contact panel at {top}")
            text_seen.append(rendered_text(panel))
        text = "\n".join(text_seen)
        for literal in ("[bold]Evil[/]", "⟪RLO⟫", "[@click=app.quit]+1[/]", "[b]x@y.z[/b]",
                        "@[i]u[/i]", "page: [link=https://evil.example]shop[/link]",
                        "key0: [bold]x[/]", "[bold]note[/]", "line 2",
                        '[bold]k[/]: {"nested": "[@click=app.quit]q[/]"}'):
            assert literal in text, f"{literal!r} not in:\n{text}"
        # The merge and notes dialogs show the same fields: harmless there too.
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NotesScreen), what="the editor")
        await pilot.pause()
        assert_harmless(screen_strips(app), "the notes editor")
        assert "[bold]Evil[/]" in "\n".join(s.text for s in screen_strips(app))


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_the_footer_fits_80_columns_with_the_panel(
    tmp_path: Path, settings: Settings, clock: Clock, language: str
) -> None:
    from textual.widgets import Footer

    from opchat.i18n import set_language

    set_language(language)
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_named(pilot, "Olga")
        await shown_panel(pilot)
        await pilot.pause(0.1)
        keys = list(app.query_one(Footer).query("FooterKey"))
        assert "n" in [key.key for key in keys]  # the panel's own keys are shown
        right = max(key.region.right for key in keys)
        assert right <= 80, ([key.description for key in keys], right)


async def test_opening_from_the_list_at_80_columns_gives_the_thread_its_room_back(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_named(pilot, "Olga")
        panel = await shown_panel(pilot)
        await pilot.press("alt+1")
        thread = await open_named(pilot, "Ivan")
        assert not panel.shown and app.query_one("#thread-pane").display
        composer = app.screen.composer
        assert composer.has_focus and composer.region.width > 0
        assert thread.conversation is not None and thread.conversation.contact_name == "Ivan"

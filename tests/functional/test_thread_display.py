"""The thread shows what really happened: replies with their quote, edits, forwards; and
it keeps following the newest message whatever happens to its height.

Messages come in as Telegram sends them (Bot API JSON through the real converter) and
are stored in a real SQLite file; the app runs through Pilot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opchat.config import Settings
from opchat.inbox import Inbox
from opchat.transports.telegram.updates import convert_update
from opchat.widgets.composer import Composer
from opchat.widgets.conversation_list import ConversationList
from opchat.widgets.thread_view import ThreadView
from tests.functional.conftest import Clock, inbound, make_app, rendered_text, wait_until

pytestmark = pytest.mark.usefixtures("utc", "english")

CHAT = 4242
CUSTOMER = {"id": CHAT, "is_bot": False, "first_name": "Nina", "last_name": "Frost"}


def tg_message(message_id: int, text: str, at: float, **extra: Any) -> dict[str, Any]:
    return {"message_id": message_id, "date": int(at), "text": text,
            "chat": {"id": CHAT, "type": "private", "first_name": "Nina"},
            "from": CUSTOMER, **extra}


async def ingest_tg(inbox: Inbox, update: dict[str, Any]) -> None:
    message, _ = convert_update("tg", update)
    assert message is not None
    await inbox.store.inbound.ingest(message)


async def open_thread(pilot) -> ThreadView:
    conversations = pilot.app.query_one(ConversationList)
    await wait_until(pilot, lambda: conversations.loaded and conversations.row(0) is not None,
                     what="the list")
    conversations.focus()
    conversations.move_cursor(0)
    await pilot.press("enter")
    thread = pilot.app.query_one(ThreadView)
    await wait_until(pilot, lambda: thread.messages, what="the thread")
    return thread


async def seed_dialog(tmp_path: Path, clock: Clock) -> None:
    """Nina asks; the operator answers (sent, Telegram id 11)."""
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure("tg", "telegram")
        await ingest_tg(inbox, {"update_id": 1, "message": tg_message(
            10, "Do you have the green teapot?", clock() - 600)})
        conversation = (await inbox.conversations())[0]
        answer = await inbox.send(conversation.id, "Yes, 2 left in stock. Shall I reserve one?")
        await inbox.store.outbox.mark_sent(answer.id, f"{CHAT}:11")
    finally:
        await inbox.close()


async def test_a_reply_shows_what_it_answers_with_its_author(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_dialog(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = await open_thread(pilot)
        inbox = app.inbox
        # A reply to the operator's message: the quote comes from the stored message.
        answered = tg_message(11, "Yes, 2 left in stock. Shall I reserve one?", clock() - 300,
                              **{"from": {"id": 1, "is_bot": True, "first_name": "Shop"}})
        await ingest_tg(inbox, {"update_id": 2, "message": tg_message(
            12, "Yes please, one", clock() - 60, reply_to_message=answered)})
        await wait_until(pilot, lambda: "Yes please, one" in rendered_text(thread),
                         what="the reply")
        lines = rendered_text(thread).splitlines()
        body = next(i for i, line in enumerate(lines) if "Yes please, one" in line)
        quote = lines[body - 1]
        assert "You:" in quote and "Yes, 2 left in stock" in quote
        assert "Nina" in lines[body - 2]  # the header, then the quote, then the text
        # A reply to something opchat never stored: the quote the platform sent, as text
        # (markup and escape sequences from the customer are not obeyed).
        unknown = tg_message(3, "[bold]old[/bold] \x1b[31mred\x1b[0m question", clock() - 9000)
        await ingest_tg(inbox, {"update_id": 3, "message": tg_message(
            13, "About this one", clock() - 30, reply_to_message=unknown)})
        await wait_until(pilot, lambda: "About this one" in rendered_text(thread),
                         what="the second reply")
        lines = rendered_text(thread).splitlines()
        body = next(i for i, line in enumerate(lines) if "About this one" in line)
        assert "[bold]old[/bold] red question" in lines[body - 1]
        assert "\x1b" not in rendered_text(thread)


async def test_a_forwarded_post_says_where_it_came_from(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_dialog(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = await open_thread(pilot)
        origin = {"type": "channel", "date": int(clock() - 86400), "message_id": 7,
                  "chat": {"id": -100123, "type": "channel", "title": "Teapot [i]News[/i]",
                           "username": "teanews"}}
        await ingest_tg(app.inbox, {"update_id": 2, "message": tg_message(
            12, "Big sale on all teapots tomorrow!", clock() - 20, forward_origin=origin)})
        await wait_until(pilot, lambda: "Big sale" in rendered_text(thread), what="the post")
        lines = rendered_text(thread).splitlines()
        body = next(i for i, line in enumerate(lines) if "Big sale" in line)
        header = next(i for i, line in enumerate(lines) if "11:59 Nina" in line)
        between = " ".join(line.strip() for line in lines[header + 1:body])
        assert between == "↪ forwarded from Teapot [i]News[/i] (@teanews)"


async def test_an_edit_changes_the_message_in_place_and_keeps_the_earlier_text(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_dialog(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = await open_thread(pilot)
        inbox = app.inbox
        first = tg_message(12, "I want 3 teapots", clock() - 120)
        await ingest_tg(inbox, {"update_id": 2, "message": first})
        await wait_until(pilot, lambda: "I want 3 teapots" in rendered_text(thread),
                         what="the message")
        shown = thread.line_count
        await ingest_tg(inbox, {"update_id": 3, "edited_message": {
            **first, "text": "I want 4 teapots", "edit_date": int(clock() - 60)}})
        await wait_until(pilot, lambda: "I want 4 teapots" in rendered_text(thread),
                         what="the edit")
        text = rendered_text(thread)
        assert "I want 3 teapots" not in text  # not a second message
        assert thread.line_count == shown
        header = text.splitlines()[next(i for i, line in enumerate(text.splitlines())
                                        if "I want 4 teapots" in line) - 1]
        assert "Nina" in header and "edited 11:59" in header
        # The selected message opens in the pager with its earlier versions.
        thread.focus()
        await pilot.press("end")
        original = next(m for m in thread.messages if m.body == "I want 3 teapots")
        assert thread.selected == original  # the edit has no line of its own to select
        await pilot.press("k", "j")
        assert thread.selected == original
        # A search hit on the edit's words opens the message it changed.
        edit = next(m for m in thread.messages if m.edit_of_id == original.id)
        thread.selected_id = None
        thread.show_message(edit.id)
        assert thread.selected == original
        pager = thread.pager_text(thread.selected)
        assert pager.index("I want 4 teapots") < pager.index("I want 3 teapots")
        assert "11:58" in pager and "earlier version" in pager.lower()
        # A later edit of an older message is shown where it happened, as an edit.
        await inbox.store.inbound.ingest(inbound("tg", str(CHAT), "x", "Nina Frost", "Hello?",
                                                 clock() - 30, sender=str(CHAT)))
        await ingest_tg(inbox, {"update_id": 4, "edited_message": {
            **first, "text": "I want 5 teapots", "edit_date": int(clock() - 10)}})
        await wait_until(pilot, lambda: "I want 5 teapots" in rendered_text(thread),
                         what="the second edit")
        lines = rendered_text(thread).splitlines()
        hello = next(i for i, line in enumerate(lines) if "Hello?" in line)
        after = "\n".join(lines[hello + 1:])
        assert "edited a message of 11:58" in after and "I want 5 teapots" in after
        assert "I want 4 teapots" not in rendered_text(thread)


async def test_the_thread_keeps_following_after_a_very_long_message(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    await seed_dialog(tmp_path, clock)
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = await open_thread(pilot)
        inbox = app.inbox
        chat = str(CHAT)
        wall = " ".join(f"word{n}" for n in range(400))  # far taller than the view
        await inbox.store.inbound.ingest(inbound("tg", chat, "long", "Nina Frost", wall,
                                                 clock() - 50, sender=chat))
        await wait_until(pilot, lambda: "word399" in rendered_text(thread),
                         what="the end of the long message")
        # The operator starts a reply of several lines: the composer grows, the thread
        # gets shorter.
        composer = app.query_one(Composer)
        composer.focus()
        await pilot.press(*"Let me", "ctrl+j", *"check", "ctrl+j", *"that", "ctrl+j", *"...")
        await wait_until(pilot, lambda: composer.size.height >= 4, what="the composer to grow")
        await inbox.store.inbound.ingest(inbound("tg", chat, "next", "Nina Frost", "Still there?",
                                                 clock() - 40, sender=chat))
        await wait_until(pilot, lambda: "Still there?" in rendered_text(thread),
                         what="the new message at the bottom")
        # And an even longer one, over the display cap, followed by a short one.
        await inbox.store.inbound.ingest(inbound("tg", chat, "huge", "Nina Frost", "x" * 9000,
                                                 clock() - 30, sender=chat))
        await inbox.store.inbound.ingest(inbound("tg", chat, "after", "Nina Frost", "Hello??",
                                                 clock() - 20, sender=chat))
        await wait_until(pilot, lambda: "Hello??" in rendered_text(thread),
                         what="the message after the huge one")
        assert "more characters" in rendered_text(thread)
        # Scrolled up by the operator, the thread stays where they put it.
        thread.scroll_to(y=thread.scroll_y - 30, animate=False, immediate=True)
        await pilot.pause()
        where = thread.scroll_y
        await inbox.store.inbound.ingest(inbound("tg", chat, "later", "Nina Frost", "Bye",
                                                 clock() - 10, sender=chat))
        await wait_until(pilot, lambda: len(thread.messages) == 7, what="the last message")
        assert thread.scroll_y == where


async def test_what_whatsapp_says_besides_the_text_is_shown_and_a_reaction_lands_live(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    from opchat.transports.meta.whatsapp import convert_payload
    from tests.meta_api import (
        PHONE_NUMBER_ID,
        WA_CUSTOMER,
        wa_referral,
        wa_text,
        wa_unsupported,
        wa_value,
        wa_webhook,
    )

    at = str(int(clock() - 300))
    payload = wa_webhook(wa_value([
        wa_referral("Is this still available?", id="wamid.ad", timestamp=at),
        wa_text("look", context={"frequently_forwarded": True}, id="wamid.fwd", timestamp=at),
        wa_unsupported(id="wamid.odd", timestamp=at)]))
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure("wa", "whatsapp")
        converted = convert_payload("wa", PHONE_NUMBER_ID, payload)
        await inbox.store.inbound.ingest_batch(converted.messages)
    finally:
        await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        thread = await open_thread(pilot)
        await wait_until(pilot, lambda: "forwarded many times" in rendered_text(thread),
                         what="the forward")
        shown = " ".join(line.strip() for line in rendered_text(thread).splitlines())
        assert "came from an ad: Succulents, delivered · https://fb.me/3cr4Wqqkv" in shown
        assert "a kind of message the platform does not pass on: Message type unknown" in shown
        await app.inbox.store.reactions.react("wa", "wamid.fwd", WA_CUSTOMER, "🙏")
        await wait_until(pilot, lambda: "🙏" in rendered_text(thread), what="the reaction")


async def test_what_messenger_and_instagram_say_is_shown_and_a_deletion_lands_live(
    tmp_path: Path, settings: Settings, clock: Clock
) -> None:
    from opchat.transports.meta.messenger import INSTAGRAM_PLATFORM, convert_payload
    from tests.meta_api import (
        IG_ID,
        IGSID,
        ig_echo,
        ig_story_mention,
        ig_story_reply,
        ig_text,
        ig_webhook,
    )

    at = int((clock() - 300) * 1000)
    converted = convert_payload("ig", INSTAGRAM_PLATFORM, IG_ID, ig_webhook(
        ig_story_mention(IGSID, "ig.mention", timestamp=at),
        ig_story_reply(IGSID, "ig.story", "Love this pot!", timestamp=at + 1),
        ig_text(IGSID, "ig.oops", "my card number is 4242…", timestamp=at + 2),
        ig_echo(IGSID, "ig.echo", "Thanks, Marco!", "263902037430900", timestamp=at + 3)))
    inbox = await Inbox.open(tmp_path, "anna", clock=clock)
    try:
        await inbox.store.channels.ensure("ig", "instagram")
        await inbox.store.inbound.ingest_batch(converted.messages)
        [echo] = converted.echoes
        assert await inbox.store.elsewhere.echo(echo)
    finally:
        await inbox.close()
    app = make_app(settings, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        thread = await open_thread(pilot)
        await wait_until(pilot, lambda: "sent from elsewhere" in rendered_text(thread),
                         what="the echo")
        shown = " ".join(line.strip() for line in rendered_text(thread).splitlines())
        assert "mentioned you in their story: https://lookaside" in shown
        assert "replied to your story: https://lookaside" in shown
        assert "Meta Business Suite" in shown
        assert "deleted by the customer" not in shown
        await app.inbox.store.elsewhere.deleted("ig", "ig.oops")
        await wait_until(pilot, lambda: "deleted by the customer" in rendered_text(thread),
                         what="the deletion")
        assert "my card number is 4242" in rendered_text(thread)
